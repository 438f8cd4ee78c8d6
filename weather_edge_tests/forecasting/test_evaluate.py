"""Evaluation on the real data: the market check of the design note, reproduced, and an
end-to-end evaluate on a smaller copy of the data directory's layout."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from weather_edge.forecasting.evaluate import evaluate, market_snapshots
from weather_edge.forecasting.features import CitySources
from weather_edge.forecasting.model import HyperParams

SUMMARY = re.compile(
    r"^evaluate: model crps (\d+\.\d{3}|n/a), gaussian crps (\d+\.\d{3}|n/a), "
    r"model brier (\d+\.\d{3}|n/a), market brier (\d+\.\d{3}|n/a), "
    r"blend brier (\d+\.\d{3}|n/a)$"
)


def test_market_brier_of_the_december_ticks(shared_data: Path, nyc_sources: CitySources) -> None:
    """forecasting.md: 0.110 at 16:00 ET the day before, 0.079 at 08:00, 0.047 at 13:00."""
    rows = market_snapshots(shared_data / "kalshi" / "KXHIGHNY", "NYC", nyc_sources.cli)
    ticks = rows.filter(pl.col("source") == "ticks").with_columns(
        (pl.col("mid") / pl.col("mid").sum().over("event_ticker", "as_of_utc")).alias("p")
    )
    assert ticks["event_ticker"].n_unique() == 17
    # every event's won markets: exactly one per snapshot
    assert (ticks.group_by("event_ticker", "as_of_utc").agg(pl.col("won").sum())["won"] == 1).all()
    brier = ticks.group_by("label").agg(
        ((pl.col("p") - pl.col("won").cast(pl.Float64)) ** 2).mean().alias("brier")
    )
    got = dict(zip(brier["label"].to_list(), brier["brier"].to_list(), strict=True))
    assert got["16:00 ET day before"] == pytest.approx(0.110, abs=0.0015)
    assert got["08:00 ET"] == pytest.approx(0.079, abs=0.0015)
    assert got["13:00 ET"] == pytest.approx(0.047, abs=0.0015)
    # snapshots are real instants: 13:00 EST is 18:00 UTC
    at_one = ticks.filter(pl.col("label") == "13:00 ET")["as_of_utc"]
    assert at_one.dt.hour().unique().to_list() == [18]


@pytest.fixture(scope="module")
def small_data_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared layout with the hourly archive cut to 2025-03 .. 2026-01 (links elsewhere)."""
    root = tmp_path_factory.mktemp("data")
    (root / "nws").mkdir()
    (root / "openmeteo").mkdir()
    (root / "kalshi").mkdir()
    for path in (shared_data / "nws").iterdir():
        (root / "nws" / path.name).symlink_to(path)
    (root / "kalshi" / "KXHIGHNY").symlink_to(shared_data / "kalshi" / "KXHIGHNY")
    hourly = pl.scan_parquet(shared_data / "openmeteo" / "nyc_hourly_forecast_issues.parquet")
    hourly.filter(
        pl.col("issued_utc").is_between(
            dt.datetime(2025, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        )
    ).sink_parquet(root / "openmeteo" / "nyc_hourly_forecast_issues_2025.parquet")
    return root


def test_evaluate_end_to_end(small_data_dir: Path, tmp_path: Path) -> None:
    result = evaluate(
        small_data_dir, dt.date(2025, 12, 1), tmp_path, params=HyperParams(iterations=60)
    )
    match = SUMMARY.match(result.summary)
    assert match, result.summary
    assert "n/a" not in result.summary  # December has forecasts, CLI outcomes and books
    model_crps, gaussian_crps = float(match[1]), float(match[2])
    assert model_crps < gaussian_crps
    assert result.model_beats_gaussian
    table = result.forecast_table
    assert set(table["lead"]) == {"all", "0-12h", "12-24h", "24-36h", "36-48h"}
    assert set(table["predictor"]) == {"model", "gaussian", "climatology"}
    markets = result.market_table
    assert markets.filter(pl.col("source") == "ticks")["events"].sum() == 3 * 17
    for path in result.files:
        assert path.is_file() and path.stat().st_size > 0
    md = (tmp_path / "evaluation.md").read_text()
    assert result.summary in md and "Open-Meteo" in md and "model PIT histogram" in md
    snapshots = pl.read_csv(tmp_path / "market_snapshots.csv")
    sums = snapshots.group_by("event_ticker", "as_of_utc").agg(
        pl.col("p_model").sum(), pl.col("p_market").sum(), pl.col("p_blend").sum()
    )
    for column in ("p_model", "p_market", "p_blend"):
        assert np.allclose(sums[column].to_numpy(), 1.0)


def test_evaluate_without_data_says_na(tmp_path: Path) -> None:
    result = evaluate(tmp_path / "empty", dt.date(2025, 12, 1), tmp_path / "out")
    assert result.summary == (
        "evaluate: model crps n/a, gaussian crps n/a, model brier n/a, market brier n/a, "
        "blend brier n/a"
    )
    assert result.model_beats_gaussian is None
