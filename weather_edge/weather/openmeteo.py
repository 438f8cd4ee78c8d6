"""Open-Meteo client: hourly model forecasts in °F, and their earlier vintages.

Endpoints (https://open-meteo.com/en/docs, /en/docs/previous-runs-api,
/en/docs/historical-forecast-api), all ``GET /v1/forecast`` on different hosts:

* forecast (``api.open-meteo.com``): ``latitude, longitude, hourly=temperature_2m,
  models=a,b, temperature_unit=fahrenheit, timezone=GMT, past_days, forecast_days``;
* previous runs (``previous-runs-api.open-meteo.com``): also
  ``hourly=temperature_2m_previous_day1,...`` - for each valid hour, the value forecast
  N x 24 h earlier (a rolling fixed-lead series, not one model run);
* historical forecast (``historical-forecast-api.open-meteo.com``): the archived
  first hours of each run, with ``start_date``/``end_date``.

The answer is ``{latitude, longitude, utc_offset_seconds, timezone, hourly_units: {time,
<var>: "°F"}, hourly: {time: ["2026-07-15T00:00", ...], <var>: [...]}}``. With several
models each variable is suffixed with the model (``temperature_2m_gfs_seamless``); with one
it may not be. Values are null where a model does not reach.

The daily high is computed here from the hourly values over the *LST climate day*, never
taken from the API's calendar-day ``daily`` aggregates. Data by Open-Meteo.com (CC BY 4.0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from weather_edge.weather.cities import City
from weather_edge.weather.climate_day import ClimateDayMax, climate_day_bounds, climate_day_maxima
from weather_edge.weather.http import (
    Closing,
    HttpSettings,
    ResponseShapeError,
    RetryingHttp,
    env_url,
    json_list,
    json_number,
    json_object,
    json_str,
)

ENV_FORECAST_URL = "WEATHER_EDGE_OPEN_METEO_URL"
ENV_PREVIOUS_RUNS_URL = "WEATHER_EDGE_OPEN_METEO_PREVIOUS_RUNS_URL"
ENV_HISTORICAL_URL = "WEATHER_EDGE_OPEN_METEO_HISTORICAL_URL"
DEFAULT_FORECAST_URL = "https://api.open-meteo.com"
DEFAULT_PREVIOUS_RUNS_URL = "https://previous-runs-api.open-meteo.com"
DEFAULT_HISTORICAL_URL = "https://historical-forecast-api.open-meteo.com"
TEMPERATURE = "temperature_2m"
FAHRENHEIT = "°F"
ATTRIBUTION = "Weather data by Open-Meteo.com (CC BY 4.0)"


@dataclass(frozen=True, slots=True)
class ModelSeries:
    """One model's hourly temperature (°F) at one lead offset."""

    model: str
    previous_day: int  # 0: the latest run; N: what was forecast N x 24 h before each hour
    times_utc: tuple[datetime, ...]
    values_f: tuple[float | None, ...]
    fetched_at: datetime  # when we asked: the latest-run series was known by then

    def daily_highs(self, city: City) -> list[ClimateDayMax]:
        """The maximum of the hourly values over each LST climate day they reach."""
        return climate_day_maxima(city, zip(self.times_utc, self.values_f, strict=True))


class OpenMeteoClient(Closing):
    def __init__(
        self,
        forecast_url: str = DEFAULT_FORECAST_URL,
        previous_runs_url: str = DEFAULT_PREVIOUS_RUNS_URL,
        historical_url: str = DEFAULT_HISTORICAL_URL,
        settings: HttpSettings | None = None,
    ) -> None:
        self.forecast_http = RetryingHttp(forecast_url, settings)
        self.previous_runs_http = RetryingHttp(previous_runs_url, settings)
        self.historical_http = RetryingHttp(historical_url, settings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OpenMeteoClient:
        return cls(
            env_url(environ, ENV_FORECAST_URL, DEFAULT_FORECAST_URL),
            env_url(environ, ENV_PREVIOUS_RUNS_URL, DEFAULT_PREVIOUS_RUNS_URL),
            env_url(environ, ENV_HISTORICAL_URL, DEFAULT_HISTORICAL_URL),
            HttpSettings.from_env(environ),
        )

    def close(self) -> None:
        for http in (self.forecast_http, self.previous_runs_http, self.historical_http):
            http.close()

    def forecast(
        self,
        city: City,
        models: Sequence[str],
        *,
        past_days: int = 0,
        forecast_days: int = 3,
        now: datetime | None = None,
    ) -> list[ModelSeries]:
        """The latest run of each model; ``fetched_at`` (``now``) stands in for its issue time."""
        params = {
            **_base_params(city, models, [TEMPERATURE]),
            "past_days": past_days,
            "forecast_days": forecast_days,
        }
        payload = self.forecast_http.get_json("/v1/forecast", params)
        return parse_hourly(payload, models, {TEMPERATURE: 0}, _now(now))

    def previous_runs(
        self,
        city: City,
        models: Sequence[str],
        first_day: date,
        last_day: date,
        previous_days: Iterable[int] = (1, 2),
        *,
        now: datetime | None = None,
    ) -> list[ModelSeries]:
        """Day-0 and earlier-vintage hourly series covering the climate days given."""
        variables = {TEMPERATURE: 0}
        variables.update({f"{TEMPERATURE}_previous_day{n}": n for n in previous_days})
        params = {
            **_base_params(city, models, list(variables)),
            **_date_range(city, first_day, last_day),
        }
        payload = self.previous_runs_http.get_json("/v1/forecast", params)
        return parse_hourly(payload, models, variables, _now(now))

    def historical_forecast(
        self,
        city: City,
        models: Sequence[str],
        first_day: date,
        last_day: date,
        *,
        now: datetime | None = None,
    ) -> list[ModelSeries]:
        """The archive of each run's first hours, covering the climate days given."""
        params = {
            **_base_params(city, models, [TEMPERATURE]),
            **_date_range(city, first_day, last_day),
        }
        payload = self.historical_http.get_json("/v1/forecast", params)
        return parse_hourly(payload, models, {TEMPERATURE: 0}, _now(now))


def _now(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else now.astimezone(UTC)


def _base_params(city: City, models: Sequence[str], variables: list[str]) -> dict[str, Any]:
    if not models:
        raise ValueError("name at least one Open-Meteo model (e.g. gfs_seamless)")
    return {
        "latitude": city.latitude,
        "longitude": city.longitude,
        "hourly": ",".join(variables),
        "models": ",".join(models),
        "temperature_unit": "fahrenheit",
        "timezone": "GMT",  # times in UTC; the climate day is applied here, not by the API
    }


def _date_range(city: City, first_day: date, last_day: date) -> dict[str, str]:
    """GMT dates whose hours cover the climate days ``first_day``..``last_day`` (LST)."""
    start, _ = climate_day_bounds(city, first_day)
    _, end = climate_day_bounds(city, last_day)
    return {
        "start_date": start.date().isoformat(),
        "end_date": (end - timedelta(hours=1)).date().isoformat(),
    }


def parse_hourly(
    payload: Any, models: Sequence[str], variables: Mapping[str, int], fetched_at: datetime
) -> list[ModelSeries]:
    """Every (model, variable) series of a /v1/forecast answer, checked to be °F and UTC."""
    body = json_object(payload, "open-meteo")
    if body.get("error"):
        raise ResponseShapeError(f"open-meteo error: {body.get('reason')!r}")
    if body.get("utc_offset_seconds", 0) != 0:
        raise ResponseShapeError("open-meteo: times are not in GMT (timezone=GMT expected)")
    hourly = json_object(body.get("hourly"), "open-meteo hourly")
    units = json_object(body.get("hourly_units"), "open-meteo hourly_units")
    times = tuple(
        datetime.fromisoformat(json_str(t, "hourly time")).replace(tzinfo=UTC)
        for t in json_list(hourly.get("time"), "hourly time")
    )
    out = []
    for model in models:
        for variable, previous in variables.items():
            key = _key(hourly, variable, model, single=len(models) == 1)
            if units.get(key) != FAHRENHEIT:
                raise ResponseShapeError(f"open-meteo {key}: unit {units.get(key)!r}, not °F")
            values = json_list(hourly[key], key)
            if len(values) != len(times):
                raise ResponseShapeError(
                    f"open-meteo {key}: {len(values)} values, {len(times)} times"
                )
            out.append(
                ModelSeries(
                    model=model,
                    previous_day=previous,
                    times_utc=times,
                    values_f=tuple(None if v is None else json_number(v, key) for v in values),
                    fetched_at=fetched_at,
                )
            )
    return out


def _key(hourly: dict[str, Any], variable: str, model: str, *, single: bool) -> str:
    suffixed = f"{variable}_{model}"
    if suffixed in hourly:
        return suffixed
    if single and variable in hourly:
        return variable
    raise ResponseShapeError(f"open-meteo: no {suffixed} in the hourly block")
