"""Weather under Dagster: forecasts, observations and CLI reports per climate day x city.

Each asset body calls ``weather_edge.weather.store``; the checks read back what landed.
``WEATHER_ASSETS``, ``WEATHER_CHECKS`` and ``weather_resources(settings)`` are what
``definitions.py`` merges in.
"""

import os
import warnings
from collections.abc import Callable, Mapping
from contextlib import closing
from datetime import UTC, date, datetime

import dagster as dg
from pydantic import Field

from weather_edge.defs.ingestion import partition_of
from weather_edge.defs.partitions import day_city_partitions
from weather_edge.defs.resources import WAREHOUSE_WRITER_POOL, WarehouseResource
from weather_edge.settings import Settings
from weather_edge.storage import Warehouse
from weather_edge.weather import store
from weather_edge.weather.cities import City, ensure_utc, get_city
from weather_edge.weather.http import DEFAULT_USER_AGENT, ENV_USER_AGENT, env_url
from weather_edge.weather.iem import DEFAULT_IEM_URL, ENV_IEM_URL
from weather_edge.weather.nws import DEFAULT_NWS_URL, ENV_NWS_URL
from weather_edge.weather.openmeteo import DEFAULT_FORECAST_URL, ENV_FORECAST_URL

WEATHER_GROUP = "weather"
WEATHER_SOURCES_KEY = "weather_sources"
ENV_OPEN_METEO_MODELS = "WEATHER_EDGE_OPEN_METEO_MODELS"  # comma-separated, e.g. "best_match"

# The checks are partitioned like their assets (one verdict per climate day and city), which
# Dagster still labels a preview; say so once here instead of on every code load.
warnings.filterwarnings(
    "ignore",
    message="Specifying a partitions_def on an AssetCheckSpec",
    category=dg.PreviewWarning,
)


class WeatherSourcesResource(dg.ConfigurableResource):
    """Where the weather comes from: api.weather.gov, IEM and Open-Meteo (or the simulator).

    ``as_of`` pins "now" (ISO 8601 with a zone) for replays against a simulated clock;
    unset, the wall clock decides what is known.
    """

    nws_url: str = DEFAULT_NWS_URL
    iem_url: str = DEFAULT_IEM_URL
    open_meteo_url: str = DEFAULT_FORECAST_URL
    user_agent: str = DEFAULT_USER_AGENT
    open_meteo_models: list[str] = Field(default_factory=lambda: [store.OPEN_METEO_DEFAULT_MODEL])
    as_of: str | None = None

    def now(self) -> datetime:
        if self.as_of:
            return ensure_utc(datetime.fromisoformat(self.as_of))
        return datetime.now(UTC)

    def clients(self) -> store.WeatherClients:
        """The three clients; use as ``with sources.clients() as clients:``."""
        return store.WeatherClients.connect(
            nws_url=self.nws_url,
            iem_url=self.iem_url,
            open_meteo_url=self.open_meteo_url,
            user_agent=self.user_agent,
            models=self.open_meteo_models,
        )


def weather_sources_from_env(environ: Mapping[str, str] | None = None) -> WeatherSourcesResource:
    """Base URLs, User-Agent and Open-Meteo models from the environment, else the public
    hosts (``WEATHER_EDGE_NWS_URL``, ``_IEM_URL``, ``_OPEN_METEO_URL``, ``_USER_AGENT``,
    ``_OPEN_METEO_MODELS``)."""
    env = os.environ if environ is None else environ
    models = [m.strip() for m in env.get(ENV_OPEN_METEO_MODELS, "").split(",") if m.strip()]
    return WeatherSourcesResource(
        nws_url=env_url(env, ENV_NWS_URL, DEFAULT_NWS_URL),
        iem_url=env_url(env, ENV_IEM_URL, DEFAULT_IEM_URL),
        open_meteo_url=env_url(env, ENV_FORECAST_URL, DEFAULT_FORECAST_URL),
        user_agent=env.get(ENV_USER_AGENT) or DEFAULT_USER_AGENT,
        open_meteo_models=models or [store.OPEN_METEO_DEFAULT_MODEL],
    )


def weather_resources(settings: Settings) -> dict[str, object]:
    """The resources the weather assets need beyond ``warehouse`` (the sources do not depend
    on ``settings``; the argument keeps the shape of ``build_resources``)."""
    return {WEATHER_SOURCES_KEY: weather_sources_from_env()}


def _city_day(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> tuple[City, date]:
    day, code = partition_of(context)
    return get_city(code), day


Refresh = Callable[[store.WeatherClients, Warehouse, City, date, datetime], store.StoredSummary]


def _refresh(
    context: dg.AssetExecutionContext,
    refresh: Refresh,
    sources: WeatherSourcesResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    city, day = _city_day(context)
    with sources.clients() as clients, closing(warehouse.open()) as wh:
        summary = refresh(clients, wh, city, day, sources.now())
    return dg.MaterializeResult(metadata=summary.metadata)


def _weather_asset(
    *kinds: str,
) -> Callable[[Callable[..., dg.MaterializeResult]], dg.AssetsDefinition]:
    return dg.asset(
        partitions_def=day_city_partitions,
        group_name=WEATHER_GROUP,
        pool=WAREHOUSE_WRITER_POOL,
        kinds=set(kinds),
    )


@_weather_asset("nws", "openmeteo")
def forecasts(
    context: dg.AssetExecutionContext,
    weather_sources: WeatherSourcesResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Every forecast issue of the day's high known now (NWS hourly, Open-Meteo models),
    each issue kept with its issue time; nothing once the climate day is over."""
    return _refresh(context, store.refresh_forecasts, weather_sources, warehouse)


@_weather_asset("nws")
def observations(
    context: dg.AssetExecutionContext,
    weather_sources: WeatherSourcesResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """The settlement station's observations so far in the climate day, with the running max
    (°C converted to °F unrounded; the rounding caveat is in the metadata)."""
    return _refresh(context, store.refresh_observations, weather_sources, warehouse)


@_weather_asset("nws")
def climate_reports(
    context: dg.AssetExecutionContext,
    weather_sources: WeatherSourcesResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """The day's CLI products (preliminary, final, corrections as rows of their own), parsed
    with ``parse_cli``; IEM fills in for days api.weather.gov no longer lists."""
    return _refresh(context, store.refresh_climate_reports, weather_sources, warehouse)


Check = Callable[[Warehouse, City, date], store.CheckOutcome]


def _weather_check(
    asset: dg.AssetsDefinition, description: str
) -> Callable[[Callable[..., dg.AssetCheckResult]], dg.AssetChecksDefinition]:
    return dg.asset_check(asset=asset, partitions_def=day_city_partitions, description=description)


def _verdict(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource, check: Check
) -> dg.AssetCheckResult:
    city, day = _city_day(context)
    with closing(warehouse.open()) as wh:
        outcome = check(wh, city, day)
    return dg.AssetCheckResult(passed=outcome.passed, metadata=outcome.metadata)


@_weather_check(observations, "Every observation lies in its station's band for the month.")
def observations_plausible(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _verdict(context, warehouse, store.check_observations_plausible)


@_weather_check(forecasts, "No forecast was issued after it was retrieved or its day ended.")
def forecasts_not_after_retrieval(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    return _verdict(context, warehouse, store.check_forecasts_not_after_retrieval)


@_weather_check(climate_reports, "The final CLI is stored by 10 AM LST the next morning.")
def final_cli_present(
    context: dg.AssetCheckExecutionContext,
    weather_sources: WeatherSourcesResource,
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    """Passes with 'not yet due' before then; fails once the final report is overdue."""
    now = weather_sources.now()
    return _verdict(
        context, warehouse, lambda wh, city, day: store.check_final_cli(wh, city, day, now)
    )


WEATHER_ASSETS: list[dg.AssetsDefinition] = [forecasts, observations, climate_reports]
WEATHER_CHECKS: list[dg.AssetChecksDefinition] = [
    observations_plausible,
    forecasts_not_after_retrieval,
    final_cli_present,
]
