"""Running the scoring assets and checks the way Dagster runs them, on a test warehouse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from weather_edge.defs.partitions import day_city_partitions
from weather_edge.defs.resources import WarehouseResource
from weather_edge.storage import Warehouse
from weather_edge_tests.scoring import day as D

OTHER_ASSETS = ("quotes", "forecasts", "predictions", "would_trade_decisions")
"""Assets of other modules that checks here target; tests stand them in with no-op assets."""
DAYS = [D.DAY + dt.timedelta(days=i) for i in range(3)]


def seed_days(warehouse: Warehouse) -> None:
    for day in DAYS:
        D.full_day(day).seed(warehouse)


def tables(warehouse: Warehouse) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The settlements and scores tables, in a fixed order."""
    settlements = warehouse.query_frame("SELECT * FROM settlements").sort("market_ticker")
    scores = warehouse.query_frame("SELECT * FROM scores").sort(
        "climate_day", "subject", "subject_key", "metric"
    )
    return settlements, scores


def stand_in(name: str) -> dg.AssetsDefinition:
    """A partitioned asset named like another module's, doing nothing (its rows are seeded)."""

    @dg.asset(name=name, partitions_def=day_city_partitions)
    def _asset() -> None:
        return None

    return _asset


def key(day: dt.date, city: str = "NYC") -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"day": day.isoformat(), "city": city})


def range_tags(first: dg.MultiPartitionKey, last: dg.MultiPartitionKey) -> dict[str, str]:
    """Run tags of a backfill run over a partition key range."""
    return {
        "dagster/asset_partition_range_start": str(first),
        "dagster/asset_partition_range_end": str(last),
    }


def run(
    warehouse_url: str,
    data_dir: Path,
    defs: Sequence[Any],
    partition_key: str | None = None,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        defs,
        partition_key=partition_key,
        tags=tags,
        resources={"warehouse": WarehouseResource(url=warehouse_url, data_dir=str(data_dir))},
        raise_on_error=False,
    )


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}


def meta(evaluation: dg.AssetCheckEvaluation, name: str) -> Any:
    """A check evaluation's metadata value, plain."""
    return evaluation.metadata[name].value


def materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Asset name -> its materialization's metadata (plain values)."""
    out = {}
    for event in result.get_asset_materialization_events():
        assert event.asset_key is not None
        values = event.materialization.metadata
        out[event.asset_key.to_user_string()] = {k: v.value for k, v in values.items()}
    return out
