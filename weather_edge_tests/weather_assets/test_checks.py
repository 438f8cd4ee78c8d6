"""Each weather check fails on a crafted bad case (and passes on the good ones of
test_assets.py): implausible temperatures, look-ahead forecasts, an overdue final CLI."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from weather_edge.storage import Warehouse
from weather_edge.weather.cities import get_city
from weather_edge.weather.store import (
    LookAheadError,
    climate_report_row,
    forecast_row,
    plausible_range_f,
)
from weather_edge_tests.weather_assets.conftest import NOW, TODAY, World, checks

NYC = get_city("NYC")


def test_bad_rows_fail_their_checks(
    world: World, warehouse_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    wh = warehouse
    # A 130 °F reading at Central Park in July, and a forecast "issued" after it was fetched.
    wh.upsert(
        "observations",
        [
            {
                "station_id": "KNYC",
                "observed_at": NOW - timedelta(hours=2),
                "city": "NYC",
                "climate_day": TODAY,
                "temperature_f": 130.0,
                "running_max_f": 130.0,
                "source": "crafted",
            }
        ],
    )
    good = forecast_row(NYC, TODAY, "crafted", NOW - timedelta(hours=1), 85.0, NOW)
    wh.upsert("forecasts", [good | {"issued_at": NOW + timedelta(hours=1)}])

    verdicts = checks(world.materialize(warehouse_url, tmp_path, TODAY))
    passed, meta = verdicts["observations_plausible"]
    assert not passed and meta["implausible"] == 1 and "130.0 °F (crafted)" in meta["examples"]
    assert meta["observations"] == 15  # the 14 real ones pass
    passed, meta = verdicts["forecasts_not_after_retrieval"]
    assert not passed and meta["issued_after_retrieval"] == 1
    assert meta["forecasts"] == 4  # the 3 fetched ones pass
    assert verdicts["final_cli_present"][0]  # not yet due


def test_a_missing_final_cli_fails_once_overdue(
    world: World, warehouse_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    # Neither api.weather.gov (14 days back) nor the IEM fixture has 1 June 2026.
    verdicts = checks(world.materialize(warehouse_url, tmp_path, date(2026, 6, 1)))
    passed, meta = verdicts["final_cli_present"]
    assert not passed
    assert meta["status"].startswith("overdue by")
    assert meta["due_at"] == "2026-06-02T15:00:00+00:00"  # 10 AM EST the next morning


def test_a_forecast_is_never_issued_after_it_was_known() -> None:
    with pytest.raises(LookAheadError, match="after it was retrieved"):
        forecast_row(NYC, TODAY, "nws_hourly", NOW + timedelta(minutes=1), 88.0, NOW)


def test_plausible_band_keeps_records_and_refuses_typos() -> None:
    low, high = plausible_range_f("NYC", 7)
    assert low < 52 and 106 < high < 130  # July records at Central Park: 52 and 106 °F
    low, high = plausible_range_f("NYC", 2)
    assert low < -15 < 78 < high  # February records: -15 and 78 °F


def test_a_correction_is_a_row_of_its_own(world: World, warehouse: Warehouse) -> None:
    from weather_edge.weather.cli_report import parse_cli

    day = TODAY - timedelta(days=1)
    text = world.weather.cli_text("NYC", day, final=True)
    corrected = text.replace("\nCLINYC", " CCA\nCLINYC", 1)  # BBB "CCA" on the WMO heading
    issued = datetime(2026, 7, 15, 9, 0, tzinfo=UTC)
    rows = [
        climate_report_row(NYC, "final", issued, parse_cli(text)),
        climate_report_row(NYC, "final-cca", issued + timedelta(hours=2), parse_cli(corrected)),
    ]
    wh = warehouse
    assert wh.upsert("climate_reports", rows) == 2
    stored = wh.query(
        "SELECT product_id, correction, preliminary FROM climate_reports ORDER BY issued_at"
    )
    assert stored == [("final", False, False), ("final-cca", True, False)]
