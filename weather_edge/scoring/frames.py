"""Shared shapes of the scoring package: partitions, typed warehouse reads, climate-day ends.

A partition is ``(climate_day, city)``, the unit Dagster materializes. Every function here
takes a *list* of partitions, so a backfill range and a single partition go down one path:
the SQL selects the rectangle ``city IN (...) AND climate_day BETWEEN first AND last`` and a
semi-join keeps exactly the partitions asked for.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import polars as pl

from weather_edge.storage import Warehouse
from weather_edge.weather.cities import get_city
from weather_edge.weather.climate_day import climate_day_bounds

Partition: TypeAlias = tuple[dt.date, str]
"""(climate_day, city code)."""
Schema: TypeAlias = Mapping[str, pl.DataType | type[pl.DataType]]

UTC_TIME = pl.Datetime("us", "UTC")
PARTITION_KEY = ("city", "climate_day")
PARTITION_SCHEMA: dict[str, Any] = {"city": pl.String, "climate_day": pl.Date}


def normalize(partitions: Iterable[Partition]) -> list[Partition]:
    """Sorted, unique partitions with registry city codes."""
    return sorted({(day, get_city(city).code) for day, city in partitions})


def day_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from ``start`` to ``end``, both included."""
    if end < start:
        raise ValueError(f"the range ends ({end}) before it starts ({start})")
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def partition_frame(partitions: Sequence[Partition]) -> pl.DataFrame:
    """One row per partition: city, climate_day and the UTC end of its climate day."""
    ends = [climate_day_bounds(get_city(city), day)[1] for day, city in partitions]
    return pl.DataFrame(
        {
            "city": [city for _, city in partitions],
            "climate_day": [day for day, _ in partitions],
            "day_end": ends,
        },
        schema={"city": pl.String, "climate_day": pl.Date, "day_end": UTC_TIME},
    )


def where_partitions(partitions: Sequence[Partition], alias: str = "") -> tuple[str, list[Any]]:
    """SQL selecting the rectangle around ``partitions`` (narrow it with :func:`keep_only`)."""
    if not partitions:
        raise ValueError("no partitions to select")
    prefix = f"{alias}." if alias else ""
    cities = sorted({city for _, city in partitions})
    days = [day for day, _ in partitions]
    marks = ", ".join("?" for _ in cities)
    sql = f"{prefix}city IN ({marks}) AND {prefix}climate_day BETWEEN ? AND ?"
    return sql, [*cities, min(days), max(days)]


def keep_only(frame: pl.DataFrame, partitions: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``frame`` that belong to one of ``partitions`` (a partition frame)."""
    return frame.join(partitions.select(PARTITION_KEY), on=list(PARTITION_KEY), how="semi")


def load(warehouse: Warehouse, sql: str, params: Sequence[Any], schema: Schema) -> pl.DataFrame:
    """A query's result with fixed column types (an empty result keeps its schema), on DuckDB
    and PostgreSQL alike."""
    frame = warehouse.query_frame(sql, params)
    if frame.height == 0:
        return pl.DataFrame(schema=dict(schema))
    return frame.select(pl.col(name).cast(kind) for name, kind in schema.items())


def load_partitions(
    warehouse: Warehouse,
    select: str,
    alias: str,
    partitions: Sequence[Partition],
    schema: Schema,
    condition: str = "",
) -> pl.DataFrame:
    """``select ... WHERE [condition AND] <the partitions' rectangle on alias>``, keeping the
    rows of exactly ``partitions`` (the query must also select ``city`` and ``climate_day``),
    with the ``schema`` columns."""
    where, params = where_partitions(partitions, alias)
    sql = f"{select} WHERE {condition + ' AND ' if condition else ''}{where}"
    frame = load(warehouse, sql, params, {**PARTITION_SCHEMA, **schema})
    return keep_only(frame, partition_frame(partitions)).select(list(schema))


def lead_hours(instant: str, day_end: str = "day_end") -> pl.Expr:
    """Hours from ``instant`` to the end of the climate day (negative once it ended)."""
    return ((pl.col(day_end) - pl.col(instant)).dt.total_microseconds() / 3.6e9).alias("lead_hours")
