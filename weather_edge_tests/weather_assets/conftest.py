"""The weather assets' world: the simulated api.weather.gov, Open-Meteo and IEM fixtures.

One loopback server (the harness of ``weather_edge_tests/weather``) serves, over a real
socket: the simulator's NWS routes under ``/nws``, the two-model Open-Meteo fixture under
``/openmeteo`` and the IEM CLI fixtures under ``/iem``. The assets run unchanged against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from weather_edge.defs.resources import WarehouseResource
from weather_edge.defs.weather import WEATHER_ASSETS, WEATHER_CHECKS, WeatherSourcesResource
from weather_edge.sim.nws_routes import nws_routes
from weather_edge.sim.weather import SimulatedWeather
from weather_edge_tests.weather.loopback import ManualClock, RequestLog, serve

FIXTURES = Path(__file__).resolve().parents[1] / "weather" / "fixtures"
# 15:20 EDT (14:20 LST) on 15 July 2026: the climate day is under way.
NOW = datetime(2026, 7, 15, 19, 20, tzinfo=UTC)
TODAY, YESTERDAY, TOMORROW = date(2026, 7, 15), date(2026, 7, 14), date(2026, 7, 16)
MODELS = ["gfs_seamless", "ecmwf_ifs025"]  # the models of the Open-Meteo fixture


async def _open_meteo(request: Request) -> Response:
    body = (FIXTURES / "openmeteo_forecast_nyc_two_models.json").read_bytes()
    return Response(body, media_type="application/json")


async def _iem_cli(request: Request) -> Response:
    path = FIXTURES / f"iem_cli_knyc_{request.query_params['year']}.json"
    if request.query_params["station"] != "KNYC" or not path.exists():
        return JSONResponse({"results": [], "generated_at": "2026-08-24T12:00:00Z"})
    return Response(path.read_bytes(), media_type="application/json")


@dataclass
class World:
    url: str
    weather: SimulatedWeather
    clock: ManualClock
    log: RequestLog

    def sources(self) -> WeatherSourcesResource:
        """The resource as configured for this world, "now" pinned to the simulated clock."""
        return WeatherSourcesResource(
            nws_url=f"{self.url}/nws",
            iem_url=f"{self.url}/iem",
            open_meteo_url=f"{self.url}/openmeteo",
            user_agent="weather_edge-tests (ops@example.org)",
            open_meteo_models=MODELS,
            as_of=self.clock.now().isoformat(),
        )

    def materialize(
        self, warehouse_url: str, data_dir: Path, day: date, city: str = "NYC"
    ) -> dg.ExecuteInProcessResult:
        """Every weather asset and check of one partition, as Dagster runs them."""
        return dg.materialize(
            [*WEATHER_ASSETS, *WEATHER_CHECKS],
            partition_key=dg.MultiPartitionKey({"day": day.isoformat(), "city": city}),
            resources={
                "warehouse": WarehouseResource(url=warehouse_url, data_dir=str(data_dir)),
                "weather_sources": self.sources(),
            },
        )


@pytest.fixture(scope="module")
def _served() -> Iterator[World]:
    weather, clock = SimulatedWeather(seed=11), ManualClock(NOW)
    app = RequestLog(
        Starlette(
            routes=[
                Mount("/nws", routes=nws_routes(weather, clock)),
                Mount("/openmeteo", routes=[Route("/v1/forecast", _open_meteo)]),
                Mount("/iem", routes=[Route("/json/cli.py", _iem_cli)]),
            ]
        )
    )
    with serve(app) as url:
        yield World(url, weather, clock, app)


@pytest.fixture
def world(_served: World) -> World:
    _served.clock.current = NOW
    _served.log.requests.clear()
    return _served


def checks(result: dg.ExecuteInProcessResult) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Each check's verdict and metadata values, by check name."""
    return {
        e.check_name: (e.passed, {k: v.value for k, v in e.metadata.items()})
        for e in result.get_asset_check_evaluations()
    }


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    (event,) = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in event.metadata.items()}
