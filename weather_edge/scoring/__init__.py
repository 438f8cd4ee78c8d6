"""Settlements and scores: what each market paid and how every forecast and trade did.

Plain Python (no Dagster), vectorized with numpy and polars, reading and writing the
warehouse. The Dagster layer (``weather_edge.defs.scoring``) calls these functions.

* :func:`settle` — settlements of partitions (Kalshi's result and the CLI value as of
  expiration; later corrections recorded, not applied); :func:`check_settlements` — do they
  agree under the bracket rule.
* :func:`score_partitions` — every prediction snapshot (model, market, blend) and every
  would-trade of the partitions into ``scores``; :func:`backfill_scores` /
  :func:`run_backfill` — a date range with progress (``weather-edge backfill``).
* :func:`nightly_report` / :func:`run_report` — the calibration report (``weather-edge report``).
"""

from weather_edge.scoring.frames import Partition, day_range
from weather_edge.scoring.report import nightly_report, report_markdown, run_report
from weather_edge.scoring.run import (
    BackfillProgress,
    ScoreSummary,
    backfill_scores,
    run_backfill,
    score_inputs,
    score_partitions,
)
from weather_edge.scoring.settlement import (
    SettlementBatch,
    SettlementVerdict,
    build_settlements,
    check_settlements,
    settle,
)

__all__ = [
    "BackfillProgress",
    "Partition",
    "ScoreSummary",
    "SettlementBatch",
    "SettlementVerdict",
    "backfill_scores",
    "build_settlements",
    "check_settlements",
    "day_range",
    "nightly_report",
    "report_markdown",
    "run_backfill",
    "run_report",
    "score_inputs",
    "score_partitions",
    "settle",
]
