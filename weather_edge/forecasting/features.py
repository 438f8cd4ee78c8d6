"""Features of the daily high, each built *as of* a snapshot time.

A request is ``(climate_day, as_of_utc)``: what is known at ``as_of_utc`` about the high of
``climate_day``. Every source is read through an as-of join (the last row whose issue,
observation or report time is ``<= as_of_utc``), and :func:`build_features` checks the
provenance of every row it used (``src_*`` columns) and raises :class:`LookAheadError` if any
is later than the snapshot. Adding data issued after ``as_of_utc`` cannot change a feature.

Sources (:class:`CitySources`), any of which may be empty:

* ``daily`` -- the hourly forecast issues reduced to a daily max per (issue, climate day)
  (``history.daily_max_by_issue``; Open-Meteo for the real data): the *primary* forecast;
* ``ndfd`` -- daily-high forecast issues (NDFD): the *secondary* forecast, ``suspect`` rows
  skipped;
* ``obs`` -- station observations of the climate day (the simulator's); the real data has
  none, so there the running observed max is replaced by a **proxy**: the max of the latest
  primary issue over the hours of the day already elapsed at its issue time
  (``fc_past_max``), which is model analysis, not an observation, and never a hard floor;
* ``cli`` -- reported CLI highs, for the climatology (from years before the snapshot's) and
  the recent bias of the primary forecast at the station (CLI values reported by then).

The market-implied distribution is a separate variant (:data:`MARKET_FEATURES`, from
:func:`market_features`), since books exist on only a few days.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from weather_edge.forecasting.history import (
    CLI_SCHEMA,
    DAILY_SCHEMA,
    NDFD_SCHEMA,
    UTC_TYPE,
    climate_day_end,
)
from weather_edge.weather.cities import ensure_utc, get_city

OBS_SCHEMA: dict[str, pl.DataType] = {
    "city": pl.String(),
    "obs_utc": UTC_TYPE,
    "climate_day": pl.Date(),
    "temp_f": pl.Float64(),
}
REQUEST_SCHEMA: dict[str, pl.DataType] = {"climate_day": pl.Date(), "as_of_utc": UTC_TYPE}

BASE_FEATURES = ("lead_h", "hour_lst", "doy_sin", "doy_cos", "clim_mean", "clim_sd")
PRIMARY_FEATURES = (
    "fc_max",
    "fc_age_h",
    "fc_rev_6h",
    "fc_rev_24h",
    "fc_past_max",
    "fc_past_gap",
    "fc_past_hours",
    "fc_dew_max",
    "fc_cloud",
    "fc_wind",
    "fc_precip",
    "recent_bias",
    "anchor_frac",
)
SECONDARY_FEATURES = ("nd_max", "nd_age_h", "nd_rev", "src_spread")
OBS_FEATURES = ("obs_max", "obs_count", "obs_gap")
MARKET_FEATURES = ("mkt_mean", "mkt_sd", "mkt_gap")

CLIMATOLOGY_HALF_WINDOW_DAYS = 15
RECENT_BIAS_DAYS = 14
RECENT_BIAS_MIN_DAYS = 5
REVISION_LAGS_H = (6, 24)


class LookAheadError(AssertionError):
    """A feature read a row issued, observed or reported after its snapshot time."""


def feature_names(
    secondary: bool = True, obs: bool = False, market: bool = False
) -> tuple[str, ...]:
    """The feature columns of a model variant, in the order the model sees them."""
    names: tuple[str, ...] = BASE_FEATURES + PRIMARY_FEATURES
    if secondary:
        names += SECONDARY_FEATURES
    if obs:
        names += OBS_FEATURES
    if market:
        names += MARKET_FEATURES
    return names


@dataclass(frozen=True)
class CitySources:
    """Everything a city's features may read, with the time each row became known."""

    city: str
    cli: pl.DataFrame
    daily: pl.DataFrame
    ndfd: pl.DataFrame
    obs: pl.DataFrame
    description: str

    @classmethod
    def empty(cls, city: str, description: str = "") -> CitySources:
        return cls(
            city=get_city(city).code,
            cli=pl.DataFrame(schema=CLI_SCHEMA),
            daily=pl.DataFrame(schema=DAILY_SCHEMA),
            ndfd=pl.DataFrame(schema=NDFD_SCHEMA),
            obs=pl.DataFrame(schema=OBS_SCHEMA),
            description=description,
        )

    def visible(self, as_of: dt.datetime) -> CitySources:
        """Only the rows known at ``as_of`` (for inspection and tests; the feature builder
        does not need it, its joins are as-of joins)."""
        t = ensure_utc(as_of)
        return replace(
            self,
            cli=self.cli.filter(pl.col("report_utc") <= t),
            daily=self.daily.filter(pl.col("issued_utc") <= t),
            ndfd=self.ndfd.filter(pl.col("issued_utc") <= t),
            obs=self.obs.filter(pl.col("obs_utc") <= t),
        )

    @property
    def has_secondary(self) -> bool:
        return not self.ndfd.is_empty()

    @property
    def has_obs(self) -> bool:
        return not self.obs.is_empty()


def requests_frame(days: Iterable[dt.date], as_ofs: Iterable[dt.datetime]) -> pl.DataFrame:
    """A request frame from parallel sequences of climate days and aware snapshot times."""
    return pl.DataFrame(
        {"climate_day": list(days), "as_of_utc": [ensure_utc(t) for t in as_ofs]},
        schema=REQUEST_SCHEMA,
    )


def snapshot_requests(
    city: str, days: Iterable[dt.date], hours_before_end: Sequence[float]
) -> pl.DataFrame:
    """Requests for every day at each lead time (hours before the climate day ends)."""
    day_list = sorted(set(days))
    frame = pl.DataFrame(
        {"city": [get_city(city).code] * len(day_list), "climate_day": day_list},
        schema={"city": pl.String(), "climate_day": pl.Date()},
    )
    end = frame.select(climate_day_end(frame).alias("end"))["end"]
    leads = pl.DataFrame({"lead": [float(h) for h in hours_before_end]})
    return (
        frame.with_columns(end)
        .join(leads, how="cross")
        .select(
            "climate_day",
            (
                pl.col("end") - pl.duration(microseconds=(pl.col("lead") * 3.6e9).cast(pl.Int64))
            ).alias("as_of_utc"),
        )
    )


# --- the feature builder ---------------------------------------------------------------------


def _hours(delta: pl.Expr) -> pl.Expr:
    return delta.dt.total_microseconds().cast(pl.Float64) / 3.6e9


def _asof(
    left: pl.LazyFrame, right: pl.DataFrame, left_on: str, right_on: str, by: str | None
) -> pl.LazyFrame:
    """``left`` with the last ``right`` row whose ``right_on`` is ``<= left[left_on]``."""
    return left.sort(left_on).join_asof(
        right.lazy(),  # the prepared tables are sorted by their time already
        left_on=left_on,
        right_on=right_on,
        by=by,
        strategy="backward",
        check_sortedness=False,
    )


class FeatureBuilder:
    """Builds the features of one city's requests; the per-source tables (renamed, sorted,
    with running aggregates that carry their own availability times) are prepared once.

    The preparation reads every row, but each prepared row keeps the time it became known,
    and :meth:`build` joins them as of each request's snapshot time only.
    """

    def __init__(self, sources: CitySources) -> None:
        self.sources = sources
        self.city = get_city(sources.city)
        self._clim_years: set[int] = set()
        self._clim = pl.DataFrame(
            schema={
                "_year": pl.Int32(),
                "_doy": pl.Int32(),
                "clim_mean": pl.Float64(),
                "clim_sd": pl.Float64(),
            }
        )
        daily = sources.daily
        self._fc = daily.sort("issued_utc").select(
            "climate_day",
            pl.col("issued_utc").alias("src_fc_issued_utc"),
            pl.col("max_f").alias("fc_max"),
            pl.col("past_max_f").alias("fc_past_max"),
            pl.col("past_hours").cast(pl.Float64).alias("fc_past_hours"),
            pl.col("dewpoint_max_f").alias("fc_dew_max"),
            pl.col("cloud_mean_pct").alias("fc_cloud"),
            pl.col("wind_mean_mph").alias("fc_wind"),
            pl.col("precip_prob_max_pct").alias("fc_precip"),
        )
        self._lagged = self._fc.select(
            "climate_day",
            pl.col("src_fc_issued_utc").alias("_lag_issued"),
            pl.col("fc_max").alias("_lag_max"),
        )
        self._bias = (
            day_ahead_errors(sources.cli, daily)
            .with_columns(
                pl.col("error")
                .rolling_mean(RECENT_BIAS_DAYS, min_samples=RECENT_BIAS_MIN_DAYS)
                .alias("recent_bias")
            )
            .select(pl.col("report_utc").alias("src_bias_report_utc"), "recent_bias")
        )
        self._nd = (
            sources.ndfd.filter(~pl.col("suspect"))
            .sort("issued_utc")
            .select(
                "climate_day",
                pl.col("issued_utc").alias("src_nd_issued_utc"),
                pl.col("high_f").alias("nd_max"),
                (pl.col("high_f") - pl.col("high_f").shift(1).over("climate_day")).alias("nd_rev"),
            )
        )
        self._obs = sources.obs.sort("obs_utc").select(
            "climate_day",
            pl.col("obs_utc").alias("src_obs_utc"),
            pl.col("temp_f").cum_max().over("climate_day").alias("obs_max"),
            pl.col("temp_f").cum_count().over("climate_day").cast(pl.Float64).alias("obs_count"),
        )
        self._by_day: dict[str, dict[dt.date, pl.DataFrame]] = {}

    def _climatology(self, years: Iterable[int]) -> pl.DataFrame:
        missing = set(years) - self._clim_years
        if missing:
            table = (
                climatology_samples(self.sources.cli, missing)
                .group_by("year", "doy")
                .agg(
                    pl.col("high_f").cast(pl.Float64).mean().alias("clim_mean"),
                    pl.col("high_f").cast(pl.Float64).std().alias("clim_sd"),
                )
                .select(
                    pl.col("year").alias("_year"),
                    pl.col("doy").alias("_doy"),
                    "clim_mean",
                    "clim_sd",
                )
            )
            self._clim = pl.concat([self._clim, table])
            self._clim_years |= missing
        return self._clim

    def _table(self, name: str, days: list[dt.date]) -> pl.DataFrame:
        """A per-day source table, cut to the requested days when there are few of them."""
        full: pl.DataFrame = getattr(self, name)
        if len(days) > 4:
            return full
        parts = self._by_day.get(name)
        if parts is None:
            parts = {
                key[0]: frame
                for key, frame in full.partition_by("climate_day", as_dict=True).items()
            }
            self._by_day[name] = parts
        chosen = [parts[d] for d in days if d in parts]
        return pl.concat(chosen) if chosen else full.clear()

    def build(self, requests: pl.DataFrame) -> pl.DataFrame:
        """One row per request: ``climate_day``, ``as_of_utc``, the features of
        :func:`feature_names` (all variants but the market's; null where a source has nothing
        yet), ``anchor`` (the best point forecast, the model's reference), and the ``src_*``
        provenance times, checked to be ``<= as_of_utc``."""
        city = self.city
        req = requests.select(list(REQUEST_SCHEMA)).with_row_index("_row")
        days = req["climate_day"].unique().to_list()
        years = req["as_of_utc"].dt.year().unique().to_list()
        clim = self._climatology(years)
        midnight = pl.col("climate_day").cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        day_end = midnight + pl.duration(days=1) - pl.duration(hours=city.std_utc_offset_hours)
        out = req.lazy().with_columns(
            _hours(day_end - pl.col("as_of_utc")).alias("lead_h"),
            (
                _hours(pl.col("as_of_utc") - pl.col("as_of_utc").dt.truncate("1d"))
                + city.std_utc_offset_hours
            )
            .mod(24.0)
            .alias("hour_lst"),
            *_doy_features(),
            pl.col("as_of_utc").dt.year().cast(pl.Int32).alias("_year"),
            _doy().alias("_doy"),
            *[
                (pl.col("as_of_utc") - pl.duration(hours=lag)).alias(f"_lag{lag}_at")
                for lag in REVISION_LAGS_H
            ],
        )
        out = out.join(clim.lazy(), on=["_year", "_doy"], how="left").with_columns(
            pl.when(pl.col("clim_mean").is_not_null())
            .then(pl.datetime(pl.col("_year"), 1, 1, time_zone="UTC"))
            .alias("src_clim_cutoff_utc")
        )
        out = _asof(out, self._table("_fc", days), "as_of_utc", "src_fc_issued_utc", "climate_day")
        lagged = self._table("_lagged", days)
        for lag in REVISION_LAGS_H:
            out = (
                _asof(out, lagged, f"_lag{lag}_at", "_lag_issued", "climate_day")
                .with_columns((pl.col("fc_max") - pl.col("_lag_max")).alias(f"fc_rev_{lag}h"))
                .drop(f"_lag{lag}_at", "_lag_issued", "_lag_max")
            )
        out = _asof(out, self._bias, "as_of_utc", "src_bias_report_utc", None)
        out = _asof(out, self._table("_nd", days), "as_of_utc", "src_nd_issued_utc", "climate_day")
        out = _asof(out, self._table("_obs", days), "as_of_utc", "src_obs_utc", "climate_day")
        out = out.with_columns(
            _hours(pl.col("as_of_utc") - pl.col("src_fc_issued_utc")).alias("fc_age_h"),
            (pl.col("fc_past_max") - pl.col("fc_max")).alias("fc_past_gap"),
            _hours(pl.col("as_of_utc") - pl.col("src_nd_issued_utc")).alias("nd_age_h"),
            (pl.col("fc_max") - pl.col("nd_max")).alias("src_spread"),
            (pl.col("obs_max") - pl.col("fc_max")).alias("obs_gap"),
            pl.coalesce("fc_max", "nd_max", "clim_mean").alias("anchor"),
        ).with_columns((pl.col("anchor") - anchor_int_expr()).alias("anchor_frac"))
        result = out.sort("_row").drop("_row", "_year", "_doy").collect()
        check_no_lookahead(result)
        return result


def anchor_int_expr(column: str = "anchor") -> pl.Expr:
    """The integer the model's offsets count from: the anchor rounded half up."""
    return (pl.col(column) + 0.5).floor()


def build_features(sources: CitySources, requests: pl.DataFrame) -> pl.DataFrame:
    """:meth:`FeatureBuilder.build` for a one-off set of requests."""
    return FeatureBuilder(sources).build(requests)


def check_no_lookahead(features: pl.DataFrame) -> None:
    """Raise :class:`LookAheadError` if a ``src_*`` time is after its row's snapshot."""
    columns = [c for c in features.columns if c.startswith("src_")]
    late = features.select(
        [(pl.col(c) > pl.col("as_of_utc")).fill_null(False).any().alias(c) for c in columns]
    )
    for column in (c for c in columns if late[c][0]):
        row = features.filter(pl.col(column) > pl.col("as_of_utc")).row(0, named=True)
        raise LookAheadError(
            f"{column} {row[column]} is after the snapshot {row['as_of_utc']} "
            f"(climate day {row['climate_day']})"
        )


def _doy_features() -> list[pl.Expr]:
    angle = 2 * math.pi * (pl.col("climate_day").dt.ordinal_day().cast(pl.Float64) - 1) / 365.25
    return [angle.sin().alias("doy_sin"), angle.cos().alias("doy_cos")]


def _doy(column: str = "climate_day") -> pl.Expr:
    return pl.col(column).dt.ordinal_day().clip(1, 365).cast(pl.Int32)


def climatology_samples(cli: pl.DataFrame, years: Iterable[int]) -> pl.DataFrame:
    """For each year, the CLI highs reported before that year began (UTC), spread over the
    days of year within ±15 days of theirs: columns ``year``, ``doy``, ``high_f``."""
    half = CLIMATOLOGY_HALF_WINDOW_DAYS
    offsets = pl.DataFrame({"_off": list(range(-half, half + 1))})
    base = (
        cli.select(_doy().alias("_doy0"), "high_f", "report_utc")
        .join(offsets, how="cross")
        .with_columns(
            ((pl.col("_doy0") - 1 + pl.col("_off")).mod(365) + 1).cast(pl.Int32).alias("doy")
        )
    )
    parts = [
        base.filter(pl.col("report_utc") < dt.datetime(year, 1, 1, tzinfo=dt.UTC)).select(
            pl.lit(year, pl.Int32).alias("year"), "doy", "high_f"
        )
        for year in sorted(set(years))
    ]
    if not parts:
        return pl.DataFrame(schema={"year": pl.Int32(), "doy": pl.Int32(), "high_f": pl.Int64()})
    return pl.concat(parts)


def day_ahead_errors(cli: pl.DataFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """Per reported CLI day: ``error`` = CLI high − the primary forecast's daily max from the
    last issue before the climate day began, with ``report_utc`` (when it became known)."""
    if cli.is_empty() or daily.is_empty():
        return pl.DataFrame(schema={"report_utc": UTC_TYPE, "error": pl.Float64()})
    days = cli.select("city", "climate_day", "high_f", "report_utc")
    days = days.with_columns((climate_day_end(days) - pl.duration(days=1)).alias("_start"))
    issues = daily.select("climate_day", "issued_utc", "max_f").sort("issued_utc")
    joined = _asof(days.lazy(), issues, "_start", "issued_utc", "climate_day").collect()
    return (
        joined.filter(pl.col("max_f").is_not_null())
        .select("report_utc", (pl.col("high_f") - pl.col("max_f")).alias("error"))
        .sort("report_utc")
    )


# --- the market variant ----------------------------------------------------------------------


def with_market_features(features: pl.DataFrame, market: pl.DataFrame) -> pl.DataFrame:
    """The market variant: join the moments of the market-implied distribution at each
    snapshot (``climate_day``, ``as_of_utc``, ``mkt_mean``, ``mkt_sd``, ``src_mkt_utc``, from
    ``baselines.market_moments``) and ``mkt_gap`` = market mean − anchor; null where no book
    was seen by the snapshot."""
    joined = features.join(
        market.select("climate_day", "as_of_utc", "mkt_mean", "mkt_sd", "src_mkt_utc"),
        on=["climate_day", "as_of_utc"],
        how="left",
    ).with_columns((pl.col("mkt_mean") - pl.col("anchor")).alias("mkt_gap"))
    check_no_lookahead(joined)
    return joined


def feature_matrix(features: pl.DataFrame, names: Sequence[str]) -> np.ndarray:
    """The float matrix of the named columns (NaN for missing values), in that order; a name
    may repeat."""
    missing = [n for n in names if n not in features.columns]
    if missing:
        raise KeyError(f"features missing from the frame: {missing}")
    unique = list(dict.fromkeys(names))
    matrix = features.select(
        [pl.col(n).cast(pl.Float64).fill_null(float("nan")) for n in unique]
    ).to_numpy()
    if len(unique) == len(names):
        return matrix
    return matrix[:, [unique.index(n) for n in names]]
