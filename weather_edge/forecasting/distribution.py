"""A probability distribution over the integer daily high (°F), and the brackets derived from it.

The settlement value is the integer CLI high, so a forecast is ``P(high = t)`` for integer
``t`` and every market's probability is a sum of those (``shared/design/forecasting.md``):

* between ``B84.5`` (floor 84, cap 85, inclusive): ``P(84) + P(85)``;
* "greater than 85" (``T85``, ``strike_type: greater``): ``P(t >= 86)``;
* "less than 78" (``T78``, ``strike_type: less``): ``P(t <= 77)``.

A bracket here is the inclusive integer range of :class:`weather_edge.kalshi.tickers.Bracket`
(``low_f``/``high_f``, ``None`` for an open end), so the strict tails are already resolved by
the ticker parser. The brackets of an event tile the integers, hence their probabilities sum
to 1 by construction; :meth:`IntDistribution.event_probabilities` checks the tiling.

**The observed-max floor.** The day's running maximum observation is a floor for the final
high: :meth:`IntDistribution.floor_at` moves the mass below the floor onto the floor. Caveat:
an hourly METAR reports whole °C (tenths only in its remarks), and its °C→°F conversion and
rounding can put a reported hourly value 1 °F *above* the CLI high, which ASOS computes from
its own whole-°F maxima. So an observation from a °C-rounded source is a floor only up to
``slack_f = 1`` (:data:`METAR_ROUNDING_SLACK_F`): values in ``[max - slack, max)`` keep their
own (model) probability, everything below ``max - slack`` moves onto ``max``. Observations
already in whole °F from the same ASOS maxima the CLI uses would take ``slack_f = 0``, a hard
floor; the simulator's observations are METARs in tenths of °C, so they take the slack too.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

FloatArray = npt.NDArray[np.float64]

METAR_ROUNDING_SLACK_F = 1  # °C-rounded hourly reports can exceed the CLI high by 1 °F
SUM_TOLERANCE = 1e-9
# The common integer grid of vectorized scoring (°F), wide enough for every city's record.
GRID_LO, GRID_HI = -60, 150


class BracketLike(Protocol):
    """An inclusive integer °F range with open ends as ``None`` (``kalshi.tickers.Bracket``)."""

    @property
    def low_f(self) -> int | None: ...

    @property
    def high_f(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Range:
    """A plain bracket: the inclusive integer range ``[low_f, high_f]``, ``None`` = open."""

    low_f: int | None
    high_f: int | None


class TilingError(ValueError):
    """Brackets of one event that overlap or leave a gap, so their probabilities cannot sum
    to 1."""


def round_half_up(value: float) -> int:
    """Round to the nearest integer, halves upward (how a whole-°F report rounds)."""
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class IntDistribution:
    """``P(high = lo + i) = pmf[i]``; zero outside ``[lo, hi]``. Immutable and normalized."""

    lo: int
    pmf: FloatArray

    def __post_init__(self) -> None:
        pmf = np.asarray(self.pmf, dtype=np.float64)
        if pmf.ndim != 1 or pmf.size == 0:
            raise ValueError("a pmf is a non-empty vector")
        if not np.all(np.isfinite(pmf)) or np.any(pmf < 0):
            raise ValueError("a pmf has finite, non-negative entries")
        total = pmf.sum()
        if total <= 0:
            raise ValueError("a pmf needs positive mass")
        pmf = pmf / total
        pmf.setflags(write=False)
        object.__setattr__(self, "pmf", pmf)
        object.__setattr__(self, "lo", int(self.lo))

    # --- construction -----------------------------------------------------------------------

    @classmethod
    def point(cls, value: int) -> IntDistribution:
        return cls(value, np.ones(1))

    @classmethod
    def normal(
        cls, mean: float, sd: float, width_sd: float = 6.0, min_sd: float = 0.3
    ) -> IntDistribution:
        """A Gaussian discretized to integers: ``P(t) = Φ((t+½-μ)/σ) - Φ((t-½-μ)/σ)`` on
        ``μ ± width_sd σ``, the mass beyond folded into the two end integers."""
        sd = max(float(sd), min_sd)
        lo = math.floor(mean - width_sd * sd)
        hi = math.ceil(mean + width_sd * sd)
        return cls(lo, normal_grid([mean], [sd], lo, hi)[0])

    @classmethod
    def from_grid(cls, lo: int, pmf: npt.ArrayLike) -> IntDistribution:
        """From a pmf on a (possibly wide) grid, trimmed to the support with mass."""
        p = np.asarray(pmf, dtype=np.float64)
        nonzero = np.flatnonzero(p > 0)
        if nonzero.size == 0:
            raise ValueError("a pmf needs positive mass")
        return cls(lo + int(nonzero[0]), p[nonzero[0] : nonzero[-1] + 1])

    # --- queries ----------------------------------------------------------------------------

    @property
    def hi(self) -> int:
        return self.lo + self.pmf.size - 1

    def prob(self, value: int) -> float:
        i = value - self.lo
        return float(self.pmf[i]) if 0 <= i < self.pmf.size else 0.0

    def cdf(self, value: int) -> float:
        """``P(high <= value)``."""
        if value < self.lo:
            return 0.0
        if value >= self.hi:
            return 1.0
        return float(self.pmf[: value - self.lo + 1].sum())

    def prob_range(self, low_f: int | None, high_f: int | None) -> float:
        """``P(low_f <= high <= high_f)``, an open end as ``None``."""
        start = self.lo if low_f is None else max(low_f, self.lo)
        stop = self.hi if high_f is None else min(high_f, self.hi)
        if stop < start:
            return 0.0
        return float(self.pmf[start - self.lo : stop - self.lo + 1].sum())

    def bracket_probability(self, bracket: BracketLike) -> float:
        return self.prob_range(bracket.low_f, bracket.high_f)

    def event_probabilities(self, brackets: Mapping[str, BracketLike]) -> dict[str, float]:
        """The probability of every market of an event; raises :class:`TilingError` unless
        the brackets tile the integers (then they sum to 1)."""
        check_tiling(list(brackets.values()))
        probs = {name: self.bracket_probability(b) for name, b in brackets.items()}
        total = sum(probs.values())
        if abs(total - 1.0) > SUM_TOLERANCE:  # pragma: no cover - guaranteed by the tiling
            raise TilingError(f"bracket probabilities sum to {total}")
        return probs

    def mean(self) -> float:
        return float(np.dot(self.lo + np.arange(self.pmf.size), self.pmf))

    def sd(self) -> float:
        t = self.lo + np.arange(self.pmf.size)
        return float(math.sqrt(max(0.0, float(np.dot((t - self.mean()) ** 2, self.pmf)))))

    def quantile(self, q: float) -> int:
        """The smallest integer ``t`` with ``P(high <= t) >= q``."""
        cdf = np.cumsum(self.pmf)
        return self.lo + int(np.argmax(cdf >= q - 1e-12))

    def median(self) -> int:
        return self.quantile(0.5)

    def on_grid(self, lo: int, hi: int) -> FloatArray:
        """The pmf on the grid ``lo .. hi``, mass outside folded onto the grid's ends."""
        out = np.zeros(hi - lo + 1)
        t = np.clip(self.lo + np.arange(self.pmf.size), lo, hi) - lo
        np.add.at(out, t, self.pmf)
        return out

    # --- conditioning -----------------------------------------------------------------------

    def floor_at(self, observed_max_f: float, slack_f: int = 0) -> IntDistribution:
        """Condition on the running observed max: the high is at least ``round(observed)``
        up to ``slack_f`` °F of reporting error (module docstring). Mass below
        ``round(observed) - slack_f`` moves onto ``round(observed)``."""
        grid_lo = min(self.lo, round_half_up(observed_max_f) - slack_f)
        grid_hi = max(self.hi, round_half_up(observed_max_f))
        grid = self.on_grid(grid_lo, grid_hi)[None, :]
        floored = floor_grid(grid, grid_lo, np.array([observed_max_f]), slack_f)
        return IntDistribution.from_grid(grid_lo, floored[0])

    def mix(self, other: IntDistribution, weight: float) -> IntDistribution:
        """``weight * self + (1 - weight) * other``."""
        lo, hi = min(self.lo, other.lo), max(self.hi, other.hi)
        grid = weight * self.on_grid(lo, hi) + (1.0 - weight) * other.on_grid(lo, hi)
        return IntDistribution.from_grid(lo, grid)


def check_tiling(brackets: Sequence[BracketLike]) -> None:
    """Raise :class:`TilingError` unless the brackets cover every integer exactly once."""
    if not brackets:
        raise TilingError("an event needs at least one bracket")
    ordered = sorted(brackets, key=lambda b: -math.inf if b.low_f is None else b.low_f)
    if ordered[0].low_f is not None or ordered[-1].high_f is not None:
        raise TilingError("the lowest bracket must be open below and the highest open above")
    for left, right in itertools.pairwise(ordered):
        if left.high_f is None or right.low_f is None or right.low_f != left.high_f + 1:
            raise TilingError(f"brackets {left} and {right} overlap or leave a gap")


def floor_grid(
    pmf: npt.ArrayLike, lo: int, observed_max_f: npt.ArrayLike, slack_f: int = 0
) -> FloatArray:
    """Vectorized :meth:`IntDistribution.floor_at` on a common grid ``lo ..`` (n, S): per row,
    the mass below ``round(observed) - slack_f`` moves onto ``round(observed)``; a NaN
    observation leaves its row alone. The floor must lie on the grid."""
    if slack_f < 0:
        raise ValueError("the slack is a non-negative number of °F")
    p = np.array(np.atleast_2d(np.asarray(pmf, dtype=np.float64)))
    obs = np.asarray(observed_max_f, dtype=np.float64).reshape(-1)
    s = p.shape[1]
    rows = np.flatnonzero(~np.isnan(obs))
    if rows.size == 0:
        return p
    floor = np.floor(obs[rows] + 0.5).astype(np.int64) - lo  # round half up, grid index
    if np.any(floor < 0) or np.any(floor >= s):
        raise ValueError("an observed max lies outside the grid")
    below = np.arange(s)[None, :] < (floor - slack_f)[:, None]
    moved = np.where(below, p[rows], 0.0).sum(axis=1)
    p[rows] = np.where(below, 0.0, p[rows])
    p[rows, floor] += moved
    return p


def offsets_to_grid(
    anchor: npt.ArrayLike,
    offsets: npt.ArrayLike,
    probs: npt.ArrayLike,
    lo: int = GRID_LO,
    hi: int = GRID_HI,
) -> FloatArray:
    """Rows of probabilities over integer offsets from an integer anchor per row, placed on
    the grid ``lo .. hi`` (values beyond it folded onto its ends)."""
    a = np.asarray(anchor, dtype=np.int64).reshape(-1)
    off = np.asarray(offsets, dtype=np.int64).reshape(-1)
    p = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    out = np.zeros((a.size, hi - lo + 1))
    cols = np.clip(a[:, None] + off[None, :], lo, hi) - lo
    np.add.at(out, (np.repeat(np.arange(a.size), off.size), cols.reshape(-1)), p.reshape(-1))
    return out


def normal_grid(
    mean: npt.ArrayLike, sd: npt.ArrayLike, lo: int = GRID_LO, hi: int = GRID_HI
) -> FloatArray:
    """Discretized Gaussians on the grid (rows): ``Φ((t+½-μ)/σ) - Φ((t-½-μ)/σ)``, the tails
    folded onto the grid's ends."""
    mu = np.asarray(mean, dtype=np.float64).reshape(-1, 1)
    sigma = np.maximum(np.asarray(sd, dtype=np.float64).reshape(-1, 1), 0.3)
    edges = np.arange(lo, hi + 2, dtype=np.float64)[None, :] - 0.5
    cdf = ndtr((edges - mu) / sigma)
    cdf[:, 0], cdf[:, -1] = 0.0, 1.0
    return np.diff(cdf, axis=1)


def bracket_matrix(
    pmf: npt.ArrayLike, lo: int, low_f: npt.ArrayLike, high_f: npt.ArrayLike
) -> FloatArray:
    """Vectorized bracket probabilities: row ``i`` of ``pmf`` (on the grid ``lo ..``) summed
    over ``[low_f[i], high_f[i]]``; an open end is NaN in ``low_f`` / ``high_f``."""
    p = np.atleast_2d(np.asarray(pmf, dtype=np.float64))
    n, s = p.shape
    cdf = np.concatenate([np.zeros((n, 1)), np.cumsum(p, axis=1)], axis=1)
    cdf[:, -1] = 1.0  # cdf[:, j] = P(high <= lo + j - 1)
    lows = np.asarray(low_f, dtype=np.float64)
    highs = np.asarray(high_f, dtype=np.float64)
    lo_idx = np.where(np.isnan(lows), 0, np.clip(lows - lo, 0, s)).astype(np.int64)
    hi_idx = np.where(np.isnan(highs), s, np.clip(highs - lo + 1, 0, s)).astype(np.int64)
    rows = np.arange(n)
    return np.maximum(0.0, cdf[rows, hi_idx] - cdf[rows, lo_idx])
