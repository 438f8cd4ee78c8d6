"""Scores against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from weather_edge.forecasting import scores

TRIANGLE = [0.25, 0.5, 0.25]  # P(10), P(11), P(12)


def test_brier_and_log_loss_by_hand() -> None:
    assert scores.brier([0.8, 0.3], [1, 0]) == pytest.approx([0.04, 0.09])
    assert scores.log_loss([0.8, 0.3], [1, 0]) == pytest.approx([-math.log(0.8), -math.log(0.7)])
    # a certain miss is clipped at 1e-6, not infinite
    assert scores.log_loss([0.0], [1])[0] == pytest.approx(-math.log(1e-6))
    with pytest.raises(ValueError, match="0 or 1"):
        scores.brier([0.5], [2])


def test_rps_by_hand() -> None:
    # cumulative forecast (0.2, 0.7) against outcome (0, 1): (0.04 + 0.09) / 2
    assert scores.rps([[0.2, 0.5, 0.3]], [1])[0] == pytest.approx(0.065)
    assert scores.rps([[1.0, 0.0, 0.0]], [0])[0] == 0.0
    assert scores.rps([[1.0, 0.0, 0.0]], [2])[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (11, 0.125),  # (0.25)^2 + (0.75 - 1)^2
        (14, 2.625),  # E|X - 14| - E|X - X'| / 2 = 3 - 0.375
        (8, 2.625),  # outcome below the grid
        (10, 0.625),  # (0.75)^2 ... = 0.5625 + 0.0625
    ],
)
def test_crps_of_a_discrete_distribution(outcome: int, expected: float) -> None:
    assert scores.crps_integer([TRIANGLE], 10, [outcome])[0] == pytest.approx(expected)


def test_crps_matches_the_energy_form_and_a_point_mass() -> None:
    rng = np.random.default_rng(1)
    pmf = rng.dirichlet(np.ones(7), size=5)
    y = rng.integers(5, 20, size=5)
    t = 8 + np.arange(7)
    for row, outcome, got in zip(pmf, y, scores.crps_integer(pmf, 8, y), strict=True):
        e_xy = np.dot(row, np.abs(t - outcome))
        e_xx = np.sum(np.outer(row, row) * np.abs(t[:, None] - t[None, :]))
        assert got == pytest.approx(e_xy - e_xx / 2)
    assert scores.crps_integer([[1.0]], 70, [73])[0] == pytest.approx(3.0)


def test_median_and_its_mae() -> None:
    assert scores.medians([TRIANGLE, [0.5, 0.5, 0.0]], 10).tolist() == [11, 10]
    assert scores.mae_of_median([TRIANGLE], 10, [14]).tolist() == [3.0]


def test_pit_is_randomized_within_the_outcome_step() -> None:
    v = np.random.default_rng(0).uniform(0.0, 1.0, size=3)
    got = scores.pit_values([TRIANGLE] * 3, 10, [11, 9, 13], rng=0)
    assert got[0] == pytest.approx(0.25 + 0.5 * v[0])
    assert got[1] == 0.0 and got[2] == 1.0


def test_pit_of_a_calibrated_forecast_is_flat() -> None:
    rng = np.random.default_rng(3)
    pmf = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    y = 20 + rng.choice(5, size=20_000, p=pmf)
    hist = scores.pit_histogram(scores.pit_values(np.tile(pmf, (y.size, 1)), 20, y, rng=4))
    assert hist.sum() == y.size
    assert np.all(np.abs(hist / y.size - 0.1) < 0.01)


def test_reliability_bins() -> None:
    rel = scores.reliability([0.05, 0.15, 0.12, 0.95, 1.0], [0, 1, 0, 1, 1], bins=10)
    assert rel.count.tolist() == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert rel.mean_forecast[1] == pytest.approx(0.135)
    assert rel.observed_frequency[1] == pytest.approx(0.5)
    assert rel.observed_frequency[9] == 1.0
    assert math.isnan(rel.mean_forecast[2])
