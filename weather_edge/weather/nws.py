"""api.weather.gov client: forecasts, station observations and CLI products for a city.

Shapes (GeoJSON / JSON-LD, as documented at https://www.weather.gov/documentation/services-web-api
and in the API's OpenAPI spec):

* ``GET /points/{lat},{lon}`` -> ``properties.{gridId, gridX, gridY, forecastHourly,
  forecastGridData, observationStations, timeZone}``; cached per city (it never changes).
* ``GET /gridpoints/{wfo}/{x},{y}/forecast/hourly`` -> ``properties.{updateTime, generatedAt,
  periods[{startTime, endTime, temperature, temperatureUnit}]}``; ``temperature`` is an
  integer in ``temperatureUnit`` or, with the ``forecast_temperature_qv`` feature flag, a
  quantitative value ``{unitCode: "wmoUnit:degF", value}``.
* ``GET /gridpoints/{wfo}/{x},{y}`` -> ``properties.{updateTime, temperature, maxTemperature}``,
  each ``{uom: "wmoUnit:degC", values: [{validTime: "<start>/<ISO duration>", value}]}``.
* ``GET /stations/{id}/observations?start=&end=&limit=`` -> ``features[].properties.{timestamp,
  temperature: {unitCode: "wmoUnit:degC", value, qualityControl}, rawMessage}``, newest first.
* ``GET /products/types/CLI/locations/{loc}`` -> ``{"@graph": [{id, issuanceTime,
  issuingOffice, wmoCollectiveId, productCode}]}`` and ``GET /products/{id}`` -> the same
  fields plus ``productText``.

Daily highs are taken over the *climate day* (midnight to midnight local standard time), never
the calendar day the API groups by; every forecast keeps its issue time (``updateTime``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from weather_edge.weather.cities import City, ensure_utc
from weather_edge.weather.cli_report import CliReport, parse_cli
from weather_edge.weather.climate_day import (
    ClimateDayMax,
    climate_day_bounds,
    climate_day_maxima,
)
from weather_edge.weather.http import (
    Params,
    ResponseShapeError,
    SingleHostClient,
    json_list,
    json_number,
    json_object,
    json_str,
    parse_instant,
    shape,
)

ENV_NWS_URL = "WEATHER_EDGE_NWS_URL"
DEFAULT_NWS_URL = "https://api.weather.gov"
GEOJSON = {"Accept": "application/geo+json"}
LDJSON = {"Accept": "application/ld+json"}
ONE_HOUR = timedelta(hours=1)

# A METAR T-group (T02560228) carries tenths of a degree C; without it the body's whole
# degrees (26/23) are all there is.
_T_GROUP = re.compile(r"\sT[01]\d{3}[01]\d{3}\b")
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")
_C_UNITS = {"wmoUnit:degC", "unit:degC"}
_F_UNITS = {"wmoUnit:degF", "unit:degF"}
_REJECTED_QC = {"X", "qc:X"}  # MADIS QC "rejected/erroneous" (newer and older spelling)


def c_to_f(celsius: float) -> float:
    return celsius * 9.0 / 5.0 + 32.0


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


# ---------------------------------------------------------------- payload types


@dataclass(frozen=True, slots=True)
class NwsPoint:
    wfo: str
    grid_x: int
    grid_y: int
    forecast_hourly_url: str
    forecast_grid_data_url: str
    observation_stations_url: str | None
    time_zone: str | None


@dataclass(frozen=True, slots=True)
class HourlyPeriod:
    start_utc: datetime
    end_utc: datetime
    temperature_f: float


@dataclass(frozen=True, slots=True)
class HourlyForecast:
    update_time: datetime  # when the forecaster's grid was last updated: the issue time
    generated_at: datetime | None  # when the API rendered this JSON
    periods: tuple[HourlyPeriod, ...]

    @property
    def issued_utc(self) -> datetime:
        return self.update_time


@dataclass(frozen=True, slots=True)
class ForecastHigh:
    """The forecast high of one climate day from one hourly-forecast issue."""

    city: str
    day: date
    high_f: int
    issued_utc: datetime
    generated_at: datetime | None
    hours: int  # hourly periods inside the climate day
    complete: bool  # every hour of the day is forecast (False for the day already under way)


@dataclass(frozen=True, slots=True)
class GridSeries:
    """A gridpoint layer as (start, end, °F) intervals."""

    intervals: tuple[tuple[datetime, datetime, float], ...]

    def hourly(self) -> list[tuple[datetime, float]]:
        """Each interval spread over its whole hours, for climate-day maxima."""
        out = []
        for start, end, value in self.intervals:
            moment = start
            while moment < end:
                out.append((moment, value))
                moment += ONE_HOUR
        return out


@dataclass(frozen=True, slots=True)
class GridData:
    update_time: datetime
    temperature: GridSeries
    # NDFD MaxT: the daytime (7 AM - 7 PM local clock) maximum, not the climate-day high.
    max_temperature: GridSeries


@dataclass(frozen=True, slots=True)
class Observation:
    timestamp_utc: datetime
    temp_c: float
    precision_c: float  # 0.1 with a METAR T-group, else 1.0 (whole degrees)
    quality_control: str | None
    raw_message: str | None

    @property
    def temp_f(self) -> float:
        return c_to_f(self.temp_c)


@dataclass(frozen=True, slots=True)
class ObservedMax:
    """The running maximum of station observations so far in a climate day.

    METARs carry °C (whole degrees, or tenths in the T-group), so the °F the CLI reports can
    differ from the converted observation by rounding: up to 0.9 °F for whole degrees C.
    ``floor_f`` is the lowest CLI high consistent with what was observed.
    """

    station_id: str
    day: date
    as_of: datetime
    observations: int
    max_c: float
    at_utc: datetime
    precision_c: float  # of the observation that holds the maximum
    floor_f: int  # the CLI high can not be below this (every observation's lower bound)

    @property
    def max_f(self) -> float:
        return c_to_f(self.max_c)

    @property
    def rounding_f(self) -> float:
        """Half a reporting step of the observation, in °F."""
        return self.precision_c * 1.8 / 2

    @property
    def likely_high_so_far_f(self) -> int:
        return round_half_up(self.max_f)


def observed_max(
    station_id: str, city: City, day: date, observations: Iterable[Observation], as_of: datetime
) -> ObservedMax | None:
    """The running maximum of ``observations`` in ``day`` up to ``as_of`` (never after it)."""
    start, end = climate_day_bounds(city, day)
    cutoff = min(end, ensure_utc(as_of) + timedelta(microseconds=1))
    usable = [
        ob
        for ob in observations
        if start <= ob.timestamp_utc < cutoff and ob.quality_control not in _REJECTED_QC
    ]
    if not usable:
        return None
    best = max(usable, key=lambda ob: (ob.temp_c, -ob.precision_c, -ob.timestamp_utc.timestamp()))
    # Each report says the true temperature was at least its value less half a step.
    floor = max(round_half_up(c_to_f(ob.temp_c - ob.precision_c / 2)) for ob in usable)
    return ObservedMax(
        station_id=station_id,
        day=day,
        as_of=ensure_utc(as_of),
        observations=len(usable),
        max_c=best.temp_c,
        at_utc=best.timestamp_utc,
        precision_c=best.precision_c,
        floor_f=floor,
    )


@dataclass(frozen=True, slots=True)
class ProductRef:
    product_id: str
    issued_utc: datetime
    issuing_office: str | None
    wmo_collective_id: str | None


@dataclass(frozen=True, slots=True)
class CliProduct:
    ref: ProductRef
    text: str
    report: CliReport


# ---------------------------------------------------------------- client


class NwsClient(SingleHostClient):
    """Synchronous api.weather.gov client (the base URL is configuration)."""

    DEFAULT_URL = DEFAULT_NWS_URL
    URL_ENV = ENV_NWS_URL
    HEADERS = GEOJSON

    @cached_property
    def _points(self) -> dict[str, NwsPoint]:
        return {}  # by city code: a city's grid cell never changes

    # -- points and forecasts

    def point(self, city: City) -> NwsPoint:
        """The forecast grid cell of the city's station, fetched once per city."""
        if city.code not in self._points:
            path = f"/points/{_coord(city.latitude)},{_coord(city.longitude)}"
            self._points[city.code] = _parse_point(self.http.get_json(path))
        return self._points[city.code]

    def hourly_forecast(self, city: City) -> HourlyForecast:
        return parse_hourly_forecast(self.http.get_json(self.point(city).forecast_hourly_url))

    def forecast_highs(self, city: City) -> list[ForecastHigh]:
        """The forecast high of each climate day the current hourly forecast reaches."""
        return forecast_highs(city, self.hourly_forecast(city))

    def grid_data(self, city: City) -> GridData:
        return parse_grid_data(self.http.get_json(self.point(city).forecast_grid_data_url))

    # -- observations

    def observations(
        self, station_id: str, start: datetime, end: datetime, limit: int = 500
    ) -> list[Observation]:
        """Observations with ``start <= timestamp <= end``, oldest first."""
        params: Params = {
            "start": ensure_utc(start).isoformat(),
            "end": ensure_utc(end).isoformat(),
            "limit": limit,
        }
        payload = self.http.get_json(f"/stations/{station_id}/observations", params)
        return parse_observations(payload)

    def observed_max(self, city: City, day: date, as_of: datetime) -> ObservedMax | None:
        """The running maximum at the city's settlement station in ``day`` up to ``as_of``."""
        start, end = climate_day_bounds(city, day)
        until = min(end - timedelta(seconds=1), ensure_utc(as_of))
        if until < start:
            return None
        obs = self.observations(city.station_id, start, until)
        return observed_max(city.station_id, city, day, obs, as_of)

    # -- CLI products

    def cli_products(self, city: City) -> list[ProductRef]:
        """The CLI products the API lists for the city's location, newest first."""
        location = city.cli_product.removeprefix("CLI")
        payload = self.http.get_json(f"/products/types/CLI/locations/{location}", headers=LDJSON)
        graph = json_list(json_object(payload, "product list").get("@graph"), "@graph")
        refs = [_parse_product_ref(item) for item in graph]
        return sorted(refs, key=lambda ref: ref.issued_utc, reverse=True)

    def cli_product(self, product_id: str) -> CliProduct:
        payload = self.http.get_json(f"/products/{product_id}", headers=LDJSON)
        ref = _parse_product_ref(payload)
        text = json_str(payload.get("productText"), f"product {product_id} productText")
        return CliProduct(ref, text, parse_cli(text, product_id=product_id))

    def cli_reports(self, city: City, day: date) -> list[CliProduct]:
        """Every listed CLI report for ``day`` (preliminary, final, corrections), oldest first."""
        start, _ = climate_day_bounds(city, day)
        found = []
        for ref in self.cli_products(city):
            if ref.issued_utc < start:
                break  # listed newest first: nothing older can describe this day
            product = self.cli_product(ref.product_id)
            if product.report.climate_date == day:
                found.append(product)
        return sorted(found, key=lambda product: product.ref.issued_utc)

    def latest_final_cli(self, city: City, day: date) -> CliProduct | None:
        finals = [p for p in self.cli_reports(city, day) if p.report.final]
        return finals[-1] if finals else None


# ---------------------------------------------------------------- parsing (pure)


def _coord(value: float) -> str:
    # The API redirects requests with more than four decimals.
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _properties(payload: Any, what: str) -> dict[str, Any]:
    return json_object(json_object(payload, what).get("properties"), f"{what} properties")


def _parse_point(payload: Any) -> NwsPoint:
    props = _properties(payload, "points")
    stations = props.get("observationStations")
    zone = props.get("timeZone")
    return NwsPoint(
        wfo=json_str(props.get("gridId"), "points gridId"),
        grid_x=int(json_number(props.get("gridX"), "points gridX")),
        grid_y=int(json_number(props.get("gridY"), "points gridY")),
        forecast_hourly_url=json_str(props.get("forecastHourly"), "points forecastHourly"),
        forecast_grid_data_url=json_str(props.get("forecastGridData"), "points forecastGridData"),
        observation_stations_url=stations if isinstance(stations, str) else None,
        time_zone=zone if isinstance(zone, str) else None,
    )


def _to_f(value: float, unit: str, what: str) -> float:
    if unit in _C_UNITS:
        return c_to_f(value)
    shape(unit in _F_UNITS, f"{what}: unknown temperature unit {unit!r}")
    return value


def _period_temperature_f(period: dict[str, Any]) -> float:
    """A number in ``temperatureUnit``, or a quantitative value ``{unitCode, value}``."""
    value = period.get("temperature")
    if isinstance(value, dict):
        number = json_number(value.get("value"), "period temperature value")
        return _to_f(number, str(value.get("unitCode")), "period temperature")
    unit = {"F": "wmoUnit:degF", "C": "wmoUnit:degC"}.get(str(period.get("temperatureUnit")), "")
    return _to_f(json_number(value, "period temperature"), unit, "period temperatureUnit")


def parse_hourly_forecast(payload: Any) -> HourlyForecast:
    props = _properties(payload, "hourly forecast")
    # ``updated`` is the older name of ``updateTime``.
    update = props.get("updateTime", props.get("updated"))
    generated = props.get("generatedAt")
    periods = []
    for item in json_list(props.get("periods"), "hourly forecast periods"):
        period = json_object(item, "hourly forecast period")
        periods.append(
            HourlyPeriod(
                start_utc=parse_instant(period.get("startTime"), "period startTime"),
                end_utc=parse_instant(period.get("endTime"), "period endTime"),
                temperature_f=_period_temperature_f(period),
            )
        )
    return HourlyForecast(
        update_time=parse_instant(update, "updateTime"),
        generated_at=None if generated is None else parse_instant(generated, "generatedAt"),
        periods=tuple(sorted(periods, key=lambda p: p.start_utc)),
    )


def forecast_highs(city: City, forecast: HourlyForecast) -> list[ForecastHigh]:
    """The high of each climate day over the hourly periods that start inside it."""
    samples = [(p.start_utc, p.temperature_f) for p in forecast.periods]
    return [
        ForecastHigh(
            city=city.code,
            day=m.day,
            high_f=round_half_up(m.high_f),
            issued_utc=forecast.update_time,
            generated_at=forecast.generated_at,
            hours=m.samples,
            complete=m.complete,
        )
        for m in climate_day_maxima(city, samples)
    ]


def parse_duration(text: str) -> timedelta:
    """The ISO 8601 durations the grid uses (PT1H, PT13H, P1DT6H, PT30M)."""
    match = _DURATION.match(text)
    if match is None or text in ("P", "PT"):
        raise ResponseShapeError(f"unreadable duration {text!r}")
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes)


def _grid_series(layer: Any, what: str) -> GridSeries:
    layer = json_object(layer, f"grid data {what}")
    uom = str(layer.get("uom"))
    intervals = []
    for raw in json_list(layer.get("values"), f"grid data {what} values"):
        item = json_object(raw, f"grid data {what} value")
        valid = json_str(item.get("validTime"), f"grid data {what} validTime")
        start_text, _, duration_text = valid.partition("/")
        start = parse_instant(start_text, f"{what} validTime")
        if item.get("value") is None:
            continue
        value_f = _to_f(json_number(item.get("value"), f"{what} value"), uom, f"grid {what}")
        intervals.append((start, start + parse_duration(duration_text), value_f))
    return GridSeries(tuple(intervals))


def parse_grid_data(payload: Any) -> GridData:
    props = _properties(payload, "grid data")
    return GridData(
        update_time=parse_instant(props.get("updateTime"), "grid updateTime"),
        temperature=_grid_series(props.get("temperature"), "temperature"),
        max_temperature=_grid_series(props.get("maxTemperature"), "maxTemperature"),
    )


def metar_precision_c(value: float, raw: str | None) -> float:
    """0.1 °C when the METAR has a T-group, else whole degrees (guessed from the value alone)."""
    if raw:
        return 0.1 if _T_GROUP.search(f" {raw}") else 1.0
    return 1.0 if float(value).is_integer() else 0.1


def parse_observations(payload: Any) -> list[Observation]:
    features = json_list(json_object(payload, "observations").get("features"), "features")
    out = []
    for feature in features:
        props = _properties(feature, "observation")
        temperature = json_object(props.get("temperature"), "observation temperature")
        if temperature.get("value") is None:
            continue  # the station sent no temperature in this report
        value = json_number(temperature.get("value"), "observation temperature")
        unit = str(temperature.get("unitCode"))
        celsius = value if unit in _C_UNITS else (_to_f(value, unit, "observation") - 32) / 1.8
        raw = props.get("rawMessage") or None
        out.append(
            Observation(
                timestamp_utc=parse_instant(props.get("timestamp"), "observation timestamp"),
                temp_c=celsius,
                precision_c=metar_precision_c(celsius, raw if isinstance(raw, str) else None),
                quality_control=temperature.get("qualityControl"),
                raw_message=raw if isinstance(raw, str) else None,
            )
        )
    return sorted(out, key=lambda ob: ob.timestamp_utc)


def _parse_product_ref(payload: Any) -> ProductRef:
    item = json_object(payload, "product")
    product_id = json_str(item.get("id"), "product id")
    code = item.get("productCode")
    if code is not None and code != "CLI":
        raise ResponseShapeError(f"product {product_id}: productCode {code!r}, expected CLI")
    office, wmo = item.get("issuingOffice"), item.get("wmoCollectiveId")
    return ProductRef(
        product_id=product_id,
        issued_utc=parse_instant(item.get("issuanceTime"), f"product {product_id} issuanceTime"),
        issuing_office=office if isinstance(office, str) else None,
        wmo_collective_id=wmo if isinstance(wmo, str) else None,
    )


def highs_from_grid(city: City, grid: GridData) -> list[ClimateDayMax]:
    """Climate-day highs from the grid's hourly temperature layer (°F, not rounded)."""
    return climate_day_maxima(city, grid.temperature.hourly())
