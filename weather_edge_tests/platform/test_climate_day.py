"""Climate days are local standard time in every registry zone, across the DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from weather_edge.weather.cities import City, get_city, load_registry, registry
from weather_edge.weather.climate_day import climate_day_bounds, climate_day_of

# 2026 DST changes in the US: 8 March (spring forward), 1 November (fall back).
SPRING, FALL = date(2026, 3, 8), date(2026, 11, 1)


@pytest.mark.parametrize("city", list(registry().values()), ids=lambda c: c.code)
def test_standard_offset_matches_the_zone_in_winter(city: City) -> None:
    january = datetime(2026, 1, 15, 12, tzinfo=city.zone)
    assert january.utcoffset() == city.standard_offset


@pytest.mark.parametrize("city", list(registry().values()), ids=lambda c: c.code)
def test_half_past_midnight_daylight_time_belongs_to_the_previous_climate_day(city: City) -> None:
    summer = datetime(2026, 7, 10, 0, 30, tzinfo=city.zone)  # 23:30 standard time on the 9th
    assert climate_day_of(city, summer) == date(2026, 7, 9)
    assert climate_day_of(city, datetime(2026, 7, 10, 1, 0, tzinfo=city.zone)) == date(2026, 7, 10)
    winter = datetime(2026, 1, 10, 0, 30, tzinfo=city.zone)
    assert climate_day_of(city, winter) == date(2026, 1, 10)


@pytest.mark.parametrize("city", list(registry().values()), ids=lambda c: c.code)
@pytest.mark.parametrize("change", [SPRING, FALL], ids=["march", "november"])
def test_days_around_the_dst_changes_are_24_hours_of_standard_time(
    city: City, change: date
) -> None:
    for day in (change - timedelta(days=1), change, change + timedelta(days=1)):
        start, end = climate_day_bounds(city, day)
        assert end - start == timedelta(hours=24)
        assert start.tzinfo == UTC
        assert start == datetime(day.year, day.month, day.day, tzinfo=UTC) - city.standard_offset
        assert climate_day_of(city, start) == day
        assert climate_day_of(city, end - timedelta(microseconds=1)) == day
        assert climate_day_of(city, end) == day + timedelta(days=1)
        # on the local clock, the day starts at 00:00 in winter and 01:00 in daylight time
        local_start = start.astimezone(city.zone)
        assert local_start.hour == (1 if local_start.dst() else 0)


def test_consecutive_climate_days_tile_time_without_gaps() -> None:
    nyc = get_city("nyc")
    day = date(2026, 3, 1)
    for _ in range(300):
        _, end = climate_day_bounds(nyc, day)
        day += timedelta(days=1)
        assert climate_day_bounds(nyc, day)[0] == end


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        climate_day_of(get_city("NYC"), datetime(2026, 7, 10, 12))


def test_registry_has_the_seven_cities_and_rejects_a_bad_entry() -> None:
    assert {c.series_ticker for c in registry().values()} == {
        "KXHIGHNY",
        "KXHIGHCHI",
        "KXHIGHMIA",
        "KXHIGHAUS",
        "KXHIGHDEN",
        "KXHIGHLAX",
        "KXHIGHPHIL",
    }
    assert get_city("CHI").station_id == "KMDW"  # Midway, not O'Hare
    with pytest.raises(ValueError, match="missing field 'timezone'"):
        load_registry(
            '[X]\nname="x"\nseries_ticker="S"\nstation_id="K"\ncli_product="C"\n'
            'wfo="W"\nlatitude=1.0\nlongitude=2.0\nstd_utc_offset_hours=-5\n'
        )
    with pytest.raises(KeyError, match="unknown city"):
        get_city("ATL")
