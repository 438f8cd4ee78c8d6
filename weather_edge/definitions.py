"""The one entry point Dagster loads (``workspace.yaml`` and ``[tool.dagster]`` point here)."""

from __future__ import annotations

import dagster as dg

from weather_edge.defs import (
    forecasting,
    ingestion,
    quality_checks,
    scoring,
    storage,
    trading,
    weather,
)
from weather_edge.defs.dbt_assets import dbt_definitions
from weather_edge.defs.resources import build_resources
from weather_edge.settings import Settings, load_settings


def build_definitions(settings: Settings) -> dg.Definitions:
    """The whole graph with resources for ``settings`` (embedded default or production)."""
    core = dg.Definitions(
        assets=[
            *dg.load_assets_from_modules([storage, ingestion, forecasting]),
            *trading.TRADING_ASSETS,
            *scoring.SCORING_ASSETS,
        ],
        asset_checks=[
            *dg.load_asset_checks_from_modules([ingestion]),
            *scoring.SCORING_CHECKS,
            *quality_checks.QUALITY_CHECKS,
        ],
        jobs=[ingestion.quote_ingestion, *trading.TRADING_JOBS],
        sensors=[ingestion.quote_ingestion_keeper],
        schedules=scoring.SCORING_SCHEDULES,
        resources=build_resources(settings),
    )
    weather_defs = dg.Definitions(
        assets=weather.WEATHER_ASSETS,
        asset_checks=weather.WEATHER_CHECKS,
        resources=weather.weather_resources(settings),
    )
    return dg.Definitions.merge(core, weather_defs, dbt_definitions(settings))


defs = build_definitions(load_settings())
