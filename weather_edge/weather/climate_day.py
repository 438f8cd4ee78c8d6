"""Climate days: midnight to midnight local *standard* time, all year round.

During daylight time the climate day runs 1 AM to 1 AM on the local clock, so 00:30 local
daylight time still belongs to the previous climate day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from weather_edge.weather.cities import City, ensure_utc

ONE_DAY = timedelta(days=1)


def climate_day_of(city: City, instant: datetime) -> date:
    """The climate day (a local-standard-time date) that contains a zone-aware instant."""
    return (ensure_utc(instant) + city.standard_offset).date()


def climate_day_bounds(city: City, day: date) -> tuple[datetime, datetime]:
    """The UTC start (inclusive) and end (exclusive) of a climate day."""
    start_lst = datetime.combine(day, time(0), tzinfo=city.standard_tz)
    start = ensure_utc(start_lst)
    return start, start + ONE_DAY


def local_standard_hour(city: City, instant: datetime) -> float:
    """Hours since the start of the climate day (0 <= h < 24), for features."""
    start, _ = climate_day_bounds(city, climate_day_of(city, instant))
    return (ensure_utc(instant) - start).total_seconds() / 3600.0


def hours_to_climate_day_end(city: City, day: date, instant: datetime) -> float:
    """Lead time: hours from ``instant`` until the climate day ends (negative once it ended)."""
    _, end = climate_day_bounds(city, day)
    return (end - ensure_utc(instant)).total_seconds() / 3600.0
