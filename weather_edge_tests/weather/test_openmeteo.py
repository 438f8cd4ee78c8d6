"""The Open-Meteo client against response fixtures served over a loopback socket.

Fixture shapes follow open-meteo.com/en/docs and /en/docs/previous-runs-api (see
fixtures/README.md); the values are made up to sit on the climate-day boundaries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from weather_edge.weather.cities import get_city
from weather_edge.weather.http import HttpSettings, ResponseShapeError
from weather_edge.weather.openmeteo import ModelSeries, OpenMeteoClient, parse_hourly
from weather_edge_tests.weather.loopback import RequestLog, serve

FIXTURES = Path(__file__).parent / "fixtures"
NYC, CHI = get_city("NYC"), get_city("CHI")
NOW = datetime(2026, 7, 15, 1, 0, tzinfo=UTC)


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _serving(name: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(_fixture(name))

    return endpoint


@pytest.fixture
def logs() -> Iterator[tuple[OpenMeteoClient, dict[str, RequestLog]]]:
    apps = {
        "forecast": RequestLog(
            Starlette(
                routes=[Route("/v1/forecast", _serving("openmeteo_forecast_nyc_two_models.json"))]
            )
        ),
        "previous": RequestLog(
            Starlette(
                routes=[Route("/v1/forecast", _serving("openmeteo_previous_runs_chi_gfs.json"))]
            )
        ),
        "historical": RequestLog(
            Starlette(
                routes=[Route("/v1/forecast", _serving("openmeteo_previous_runs_chi_gfs.json"))]
            )
        ),
    }
    settings = HttpSettings(user_agent="weather_edge-tests")
    with (
        serve(apps["forecast"]) as forecast,
        serve(apps["previous"]) as previous,
        serve(apps["historical"]) as historical,
        OpenMeteoClient(forecast, previous, historical, settings) as client,
    ):
        yield client, apps


def _params(log: RequestLog) -> dict[str, list[str]]:
    return parse_qs(log.requests[-1][1])


def _highs(series: ModelSeries, city: Any) -> dict[date, tuple[float, bool]]:
    return {m.day: (m.high_f, m.complete) for m in series.daily_highs(city)}


def test_forecast_request_asks_for_fahrenheit_and_utc(logs: Any) -> None:
    client, apps = logs
    client.forecast(NYC, ["gfs_seamless", "ecmwf_ifs025"], forecast_days=3, now=NOW)
    params = _params(apps["forecast"])
    assert params["temperature_unit"] == ["fahrenheit"] and params["timezone"] == ["GMT"]
    assert params["models"] == ["gfs_seamless,ecmwf_ifs025"]
    assert params["hourly"] == ["temperature_2m"] and params["forecast_days"] == ["3"]
    assert params["latitude"] == ["40.7789"] and params["longitude"] == ["-73.9692"]


def test_daily_high_over_the_lst_climate_day(logs: Any) -> None:
    client, _ = logs
    gfs, ecmwf = client.forecast(NYC, ["gfs_seamless", "ecmwf_ifs025"], now=NOW)
    assert (gfs.model, ecmwf.model) == ("gfs_seamless", "ecmwf_ifs025")
    assert gfs.fetched_at == NOW and gfs.times_utc[0] == datetime(2026, 7, 15, tzinfo=UTC)
    # GFS: 99 °F at 04:00 UTC on the 16th = 00:00 EDT on the 16th = 23:00 EST on the 15th.
    assert _highs(gfs, NYC) == {
        date(2026, 7, 14): (70.0, False),  # 00:00-04:00 UTC of the 15th
        date(2026, 7, 15): (99.0, True),
        date(2026, 7, 16): (86.0, True),
        date(2026, 7, 17): (87.0, False),
    }
    # ECMWF: 98 °F at 05:00 UTC on the 16th = 01:00 EDT = 00:00 EST, the 16th's first hour.
    # From 12:00 UTC on the 17th the model has no values (null), so that day is partial.
    assert _highs(ecmwf, NYC) == {
        date(2026, 7, 14): (70.0, False),
        date(2026, 7, 15): (84.0, True),
        date(2026, 7, 16): (98.0, True),
        date(2026, 7, 17): (70.0, False),
    }


def test_previous_runs_vintages(logs: Any) -> None:
    client, apps = logs
    series = client.previous_runs(
        CHI, ["gfs_seamless"], date(2026, 1, 10), date(2026, 1, 11), previous_days=(1, 2), now=NOW
    )
    params = _params(apps["previous"])
    assert params["hourly"] == [
        "temperature_2m,temperature_2m_previous_day1,temperature_2m_previous_day2"
    ]
    # climate days (CST, UTC-6) 10-11 January run 06:00 UTC on the 10th to 06:00 on the 12th
    assert (params["start_date"], params["end_date"]) == (["2026-01-10"], ["2026-01-12"])
    by_lead = {s.previous_day: s for s in series}
    assert sorted(by_lead) == [0, 1, 2]
    assert _highs(by_lead[0], CHI)[date(2026, 1, 11)] == (42.0, True)
    assert _highs(by_lead[1], CHI)[date(2026, 1, 11)] == (41.0, True)
    # two days back, the 10th's daytime hours are null: only 00-05 UTC of the 11th remain
    assert _highs(by_lead[2], CHI)[date(2026, 1, 10)] == (32.0, False)


def test_historical_forecast_date_range(logs: Any) -> None:
    client, apps = logs
    (series,) = client.historical_forecast(
        CHI, ["gfs_seamless"], date(2026, 1, 10), date(2026, 1, 10)
    )
    params = _params(apps["historical"])
    assert (params["start_date"], params["end_date"]) == (["2026-01-10"], ["2026-01-11"])
    assert series.previous_day == 0


def test_refuses_celsius_local_times_and_errors() -> None:
    payload = _fixture("openmeteo_forecast_nyc_two_models.json")
    models = ["gfs_seamless", "ecmwf_ifs025"]
    celsius = json.loads(json.dumps(payload))
    celsius["hourly_units"]["temperature_2m_gfs_seamless"] = "°C"
    with pytest.raises(ResponseShapeError, match="not °F"):
        parse_hourly(celsius, models, {"temperature_2m": 0}, NOW)
    local = dict(payload, utc_offset_seconds=-14400)
    with pytest.raises(ResponseShapeError, match="GMT"):
        parse_hourly(local, models, {"temperature_2m": 0}, NOW)
    with pytest.raises(ResponseShapeError, match="no temperature_2m_icon_seamless"):
        parse_hourly(payload, ["icon_seamless"], {"temperature_2m": 0}, NOW)
    with pytest.raises(ResponseShapeError, match="Cannot initialize"):
        parse_hourly({"error": True, "reason": "Cannot initialize"}, models, {}, NOW)
