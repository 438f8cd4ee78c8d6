"""Predictions from what the warehouse knows: forecasts, observations and CLI reports.

The warehouse's rows become the feature sources the models were trained on:

* ``daily`` (the primary forecast): Open-Meteo issues when the city has them, otherwise the
  NWS forecast high (the simulator's and NWS's hourly forecast play the same role);
* ``ndfd`` (the secondary forecast): NDFD issues, and NWS forecast highs;
* ``obs``: station observations (or a proxy, per its source);
* ``cli``: climate reports, each known from its issue time.

Every as-of join in the feature builder only reads rows issued at or before the snapshot, so
a prediction never sees a forecast issued after the moment it models.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from weather_edge.forecasting.features import OBS_SCHEMA, CitySources, FeatureBuilder
from weather_edge.forecasting.history import CLI_SCHEMA, DAILY_SCHEMA, NDFD_SCHEMA
from weather_edge.forecasting.model import InferenceCache, Predictor, load_city_model
from weather_edge.kalshi.tickers import Bracket, BracketKind
from weather_edge.storage.warehouse import Warehouse
from weather_edge.weather.cities import get_city
from weather_edge.weather.climate_day import climate_day_bounds

PRIMARY_SOURCES = ("open_meteo",)
NWS_SOURCES = ("nws_hourly", "nws")
SECONDARY_SOURCES = ("ndfd", *NWS_SOURCES)
HISTORY_DAYS = 400  # climatology and recent bias need about a year of history
SNAPSHOT_STEP = dt.timedelta(hours=1)
SNAPSHOT_SPAN = dt.timedelta(hours=36)  # markets list about a day and a half ahead


def _frame(rows: list[tuple[Any, ...]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")


def warehouse_sources(warehouse: Warehouse, city: str, until: dt.date) -> CitySources:
    """A city's feature sources from the warehouse, for climate days up to ``until``."""
    code = get_city(city).code
    since = until - dt.timedelta(days=HISTORY_DAYS)
    cli = warehouse.query(
        "SELECT city, climate_day, high_f, issued_at, preliminary, FALSE FROM climate_reports "
        "WHERE city = ? AND climate_day BETWEEN ? AND ? AND high_f IS NOT NULL "
        "AND issued_at IS NOT NULL ORDER BY issued_at",
        (code, since, until),
    )
    forecasts = warehouse.query(
        "SELECT source, issued_at, climate_day, forecast_high_f, suspect FROM forecasts "
        "WHERE city = ? AND climate_day BETWEEN ? AND ? ORDER BY issued_at",
        (code, since, until),
    )
    obs = warehouse.query(
        "SELECT city, observed_at, climate_day, temperature_f FROM observations "
        "WHERE city = ? AND climate_day BETWEEN ? AND ? ORDER BY observed_at",
        (code, since, until),
    )
    has_primary = any(str(f[0]).startswith(PRIMARY_SOURCES) for f in forecasts)
    daily, ndfd = [], []
    for source, issued, day, high, suspect in forecasts:
        name = str(source)
        if name.startswith(PRIMARY_SOURCES) or (not has_primary and name in NWS_SOURCES):
            daily.append((code, issued, day, high, 24, None, 0, None, None, None, None))
        if name in SECONDARY_SOURCES:
            valid = climate_day_bounds(get_city(code), day)[1]
            ndfd.append((code, day, issued, high, valid, bool(suspect)))
    # one report per day (the first final one the model could have seen) keeps training shape
    cli_frame = _frame([tuple(r) for r in cli], CLI_SCHEMA).unique(
        subset=["climate_day"], keep="first", maintain_order=True
    )
    return CitySources(
        city=code,
        cli=cli_frame,
        daily=_frame(daily, DAILY_SCHEMA).sort("issued_utc"),
        ndfd=_frame(ndfd, NDFD_SCHEMA).sort("issued_utc"),
        obs=_frame([tuple(r) for r in obs], OBS_SCHEMA).sort("obs_utc"),
        description=f"warehouse {warehouse.dialect} up to {until}",
    )


def snapshot_times(city: str, day: dt.date, now: dt.datetime) -> list[dt.datetime]:
    """Hourly snapshots over the markets' life, never later than ``now`` or the day's end."""
    _, end = climate_day_bounds(get_city(city), day)
    last = min(now, end)
    first = end - SNAPSHOT_SPAN
    times, t = [], first.replace(minute=0, second=0, microsecond=0) + SNAPSHOT_STEP
    while t <= last:
        times.append(t)
        t += SNAPSHOT_STEP
    return times


@dataclass
class PartitionPredictions:
    predictions: list[dict[str, Any]]
    brackets: list[dict[str, Any]]
    model_version: str


def _bracket(low: int | None, high: int | None) -> Bracket:
    kind = (
        BracketKind.BETWEEN
        if low is not None and high is not None
        else (BracketKind.GREATER if low is not None else BracketKind.LESS)
    )
    return Bracket(kind, low, high)


def predict_partition(
    warehouse: Warehouse,
    city: str,
    day: dt.date,
    now: dt.datetime,
    *,
    models_dir: Path | None = None,
    cache: InferenceCache | None = None,
    times: Iterable[dt.datetime] | None = None,
) -> PartitionPredictions:
    """The distribution and bracket probabilities at every snapshot of one city and day."""
    code = get_city(city).code
    model = load_city_model(code, models_dir)
    sources = warehouse_sources(warehouse, code, day)
    predictor = Predictor(model, FeatureBuilder(sources), cache)
    markets = warehouse.query(
        "SELECT ticker, wins_low_f, wins_high_f FROM markets WHERE city = ? AND climate_day = ?",
        (code, day),
    )
    brackets = {t: _bracket(lo, hi) for t, lo, hi in markets}
    version = model.card.model_sha256[:12]
    predictions, bracket_rows = [], []
    first_issue: Any = None if sources.daily.is_empty() else sources.daily["issued_utc"].min()
    for as_of in times if times is not None else snapshot_times(code, day, now):
        if first_issue is None or as_of < first_issue:  # nothing known yet to predict from
            continue
        dist = predictor.predict(day, as_of)
        pmf = [round(float(p), 10) for p in dist.pmf]
        inputs_hash = InferenceCache.inputs_hash(
            model.card.model_sha256, predictor.inputs(day, as_of)
        )
        predictions.append(
            {
                "city": code,
                "climate_day": day,
                "snapshot_at": as_of,
                "model_version": version,
                "variant": "model",
                "distribution_json": json.dumps({"lo": dist.lo, "pmf": pmf}),
                "median_f": dist.median(),
                "inputs_hash": str(inputs_hash),
            }
        )
        for ticker, p in dist.event_probabilities(brackets).items():
            bracket_rows.append(
                {
                    "market_ticker": ticker,
                    "snapshot_at": as_of,
                    "model_version": version,
                    "variant": "model",
                    "city": code,
                    "climate_day": day,
                    "probability": float(p),
                }
            )
    return PartitionPredictions(predictions, bracket_rows, version)


def refresh_predictions(
    warehouse: Warehouse,
    city: str,
    day: dt.date,
    now: dt.datetime,
    *,
    models_dir: Path | None = None,
    cache: InferenceCache | None = None,
) -> PartitionPredictions:
    """:func:`predict_partition` stored: every snapshot up to ``now`` replaces what an
    earlier run predicted for it (one transaction for both tables)."""
    result = predict_partition(warehouse, city, day, now, models_dir=models_dir, cache=cache)
    with warehouse.session() as session:
        warehouse.upsert("predictions", result.predictions, update=True, session=session)
        warehouse.upsert("bracket_predictions", result.brackets, update=True, session=session)
    return result
