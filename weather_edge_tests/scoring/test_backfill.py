"""``backfill_scores`` (``weather-edge backfill``) and the report command, on both backends."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from weather_edge.scoring import (
    BackfillProgress,
    backfill_scores,
    run_backfill,
    run_report,
    score_partitions,
    settle,
)
from weather_edge.settings import Settings
from weather_edge.storage import Warehouse
from weather_edge_tests.scoring import day as D
from weather_edge_tests.scoring.conftest import DAYS, seed_days, tables


def test_a_backfill_settles_and_scores_a_range_showing_progress(warehouse: Warehouse) -> None:
    seed_days(warehouse)
    seen: list[BackfillProgress] = []
    summary = backfill_scores(warehouse, DAYS[0], DAYS[-1], ["NYC"], seen.append, batch_size=2)
    assert [(p.done, p.total, p.through) for p in seen] == [(2, 3, DAYS[1]), (3, 3, DAYS[2])]
    assert seen[-1].line().startswith(f"3/3 partitions (100%) through {DAYS[2]}: 12 markets")
    assert (summary.partitions, summary.settled_markets, summary.rows_written) == (3, 12, 291)
    backfilled = tables(warehouse)

    warehouse.execute("DELETE FROM scores")
    warehouse.execute("DELETE FROM settlements")
    for day in DAYS:  # partition by partition
        settle(warehouse, [(day, "NYC")])
        score_partitions(warehouse, [(day, "NYC")])
    one_by_one = tables(warehouse)
    assert backfilled[0].drop("settled_at").equals(one_by_one[0].drop("settled_at"))
    assert backfilled[1].equals(one_by_one[1])


def test_a_backfill_of_days_without_data_writes_nothing(warehouse: Warehouse) -> None:
    summary = backfill_scores(warehouse, dt.date(2024, 1, 1), dt.date(2024, 1, 2), None)
    assert summary.partitions == 14  # every registry city
    assert summary.rows_written == 0 and warehouse.count("scores") == 0


def test_the_command_functions(warehouse: Warehouse, warehouse_url: str, tmp_path: Path) -> None:
    D.full_day().seed(warehouse)
    settings = Settings(data_dir=tmp_path, warehouse_url=warehouse_url)
    lines: list[str] = []
    run_backfill(settings, D.DAY, D.DAY, ["NYC"], echo=lines.append)
    assert lines[0].startswith("1/1 partitions (100%)")
    assert lines[-1] == f"backfill {D.DAY}..{D.DAY}: 1 partitions, 4 settlement rows, 97 score rows"
    now = dt.datetime(2025, 12, 20, 6, tzinfo=dt.UTC)
    report, text = run_report(settings, now=now)
    assert report.html == tmp_path / "reports" / "calibration" / "2025-12-20" / report.html.name
    assert report.html.is_file()
    assert text.startswith("**Calibration report** generated 2025-12-20T06:00:00+00:00")
    assert "| crps_model |" in text and "| rps_market |" in text
