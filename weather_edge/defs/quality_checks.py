"""Great Expectations suites as Dagster asset checks, one per asset that writes a batch.

Each check reads back the rows of the run's partitions (one, or a backfill range) and runs the
suite of ``weather_edge.quality`` on them. The checks are blocking: a failed suite stops the
assets downstream of the bad batch (predictions on bad forecasts, decisions on bad quotes or
predictions, fills on bad decisions, scores on bad settlements). The assets are defined in
other modules; the checks target their keys. ``QUALITY_CHECKS`` goes into ``definitions.py``.
"""

import dagster as dg

from weather_edge.defs.partitions import day_city_partitions
from weather_edge.defs.resources import WarehouseResource
from weather_edge.defs.scoring import partitions_of
from weather_edge.scoring.quality import BATCHES, validate_partitions

DESCRIPTIONS = {
    "quotes": "Quotes: prices inside (0, 1) $, sizes not negative, no crossed book.",
    "forecasts": "Forecasts: plausible highs, within climatology, not issued after retrieval.",
    "predictions": "Bracket probabilities in [0, 1], summing to 1 per event and snapshot.",
    "would_trade_decisions": "Every no-trade has a reason; every trade a side, price and size.",
    "settlements": "CLI highs whole °F, results yes/no, a result YES iff the CLI high is in it.",
}


def quality_check(asset_key: str) -> dg.AssetChecksDefinition:
    """The GX suite of ``asset_key`` as a blocking, partitioned asset check."""

    @dg.asset_check(
        asset=dg.AssetKey(asset_key),
        name=f"{asset_key}_expectations",
        partitions_def=day_city_partitions,
        blocking=True,
        description=DESCRIPTIONS[asset_key],
    )
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        result = validate_partitions(warehouse.open(), asset_key, partitions_of(context))
        return dg.AssetCheckResult(
            passed=result.success,
            metadata={
                **{k: v for k, v in result.metadata().items() if k != "failures"},
                "failures": dg.MetadataValue.json(result.metadata()["failures"]),
                "summary": dg.MetadataValue.md(result.summary()),
            },
        )

    return _check


QUALITY_CHECKS: list[dg.AssetChecksDefinition] = [quality_check(key) for key in BATCHES]
