"""The real-data loaders: row counts, spot values and the quirks the README names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from weather_edge.forecasting import history
from weather_edge.forecasting.features import CitySources

from .conftest import utc


def test_cli_highs(nyc_sources: CitySources) -> None:
    cli = nyc_sources.cli
    assert cli.height == 3155
    assert dict(cli.schema) == history.CLI_SCHEMA
    days = set(cli["climate_day"].to_list())
    assert dt.date(2025, 6, 2) not in days and dt.date(2025, 6, 3) not in days  # the gap
    by_day = {r["climate_day"]: r for r in cli.iter_rows(named=True)}
    assert by_day[dt.date(2025, 6, 1)]["high_f"] == 66
    assert by_day[dt.date(2025, 6, 4)]["high_f"] == 83
    assert by_day[dt.date(2021, 2, 7)]["late_report"]  # corrected report, Nov 2022
    last = by_day[dt.date(2026, 8, 23)]
    assert last["high_f"] == 80 and last["preliminary"]  # same-day report
    assert last["report_utc"] == utc(2026, 8, 23, 20, 35)
    assert not by_day[dt.date(2026, 8, 22)]["preliminary"]


def test_ndfd_issues_flag_the_18z_period(nyc_sources: CitySources) -> None:
    ndfd = nyc_sources.ndfd
    assert ndfd.height == 3883
    assert ndfd["climate_day"].n_unique() == 354
    suspect = ndfd.filter(pl.col("suspect"))
    assert suspect.height == 353
    assert set(suspect["issued_utc"].dt.hour().to_list()) == {18}
    # their valid time is the early morning of the target day itself
    assert (suspect["valid_utc"].dt.date() == suspect["climate_day"]).all()
    first = ndfd.row(0, named=True)
    assert first["issued_utc"] == utc(2025, 5, 30, 0, 46)
    assert first["high_f"] == pytest.approx(67.91001098632816)


def test_hourly_issues_and_their_daily_max(shared_data: Path, nyc_sources: CitySources) -> None:
    path = shared_data / "openmeteo" / "nyc_hourly_forecast_issues.parquet"
    hourly = history.load_hourly_issues(shared_data, "NYC")
    assert hourly.height == 1_645_776 - 204  # the spring-forward rows without a valid time
    assert hourly["issued_utc"].n_unique() == 22_858
    # one issue's max over the LST climate day, recomputed from the raw file by hand
    raw = pq.read_table(path, filters=[("issued_utc", "=", utc(2023, 10, 1, 9))]).to_pylist()
    start = utc(2023, 10, 1, 5)  # midnight EST
    in_day = [r["temperature_2m"] for r in raw if start <= r["valid_utc"] < start + dt.timedelta(1)]
    issue = pl.col("issued_utc") == utc(2023, 10, 1, 9)
    row = nyc_sources.daily.filter(issue & (pl.col("climate_day") == dt.date(2023, 10, 1))).row(
        0, named=True
    )
    assert row["n_hours"] == len(in_day) == 24
    assert row["max_f"] == max(in_day)
    elapsed = [r["temperature_2m"] for r in raw if start <= r["valid_utc"] <= utc(2023, 10, 1, 9)]
    assert row["past_max_f"] == max(elapsed) and row["past_hours"] == len(elapsed)


def test_past_days_against_the_cli(shared_data: Path, nyc_sources: CitySources) -> None:
    past = history.load_past_days(shared_data, "NYC")
    assert past.height == 25_054 - 1  # one row without a time
    first = past.row(0, named=True)
    assert first["valid_utc"] == utc(2023, 10, 8, 4)
    assert first["available_utc"] == utc(2023, 10, 9, 9)  # 05:00 EDT the next morning
    daily = history.past_days_daily_max(past).join(nyc_sources.cli, on=["city", "climate_day"])
    err = daily["high_f"] - daily["max_f"]
    assert daily.height == 1042  # the README's figures: -0.57 °F on average, MAE 1.45 °F
    assert err.mean() == pytest.approx(-0.57, abs=0.005)
    assert err.abs().mean() == pytest.approx(1.45, abs=0.005)


def test_files_are_discovered_by_pattern_for_any_city(tmp_path: Path) -> None:
    (tmp_path / "nws").mkdir()
    (tmp_path / "openmeteo").mkdir()
    header = "date,location,actual_high,official_daily_high_f,source_station,cli_product_id\n"
    (tmp_path / "nws" / "kphl_cli_daily_2026a.csv").write_text(
        header + "2026-09-01,PHL,88.0,88.0,KPHL,202609020610-KPHI-CDUS41-CLIPHL\n"
    )
    (tmp_path / "nws" / "kphl_cli_daily_2026b.csv").write_text(
        header + "2026-10-01,PHL,70.0,70.0,KPHL,\n"
    )
    hours = [utc(2026, 9, 1, 5) + dt.timedelta(hours=h) for h in range(24)]
    pl.DataFrame(
        {
            "issued_utc": [utc(2026, 9, 1, 4)] * 24,
            "valid_utc": hours,
            "temperature_2m": [70.0 + h for h in range(24)],
        }
    ).write_parquet(tmp_path / "openmeteo" / "phl_hourly_forecast_issues_2026-09.parquet")
    found = history.discover(tmp_path)
    assert found.cities() == ["PHL"]
    cli = history.load_cli_highs(tmp_path)
    assert cli["high_f"].to_list() == [88, 70]
    # without a product id the report is assumed the next midday (UTC): day end + 12 h
    assert cli["report_utc"][1] == utc(2026, 10, 2, 17)
    daily = history.daily_max_by_issue(history.load_hourly_issues(tmp_path, "PHL"))
    assert daily.select("climate_day", "max_f", "n_hours", "past_hours").row(0) == (
        dt.date(2026, 9, 1),
        93.0,
        24,
        0,
    )
    assert history.load_ndfd_issues(tmp_path).is_empty()


def test_a_cli_file_of_another_station_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nws").mkdir()
    (tmp_path / "nws" / "knyc_cli_daily_x.csv").write_text(
        "date,official_daily_high_f,source_station\n2026-01-01,40,KPHL\n"
    )
    with pytest.raises(history.HistoryError, match="not NYC"):
        history.load_cli_highs(tmp_path)
