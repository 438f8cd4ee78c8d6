"""Climate days: midnight to midnight local *standard* time, all year round.

During daylight time the climate day runs 1 AM to 1 AM on the local clock, so 00:30 local
daylight time still belongs to the previous climate day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class ClimateDayMax:
    """The largest of a series of instantaneous values within one climate day."""

    day: date
    high_f: float
    at_utc: datetime
    samples: int
    complete: bool  # at least one value in each of the day's 24 hours


def climate_day_maxima(
    city: City, samples: Iterable[tuple[datetime, float | None]]
) -> list[ClimateDayMax]:
    """Group (instant, °F) samples by LST climate day and take each day's maximum.

    An instant belongs to the climate day whose [start, end) contains it, so in daylight
    time 00:30 local clock still counts for the previous day and 00:30 of the next calendar
    day counts for this one.
    """
    by_day: dict[date, list[tuple[datetime, float]]] = {}
    for instant, value in samples:
        if value is None or math.isnan(value):
            continue
        moment = ensure_utc(instant)
        by_day.setdefault(climate_day_of(city, moment), []).append((moment, value))
    out = []
    for day in sorted(by_day):
        values = by_day[day]
        start, _ = climate_day_bounds(city, day)
        hours = {int((moment - start) / timedelta(hours=1)) for moment, _ in values}
        at, high = max(values, key=lambda pair: (pair[1], -pair[0].timestamp()))
        out.append(ClimateDayMax(day, high, at, len(values), hours == set(range(24))))
    return out
