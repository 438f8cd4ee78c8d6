"""Proper scores and calibration diagnostics, vectorized over forecasts (numpy).

Conventions (the exact formulas; every function is tested on hand-computed cases):

* Brier per binary market: ``(p - o)^2`` with ``o`` in {0, 1}.
* Log loss per binary market: ``-(o log p + (1 - o) log(1 - p))``, with ``p`` clipped to
  ``[eps, 1 - eps]`` (``eps = 1e-6``) so a confident miss costs ``-log(1e-6) = 13.8``, not
  infinity.
* RPS per event of ``K`` ordered brackets: ``sum_{k<K} (P_k - O_k)^2 / (K - 1)`` over the
  cumulative forecast ``P_k`` and outcome ``O_k`` of the first ``k`` brackets (0 is perfect,
  1 the worst).
* CRPS of a distribution over integers: ``sum_t (F(t) - 1{t >= y})^2`` over every integer
  ``t``. ``F`` and the step of the outcome are constant on ``[t, t + 1)``, so this sum *is*
  the integral ``∫ (F(x) - H(x - y))^2 dx`` of the continuous definition, in °F.
* MAE of the median: ``|m - y|`` with ``m`` the smallest ``t`` where ``F(t) >= 1/2``.
* PIT of a discrete forecast, randomized: ``F(y - 1) + V p(y)`` with ``V ~ U(0, 1)``;
  uniform on [0, 1] when the forecast is calibrated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
LOG_LOSS_EPS = 1e-6


def _as_float(values: npt.ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def _outcomes(values: npt.ArrayLike) -> FloatArray:
    o = _as_float(values)
    if not np.all((o == 0.0) | (o == 1.0)):
        raise ValueError("binary outcomes must be 0 or 1")
    return o


def brier(p: npt.ArrayLike, outcome: npt.ArrayLike) -> FloatArray:
    """Brier score of each binary forecast ``p`` against its 0/1 outcome."""
    probs, o = _as_float(p), _outcomes(outcome)
    return (probs - o) ** 2


def log_loss(p: npt.ArrayLike, outcome: npt.ArrayLike, eps: float = LOG_LOSS_EPS) -> FloatArray:
    """Log loss (natural log) of each binary forecast, ``p`` clipped to ``[eps, 1 - eps]``."""
    probs, o = np.clip(_as_float(p), eps, 1.0 - eps), _outcomes(outcome)
    return -(o * np.log(probs) + (1.0 - o) * np.log1p(-probs))


def rps(probs: npt.ArrayLike, outcome_index: npt.ArrayLike) -> FloatArray:
    """Ranked probability score of each event: ``probs`` (n, K) over ordered brackets, the
    index of the bracket that happened per row; normalized by ``K - 1``."""
    p = np.atleast_2d(_as_float(probs))
    idx = np.asarray(outcome_index, dtype=np.int64).reshape(-1)
    n, k = p.shape
    if k < 2:
        raise ValueError("an RPS needs at least two brackets")
    if idx.shape[0] != n or np.any((idx < 0) | (idx >= k)):
        raise ValueError("one outcome index in [0, K) per event")
    cum_p = np.cumsum(p, axis=1)[:, :-1]
    cum_o = (np.arange(k - 1)[None, :] >= idx[:, None]).astype(np.float64)
    return np.sum((cum_p - cum_o) ** 2, axis=1) / (k - 1)


def _grid(pmf: npt.ArrayLike) -> FloatArray:
    p = np.atleast_2d(_as_float(pmf))
    if np.any(p < -1e-12) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("each row of a pmf must be non-negative and sum to 1")
    return p


def cdf_rows(pmf: npt.ArrayLike) -> FloatArray:
    """Row-wise CDF of pmfs on a common integer grid, the last value forced to exactly 1."""
    cdf = np.cumsum(_grid(pmf), axis=1)
    cdf[:, -1] = 1.0
    return cdf


def crps_integer(pmf: npt.ArrayLike, lo: int, outcome: npt.ArrayLike) -> FloatArray:
    """CRPS (°F) of distributions over the integers ``lo .. lo + S - 1`` (``pmf`` (n, S))
    against integer outcomes, which may lie outside the grid."""
    cdf = cdf_rows(pmf)
    y = np.asarray(outcome, dtype=np.int64).reshape(-1)
    n, s = cdf.shape
    if y.shape[0] != n:
        raise ValueError("one outcome per distribution")
    t = lo + np.arange(s)
    step = (t[None, :] >= y[:, None]).astype(np.float64)
    inside = np.sum((cdf - step) ** 2, axis=1)
    hi = lo + s - 1
    below = np.maximum(0, lo - y)  # integers y .. lo-1: F = 0, step = 1
    above = np.maximum(0, y - hi - 1)  # integers hi+1 .. y-1: F = 1, step = 0
    return inside + below + above


def medians(pmf: npt.ArrayLike, lo: int) -> IntArray:
    """The median of each distribution: the smallest integer with ``F >= 1/2``."""
    cdf = cdf_rows(pmf)
    return (lo + np.argmax(cdf >= 0.5 - 1e-12, axis=1)).astype(np.int64)


def mae_of_median(pmf: npt.ArrayLike, lo: int, outcome: npt.ArrayLike) -> FloatArray:
    """Absolute error of each distribution's median."""
    y = np.asarray(outcome, dtype=np.int64).reshape(-1)
    return np.abs(medians(pmf, lo) - y).astype(np.float64)


def pit_values(
    pmf: npt.ArrayLike, lo: int, outcome: npt.ArrayLike, rng: np.random.Generator | int = 0
) -> FloatArray:
    """Randomized PIT values ``F(y - 1) + V p(y)`` of integer outcomes."""
    cdf = cdf_rows(pmf)
    y = np.asarray(outcome, dtype=np.int64).reshape(-1)
    n, s = cdf.shape
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    v = generator.uniform(0.0, 1.0, size=n)
    idx = y - lo  # grid index of the outcome
    padded = np.concatenate([np.zeros((n, 1)), cdf], axis=1)  # padded[:, i] = F(lo + i - 1)
    below = padded[np.arange(n), np.clip(idx, 0, s)]
    at = padded[np.arange(n), np.clip(idx + 1, 0, s)]
    return below + v * (at - below)


def pit_histogram(pit: npt.ArrayLike, bins: int = 10) -> IntArray:
    """Counts of PIT values in ``bins`` equal bins of [0, 1]."""
    counts, _ = np.histogram(_as_float(pit), bins=bins, range=(0.0, 1.0))
    return counts.astype(np.int64)


@dataclass(frozen=True)
class ReliabilityBins:
    """A reliability diagram: per bin of forecast probability, the count, the mean forecast
    and the observed frequency (NaN where a bin is empty)."""

    edges: FloatArray
    count: IntArray
    mean_forecast: FloatArray
    observed_frequency: FloatArray


def reliability(p: npt.ArrayLike, outcome: npt.ArrayLike, bins: int = 10) -> ReliabilityBins:
    """Bin binary forecasts into ``bins`` equal bins of [0, 1] (the last bin closed)."""
    probs, o = _as_float(p), _outcomes(outcome)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, probs, side="right") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins).astype(np.int64)
    sum_p = np.bincount(which, weights=probs, minlength=bins)
    sum_o = np.bincount(which, weights=o, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ReliabilityBins(edges, count, sum_p / count, sum_o / count)
