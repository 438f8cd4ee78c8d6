"""Bracket probabilities from the integer distribution, the observed-max floor, tiling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weather_edge.forecasting.distribution import (
    IntDistribution,
    Range,
    TilingError,
    bracket_matrix,
    floor_grid,
)
from weather_edge.kalshi.tickers import infer_event_brackets, parse_market_ticker

# P(80..87) = 0.05, 0.10, 0.15, 0.20, 0.20, 0.15, 0.10, 0.05
PMF = [0.05, 0.10, 0.15, 0.20, 0.20, 0.15, 0.10, 0.05]
DIST = IntDistribution(80, np.array(PMF))


def test_between_and_tails_match_the_design_rules() -> None:
    between = parse_market_ticker("KXHIGHNY-26AUG24-B84.5").bracket()
    greater = parse_market_ticker("KXHIGHNY-26AUG24-T85").bracket("greater")
    less = parse_market_ticker("KXHIGHNY-26AUG24-T82").bracket("less")
    assert DIST.bracket_probability(between) == pytest.approx(0.20 + 0.15)  # P(84) + P(85)
    assert DIST.bracket_probability(greater) == pytest.approx(0.10 + 0.05)  # P(t >= 86)
    assert DIST.bracket_probability(less) == pytest.approx(0.05 + 0.10)  # P(t <= 81)


def test_an_events_markets_sum_to_one() -> None:
    tickers = [f"KXHIGHNY-26SEP02-{s}" for s in ("T75", "B75.5", "B77.5", "B79.5", "B81.5", "T82")]
    brackets = infer_event_brackets(tickers)
    dist = IntDistribution.normal(79.3, 2.6)
    probs = dist.event_probabilities(brackets)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-12)
    assert probs["KXHIGHNY-26SEP02-T75"] == pytest.approx(dist.cdf(74))
    assert probs["KXHIGHNY-26SEP02-T82"] == pytest.approx(1 - dist.cdf(82))


def test_brackets_that_do_not_tile_are_refused() -> None:
    with pytest.raises(TilingError):
        DIST.event_probabilities({"a": Range(None, 81), "b": Range(83, None)})  # 82 missing
    with pytest.raises(TilingError):
        DIST.event_probabilities({"a": Range(None, 81), "b": Range(80, 85)})


@settings(max_examples=60, deadline=None)
@given(
    pmf=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30).filter(lambda p: sum(p) > 1e-3),
    lo=st.integers(-20, 110),
    cuts=st.lists(st.integers(-30, 130), min_size=1, max_size=8, unique=True),
)
def test_any_tiling_sums_to_one(pmf: list[float], lo: int, cuts: list[int]) -> None:
    edges = sorted(cuts)
    brackets = {"low": Range(None, edges[0])}
    brackets |= {f"b{i}": Range(a + 1, b) for i, (a, b) in enumerate(itertools.pairwise(edges))}
    brackets["high"] = Range(edges[-1] + 1, None)
    probs = IntDistribution(lo, np.array(pmf)).event_probabilities(brackets)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)


def test_floor_moves_the_mass_below_onto_the_observed_max() -> None:
    floored = DIST.floor_at(83.4)  # a whole-°F floor of 83, no slack
    assert floored.lo == 83
    assert floored.prob(83) == pytest.approx(0.05 + 0.10 + 0.15 + 0.20)
    assert floored.prob(84) == pytest.approx(0.20)
    assert floored.cdf(82) == 0.0
    # brackets after the floor, by hand
    assert floored.prob_range(82, 83) == pytest.approx(0.50)  # B82.5
    assert floored.prob_range(86, None) == pytest.approx(0.15)  # T85 greater
    assert floored.prob_range(None, 81) == 0.0  # T82 less


def test_floor_with_the_metar_rounding_slack_keeps_one_degree_below() -> None:
    floored = DIST.floor_at(83.0, slack_f=1)
    assert floored.prob(82) == pytest.approx(0.15)  # the rounding band keeps its mass
    assert floored.prob(83) == pytest.approx(0.20 + 0.05 + 0.10)
    assert floored.prob(81) == 0.0
    assert sum(floored.pmf) == pytest.approx(1.0)


def test_floor_above_the_support_becomes_a_point() -> None:
    assert IntDistribution.normal(60, 1.5).floor_at(75).median() == 75
    assert IntDistribution.normal(60, 1.5).floor_at(75).prob(75) == pytest.approx(1.0)


def test_vectorized_floor_and_brackets_agree_with_the_scalar_ones() -> None:
    grid = DIST.on_grid(70, 95)
    rows = floor_grid(np.vstack([grid, grid]), 70, [83.4, np.nan], slack_f=1)
    scalar = DIST.floor_at(83.4, slack_f=1)
    assert rows[0] == pytest.approx(scalar.on_grid(70, 95))
    assert rows[1] == pytest.approx(grid)
    got = bracket_matrix(rows[[0, 0, 0]], 70, [np.nan, 82, 86], [81, 83, np.nan])
    assert got == pytest.approx(
        [scalar.prob_range(None, 81), scalar.prob_range(82, 83), scalar.prob_range(86, None)]
    )


def test_discretized_normal() -> None:
    dist = IntDistribution.normal(80.0, 2.0)
    assert dist.median() == 80
    assert dist.mean() == pytest.approx(80.0, abs=1e-6)
    assert dist.prob(80) == pytest.approx(0.19741, abs=1e-4)  # Φ(0.25) - Φ(-0.25)
    assert sum(dist.pmf) == pytest.approx(1.0)
