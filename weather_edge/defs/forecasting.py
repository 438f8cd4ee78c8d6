"""Forecasting under Dagster: per-city model training and per day x city predictions."""

import os
from datetime import UTC, date, datetime

import dagster as dg

from weather_edge.defs.ingestion import partition_of
from weather_edge.defs.partitions import city_partitions, day_city_partitions
from weather_edge.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource
from weather_edge.forecasting.evaluate import train_city_model
from weather_edge.forecasting.live import refresh_predictions
from weather_edge.forecasting.model import InferenceCache

HISTORY_DIR_ENV = "WEATHER_EDGE_HISTORY_DIR"
# One cache per code-server process: unchanged inputs are never recomputed across runs.
_CACHE = InferenceCache()


class TrainingConfig(dg.Config):
    data_dir: str | None = None  # history laid out like shared/data; default: env, else sim
    cut_date: str | None = "2025-12-01"  # train before, score after; None: use every day
    sim_seed: int = 0


@dg.asset(partitions_def=city_partitions, group_name="forecasting", kinds={"catboost"})
def city_models(context: dg.AssetExecutionContext, config: TrainingConfig) -> dg.MaterializeResult:
    """The city's CatBoost model of the daily high with its model card (time-ordered split)."""
    data_dir = config.data_dir or os.environ.get(HISTORY_DIR_ENV)
    cut = date.fromisoformat(config.cut_date) if config.cut_date else None
    result = train_city_model(
        context.partition_key, data_dir, cut_date=cut, sim_seed=config.sim_seed
    )
    card = result.model.card
    return dg.MaterializeResult(
        metadata={
            "trained_on": card.trained_on,
            "data_window": f"{card.data_window[0]} to {card.data_window[1]}",
            "model_sha256": card.model_sha256,
            "path": dg.MetadataValue.path(str(result.path or "")),
            "holdout": dg.MetadataValue.json(card.holdout),
            "training_seconds": round(card.training_seconds, 1),
        }
    )


@dg.asset(
    partitions_def=day_city_partitions,
    group_name="forecasting",
    pool=WAREHOUSE_WRITER_POOL,
    deps=["forecasts", "observations", "climate_reports", "market_catalog"],
    kinds={"catboost"},
)
def predictions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """P(high = t) and every bracket's probability at each hourly snapshot, as of that time."""
    day, city = partition_of(context)
    result = refresh_predictions(warehouse.open(), city, day, datetime.now(UTC), cache=_CACHE)
    latest = result.predictions[-1] if result.predictions else None
    return dg.MaterializeResult(
        metadata={
            "snapshots": len(result.predictions),
            "bracket_rows": len(result.brackets),
            "model_version": result.model_version,
            "latest_median_f": latest["median_f"] if latest else None,
            "latest_snapshot": str(latest["snapshot_at"]) if latest else "none yet",
        }
    )


FORECASTING_ASSETS = [city_models, predictions]
