"""Daily highs are taken over the LST climate day, in every zone, in daylight time too.

During daylight time a climate day runs 01:00 to 01:00 on the local clock. So the hour
00:00-01:00 local daylight time that *opens* a calendar day belongs to the previous climate
day, and the same hour of the next calendar day closes this one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from weather_edge.weather.cities import get_city
from weather_edge.weather.climate_day import climate_day_bounds, climate_day_maxima
from weather_edge.weather.nws import HourlyForecast, HourlyPeriod, forecast_highs

DAY = date(2026, 7, 15)  # daylight time everywhere in the registry
HOUR = timedelta(hours=1)
ZONES = ["NYC", "CHI", "DEN", "LAX"]  # Eastern, Central, Mountain, Pacific


def _local(code: str, day: date, hour: int, minute: int = 0) -> datetime:
    """A local *clock* time (daylight saving applied) as aware UTC."""
    return datetime.combine(day, time(hour, minute), get_city(code).zone).astimezone(UTC)


def _flat_hours(code: str, first: date, days: int) -> list[tuple[datetime, float | None]]:
    start, _ = climate_day_bounds(get_city(code), first)
    return [(start + k * HOUR, 60.0) for k in range(24 * days)]


@pytest.mark.parametrize("code", ZONES)
def test_bounds_are_1am_to_1am_local_daylight_time(code: str) -> None:
    start, end = climate_day_bounds(get_city(code), DAY)
    assert start == _local(code, DAY, 1)
    assert end == _local(code, DAY + timedelta(days=1), 1)


@pytest.mark.parametrize("code", ZONES)
def test_the_hour_after_local_midnight_belongs_to_the_previous_climate_day(code: str) -> None:
    city = get_city(code)
    samples = _flat_hours(code, DAY - timedelta(days=1), 3)
    opening = _local(code, DAY, 0, 30)  # 00:30 daylight time on the 15th: still the 14th
    closing = _local(code, DAY + timedelta(days=1), 0, 30)  # 00:30 on the 16th: the 15th
    samples += [(opening, 99.0), (closing, 88.0)]
    highs = {m.day: m for m in climate_day_maxima(city, samples)}
    assert highs[DAY - timedelta(days=1)].high_f == 99.0
    assert highs[DAY].high_f == 88.0
    assert highs[DAY].at_utc == closing
    assert highs[DAY + timedelta(days=1)].high_f == 60.0
    # A calendar-day grouping would have got the 15th wrong: it holds the 99 and not the 88.
    calendar = max(v for t, v in samples if t.astimezone(city.zone).date() == DAY)
    assert calendar == 99.0


@pytest.mark.parametrize("code", ZONES)
def test_hourly_forecast_periods_use_the_climate_day(code: str) -> None:
    city = get_city(code)
    start, end = climate_day_bounds(city, DAY)
    periods = [
        HourlyPeriod(t, t + HOUR, 95.0 if t == end - HOUR else 70.0)
        for t in (start - 2 * HOUR + k * HOUR for k in range(28))
    ]
    issued = start - timedelta(hours=6)
    forecast = HourlyForecast(update_time=issued, generated_at=None, periods=tuple(periods))
    highs = {h.day: h for h in forecast_highs(city, forecast)}
    # The last period of the climate day is 00:00-01:00 local daylight time on the 16th.
    assert (end - HOUR).astimezone(city.zone).hour == 0
    assert highs[DAY].high_f == 95 and highs[DAY].complete and highs[DAY].hours == 24
    assert highs[DAY].issued_utc == issued
    assert not highs[DAY - timedelta(days=1)].complete  # only its last two hours
    assert highs[DAY + timedelta(days=1)].hours == 2


def test_standard_time_days_run_midnight_to_midnight() -> None:
    city = get_city("NYC")
    winter = date(2026, 1, 15)
    start, _ = climate_day_bounds(city, winter)
    assert start == _local("NYC", winter, 0)
    # In standard time 00:30 on the clock opens the day (in daylight time it would not).
    samples = [*_flat_hours("NYC", winter, 1), (_local("NYC", winter, 0, 30), 90.0)]
    (high,) = climate_day_maxima(city, samples)
    assert (high.day, high.high_f, high.complete) == (winter, 90.0, True)


def test_missing_values_are_skipped_not_zero() -> None:
    city = get_city("MIA")
    samples = _flat_hours("MIA", DAY, 1)
    samples[5] = (samples[5][0], None)
    (high,) = climate_day_maxima(city, samples)
    assert high.high_f == 60.0 and high.samples == 23 and not high.complete
