"""Baselines every model is scored against, on the same requests and the same grid.

* :class:`ClimatologyBaseline` -- the CLI highs within ±15 days of the day of year, from the
  years before the snapshot's, lightly smoothed (integer Gaussian kernel, σ = 1 °F).
* :class:`GaussianBaseline` -- the latest primary forecast's daily max plus a bias, with a
  Gaussian error whose bias and σ are fitted per lead-time bucket on training rows only,
  discretized to integers.
* :func:`market_probabilities` -- the market-implied probabilities of an event's brackets:
  the mids of the markets, normalized to sum to 1; :func:`market_distribution` spreads them
  over integers (for the CRPS and the market features).
* :func:`blend` -- a linear pool of model and market bracket probabilities.

All grids are rows on ``distribution.GRID_LO .. GRID_HI``; the observed-max floor is applied
by :func:`apply_floor` to every predictor alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from weather_edge.forecasting.distribution import (
    GRID_HI,
    GRID_LO,
    BracketLike,
    IntDistribution,
    Range,
    check_tiling,
    floor_grid,
    normal_grid,
)
from weather_edge.forecasting.features import climatology_samples

FloatArray = npt.NDArray[np.float64]

LEAD_EDGES_H = (12.0, 24.0, 36.0, 48.0)
LEAD_LABELS = ("0-12h", "12-24h", "24-36h", "36-48h", "48h+")
MIN_BUCKET_ROWS = 30
CLIMATOLOGY_KERNEL_SD = 1.0
# When nothing is known about a day (no history at all): a deliberately vague Gaussian.
VAGUE_MEAN_F, VAGUE_SD_F = 60.0, 20.0
MARKET_TAIL_WIDTH_F = 4
BLEND_WEIGHT = 0.5  # fixed a priori: a handful of market days cannot fit it honestly


def lead_bucket(lead_h: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Bucket index of hours before the climate day ends: 0-12, 12-24, 24-36, 36-48, 48+."""
    return np.searchsorted(
        np.asarray(LEAD_EDGES_H), np.asarray(lead_h, dtype=np.float64), side="right"
    ).astype(np.int64)


def apply_floor(grid: FloatArray, frame: pl.DataFrame, slack_f: int) -> FloatArray:
    """The observed-max floor of each row (``obs_max``; NaN/absent rows untouched)."""
    if "obs_max" not in frame.columns:
        return grid
    obs = frame["obs_max"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    return floor_grid(grid, GRID_LO, obs, slack_f)


def _column(frame: pl.DataFrame, name: str) -> FloatArray:
    return frame[name].cast(pl.Float64).fill_null(float("nan")).to_numpy()


@dataclass(frozen=True)
class GaussianBaseline:
    """``N(fc_max + bias_b, sd_b)`` per lead bucket ``b``, discretized to integers."""

    bias: tuple[float, ...]
    sd: tuple[float, ...]
    n: tuple[int, ...]

    @classmethod
    def fit(cls, frame: pl.DataFrame) -> GaussianBaseline:
        """Fit on training rows (``high_f``, ``fc_max``, ``lead_h``); a bucket with fewer
        than :data:`MIN_BUCKET_ROWS` rows takes the pooled values."""
        rows = frame.filter(pl.col("fc_max").is_not_null() & pl.col("high_f").is_not_null())
        if rows.height < MIN_BUCKET_ROWS:
            raise ValueError(f"too few rows with a forecast to fit a Gaussian: {rows.height}")
        err = _column(rows, "high_f") - _column(rows, "fc_max")
        bucket = lead_bucket(_column(rows, "lead_h"))
        pooled = (float(err.mean()), float(err.std(ddof=1)))
        bias, sd, n = [], [], []
        for b in range(len(LEAD_LABELS)):
            e = err[bucket == b]
            n.append(int(e.size))
            ok = e.size >= MIN_BUCKET_ROWS
            bias.append(float(e.mean()) if ok else pooled[0])
            sd.append(float(e.std(ddof=1)) if ok else pooled[1])
        return cls(tuple(bias), tuple(sd), tuple(n))

    def mean_sd(self, frame: pl.DataFrame) -> tuple[FloatArray, FloatArray]:
        return self.mean_sd_arrays(
            _column(frame, "fc_max"),
            _column(frame, "lead_h"),
            _column(frame, "clim_mean"),
            _column(frame, "clim_sd"),
        )

    def mean_sd_arrays(
        self, fc_max: FloatArray, lead_h: FloatArray, clim_mean: FloatArray, clim_sd: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Mean and σ per row; without a forecast yet, the climatology's, else vague ones."""
        bucket = lead_bucket(lead_h)
        mean = fc_max + np.asarray(self.bias)[bucket]
        sd = np.asarray(self.sd)[bucket]
        missing = np.isnan(fc_max)
        mean = np.where(missing, np.where(np.isnan(clim_mean), VAGUE_MEAN_F, clim_mean), mean)
        sd = np.where(missing, np.where(np.isnan(clim_sd), VAGUE_SD_F, clim_sd), sd)
        return mean, sd

    def predict_grid(self, frame: pl.DataFrame, slack_f: int = 0) -> FloatArray:
        mean, sd = self.mean_sd(frame)
        return apply_floor(normal_grid(mean, sd), frame, slack_f)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lead_buckets": list(LEAD_LABELS),
            "bias": list(self.bias),
            "sd": list(self.sd),
            "n": list(self.n),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GaussianBaseline:
        return cls(tuple(data["bias"]), tuple(data["sd"]), tuple(data["n"]))


class ClimatologyBaseline:
    """The distribution of CLI highs near the day of year, from the years before the
    snapshot's (the CLI rows reported before that year began)."""

    def __init__(self, cli: pl.DataFrame, kernel_sd: float = CLIMATOLOGY_KERNEL_SD) -> None:
        self.cli = cli
        self.kernel_sd = kernel_sd
        self._tables: dict[int, FloatArray] = {}

    def _year_table(self, year: int) -> FloatArray:
        """Rows by day of year (index 0 = doy 1), pmfs on the grid; NaN rows: no history."""
        table = self._tables.get(year)
        if table is None:
            samples = climatology_samples(self.cli, [year])
            width = GRID_HI - GRID_LO + 1
            counts = np.zeros((365, width))
            if samples.height:
                doy = samples["doy"].to_numpy() - 1
                col = np.clip(samples["high_f"].to_numpy(), GRID_LO, GRID_HI) - GRID_LO
                np.add.at(counts, (doy, col), 1.0)
            kernel = normal_grid([0.0], [self.kernel_sd], -4, 4)[0]
            smooth = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, counts)
            totals = smooth.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                table = smooth / totals
            self._tables[year] = table
        return table

    def predict_grid(self, frame: pl.DataFrame, slack_f: int = 0) -> FloatArray:
        years = frame["as_of_utc"].dt.year().to_numpy()
        doys = np.clip(frame["climate_day"].dt.ordinal_day().to_numpy(), 1, 365) - 1
        out = np.empty((frame.height, GRID_HI - GRID_LO + 1))
        for year in np.unique(years):
            rows = years == year
            out[rows] = self._year_table(int(year))[doys[rows]]
        empty = np.isnan(out[:, 0])
        if empty.any():
            out[empty] = normal_grid(
                np.full(empty.sum(), VAGUE_MEAN_F), np.full(empty.sum(), VAGUE_SD_F)
            )
        return apply_floor(out, frame, slack_f)


# --- the market ----------------------------------------------------------------------------


def market_mid(yes_bid: float | None, yes_ask: float | None) -> float:
    """The YES mid as a probability, an empty bid side counting as 0 and an empty ask as 1
    (how the books display them)."""
    bid = 0.0 if yes_bid is None or np.isnan(yes_bid) else float(yes_bid)
    ask = 1.0 if yes_ask is None or np.isnan(yes_ask) else float(yes_ask)
    return (bid + ask) / 2.0


def market_probabilities(mids: Sequence[float]) -> FloatArray:
    """An event's market-implied probabilities: its markets' mids, normalized to sum to 1."""
    m = np.asarray(mids, dtype=np.float64)
    if m.size == 0 or np.any(m < 0) or m.sum() <= 0:
        raise ValueError(f"cannot normalize mids {mids}")
    return m / m.sum()


def market_distribution(
    brackets: Sequence[BracketLike],
    probs: npt.ArrayLike,
    tail_width: int = MARKET_TAIL_WIDTH_F,
) -> IntDistribution:
    """Spread an event's bracket probabilities over integers: uniformly inside each closed
    bracket and over ``tail_width`` integers of an open tail."""
    check_tiling(list(brackets))
    lows = [b.low_f for b in brackets if b.low_f is not None]
    highs = [b.high_f for b in brackets if b.high_f is not None]
    lo, hi = min(lows + highs) - tail_width, max(lows + highs) + tail_width
    grid = np.zeros(hi - lo + 1)
    for bracket, p in zip(brackets, np.asarray(probs, dtype=np.float64), strict=True):
        start, stop = _spread_range(bracket, tail_width)
        grid[start - lo : stop - lo + 1] += p / (stop - start + 1)
    return IntDistribution.from_grid(lo, grid)


def market_moments(rows: pl.DataFrame) -> pl.DataFrame:
    """Per snapshot of an event's books (rows with ``climate_day``, ``as_of_utc``, ``low_f`` /
    ``high_f_bracket`` (NaN open), ``mid`` and ``src_mkt_utc``): the mean and σ of the
    market-implied distribution (:func:`market_distribution` of the normalized mids) and the
    latest time a book was seen."""
    out: list[dict[str, Any]] = []
    ordered = rows.sort(pl.col("low_f").fill_nan(float("-inf")))
    for (day, as_of), event in ordered.group_by(["climate_day", "as_of_utc"], maintain_order=True):
        brackets = [
            Range(None if np.isnan(lo) else int(lo), None if np.isnan(hi) else int(hi))
            for lo, hi in zip(
                event["low_f"].to_list(), event["high_f_bracket"].to_list(), strict=True
            )
        ]
        dist = market_distribution(brackets, market_probabilities(event["mid"].to_list()))
        out.append(
            {
                "climate_day": day,
                "as_of_utc": as_of,
                "mkt_mean": dist.mean(),
                "mkt_sd": dist.sd(),
                "src_mkt_utc": event["src_mkt_utc"].max(),
            }
        )
    return pl.DataFrame(out)


def _spread_range(bracket: BracketLike, tail_width: int) -> tuple[int, int]:
    if bracket.low_f is not None and bracket.high_f is not None:
        return bracket.low_f, bracket.high_f
    if bracket.low_f is not None:
        return bracket.low_f, bracket.low_f + tail_width - 1
    if bracket.high_f is not None:
        return bracket.high_f - tail_width + 1, bracket.high_f
    raise ValueError("a bracket open at both ends is not a market")


def blend(model: npt.ArrayLike, market: npt.ArrayLike, weight: float = BLEND_WEIGHT) -> FloatArray:
    """Linear pool ``weight * model + (1 - weight) * market`` of bracket probabilities."""
    return weight * np.asarray(model, dtype=np.float64) + (1.0 - weight) * np.asarray(
        market, dtype=np.float64
    )
