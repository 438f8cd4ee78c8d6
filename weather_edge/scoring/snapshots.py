"""Every prediction snapshot scored against its settlement, vectorized (numpy and polars).

Subjects, each at the same snapshot times (the ``snapshot_at`` of the ``predictions`` rows):

* ``model`` — each stored distribution (``model_version/variant``);
* ``market`` — the market-implied probabilities: the YES mid of each market's standing
  book at the snapshot (the last quote at or before it; an empty bid counts as 0, an
  empty ask as $1), normalized over the event. A snapshot where a market had no quote yet is
  not scored for the market. Its integer distribution, for the CRPS, the median and the PIT,
  spreads each bracket's probability uniformly over its integers and an open tail over
  ``MARKET_TAIL_WIDTH_F`` integers (as ``forecasting.baselines.market_distribution`` does);
* ``blend`` — :func:`~weather_edge.forecasting.baselines.blend` of the model and the market
  (brackets and distribution alike), wherever both exist.

Scores (``weather_edge.forecasting.scores``, not re-implemented here): Brier and log loss per
bracket, RPS per event, CRPS, absolute and signed error of the median (``mae``,
``median_error`` = median − CLI high) and the randomized PIT per distribution. Brackets are
scored against the outcome that pays (Kalshi's result, else the CLI-implied one); the
distribution against the CLI high of the settlement. An event is scored only once every
market of it is settled, exactly one resolved YES and its brackets tile the integers.

Rows for ``scores``: ``subject_key`` is ``<identity>@<snapshot UTC>`` for the event metrics and
``<identity>@<snapshot UTC>#<market ticker>`` for the bracket metrics; the identity (before
``@``) is ``model_version/variant``, ``mid`` or ``model_version/variant+mid``. ``lead_hours``
is the time from the snapshot to the end of the climate day.

How it is vectorized: the three subjects' distributions are stacked into one matrix and each
score is one numpy call over all of them. Each event gets its own narrow grid of integers
(its brackets, their tails and every distribution of it, all events padded to one width)
instead of one grid spanning every city's temperatures; the scores are translation
invariant, so outcomes and bracket bounds are simply shifted onto it. Intermediate
per-bracket matrices are built in blocks of at most ``CHUNK_CELLS`` floats.

The PIT draws its uniform from a generator seeded per partition, over the partition's rows
in a fixed order (subject, identity, snapshot), so scoring a range of partitions writes
exactly what scoring them one by one does.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from weather_edge.forecasting import scores
from weather_edge.forecasting.baselines import MARKET_TAIL_WIDTH_F, blend
from weather_edge.forecasting.distribution import bracket_matrix
from weather_edge.money import PRICE_SCALE
from weather_edge.reporting.data import SCORES_SCHEMA as SCORES_TABLE
from weather_edge.scoring.frames import UTC_TIME, lead_hours

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

RESULTS = ("yes", "no")
MARKET_IDENTITY = "mid"
SUBJECTS = ("model", "market", "blend")
BRACKET_METRICS = ("brier", "log_loss")
EVENT_METRICS = ("rps", "crps", "mae", "median_error", "pit")
SNAPSHOT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CHUNK_CELLS = 20_000_000  # floats per intermediate matrix (160 MB)

# The ``scores`` rows exactly as the calibration report reads them (one definition, no drift).
SCORE_SCHEMA = pl.Schema(SCORES_TABLE)
BRACKETS_SCHEMA: dict[str, Any] = {
    "market_ticker": pl.String,
    "city": pl.String,
    "climate_day": pl.Date,
    "wins_low_f": pl.Int64,
    "wins_high_f": pl.Int64,
    "market_result": pl.String,
    "expected_result": pl.String,
    "cli_high_f": pl.Int64,
}
PREDICTIONS_SCHEMA: dict[str, Any] = {
    "city": pl.String,
    "climate_day": pl.Date,
    "snapshot_at": UTC_TIME,
    "model_version": pl.String,
    "variant": pl.String,
    "distribution_json": pl.String,
}
QUOTES_SCHEMA: dict[str, Any] = {
    "market_ticker": pl.String,
    "ts": UTC_TIME,
    "yes_bid_cc": pl.Int64,
    "yes_ask_cc": pl.Int64,
}
_PMF_STRUCT = pl.Struct({"lo": pl.Int64, "pmf": pl.List(pl.Float64)})
_EVENT = ("city", "climate_day")


def empty_scores() -> pl.DataFrame:
    return pl.DataFrame(schema=SCORE_SCHEMA)


# --- small vector helpers ------------------------------------------------------------------


def expand(counts: IntArray) -> tuple[IntArray, IntArray]:
    """Groups of sizes ``counts`` laid end to end: each element's group and its position."""
    group = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return group, np.arange(group.size) - starts[group]


def _blocks(counts: IntArray, width: int) -> Iterator[tuple[int, int]]:
    """Consecutive group ranges ``[g0, g1)`` whose elements times ``width`` stay under
    ``CHUNK_CELLS`` (at least one group each)."""
    per_block = max(1, CHUNK_CELLS // max(1, width))
    ends = np.cumsum(counts)
    g0 = 0
    while g0 < counts.size:
        base = ends[g0 - 1] if g0 else 0
        g1 = int(np.searchsorted(ends, base + per_block, side="right"))
        g1 = max(g1, g0 + 1)
        yield g0, g1
        g0 = g1


def _nan_bound(values: pl.Series) -> FloatArray:
    return values.cast(pl.Float64).fill_null(float("nan")).to_numpy()


# --- distributions from JSON ---------------------------------------------------------------


@dataclass(frozen=True)
class Distributions:
    """Stored distributions unpacked: each row's lowest integer, support size and values."""

    lo: IntArray
    size: IntArray
    values: FloatArray  # all rows' pmf values end to end
    valid: npt.NDArray[np.bool_]


def _parse_one(text: str | None) -> tuple[int, list[float]] | None:
    """``{"lo": 84, "pmf": [...]}`` or ``{"84": 0.5, "85": 0.3, ...}``; None if neither."""
    try:
        obj = json.loads(text) if text else None
        if not isinstance(obj, dict) or not obj:
            return None
        if "pmf" in obj:
            return int(obj["lo"]), [float(v) for v in obj["pmf"]]
        probs = {int(k): float(v) for k, v in obj.items()}
    except (ValueError, TypeError, KeyError):
        return None
    lo, hi = min(probs), max(probs)
    return lo, [probs.get(t, 0.0) for t in range(lo, hi + 1)]


def parse_distributions(texts: pl.Series) -> Distributions:
    """Parse ``distribution_json`` (both stored shapes), the common one in one vectorized
    pass; a row that is not a distribution with finite, non-negative mass is invalid."""
    try:
        decoded = texts.str.json_decode(_PMF_STRUCT)
        lo = decoded.struct.field("lo")
        pmf = decoded.struct.field("pmf")
    except pl.exceptions.ComputeError:
        lo = pl.Series([None] * texts.len(), dtype=pl.Int64)
        pmf = pl.Series([None] * texts.len(), dtype=pl.List(pl.Float64))
    slow = (lo.is_null() | pmf.is_null()).to_numpy()
    if slow.any():
        lo_list, pmf_list = lo.to_list(), pmf.to_list()
        for i in np.flatnonzero(slow):
            parsed = _parse_one(texts[int(i)])
            lo_list[i], pmf_list[i] = parsed if parsed else (0, [])
        lo = pl.Series(lo_list, dtype=pl.Int64)
        pmf = pl.Series(pmf_list, dtype=pl.List(pl.Float64))
    size = pmf.list.len().to_numpy().astype(np.int64)
    values = pmf.explode().drop_nulls().to_numpy().astype(np.float64)
    row, _ = expand(size)
    bad = np.bincount(row, weights=~np.isfinite(values) | (values < 0), minlength=size.size)
    mass = np.bincount(row, weights=np.where(np.isfinite(values), values, 0), minlength=size.size)
    valid = (size > 0) & (bad == 0) & (mass > 0)
    return Distributions(lo.to_numpy().astype(np.int64), size, values, valid)


def pmf_matrix(dist: Distributions, rows: IntArray, base: IntArray, width: int) -> FloatArray:
    """The distributions ``rows`` as normalized rows of ``width`` integers, row ``i`` starting
    at the integer ``base[i]``."""
    starts = np.cumsum(dist.size) - dist.size
    out_row, pos = expand(dist.size[rows])
    src = starts[rows][out_row] + pos
    out = np.zeros((rows.size, width))
    out[out_row, (dist.lo[rows] - base)[out_row] + pos] = dist.values[src]
    out /= out.sum(axis=1, keepdims=True)
    return out


def spread_rows(low: FloatArray, high: FloatArray, grid_lo: int, width: int) -> FloatArray:
    """Per bracket (NaN = open end), the distribution of its probability over integers:
    uniform inside a closed bracket, over ``MARKET_TAIL_WIDTH_F`` integers of a tail."""
    start = np.where(np.isnan(low), high - MARKET_TAIL_WIDTH_F + 1, low)
    stop = np.where(np.isnan(high), low + MARKET_TAIL_WIDTH_F - 1, high)
    t = grid_lo + np.arange(width)
    inside = (t[None, :] >= start[:, None]) & (t[None, :] <= stop[:, None])
    return inside / (stop - start + 1)[:, None]


# --- events --------------------------------------------------------------------------------


@dataclass
class Events:
    """Scorable events (one per partition) and their brackets, in bracket order."""

    frame: pl.DataFrame  # city, climate_day, event (index), n_brackets, start, yes_rank, cli
    tickers: pl.Series
    low: FloatArray
    high: FloatArray
    outcome: FloatArray  # 1.0 where the bracket resolved YES
    bracket_event: IntArray
    # Each event's integers are scored on its own grid, ``base`` .. ``base + width - 1``
    # (set by :func:`fit_grids`): narrow, whatever the cities' temperatures.
    base: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    width: int = 0

    @property
    def size(self) -> IntArray:
        return self.frame["n_brackets"].to_numpy().astype(np.int64)

    @property
    def start(self) -> IntArray:
        return self.frame["start"].to_numpy().astype(np.int64)


def settled_events(brackets: pl.DataFrame, notes: Counter[str]) -> Events:
    """The events whose every market is settled with exactly one YES and whose brackets tile."""
    low, high = pl.col("wins_low_f"), pl.col("wins_high_f")
    ordered = brackets.with_columns(outcome=pl.coalesce("market_result", "expected_result")).sort(
        *_EVENT, "wins_low_f", nulls_last=False
    )
    ordered = ordered.with_columns(
        rank=pl.int_range(pl.len()).over(_EVENT),
        prev_high=high.shift(1).over(_EVENT),
    )
    step_ok = (
        pl.when(pl.col("rank") == 0)
        .then(low.is_null())
        .otherwise(low == pl.col("prev_high") + 1)
        .fill_null(False)
    )
    events = ordered.group_by(_EVENT, maintain_order=True).agg(
        n_brackets=pl.len(),
        tiles=step_ok.all() & high.last().is_null(),
        settled=pl.col("outcome").is_in(RESULTS).fill_null(False).all(),
        yes=(pl.col("outcome") == "yes").sum(),
        yes_rank=pl.col("rank").filter(pl.col("outcome") == "yes").first(),
        cli=pl.col("cli_high_f").max(),
    )
    for reason, bad in (
        ("events not settled yet", ~pl.col("settled")),
        ("events whose brackets do not tile the integers", pl.col("settled") & ~pl.col("tiles")),
        (
            "events without exactly one YES",
            pl.col("settled") & pl.col("tiles") & (pl.col("yes") != 1),
        ),
    ):
        if n := events.filter(bad).height:
            notes[reason] += n
    events = events.filter(
        pl.col("settled") & pl.col("tiles") & (pl.col("yes") == 1) & (pl.col("n_brackets") >= 2)
    ).sort(*_EVENT)
    events = events.with_columns(
        event=pl.int_range(pl.len()),
        start=(pl.col("n_brackets").cum_sum() - pl.col("n_brackets")),
    ).select("city", "climate_day", "event", "n_brackets", "start", "yes_rank", "cli")
    kept = ordered.join(events.select(*_EVENT, "event"), on=list(_EVENT)).sort("event", "rank")
    return Events(
        frame=events,
        tickers=kept["market_ticker"],
        low=_nan_bound(kept["wins_low_f"]),
        high=_nan_bound(kept["wins_high_f"]),
        outcome=(kept["outcome"] == "yes").cast(pl.Float64).to_numpy(),
        bracket_event=kept["event"].to_numpy().astype(np.int64),
    )


def fit_grids(events: Events, dist: Distributions, rows: IntArray, event_of: IntArray) -> None:
    """Per event, the integers that hold its brackets (tails spread over
    ``MARKET_TAIL_WIDTH_F``) and every distribution ``rows`` of it (``event_of`` per row);
    one common width, the widest event's."""
    finite_lo = np.fmin(events.low, events.high)
    finite_hi = np.fmax(events.low, events.high)
    base = np.minimum.reduceat(finite_lo, events.start) - MARKET_TAIL_WIDTH_F
    top = np.maximum.reduceat(finite_hi, events.start) + MARKET_TAIL_WIDTH_F
    base, top = base.astype(np.int64), top.astype(np.int64)
    np.minimum.at(base, event_of, dist.lo[rows])
    np.maximum.at(top, event_of, dist.lo[rows] + dist.size[rows] - 1)
    events.base = base
    events.width = int((top - base).max()) + 1 if base.size else 1


# --- scores of stacked distributions --------------------------------------------------------


def _pit(rows: pl.DataFrame, pmf: FloatArray, y: IntArray) -> FloatArray:
    """Randomized PIT, the generator seeded per partition and drawn over the partition's rows
    in their order (subject, identity, snapshot): the same draws whatever else is scored."""
    event = rows["event"].to_numpy()
    order = np.argsort(event, kind="stable")
    pmf, y, event = pmf[order], y[order], event[order]
    cities, days = rows["city"].gather(order).to_list(), rows["climate_day"].gather(order).to_list()
    bounds = np.flatnonzero(np.diff(event)) + 1
    pit = np.empty(event.size)
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, event.size], strict=True):
        seed = zlib.crc32(f"{cities[a]}|{days[a].isoformat()}".encode())
        pit[a:b] = scores.pit_values(pmf[a:b], 0, y[a:b], rng=seed)
    out = np.empty_like(pit)
    out[order] = pit
    return out


def score_stacked(
    rows: pl.DataFrame, pmf: FloatArray, p: FloatArray, events: Events
) -> pl.DataFrame:
    """``scores`` rows for distributions ``pmf`` (on their events' grids) with bracket
    probabilities ``p`` (per row, its event's brackets in order, rows end to end). ``rows``
    has city, climate_day, event, subject, identity, snapshot_at and lead_hours, each
    subject's rows sorted by partition, identity and snapshot."""
    event = rows["event"].to_numpy().astype(np.int64)
    k = events.size[event]
    bracket_row, pos = expand(k)
    bracket = events.start[event][bracket_row] + pos
    outcome = events.outcome[bracket]
    metrics = {name: np.full(event.size, np.nan) for name in EVENT_METRICS}
    yes_rank = events.frame["yes_rank"].to_numpy().astype(np.int64)[event]
    first = np.cumsum(k) - k
    for size in np.unique(k):
        sel = np.flatnonzero(k == size)
        metrics["rps"][sel] = scores.rps(p[first[sel][:, None] + np.arange(size)], yes_rank[sel])
    cli = _nan_bound(events.frame["cli"])[event]
    known = np.flatnonzero(~np.isnan(cli))
    if known.size:
        base = events.base[event][known]
        y = cli[known].astype(np.int64) - base  # on the row's own grid
        median = scores.medians(pmf[known], 0)
        metrics["crps"][known] = scores.crps_integer(pmf[known], 0, y)
        metrics["mae"][known] = np.abs(median - y)
        metrics["median_error"][known] = median - y
        metrics["pit"][known] = _pit(rows[known], pmf[known], y)
    keyed = rows.with_columns(
        *(pl.Series(name, values) for name, values in metrics.items()),
        key=pl.concat_str(
            "identity", pl.lit("@"), pl.col("snapshot_at").dt.strftime(SNAPSHOT_FORMAT)
        ),
    )
    ids = ["city", "climate_day", "subject", "key", "lead_hours"]
    per_event = (
        keyed.unpivot(on=list(EVENT_METRICS), index=ids, variable_name="metric")
        .filter(pl.col("value").is_not_nan())
        .rename({"key": "subject_key"})
    )
    per_bracket = keyed.select(ids)[bracket_row].with_columns(
        subject_key=pl.concat_str("key", pl.lit("#"), events.tickers.gather(bracket))
    )
    out = [per_event.select(list(SCORE_SCHEMA))]
    bracket_scores = (scores.brier(p, outcome), scores.log_loss(p, outcome))
    for metric, values in zip(BRACKET_METRICS, bracket_scores, strict=True):
        out.append(
            per_bracket.with_columns(metric=pl.lit(metric), value=pl.Series(values)).select(
                list(SCORE_SCHEMA)
            )
        )
    return pl.concat(out, how="vertical")


# --- the market at the snapshot times ------------------------------------------------------


def market_mids(quotes: pl.DataFrame, wanted: pl.DataFrame) -> FloatArray:
    """The YES mid (a probability) of each ``wanted`` row's market (``market_ticker``,
    ``snapshot_at``) from its last quote at or before the snapshot; NaN without one."""
    asof = (
        wanted.with_row_index("_i")
        .sort("snapshot_at")
        .join_asof(
            quotes.sort("ts"),
            left_on="snapshot_at",
            right_on="ts",
            by="market_ticker",
            strategy="backward",
            check_sortedness=False,  # both sides sorted just above
        )
        .sort("_i")
    )
    bid = asof["yes_bid_cc"].fill_null(0).cast(pl.Float64)
    ask = asof["yes_ask_cc"].fill_null(PRICE_SCALE).cast(pl.Float64)
    mid = ((bid + ask) / (2 * PRICE_SCALE)).to_numpy()
    return np.where(asof["ts"].is_null().to_numpy(), np.nan, mid)


# --- all subjects ---------------------------------------------------------------------------


@dataclass
class SnapshotScores:
    rows: pl.DataFrame
    notes: Counter[str] = field(default_factory=Counter)
    counts: dict[str, int] = field(default_factory=dict)


def _brackets_of(k: IntArray, event: IntArray, events: Events) -> tuple[IntArray, IntArray]:
    """For rows of ``event`` with ``k`` brackets: each bracket's row and bracket index."""
    row, pos = expand(k)
    return row, events.start[event][row] + pos


def _bracket_probs(pmf: FloatArray, k: IntArray, events: Events, event: IntArray) -> FloatArray:
    """Each row's probability of each bracket of its event (rows' brackets end to end)."""
    out = []
    for g0, g1 in _blocks(k, pmf.shape[1]):
        row, bracket = _brackets_of(k[g0:g1], event[g0:g1], events)
        shift = events.base[events.bracket_event[bracket]]
        out.append(
            bracket_matrix(
                pmf[g0:g1][row], 0, events.low[bracket] - shift, events.high[bracket] - shift
            )
        )
    return np.concatenate(out) if out else np.zeros(0)


def _spread_mix(p: FloatArray, k: IntArray, event: IntArray, events: Events) -> FloatArray:
    """Market distributions: per row, the sum over its brackets of probability x spread."""
    shift = events.base[events.bracket_event]
    spread = spread_rows(events.low - shift, events.high - shift, 0, events.width)
    out = np.zeros((k.size, events.width))
    offsets = np.cumsum(k) - k
    for g0, g1 in _blocks(k, events.width):
        _, bracket = _brackets_of(k[g0:g1], event[g0:g1], events)
        lo = offsets[g0]
        weighted = p[lo : lo + bracket.size, None] * spread[bracket]
        out[g0:g1] = np.add.reduceat(weighted, offsets[g0:g1] - lo, axis=0)
    return out


def _event_index(rows: pl.DataFrame) -> IntArray:
    return rows["event"].to_numpy().astype(np.int64)


def score_snapshots(
    parts: pl.DataFrame,
    brackets: pl.DataFrame,
    predictions: pl.DataFrame,
    quotes: pl.DataFrame,
) -> SnapshotScores:
    """Score every prediction snapshot of ``parts`` (a partition frame with ``day_end``) for
    model, market and blend. Inputs have the ``*_SCHEMA`` columns."""
    notes: Counter[str] = Counter()
    events = settled_events(brackets, notes)
    preds = (
        predictions.join(events.frame.select(*_EVENT, "event"), on=list(_EVENT))
        .join(parts.select(*_EVENT, "day_end"), on=list(_EVENT))
        .sort(*_EVENT, "model_version", "variant", "snapshot_at")
    )
    if preds.height == 0:
        return SnapshotScores(empty_scores(), notes, dict.fromkeys(SUBJECTS, 0))
    dist = parse_distributions(preds["distribution_json"])
    if n_bad := int((~dist.valid).sum()):
        notes["predictions whose distribution_json is not a distribution"] += n_bad
    good = np.flatnonzero(dist.valid)
    model_rows = (
        preds[good]
        .with_columns(
            subject=pl.lit("model"),
            identity=pl.concat_str("model_version", pl.lit("/"), "variant"),
            lead_hours=lead_hours("snapshot_at"),
        )
        .select("city", "climate_day", "event", "subject", "identity", "snapshot_at", "lead_hours")
    )
    event = _event_index(model_rows)
    fit_grids(events, dist, good, event)
    pmf_model = pmf_matrix(dist, good, events.base[event], events.width)
    k = events.size[event]
    p_model = _bracket_probs(pmf_model, k, events, event)

    # The market at the same snapshot times, once per event and snapshot.
    market_rows = (
        model_rows.unique(subset=["event", "snapshot_at"])
        .sort(*_EVENT, "snapshot_at")
        .with_columns(subject=pl.lit("market"), identity=pl.lit(MARKET_IDENTITY))
    )
    m_event = _event_index(market_rows)
    m_k = events.size[m_event]
    m_row, m_bracket = _brackets_of(m_k, m_event, events)
    wanted = pl.DataFrame(
        {
            "market_ticker": events.tickers.gather(m_bracket),
            "snapshot_at": market_rows["snapshot_at"].gather(m_row),
        }
    )
    mids = market_mids(quotes, wanted)
    total = np.add.reduceat(mids, np.cumsum(m_k) - m_k) if mids.size else np.zeros(0)
    complete = np.isfinite(total) & (total > 0)
    if n_missing := int((~complete).sum()):
        notes["market snapshots without a quote for every market"] += n_missing
    p_market = (mids / np.where(complete, total, 1.0)[m_row])[complete[m_row]]
    market_rows = market_rows.filter(pl.Series(complete))
    m_event, m_k = m_event[complete], m_k[complete]
    pmf_market = _spread_mix(p_market, m_k, m_event, events)

    # The blend, wherever the model and the market meet.
    matched = (
        model_rows.with_row_index("_model")
        .join(
            market_rows.select("event", "snapshot_at").with_row_index("_market"),
            on=["event", "snapshot_at"],
        )
        .sort("_model")
    )
    i_model = matched["_model"].to_numpy().astype(np.int64)
    i_market = matched["_market"].to_numpy().astype(np.int64)
    b_row, b_pos = expand(k[i_model])
    from_model = (np.cumsum(k) - k)[i_model][b_row] + b_pos
    from_market = (np.cumsum(m_k) - m_k)[i_market][b_row] + b_pos
    blend_rows = model_rows[i_model].with_columns(
        subject=pl.lit("blend"),
        identity=pl.concat_str(pl.col("identity"), pl.lit("+" + MARKET_IDENTITY)),
    )
    rows = pl.concat([model_rows, market_rows.select(model_rows.columns), blend_rows])
    scored = score_stacked(
        rows,
        np.concatenate([pmf_model, pmf_market, blend(pmf_model[i_model], pmf_market[i_market])]),
        np.concatenate([p_model, p_market, blend(p_model[from_model], p_market[from_market])]),
        events,
    )
    counts = {"model": model_rows.height, "market": market_rows.height, "blend": blend_rows.height}
    return SnapshotScores(scored, notes, counts)
