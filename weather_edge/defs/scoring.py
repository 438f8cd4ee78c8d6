"""Settlements, scored snapshots and the nightly calibration report under Dagster.

``settlements`` and ``scored_snapshots`` are partitioned by climate day x city and take a
partition key *range* as well as one key (``BackfillPolicy.multi_run``), so a year's backfill
runs as a few runs; each body hands the run's partitions to ``weather_edge.scoring``. The
settlements check fails, blocking the scoring, when Kalshi's result and the CLI value
disagree under the bracket rule, showing both. ``calibration_report`` renders the report
nightly (``nightly_calibration``, 06:00 UTC) and shows it in the UI.

``SCORING_ASSETS``, ``SCORING_CHECKS`` and ``SCORING_SCHEDULES`` are what ``definitions.py``
merges in.
"""

import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime

import dagster as dg

from weather_edge.defs.partitions import day_city_partitions
from weather_edge.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource
from weather_edge.scoring import (
    Partition,
    check_settlements,
    nightly_report,
    report_markdown,
    score_partitions,
    settle,
)
from weather_edge.scoring.report import DEFAULT_LAST_N_DAYS, MAIN_PANEL, png_markdown

SCORING_GROUP = "scoring"
# A year of one city (or a third of a year of all seven) per run.
MAX_PARTITIONS_PER_RUN = 366
SCORING_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=MAX_PARTITIONS_PER_RUN)
NIGHTLY_CRON = "0 6 * * *"  # 06:00 UTC: yesterday's CLI reports are final, markets settled

# Partitioned checks (preview) and backfill policies (beta) are deliberate here; say so once
# instead of on every code load.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=dg.PreviewWarning
)
warnings.filterwarnings(
    "ignore", message="Parameter `backfill_policy` of function `asset`", category=dg.BetaWarning
)


def partitions_of(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> list[Partition]:
    """The run's (climate_day, city) partitions: one key or a whole range."""
    out = []
    for key in context.partition_keys:
        if not isinstance(key, dg.MultiPartitionKey):
            key = day_city_partitions.get_partition_key_from_str(key)
        dims = key.keys_by_dimension
        out.append((date.fromisoformat(dims["day"]), dims["city"]))
    return out


def _scoring_asset(
    deps: list[str | dg.AssetsDefinition],
) -> Callable[[Callable[..., dg.MaterializeResult]], dg.AssetsDefinition]:
    """Day x city partitions, ranges of them per run in a backfill, one warehouse writer."""
    return dg.asset(
        partitions_def=day_city_partitions,
        group_name=SCORING_GROUP,
        pool=WAREHOUSE_WRITER_POOL,
        backfill_policy=SCORING_BACKFILL,
        kinds={"polars"},
        deps=deps,
    )


@_scoring_asset(deps=["market_catalog", "lifecycle_events", "climate_reports"])
def settlements(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Kalshi's result per market and the CLI value as of expiration; later corrections are
    recorded in ``later_cli_high_f``, never applied."""
    return dg.MaterializeResult(
        metadata=settle(warehouse.open(), partitions_of(context)).metadata()
    )


@dg.asset_check(
    asset=settlements,
    partitions_def=day_city_partitions,
    blocking=True,
    description="Kalshi's result and the CLI value agree under the bracket rule (both shown).",
)
def settlements_agree_with_cli(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    verdict = check_settlements(warehouse.open(), partitions_of(context))
    return dg.AssetCheckResult(
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity[verdict.severity],
        metadata=verdict.metadata,
    )


@_scoring_asset(deps=[settlements, "predictions", "would_trade_decisions", "shadow_fills"])
def scored_snapshots(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every prediction snapshot (model, market, blend) and would-trade scored into ``scores``."""
    summary = score_partitions(warehouse.open(), partitions_of(context))
    return dg.MaterializeResult(metadata=summary.metadata())


class CalibrationReportConfig(dg.Config):
    last_n_days: int = DEFAULT_LAST_N_DAYS


@dg.asset(group_name=SCORING_GROUP, deps=[scored_snapshots], kinds={"html", "matplotlib"})
def calibration_report(
    context: dg.AssetExecutionContext,
    config: CalibrationReportConfig,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """The calibration report (HTML with PNG panels) of the last N days and cumulative."""
    report = nightly_report(
        warehouse.open(), warehouse.settings().reports_dir, config.last_n_days, datetime.now(UTC)
    )
    return dg.MaterializeResult(
        metadata={
            "html": dg.MetadataValue.path(str(report.html)),
            "summary": dg.MetadataValue.md(report_markdown(report)),
            "preview": dg.MetadataValue.md(png_markdown(report.images[MAIN_PANEL], MAIN_PANEL)),
            **{f"{name}_png": dg.MetadataValue.path(str(p)) for name, p in report.images.items()},
        }
    )


calibration_report_job = dg.define_asset_job(
    "calibration_report_job", selection=dg.AssetSelection.assets(calibration_report)
)
nightly_calibration = dg.ScheduleDefinition(
    name="nightly_calibration",
    job=calibration_report_job,
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Renders the calibration report every night at 06:00 UTC.",
)

SCORING_ASSETS: list[dg.AssetsDefinition] = [settlements, scored_snapshots, calibration_report]
SCORING_CHECKS: list[dg.AssetChecksDefinition] = [settlements_agree_with_cli]
SCORING_SCHEDULES: list[dg.ScheduleDefinition] = [nightly_calibration]
