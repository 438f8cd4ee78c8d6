"""Loaders of the real weather history, laid out like ``shared/data``, into typed polars frames.

Files are discovered by pattern, so other cities and months load without code change:

* ``nws/<station>_cli_daily_*.csv[.gz]`` -- NWS Daily Climate Report highs (the settlement);
* ``nws/ndfd_<station>_*.csv[.gz]`` -- archived NDFD daily-high forecast issues;
* ``openmeteo/<city>_hourly_forecast_issues*.parquet`` -- hourly forecast issues;
* ``openmeteo/<city>_hourly_past_days*.parquet`` -- hourly model analysis of past days.

A file's city is its registry code or station id (``nyc``, ``knyc``; case-insensitive), read
from the file name, or from the ``source_station`` / ``location`` column where there is one.
Every time is timezone-aware UTC; every climate day is a local-standard-time date
(``weather_edge.weather.climate_day``).

Known quirks handled here (see ``shared/data/README.md``):

* CLI: days can be missing (2025-06-02 and 06-03); a row can come from a corrected report
  published long after (2021-02-07, ``late_report``) or from a same-day report that is
  likely preliminary (the last row, ``preliminary``). ``report_utc`` (from the product id)
  is when the value became known: as-of features only read CLI rows reported by then.
* NDFD: the issues at 18:xx UTC whose valid time is 07:00Z *on* the target day describe a
  different period (they differ from the next 00Z issue by 5.4 °F on average); they are
  flagged ``suspect`` (the valid time falls before noon UTC of the target date) and the
  features skip them. Some days have 9-10 issues; odd minutes are kept as they are.
* Open-Meteo issues: the spring-forward day has one valid hour that does not exist on the
  local clock; the archive wrote it with a null ``valid_utc`` and those rows are dropped.
  Valid hours at or before the issue time are the model's own recent past (its analysis),
  not observations. Cloud cover is clipped to 0-100 % (the archive holds -1 and 101).
* Open-Meteo past days: one row has a null ``time_utc`` (dropped); the values of a day were
  archived at 05:00 local time the next morning, which ``available_utc`` records.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from weather_edge.weather.cities import City, get_city, registry

UTC_TYPE = pl.Datetime("us", "UTC")

CLI_SCHEMA: dict[str, pl.DataType] = {
    "city": pl.String(),
    "climate_day": pl.Date(),
    "high_f": pl.Int64(),
    "report_utc": UTC_TYPE,
    "preliminary": pl.Boolean(),
    "late_report": pl.Boolean(),
}
NDFD_SCHEMA: dict[str, pl.DataType] = {
    "city": pl.String(),
    "climate_day": pl.Date(),
    "issued_utc": UTC_TYPE,
    "high_f": pl.Float64(),
    "valid_utc": UTC_TYPE,
    "suspect": pl.Boolean(),
}
HOURLY_SCHEMA: dict[str, pl.DataType] = {
    "city": pl.String(),
    "issued_utc": UTC_TYPE,
    "valid_utc": UTC_TYPE,
    "temp_f": pl.Float64(),
    "dewpoint_f": pl.Float64(),
    "cloud_pct": pl.Float64(),
    "wind_mph": pl.Float64(),
    "precip_prob_pct": pl.Float64(),
}
DAILY_SCHEMA: dict[str, pl.DataType] = {
    "city": pl.String(),
    "issued_utc": UTC_TYPE,
    "climate_day": pl.Date(),
    "max_f": pl.Float64(),
    "n_hours": pl.UInt32(),
    "past_max_f": pl.Float64(),
    "past_hours": pl.UInt32(),
    "dewpoint_max_f": pl.Float64(),
    "cloud_mean_pct": pl.Float64(),
    "wind_mean_mph": pl.Float64(),
    "precip_prob_max_pct": pl.Float64(),
}
PAST_DAYS_SCHEMA: dict[str, pl.DataType] = {
    "city": pl.String(),
    "valid_utc": UTC_TYPE,
    "available_utc": UTC_TYPE,
    "temp_f": pl.Float64(),
}

# A CLI value published more than this long after its climate day ended is a correction.
LATE_REPORT = dt.timedelta(days=2)
# Hourly values needed to call a forecast's max over a climate day a daily max: 23 of 24, since
# an issue's three local-clock days miss the last LST hour of the third day in daylight time.
MIN_HOURS_PER_DAY = 23
# The past-days archive ran every morning at this local hour.
PAST_DAYS_ARCHIVE_HOUR = 5


class HistoryError(ValueError):
    """A history file that cannot be read as what its name says."""


@dataclass(frozen=True)
class HistoryFiles:
    """The history files found under a data directory, by kind and city code."""

    cli: dict[str, list[Path]] = field(default_factory=dict)
    ndfd: dict[str, list[Path]] = field(default_factory=dict)
    hourly_issues: dict[str, list[Path]] = field(default_factory=dict)
    past_days: dict[str, list[Path]] = field(default_factory=dict)

    def cities(self) -> list[str]:
        """Cities that have CLI highs and at least one forecast source."""
        forecast = set(self.ndfd) | set(self.hourly_issues)
        return sorted(c for c in self.cli if c in forecast)


_PATTERNS = {
    "cli": ("nws", re.compile(r"^(?P<key>[a-z0-9]+)_cli_daily_.*\.csv(\.gz)?$", re.I)),
    "ndfd": ("nws", re.compile(r"^ndfd_(?P<key>[a-z0-9]+)_.*\.csv(\.gz)?$", re.I)),
    "hourly_issues": (
        "openmeteo",
        re.compile(r"^(?P<key>[a-z0-9]+)_hourly_forecast_issues.*\.parquet$", re.I),
    ),
    "past_days": (
        "openmeteo",
        re.compile(r"^(?P<key>[a-z0-9]+)_hourly_past_days.*\.parquet$", re.I),
    ),
}


def city_for_key(key: str) -> City:
    """A registry city from a file-name key: the city code (``nyc``) or station id (``knyc``)."""
    wanted = key.upper()
    for city in registry().values():
        if wanted in (city.code, city.station_id):
            return city
    raise HistoryError(f"no city in the registry has code or station {key!r}")


def discover(data_dir: str | Path) -> HistoryFiles:
    """Find every history file under ``data_dir`` by pattern (unknown keys are skipped)."""
    root = Path(data_dir)
    found: dict[str, dict[str, list[Path]]] = {kind: defaultdict(list) for kind in _PATTERNS}
    for kind, (sub, pattern) in _PATTERNS.items():
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            match = pattern.match(path.name)
            if match is None:
                continue
            try:
                code = city_for_key(match["key"]).code
            except HistoryError:
                continue
            found[kind][code].append(path)
    return HistoryFiles(**{kind: dict(files) for kind, files in found.items()})


def _files_for(files: dict[str, list[Path]], city: str | None) -> dict[str, list[Path]]:
    if city is None:
        return files
    code = get_city(city).code
    return {code: files.get(code, [])}


def _empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def _offset_hours(codes: list[str]) -> dict[str, int]:
    return {code: get_city(code).std_utc_offset_hours for code in codes}


def with_climate_day(frame: pl.DataFrame, instant: str, name: str = "climate_day") -> pl.DataFrame:
    """Add the LST climate day containing the UTC instant column (per the row's ``city``)."""
    offsets = _offset_hours(frame["city"].unique().to_list())
    shift = pl.duration(hours=pl.col("city").replace_strict(offsets, return_dtype=pl.Int64))
    return frame.with_columns((pl.col(instant) + shift).dt.date().alias(name))


def climate_day_end(frame: pl.DataFrame, day_col: str = "climate_day") -> pl.Expr:
    """An expression for the UTC end of each row's climate day (midnight LST after it)."""
    offsets = _offset_hours(frame["city"].unique().to_list())
    hours = pl.col("city").replace_strict(offsets, return_dtype=pl.Int64)
    midnight = pl.col(day_col).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return midnight + pl.duration(days=1) - pl.duration(hours=hours)


# --- CLI highs -------------------------------------------------------------------------------


def load_cli_highs(data_dir: str | Path, city: str | None = None) -> pl.DataFrame:
    """CLI daily highs (:data:`CLI_SCHEMA`), one row per city and climate day, sorted."""
    frames = []
    for code, paths in _files_for(discover(data_dir).cli, city).items():
        for path in paths:
            frames.append(_read_cli(path, code))
    if not frames:
        return _empty(CLI_SCHEMA)
    cli = pl.concat(frames).unique(["city", "climate_day"], keep="last", maintain_order=True)
    end = climate_day_end(cli)
    return (
        cli.with_columns(
            (pl.col("report_utc") < end).alias("preliminary"),
            (pl.col("report_utc") > end + pl.duration(days=LATE_REPORT.days)).alias("late_report"),
        )
        .select(list(CLI_SCHEMA))
        .sort("city", "climate_day")
    )


def _read_cli(path: Path, code: str) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema_length=0)
    high_col = next(
        (c for c in ("official_daily_high_f", "actual_high", "high_f") if c in raw.columns), None
    )
    if "date" not in raw.columns or high_col is None:
        raise HistoryError(f"{path}: a CLI file needs 'date' and a high column")
    if "source_station" in raw.columns:
        stations = set(raw["source_station"].drop_nulls().unique().to_list())
        if stations and stations != {get_city(code).station_id}:
            raise HistoryError(f"{path}: stations {sorted(stations)} are not {code}'s")
    high = pl.col(high_col).cast(pl.Float64)
    frame = raw.select(
        pl.lit(code).alias("city"),
        pl.col("date").str.to_date("%Y-%m-%d").alias("climate_day"),
        high.alias("high_value"),
        (
            pl.col("cli_product_id")
            .str.slice(0, 12)
            .str.to_datetime("%Y%m%d%H%M", time_unit="us", time_zone="UTC", strict=False)
            if "cli_product_id" in raw.columns
            else pl.lit(None, UTC_TYPE)
        ).alias("report_utc"),
    ).filter(pl.col("high_value").is_not_null())
    fractional = frame.filter(pl.col("high_value") != pl.col("high_value").round())
    if fractional.height:
        raise HistoryError(f"{path}: CLI highs are whole °F, got {fractional.row(0)}")
    frame = frame.with_columns(pl.col("high_value").cast(pl.Int64).alias("high_f"))
    # Without a product id, assume the usual next-morning report: the day's end plus 12 h.
    fallback = climate_day_end(frame) + pl.duration(hours=12)
    return frame.with_columns(pl.col("report_utc").fill_null(fallback)).select(
        "city", "climate_day", "high_f", "report_utc"
    )


# --- NDFD daily-high forecast issues ----------------------------------------------------------


def load_ndfd_issues(data_dir: str | Path, city: str | None = None) -> pl.DataFrame:
    """NDFD daily-high forecast issues (:data:`NDFD_SCHEMA`), suspicious ones flagged."""
    frames = []
    for code, paths in _files_for(discover(data_dir).ndfd, city).items():
        for path in paths:
            raw = pl.read_csv(path, infer_schema_length=0)
            missing = {"date", "forecast_issue_time", "nws_forecast_high_f"} - set(raw.columns)
            if missing:
                raise HistoryError(f"{path}: an NDFD file needs columns {sorted(missing)}")

            def utc(column: str) -> pl.Expr:
                return pl.col(column).str.to_datetime(time_unit="us", time_zone="UTC")

            frames.append(
                raw.select(
                    pl.lit(code).alias("city"),
                    pl.col("date").str.to_date("%Y-%m-%d").alias("climate_day"),
                    utc("forecast_issue_time").alias("issued_utc"),
                    pl.col("nws_forecast_high_f").cast(pl.Float64).alias("high_f"),
                    (
                        utc("ndfd_valid_time_utc")
                        if "ndfd_valid_time_utc" in raw.columns
                        else pl.lit(None, UTC_TYPE)
                    ).alias("valid_utc"),
                )
            )
    if not frames:
        return _empty(NDFD_SCHEMA)
    issues = pl.concat(frames).drop_nulls(["climate_day", "issued_utc", "high_f"])
    target_noon = pl.col("climate_day").cast(pl.Datetime("us")).dt.replace_time_zone(
        "UTC"
    ) + pl.duration(hours=12)
    return (
        issues.with_columns(pl.col("valid_utc").lt(target_noon).fill_null(False).alias("suspect"))
        .unique(["city", "climate_day", "issued_utc"], keep="last", maintain_order=True)
        .select(list(NDFD_SCHEMA))
        .sort("city", "climate_day", "issued_utc")
    )


# --- Open-Meteo hourly forecast issues and past days -----------------------------------------


def load_hourly_issues(data_dir: str | Path, city: str | None = None) -> pl.DataFrame:
    """Hourly forecast issues (:data:`HOURLY_SCHEMA`), one row per (issue, valid hour)."""
    frames = []
    for code, paths in _files_for(discover(data_dir).hourly_issues, city).items():
        for path in paths:
            raw = pl.read_parquet(path)
            frames.append(
                raw.select(
                    pl.lit(code).alias("city"),
                    pl.col("issued_utc").cast(UTC_TYPE),
                    pl.col("valid_utc").cast(UTC_TYPE),
                    pl.col("temperature_2m").cast(pl.Float64).alias("temp_f"),
                    _optional(raw, "dewpoint_2m").alias("dewpoint_f"),
                    _optional(raw, "cloudcover").clip(0, 100).alias("cloud_pct"),
                    _optional(raw, "windspeed_10m").alias("wind_mph"),
                    _optional(raw, "precipitation_probability").alias("precip_prob_pct"),
                )
            )
    if not frames:
        return _empty(HOURLY_SCHEMA)
    return (
        pl.concat(frames)
        .drop_nulls(["issued_utc", "valid_utc", "temp_f"])
        .unique(["city", "issued_utc", "valid_utc"], keep="last", maintain_order=True)
        .sort("city", "issued_utc", "valid_utc")
    )


def _optional(raw: pl.DataFrame, column: str) -> pl.Expr:
    if column in raw.columns:
        return pl.col(column).cast(pl.Float64)
    return pl.lit(None, pl.Float64)


def daily_max_by_issue(hourly: pl.DataFrame, min_hours: int = MIN_HOURS_PER_DAY) -> pl.DataFrame:
    """Per (city, issue, climate day): the forecast daily max over the LST climate day.

    ``max_f`` is the max of the issue's hourly values whose valid hour falls in the climate
    day (only days with at least ``min_hours`` of them); ``past_max_f`` the max over the hours
    at or before the issue time (the model's own analysis of the elapsed part of the day,
    null before the day starts), with a few daily aggregates for features
    (:data:`DAILY_SCHEMA`).
    """
    if hourly.is_empty():
        return _empty(DAILY_SCHEMA)
    elapsed = pl.col("valid_utc") <= pl.col("issued_utc")
    daily = (
        with_climate_day(hourly, "valid_utc")
        .group_by("city", "issued_utc", "climate_day")
        .agg(
            pl.col("temp_f").max().alias("max_f"),
            pl.len().cast(pl.UInt32).alias("n_hours"),
            pl.col("temp_f").filter(elapsed).max().alias("past_max_f"),
            elapsed.sum().cast(pl.UInt32).alias("past_hours"),
            pl.col("dewpoint_f").max().alias("dewpoint_max_f"),
            pl.col("cloud_pct").mean().alias("cloud_mean_pct"),
            pl.col("wind_mph").mean().alias("wind_mean_mph"),
            pl.col("precip_prob_pct").max().alias("precip_prob_max_pct"),
        )
        .filter(pl.col("n_hours") >= min_hours)
    )
    return daily.select(list(DAILY_SCHEMA)).sort("city", "climate_day", "issued_utc")


def load_past_days(data_dir: str | Path, city: str | None = None) -> pl.DataFrame:
    """Hourly model analysis of past days (:data:`PAST_DAYS_SCHEMA`), with ``available_utc``:
    05:00 local time on the local day after the valid hour (when the archive fetched it)."""
    frames = []
    for code, paths in _files_for(discover(data_dir).past_days, city).items():
        zone = get_city(code).timezone
        for path in paths:
            raw = pl.read_parquet(path).drop_nulls(["time_utc"])
            local_day = pl.col("time_utc").dt.convert_time_zone(zone).dt.date()
            archived = (
                (local_day + pl.duration(days=1)).cast(pl.Datetime("us"))
                + pl.duration(hours=PAST_DAYS_ARCHIVE_HOUR)
            ).dt.replace_time_zone(zone, ambiguous="latest", non_existent="null")
            frames.append(
                raw.select(
                    pl.lit(code).alias("city"),
                    pl.col("time_utc").cast(UTC_TYPE).alias("valid_utc"),
                    archived.dt.convert_time_zone("UTC").alias("available_utc"),
                    pl.col("temperature_2m").cast(pl.Float64).alias("temp_f"),
                )
            )
    if not frames:
        return _empty(PAST_DAYS_SCHEMA)
    return (
        pl.concat(frames)
        .drop_nulls()
        .unique(["city", "valid_utc"], keep="last", maintain_order=True)
        .sort("city", "valid_utc")
    )


def past_days_daily_max(past: pl.DataFrame, min_hours: int = MIN_HOURS_PER_DAY) -> pl.DataFrame:
    """Daily max of the past-days analysis over each LST climate day (complete days only),
    with the time the whole day was available."""
    if past.is_empty():
        return pl.DataFrame(
            schema={
                "city": pl.String(),
                "climate_day": pl.Date(),
                "max_f": pl.Float64(),
                "available_utc": UTC_TYPE,
            }
        )
    return (
        with_climate_day(past, "valid_utc")
        .group_by("city", "climate_day")
        .agg(
            pl.col("temp_f").max().alias("max_f"),
            pl.len().alias("n"),
            pl.col("available_utc").max(),
        )
        .filter(pl.col("n") >= min_hours)
        .drop("n")
        .sort("city", "climate_day")
    )


@dataclass(frozen=True)
class History:
    """Everything known about one city's weather history (frames as the loaders return them)."""

    city: str
    cli: pl.DataFrame
    ndfd: pl.DataFrame
    daily: pl.DataFrame  # daily_max_by_issue of the hourly forecast issues


def load_history(data_dir: str | Path, city: str) -> History:
    """The CLI highs, NDFD issues and hourly-issue daily maxima of one city."""
    code = get_city(city).code
    return History(
        city=code,
        cli=load_cli_highs(data_dir, code),
        ndfd=load_ndfd_issues(data_dir, code),
        daily=daily_max_by_issue(load_hourly_issues(data_dir, code)),
    )
