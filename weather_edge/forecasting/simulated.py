"""Feature sources from the simulator's weather (``weather_edge.sim.weather``).

For the cities without real history the models are trained on :class:`SimulatedWeather`,
read through its public methods into the same frames the real history gives:

* ``cli`` -- :meth:`true_high` of every day (the settlement rule), reported when the final
  CLI goes out (:meth:`cli_issued_at`); three extra years before the window feed the
  climatology;
* ``daily`` (the primary, hourly forecast) -- per forecast issue and climate day, the max of
  the issue's hourly forecast over the day's 24 whole LST hours. The simulator's hourly
  forecast is the true hourly curve shifted by the issue's error (see
  :meth:`SimulatedWeather.forecast_temperatures`), so this equals ``max_h true(h) − error``
  with ``error = continuous high − issue mean``, computed from :meth:`forecast_issues`,
  :meth:`high_extreme` and :meth:`hourly_temperatures` without the slow per-hour path;
  ``past_max_f`` is the same over the hours at or before the issue;
* ``ndfd`` (the secondary, daily-high issues) -- :meth:`forecast_issues` themselves;
* ``obs`` -- the routine METARs (tenths of °C) of each day, :meth:`observations_between`.

The METAR's tenths-°C rounding can lift a reported hourly value above the settlement high,
so the simulated models floor with ``slack_f = 1`` like real METARs
(``distribution.METAR_ROUNDING_SLACK_F``).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from weather_edge.forecasting.distribution import METAR_ROUNDING_SLACK_F
from weather_edge.forecasting.features import OBS_SCHEMA, CitySources
from weather_edge.forecasting.history import CLI_SCHEMA, DAILY_SCHEMA, NDFD_SCHEMA
from weather_edge.weather.cities import get_city
from weather_edge.weather.climate_day import climate_day_bounds

SIM_FLOOR_SLACK_F = METAR_ROUNDING_SLACK_F
CLIMATOLOGY_YEARS = 3
# Issues further ahead than this (hours before the day ends) are not needed by any feature.
MAX_ISSUE_LEAD_H = 54.0


def simulated_sources(city: str, *, seed: int, start: dt.date, end: dt.date) -> CitySources:
    """Sources for the climate days ``start <= day < end`` of ``SimulatedWeather(seed)``."""
    from weather_edge.sim.weather import SimulatedWeather

    weather = SimulatedWeather(seed)
    code = get_city(city).code
    cli_rows, daily_rows, ndfd_rows, obs_rows = [], [], [], []
    history_start = start - dt.timedelta(days=365 * CLIMATOLOGY_YEARS)
    day = history_start
    while day < end:
        cli_rows.append(
            (
                code,
                day,
                weather.true_high(code, day),
                weather.cli_issued_at(code, day, True),
                False,
                False,
            )
        )
        day += dt.timedelta(days=1)
    day = start
    while day < end:
        day_start, day_end = climate_day_bounds(get_city(code), day)
        continuous = weather.high_extreme(code, day).value_f
        hourly = weather.hourly_temperatures(code, day_start, day_end)
        for issue in weather.forecast_issues(code, day, day_end):
            if (day_end - issue.issued_utc).total_seconds() / 3600.0 > MAX_ISSUE_LEAD_H:
                continue
            error = continuous - issue.mean_high_f
            past = [t - error for at, t in hourly if at <= issue.issued_utc]
            daily_rows.append(
                (
                    code,
                    issue.issued_utc,
                    day,
                    max(t for _, t in hourly) - error,
                    len(hourly),
                    max(past) if past else None,
                    len(past),
                    None,
                    None,
                    None,
                    None,
                )
            )
            ndfd_rows.append((code, day, issue.issued_utc, issue.mean_high_f, day_end, False))
        for obs in weather.observations_between(code, day_start, day_end - dt.timedelta(seconds=1)):
            obs_rows.append((code, obs.timestamp_utc, day, obs.temp_f))
        day += dt.timedelta(days=1)
    return CitySources(
        city=code,
        cli=pl.DataFrame(cli_rows, schema=CLI_SCHEMA, orient="row"),
        daily=pl.DataFrame(daily_rows, schema=DAILY_SCHEMA, orient="row").sort("issued_utc"),
        ndfd=pl.DataFrame(ndfd_rows, schema=NDFD_SCHEMA, orient="row").sort("issued_utc"),
        obs=pl.DataFrame(obs_rows, schema=OBS_SCHEMA, orient="row").sort("obs_utc"),
        description=f"SimulatedWeather(seed={seed}), climate days {start} to {end} (exclusive)",
    )
