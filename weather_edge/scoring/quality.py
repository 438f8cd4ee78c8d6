"""The rows of a partition each data-quality suite checks, read back from the warehouse.

One entry per asset whose batches a suite of ``weather_edge.quality`` checks: the query of its
rows and the suite. Everything takes a list of partitions (one, or a backfill range), so the
asset checks follow their assets' runs. Forecasts are also checked against the city's
climatology, from the final CLI highs of every (city, month) with at least
``MIN_CLIMATOLOGY_DAYS`` of them (fewer would make a too narrow band).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from weather_edge import quality
from weather_edge.quality import QualityResult
from weather_edge.scoring.frames import PARTITION_SCHEMA, UTC_TIME, Partition, load, load_partitions
from weather_edge.storage import Warehouse

MIN_CLIMATOLOGY_DAYS = 20

Suite = Callable[[pl.DataFrame, Warehouse, Sequence[Partition]], QualityResult]


@dataclass(frozen=True)
class Batch:
    """How to read an asset's rows of some partitions, and the suite that checks them."""

    select: str  # also selects city and climate_day, under the alias below
    alias: str
    schema: dict[str, Any]
    suite: Suite

    def rows(self, warehouse: Warehouse, partitions: Sequence[Partition]) -> pl.DataFrame:
        schema = {**PARTITION_SCHEMA, **self.schema}
        return load_partitions(warehouse, self.select, self.alias, partitions, schema)


def climatology(warehouse: Warehouse, cities: Sequence[str]) -> dict[tuple[str, int], Any]:
    """Plausible highs per (city, month) from the final CLI reports of well-covered months."""
    marks = ", ".join("?" for _ in cities)
    history = load(
        warehouse,
        "SELECT city, climate_day, MAX(high_f) AS high_f FROM climate_reports "
        f"WHERE NOT preliminary AND high_f IS NOT NULL AND city IN ({marks}) "
        "GROUP BY city, climate_day",
        list(cities),
        {"city": pl.String, "climate_day": pl.Date, "high_f": pl.Float64},
    )
    covered = history.filter(
        pl.len().over("city", pl.col("climate_day").dt.month()) >= MIN_CLIMATOLOGY_DAYS
    )
    return quality.climatology_bounds(covered)


def _forecasts(
    rows: pl.DataFrame, warehouse: Warehouse, partitions: Sequence[Partition]
) -> QualityResult:
    """Plausible highs, within climatology; look-ahead is checked as issued <= retrieved, not
    against the wall clock (a simulated clock may run ahead of it)."""
    bounds = climatology(warehouse, sorted({city for _, city in partitions}))
    return quality.validate_forecasts(rows, climatology=bounds)


BATCHES: dict[str, Batch] = {
    "quotes": Batch(
        "SELECT q.market_ticker, q.source_id, q.ts, q.received_at, q.yes_bid_cc, "
        "q.yes_bid_size_cq, q.yes_ask_cc, q.yes_ask_size_cq, m.city, m.climate_day "
        "FROM quotes q JOIN markets m ON m.ticker = q.market_ticker",
        "m",
        {
            "market_ticker": pl.String,
            "source_id": pl.String,
            "ts": UTC_TIME,
            "received_at": UTC_TIME,
            "yes_bid_cc": pl.Int64,
            "yes_bid_size_cq": pl.Int64,
            "yes_ask_cc": pl.Int64,
            "yes_ask_size_cq": pl.Int64,
        },
        lambda rows, *_: quality.validate_quotes(rows),
    ),
    "forecasts": Batch(
        "SELECT city, climate_day, source, issued_at, forecast_high_f, lead_hours, retrieved_at "
        "FROM forecasts f",
        "f",
        {
            "source": pl.String,
            "issued_at": UTC_TIME,
            "forecast_high_f": pl.Float64,
            "lead_hours": pl.Float64,
            "retrieved_at": UTC_TIME,
        },
        _forecasts,
    ),
    "predictions": Batch(
        "SELECT market_ticker, snapshot_at, model_version, variant, city, climate_day, "
        "probability FROM bracket_predictions b",
        "b",
        {
            "market_ticker": pl.String,
            "snapshot_at": UTC_TIME,
            "model_version": pl.String,
            "variant": pl.String,
            "probability": pl.Float64,
        },
        lambda rows, *_: quality.validate_predictions(rows),
    ),
    "would_trade_decisions": Batch(
        "SELECT decision_id, evaluated_at, market_ticker, city, climate_day, mode, would_trade, "
        "side, action, price_cc, count_cq, probability, reason FROM decisions d",
        "d",
        {
            "decision_id": pl.String,
            "evaluated_at": UTC_TIME,
            "market_ticker": pl.String,
            "mode": pl.String,
            "would_trade": pl.Boolean,
            "side": pl.String,
            "action": pl.String,
            "price_cc": pl.Int64,
            "count_cq": pl.Int64,
            "probability": pl.Float64,
            "reason": pl.String,
        },
        lambda rows, *_: quality.validate_decisions(rows),
    ),
    "settlements": Batch(
        "SELECT s.market_ticker, s.city, s.climate_day, s.market_result, s.cli_high_f, "
        "s.expected_result, m.wins_low_f, m.wins_high_f "
        "FROM settlements s JOIN markets m ON m.ticker = s.market_ticker",
        "s",
        {
            "market_ticker": pl.String,
            "market_result": pl.String,
            "cli_high_f": pl.Int64,
            "expected_result": pl.String,
            "wins_low_f": pl.Int64,
            "wins_high_f": pl.Int64,
        },
        lambda rows, *_: quality.validate_settlements(rows),
    ),
}
"""Asset key -> its rows and suite."""


def validate_partitions(
    warehouse: Warehouse, asset_key: str, partitions: Sequence[Partition]
) -> QualityResult:
    """Run the suite of ``asset_key`` on its rows of ``partitions``."""
    batch = BATCHES[asset_key]
    return batch.suite(batch.rows(warehouse, partitions), warehouse, partitions)
