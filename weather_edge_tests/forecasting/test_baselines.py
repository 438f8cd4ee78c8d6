"""Baselines: the Gaussian by lead bucket, the as-of climatology, the market and the blend."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from weather_edge.forecasting.baselines import (
    ClimatologyBaseline,
    GaussianBaseline,
    blend,
    lead_bucket,
    market_distribution,
    market_mid,
    market_moments,
    market_probabilities,
)
from weather_edge.forecasting.distribution import GRID_LO, Range
from weather_edge.forecasting.features import LookAheadError, with_market_features
from weather_edge.forecasting.history import CLI_SCHEMA

from .conftest import utc


def test_lead_buckets() -> None:
    assert lead_bucket([0.5, 11.99, 12.0, 30.0, 47.9, 60.0, -1.0]).tolist() == [0, 0, 1, 2, 3, 4, 0]


def test_gaussian_fits_bias_and_sigma_per_bucket() -> None:
    rng = np.random.default_rng(5)
    n = 400
    lead = np.where(np.arange(n) % 2 == 0, 6.0, 30.0)
    fc = rng.uniform(40, 90, n)
    err = np.where(lead < 12, rng.normal(-0.5, 1.0, n), rng.normal(1.0, 3.0, n))
    frame = pl.DataFrame({"lead_h": lead, "fc_max": fc, "high_f": np.round(fc + err)})
    g = GaussianBaseline.fit(frame)
    e = frame["high_f"].to_numpy() - fc
    assert g.bias[0] == pytest.approx(e[lead < 12].mean())
    assert g.sd[2] == pytest.approx(e[lead >= 24].std(ddof=1))
    assert g.n == (200, 0, 200, 0, 0)
    assert g.bias[1] == pytest.approx(e.mean())  # an empty bucket takes the pooled fit
    grid = g.predict_grid(
        frame.head(1).with_columns(
            pl.lit(None, pl.Float64).alias("clim_mean"), pl.lit(None, pl.Float64).alias("clim_sd")
        )
    )
    t = GRID_LO + np.arange(grid.shape[1])
    assert np.dot(grid[0], t) == pytest.approx(fc[0] + g.bias[0], abs=1e-6)
    assert GaussianBaseline.from_dict(g.to_dict()) == g


def test_climatology_uses_only_years_reported_before() -> None:
    rows = [
        ("NYC", dt.date(2024, 7, 1), 90, utc(2024, 7, 2, 6), False, False),
        ("NYC", dt.date(2025, 7, 1), 70, utc(2025, 7, 2, 6), False, False),
    ]
    cli = pl.DataFrame(rows, schema=CLI_SCHEMA, orient="row")
    req = pl.DataFrame(
        {
            "climate_day": [dt.date(2025, 7, 3), dt.date(2026, 7, 3)],
            "as_of_utc": [utc(2025, 7, 3, 12), utc(2026, 7, 3, 12)],
        }
    )
    grid = ClimatologyBaseline(cli, kernel_sd=0.3).predict_grid(req)
    assert GRID_LO + int(np.argmax(grid[0])) == 90  # 2025: only the 2024 value is known
    assert grid[1, 70 - GRID_LO] == pytest.approx(grid[1, 90 - GRID_LO])  # 2026: both


def test_market_probabilities_blend_and_distribution() -> None:
    assert market_mid(0.40, 0.44) == pytest.approx(0.42)
    assert market_mid(None, 0.02) == pytest.approx(0.01)  # an empty bid side counts as 0
    probs = market_probabilities([0.01, 0.22, 0.42, 0.30, 0.06, 0.01])
    assert probs.sum() == pytest.approx(1.0)
    assert probs[2] == pytest.approx(0.42 / 1.02)
    assert blend([0.2, 0.8], [0.4, 0.6]).tolist() == pytest.approx([0.3, 0.7])
    brackets = [Range(None, 74), Range(75, 76), Range(77, None)]
    dist = market_distribution(brackets, [0.2, 0.5, 0.3], tail_width=2)
    assert dist.prob(73) == pytest.approx(0.1) and dist.prob(76) == pytest.approx(0.25)
    assert dist.prob_range(77, None) == pytest.approx(0.3)


def test_market_variant_features_are_as_of() -> None:
    rows = pl.DataFrame(
        {
            "climate_day": [dt.date(2025, 12, 10)] * 3,
            "as_of_utc": [utc(2025, 12, 10, 18)] * 3,
            "low_f": [np.nan, 40.0, 42.0],
            "high_f_bracket": [39.0, 41.0, np.nan],
            "mid": [0.1, 0.6, 0.3],
            "src_mkt_utc": [utc(2025, 12, 10, 17, 59)] * 3,
        }
    )
    moments = market_moments(rows)
    features = pl.DataFrame(
        {
            "climate_day": [dt.date(2025, 12, 10)],
            "as_of_utc": [utc(2025, 12, 10, 18)],
            "anchor": [41.0],
        }
    )
    joined = with_market_features(features, moments)
    assert joined["mkt_mean"][0] == pytest.approx(
        0.1 * np.mean([36, 37, 38, 39]) + 0.6 * 40.5 + 0.3 * np.mean([42, 43, 44, 45])
    )
    assert joined["mkt_gap"][0] == pytest.approx(joined["mkt_mean"][0] - 41.0)
    late = moments.with_columns(pl.lit(utc(2025, 12, 10, 18, 1)).alias("src_mkt_utc"))
    with pytest.raises(LookAheadError, match="src_mkt_utc"):
        with_market_features(features, late)
