"""The real KNYC history loaded through the live schema, on both backends, idempotently."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from weather_edge.storage import Warehouse
from weather_edge.weather.store import HistoryStep, load_history


def _count(wh: Warehouse, table: str, where: str = "TRUE") -> int:
    return int(wh.scalar(f"SELECT COUNT(*) FROM {table} WHERE {where}"))


def _parquet_max(path: Path, time_col: str, start: datetime, end: datetime, **eq: object) -> float:
    """The max temperature_2m straight from an archive file, over [start, end)."""
    frame = pl.read_parquet(path).filter(
        pl.col(time_col).is_between(start, end, closed="left"),
        *(pl.col(k) == v for k, v in eq.items()),
    )
    return float(frame["temperature_2m"].max())  # type: ignore[arg-type]


def test_load_the_real_history(shared_data: Path, warehouse: Warehouse) -> None:
    steps: list[HistoryStep] = []
    summary = load_history(shared_data, warehouse, progress=steps.append)
    assert summary.seconds < 60  # 1.65 M hourly rows, vectorised
    assert [(s.table, s.source) for s in steps] == [
        ("climate_reports", "iem_cli_archive"),
        ("forecasts", "ndfd"),
        ("forecasts", "open_meteo"),
        ("observations", "open_meteo_analysis_proxy"),
    ]
    assert str(steps[0]).startswith("[1/4] NYC climate_reports (iem_cli_archive): 3,155 rows")

    # Every CLI day from 2018-01-01 to 2026-08-23 but the two the source lacks.
    assert _count(warehouse, "climate_reports") == summary.written("climate_reports") == 3155
    highs = dict(
        warehouse.query(
            "SELECT climate_day, high_f FROM climate_reports WHERE climate_day BETWEEN ? AND ?",
            (date(2025, 6, 1), date(2025, 6, 4)),
        )
    )
    assert highs == {date(2025, 6, 1): 66, date(2025, 6, 4): 83}  # 06-02 and 06-03 missing
    assert warehouse.query(
        "SELECT product_id, issued_at, high_f, high_time_local, low_f, preliminary, correction "
        "FROM climate_reports WHERE climate_day = ?",
        (date(2024, 7, 4),),
    ) == [
        (
            "202407050630-KOKX-CDUS41-CLINYC",
            datetime(2024, 7, 5, 6, 30, tzinfo=UTC),
            89,
            "107 PM",
            70,
            False,
            False,
        )
    ]
    flags = warehouse.query(
        "SELECT climate_day, preliminary, correction FROM climate_reports "
        "WHERE preliminary OR correction ORDER BY climate_day"
    )
    assert (date(2021, 2, 7), False, True) in flags  # from a corrected report in 2022
    assert (date(2026, 8, 23), True, False) in flags  # the same-day report of the last row

    # NDFD: every issue kept, the 18:xx UTC ones for the wrong period flagged.
    assert _count(warehouse, "forecasts", "source = 'ndfd'") == 3883
    suspect = warehouse.query("SELECT issued_at FROM forecasts WHERE source = 'ndfd' AND suspect")
    assert len(suspect) == 353 and {t.hour for (t,) in suspect} == {18}
    first = warehouse.query(
        "SELECT forecast_high_f, lead_hours, retrieved_at FROM forecasts WHERE source = 'ndfd' "
        "AND climate_day = ? AND issued_at = ?",
        (date(2025, 6, 1), datetime(2025, 5, 30, 0, 46, tzinfo=UTC)),
    )
    assert first[0][0] == pytest.approx(67.91001098632816)
    assert first[0][1] == pytest.approx(76 + 14 / 60)  # to 05:00Z on 2 June (midnight EST)
    assert first[0][2] == datetime(2025, 5, 30, 0, 46, tzinfo=UTC)

    # Open-Meteo issues: the max over the LST climate day, straight from the parquet.
    assert _count(warehouse, "forecasts", "source = 'open_meteo'") == 68574
    issue = datetime(2023, 10, 1, 9, tzinfo=UTC)
    day_start, day_end = datetime(2023, 10, 1, 5, tzinfo=UTC), datetime(2023, 10, 2, 5, tzinfo=UTC)
    issues = shared_data / "openmeteo" / "nyc_hourly_forecast_issues.parquet"
    stored = warehouse.query(
        "SELECT forecast_high_f, lead_hours, suspect FROM forecasts WHERE source = 'open_meteo' "
        "AND climate_day = ? AND issued_at = ?",
        (date(2023, 10, 1), issue),
    )
    expected = _parquet_max(issues, "valid_utc", day_start, day_end, issued_utc=issue)
    assert stored == [(pytest.approx(expected), pytest.approx(20.0), False)]
    assert _count(warehouse, "forecasts", "lead_hours <= 0") == 0

    # Past days: a model-analysis proxy of observations, with the running max of the day.
    assert _count(warehouse, "observations", "source = 'open_meteo_analysis_proxy'") == 25053
    july4 = warehouse.query(
        "SELECT running_max_f FROM observations WHERE climate_day = ? ORDER BY observed_at",
        (date(2024, 7, 4),),
    )
    past = shared_data / "openmeteo" / "nyc_hourly_past_days.parquet"
    start, end = datetime(2024, 7, 4, 5, tzinfo=UTC), datetime(2024, 7, 5, 5, tzinfo=UTC)
    assert len(july4) == 24
    assert july4[-1][0] == pytest.approx(_parquet_max(past, "time_utc", start, end))
    assert [r[0] for r in july4] == sorted(r[0] for r in july4)

    # A second load adds nothing.
    counts = {t: warehouse.count(t) for t in ("forecasts", "observations", "climate_reports")}
    again = load_history(shared_data, warehouse)
    assert again.written() == 0
    assert {t: warehouse.count(t) for t in counts} == counts


def test_an_empty_directory_loads_nothing(tmp_path: Path, warehouse: Warehouse) -> None:
    assert load_history(tmp_path, warehouse).steps == ()
    with pytest.raises(FileNotFoundError):
        load_history(tmp_path / "missing", warehouse)
