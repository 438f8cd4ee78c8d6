"""Partitions: climate day (local standard time) x city from the registry."""

from __future__ import annotations

import dagster as dg

from weather_edge.weather.cities import city_codes

FIRST_CLIMATE_DAY = "2025-06-01"

climate_day_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_CLIMATE_DAY, end_offset=1)
city_partitions = dg.StaticPartitionsDefinition(city_codes())
day_city_partitions = dg.MultiPartitionsDefinition(
    {"day": climate_day_partitions, "city": city_partitions}
)
