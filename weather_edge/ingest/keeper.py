"""The policy that keeps exactly one quote-ingestion run alive.

The Dagster sensor gathers facts (is a run active, how did the last one end) and asks this
policy what to do; the decision and its reason are what the UI shows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime

BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 900.0


@dataclass(frozen=True)
class FinishedRun:
    run_id: str
    succeeded: bool
    ended_at: datetime


@dataclass(frozen=True)
class KeeperCursor:
    """What the sensor remembers between evaluations (stored as its cursor, shown in the UI)."""

    consecutive_failures: int = 0
    last_counted_run_id: str | None = None
    requests: int = 0

    def dumps(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def loads(cls, text: str | None) -> KeeperCursor:
        return cls(**json.loads(text)) if text else cls()


@dataclass(frozen=True)
class KeeperDecision:
    request: bool
    reason: str
    cursor: KeeperCursor
    run_key: str | None = None


def backoff_seconds(consecutive_failures: int) -> float:
    if consecutive_failures <= 0:
        return 0.0
    return float(min(BACKOFF_BASE_S * 2 ** (consecutive_failures - 1), BACKOFF_CAP_S))


def decide(
    now: datetime,
    active_run_id: str | None,
    last_finished: FinishedRun | None,
    cursor: KeeperCursor,
) -> KeeperDecision:
    """Request a run when none is active, backing off exponentially after failures."""
    if active_run_id is not None:
        return KeeperDecision(False, f"ingestion run {active_run_id} is queued or running", cursor)
    if last_finished is not None and last_finished.run_id != cursor.last_counted_run_id:
        failures = 0 if last_finished.succeeded else cursor.consecutive_failures + 1
        cursor = KeeperCursor(failures, last_finished.run_id, cursor.requests)
    wait = backoff_seconds(cursor.consecutive_failures)
    if last_finished is not None and wait > 0:
        elapsed = (now - last_finished.ended_at).total_seconds()
        if elapsed < wait:
            return KeeperDecision(
                False,
                f"backing off after {cursor.consecutive_failures} failed run(s): "
                f"next try in {wait - elapsed:.0f} s",
                cursor,
            )
    # One key per request: a window that ended early (a deploy) may be followed at once.
    cursor = KeeperCursor(
        cursor.consecutive_failures, cursor.last_counted_run_id, cursor.requests + 1
    )
    run_key = f"quote-ingestion-{now:%Y%m%dT%H%M%S}-{cursor.requests}"
    return KeeperDecision(True, "no ingestion run is active", cursor, run_key)
