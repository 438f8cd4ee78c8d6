"""The report's recent window follows the data when no `now` is given."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from weather_edge.reporting.calibration import render_calibration_report


def seed_scores(warehouse: Any, first: date, days: int) -> None:
    warehouse.upsert(
        "scores",
        [
            {
                "city": "NYC",
                "climate_day": first + timedelta(days=i),
                "subject": "model",
                "subject_key": f"m@{i}",
                "metric": "brier",
                "value": 0.1 + i / 100,
                "lead_hours": 6.0,
            }
            for i in range(days)
        ],
    )


def test_old_history_fills_the_recent_window(warehouse: Any, tmp_path: Path) -> None:
    seed_scores(warehouse, date(2025, 1, 1), 40)
    report = render_calibration_report(warehouse, tmp_path / "r")
    assert report.summary["window"] != report.summary["cumulative"]  # 30 of 40 days
    assert report.summary["window"], "the recent window is not empty"
    pinned = render_calibration_report(
        warehouse, tmp_path / "p", now=datetime(2026, 11, 22, tzinfo=UTC)
    )
    assert pinned.summary["window"] != report.summary["window"]  # nothing in a pinned window
