"""The weather assets materialized by Dagster against the simulated sources, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from weather_edge.storage import Warehouse
from weather_edge.weather import store
from weather_edge.weather.cities import get_city
from weather_edge.weather.climate_day import climate_day_bounds
from weather_edge.weather.nws import round_half_up
from weather_edge_tests.weather_assets.conftest import (
    MODELS,
    NOW,
    TODAY,
    TOMORROW,
    YESTERDAY,
    World,
    checks,
    metadata,
)

NYC = get_city("NYC")
CYCLE_18Z = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)  # the NWS cycle in force at NOW


def _nws_high(world: World, day_start: datetime, day_end: datetime, as_of: datetime) -> int:
    """What the simulated hourly forecast says for the hours of [day_start, day_end)."""
    first = max(day_start, as_of.replace(minute=0, second=0, microsecond=0))
    hours = world.weather.forecast_temperatures("NYC", as_of, first, day_end)
    return round_half_up(max(value for _, value in hours))


def test_a_day_under_way(
    world: World, warehouse_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    result = world.materialize(warehouse_url, tmp_path, TODAY)
    assert result.success
    wh = warehouse
    start, end = climate_day_bounds(NYC, TODAY)

    # Forecasts: the NWS hours still to come, and each Open-Meteo model over the LST day
    # (the gfs spike at 04:00Z on the 16th is 23:00 LST on the 15th: it counts today).
    rows = wh.query(
        "SELECT source, issued_at, forecast_high_f, lead_hours, retrieved_at FROM forecasts "
        "WHERE city = 'NYC' AND climate_day = ? ORDER BY source",
        (TODAY,),
    )
    by_source = {r[0]: r[1:] for r in rows}
    assert set(by_source) == {
        "nws_hourly_remaining",
        "open_meteo_ecmwf_ifs025",
        "open_meteo_gfs_seamless",
    }
    issued, high, lead, retrieved = by_source["nws_hourly_remaining"]
    assert (issued, retrieved) == (CYCLE_18Z, NOW)
    assert high == _nws_high(world, start, end, NOW)
    assert lead == pytest.approx(11.0)  # 18:00Z to 05:00Z
    assert by_source["open_meteo_gfs_seamless"][:2] == (NOW, 99.0)
    assert by_source["open_meteo_ecmwf_ifs025"][:2] == (NOW, 84.0)
    assert by_source["open_meteo_gfs_seamless"][2] == pytest.approx(29 / 3)  # 19:20Z to 05:00Z
    meta = metadata(result, "forecasts")
    assert meta["issues_known"] == meta["new_issues"] == 3
    assert meta["latest_issue"] == NOW.isoformat()

    # Observations so far: every routine METAR since the day began, with the running max.
    expected = world.weather.observations_until("NYC", NOW)
    obs = wh.query(
        "SELECT observed_at, temperature_f, running_max_f, source, station_id FROM observations "
        "WHERE city = 'NYC' AND climate_day = ? ORDER BY observed_at",
        (TODAY,),
    )
    assert [o[0] for o in obs] == [ob.timestamp_utc for ob in expected]
    assert len(obs) == 14  # 05:51Z .. 18:51Z
    assert {(o[3], o[4]) for o in obs} == {("nws_api", "KNYC")}
    running = [max(o[1] for o in obs[: i + 1]) for i in range(len(obs))]
    assert [o[2] for o in obs] == pytest.approx(running)
    assert obs[-1][2] == pytest.approx(max(ob.temp_f for ob in expected))
    meta = metadata(result, "observations")
    assert meta["observations"] == 14
    assert meta["cli_high_at_least_f"] <= world.weather.true_high("NYC", TODAY)
    assert "rounding" in meta["rounding_caveat"]

    # No CLI before the preliminary report at 5 PM: nothing stored, the check not yet due.
    assert wh.count("climate_reports") == 0
    verdicts = checks(result)
    assert all(passed for passed, _ in verdicts.values()), verdicts
    assert verdicts["final_cli_present"][1]["status"].startswith("not yet due")


def test_every_forecast_issue_is_kept(
    world: World, warehouse_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    first = world.materialize(warehouse_url, tmp_path, TOMORROW)
    again = world.materialize(warehouse_url, tmp_path, TOMORROW)  # same moment: nothing new
    world.clock.current = NOW + timedelta(hours=3)  # the 21Z cycle is out
    later = world.materialize(warehouse_url, tmp_path, TOMORROW)
    assert metadata(first, "forecasts")["new_issues"] == 3
    assert metadata(again, "forecasts")["new_issues"] == 0
    assert metadata(later, "forecasts")["new_issues"] == 3
    assert metadata(later, "forecasts")["issues_known"] == 6

    wh = warehouse
    rows = wh.query(
        "SELECT issued_at, forecast_high_f, lead_hours FROM forecasts WHERE city = 'NYC' "
        "AND climate_day = ? AND source = 'nws_hourly' ORDER BY issued_at",
        (TOMORROW,),
    )
    start, end = climate_day_bounds(NYC, TOMORROW)
    assert [r[0] for r in rows] == [CYCLE_18Z, CYCLE_18Z + timedelta(hours=3)]
    assert rows[0][1] == _nws_high(world, start, end, NOW)
    assert rows[1][1] == _nws_high(world, start, end, NOW + timedelta(hours=3))
    assert [r[2] for r in rows] == pytest.approx([35.0, 32.0])  # to 05:00Z on the 17th
    gfs = wh.query(
        "SELECT issued_at, forecast_high_f FROM forecasts WHERE climate_day = ? "
        "AND source = 'open_meteo_gfs_seamless' ORDER BY issued_at",
        (TOMORROW,),
    )
    assert gfs == [(NOW, 86.0), (NOW + timedelta(hours=3), 86.0)]
    assert all(passed for passed, _ in checks(later).values())


def test_the_day_after(
    world: World, warehouse_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    result = world.materialize(warehouse_url, tmp_path, YESTERDAY)
    wh = warehouse
    # A finished day gets no forecast: nothing fetched after it can be a forecast of it.
    assert metadata(result, "forecasts")["issues_known"] == 0
    obs = wh.query(
        "SELECT observed_at, running_max_f FROM observations WHERE climate_day = ? "
        "ORDER BY observed_at",
        (YESTERDAY,),
    )
    assert len(obs) == 24  # 05:51Z on the 14th .. 04:51Z on the 15th
    reports = wh.query(
        "SELECT preliminary, high_f, correction, source, issued_at, high_time_local "
        "FROM climate_reports WHERE city = 'NYC' AND climate_day = ? ORDER BY issued_at",
        (YESTERDAY,),
    )
    true_high = world.weather.true_high("NYC", YESTERDAY)
    assert [r[0] for r in reports] == [True, False]  # the 5 PM preliminary, then the final
    assert reports[1][1] == true_high
    assert reports[1][2:4] == (False, "nws_api")
    assert reports[1][4] == world.weather.cli_issued_at("NYC", YESTERDAY, final=True)
    assert reports[1][5].endswith(("AM", "PM"))
    # The observations' running max bounds the CLI high from below, rounding allowed for.
    assert true_high >= round_half_up(obs[-1][1]) - 1
    meta = metadata(result, "climate_reports")
    assert (meta["status"], meta["high_f"], meta["reports"]) == ("final", true_high, 2)
    verdicts = checks(result)
    assert verdicts["final_cli_present"][0]
    assert verdicts["final_cli_present"][1]["high_f"] == true_high


def test_iem_fills_in_once_the_nws_no_longer_lists_the_day(
    world: World, warehouse_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    day = datetime(2025, 12, 5).date()  # months before NOW: api.weather.gov lists 14 days
    result = world.materialize(warehouse_url, tmp_path, day)
    rows = warehouse.query(
        "SELECT product_id, issued_at, high_f, high_time_local, low_f, preliminary, source "
        "FROM climate_reports WHERE climate_day = ?",
        (day,),
    )
    # The real KNYC values of that day, as IEM parsed them from the CLI.
    assert rows == [
        (
            "202512060716-KOKX-CDUS41-CLINYC",
            datetime(2025, 12, 6, 7, 16, tzinfo=UTC),
            32,
            "1150 PM",
            20,
            False,
            "iem_cli",
        )
    ]
    assert checks(result)["final_cli_present"][0]
    assert any(path == "/iem/json/cli.py" for path in world.log.paths())


def test_a_source_down_does_not_lose_the_others(world: World, warehouse: Warehouse) -> None:
    sources = world.sources()
    broken = store.WeatherClients.connect(
        nws_url=sources.nws_url,
        iem_url=sources.iem_url,
        open_meteo_url=f"{world.url}/nowhere",  # answers 404
        user_agent=sources.user_agent,
        models=MODELS,
    )
    with broken as clients, pytest.raises(store.WeatherSourceError, match="open_meteo: HTTP 404"):
        store.refresh_forecasts(clients, warehouse, NYC, TOMORROW, NOW)
    assert warehouse.query("SELECT source, issued_at FROM forecasts") == [("nws_hourly", CYCLE_18Z)]


def test_sources_come_from_the_environment() -> None:
    from weather_edge.defs.weather import weather_sources_from_env

    sources = weather_sources_from_env(
        {
            "WEATHER_EDGE_NWS_URL": "http://sim:8765/nws/",
            "WEATHER_EDGE_USER_AGENT": "weather_edge (ops@example.org)",
            "WEATHER_EDGE_OPEN_METEO_MODELS": "gfs_seamless, ecmwf_ifs025",
        }
    )
    assert sources.nws_url == "http://sim:8765/nws"
    assert sources.iem_url == "https://mesonet.agron.iastate.edu"
    assert sources.open_meteo_url == "https://api.open-meteo.com"
    assert sources.user_agent == "weather_edge (ops@example.org)"
    assert sources.open_meteo_models == MODELS
    assert weather_sources_from_env({}).open_meteo_models == ["best_match"]
