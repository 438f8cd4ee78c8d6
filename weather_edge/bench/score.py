"""``weather-edge bench score``: scoring 1,000,000 snapshot rows, vectorized vs row by row.

A *snapshot row* is one market of one event at one snapshot time (a ``bracket_predictions``
row): with six markets per event, 1,000,000 rows are 166,667 prediction snapshots (24 per
city and day over 6,945 synthetic day x city partitions, seeded). Each is scored for the
model (its stored ``distribution_json``), the market (the mids of the quotes at the
snapshot, normalized) and their blend: Brier and log loss per market, RPS, CRPS, median
error and PIT per snapshot; plus one shadow would-trade per snapshot (P&L after fees vs EV,
fill rate). That is about 9.5 million ``scores`` rows.

Timed: :func:`weather_edge.scoring.score_inputs` on the in-memory inputs, from the JSON
strings and raw quotes to the finished ``scores`` frame; reading from and writing to the
warehouse is outside the timing (it is the database's speed, not the scoring's).

Baseline: the same scoring written the plain way, one prediction snapshot at a time with
pandas (``iterrows``, the distribution parsed with ``json.loads``, each market's quote
looked up in its own pre-sorted frame, every score a Python loop). It runs on a subset of
the same rows (``BASELINE_SNAPSHOTS`` snapshots, every market and subject, the same trades)
and its time is extrapolated linearly to the full size; it is linear by construction, so
the extrapolation is fair, and the report says so. The two paths must agree on every score
of the subset (the PIT, being randomized, must fall in the same interval) or the run is void.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from scipy.special import ndtr

from weather_edge.forecasting.baselines import BLEND_WEIGHT, MARKET_TAIL_WIDTH_F
from weather_edge.forecasting.scores import LOG_LOSS_EPS
from weather_edge.scoring.frames import partition_frame
from weather_edge.scoring.run import ScoringInputs, score_inputs
from weather_edge.scoring.snapshots import SNAPSHOT_FORMAT
from weather_edge.weather.cities import city_codes, get_city

_SEED = 20_260_930
ROWS = 1_000_000
BRACKETS = 6  # two tails and four 2 °F brackets
SNAPSHOTS = 24  # per event, every 1.5 h over the 36 h before the day ends
PMF_WIDTH = 24
BASELINE_SNAPSHOTS = 1_500
FIRST_DAY = dt.date(2024, 1, 1)
TARGET_S, TARGET_RATIO = 10.0, 5.0


# --- synthetic inputs ------------------------------------------------------------------------


def synthetic_inputs(rows: int = ROWS, seed: int = _SEED) -> ScoringInputs:
    """Seeded, realistic inputs of ``rows`` snapshot rows (``BRACKETS`` per snapshot)."""
    rng = np.random.default_rng(seed)
    codes = city_codes()
    n_snap = math.ceil(rows / BRACKETS)
    n_events = math.ceil(n_snap / SNAPSHOTS)
    event = np.arange(n_events)
    days = [FIRST_DAY + dt.timedelta(days=int(i)) for i in event // len(codes)]
    cities = [codes[i % len(codes)] for i in event]
    parts = partition_frame(list(zip(days, cities, strict=True)))
    center = np.round(rng.normal(62, 16, n_events)).astype(np.int64)
    truth = np.round(center + rng.normal(0, 3, n_events)).astype(np.int64)

    # markets: (-inf, c-5], [c-4, c-3], [c-2, c-1], [c, c+1], [c+2, c+3], [c+4, inf)
    ev = np.repeat(event, BRACKETS)
    k = np.tile(np.arange(BRACKETS), n_events)
    low = np.where(k == 0, np.nan, center[ev] - 6 + 2 * k)
    high = np.where(k == BRACKETS - 1, np.nan, center[ev] - 5 + 2 * k)
    won = (np.isnan(low) | (truth[ev] >= low)) & (np.isnan(high) | (truth[ev] <= high))
    series = [get_city(c).series_ticker for c in cities]
    event_tickers = pl.Series(
        [f"{s}-{d:%y%b%d}".upper() for s, d in zip(series, days, strict=True)]
    )
    suffix = np.where(k == BRACKETS - 1, "T" + (center[ev] + 3).astype(str), "B")
    suffix = np.where(k == 0, "T" + (center[ev] - 4).astype(str), suffix)
    suffix = np.where((k > 0) & (k < BRACKETS - 1), "B" + (low + 0.5).astype(str), suffix)
    tickers = event_tickers.gather(ev) + "-" + pl.Series(suffix)
    result = np.where(won, "yes", "no")
    brackets = pl.DataFrame(
        {
            "market_ticker": tickers,
            "city": parts["city"].gather(ev),
            "climate_day": parts["climate_day"].gather(ev),
            "wins_low_f": pl.Series(low).fill_nan(None).cast(pl.Int64),
            "wins_high_f": pl.Series(high).fill_nan(None).cast(pl.Int64),
            "market_result": result,
            "expected_result": result,
            "cli_high_f": truth[ev],
        }
    )

    # predictions: a discretized Gaussian per snapshot, sharper as the day ends
    snap_event = np.repeat(event, SNAPSHOTS)[:n_snap]
    lead_h = 36.0 - 1.5 * np.tile(np.arange(SNAPSHOTS), n_events)[:n_snap]
    snapshot_at = parts["day_end"].gather(snap_event) - pl.Series(lead_h * 3.6e9).cast(
        pl.Duration("us")
    )
    sd = 1.2 + lead_h / 12
    mu = truth[snap_event] + rng.normal(0.3, 1, n_snap) * sd
    lo = np.floor(mu - PMF_WIDTH / 2).astype(np.int64)
    edges = lo[:, None] + np.arange(PMF_WIDTH + 1)[None, :] - 0.5
    cdf = ndtr((edges - mu[:, None]) / sd[:, None])
    cdf[:, 0], cdf[:, -1] = 0.0, 1.0
    pmf = np.round(np.diff(cdf, axis=1), 10)
    distribution = pl.DataFrame({"lo": lo, "pmf": pmf}).select(
        pl.struct("lo", pl.col("pmf").arr.to_list()).struct.json_encode().alias("json")
    )["json"]
    predictions = pl.DataFrame(
        {
            "city": parts["city"].gather(snap_event),
            "climate_day": parts["climate_day"].gather(snap_event),
            "snapshot_at": snapshot_at,
            "model_version": "bench",
            "variant": "model",
            "distribution_json": distribution,
        }
    )

    # quotes: every market's book 30 s before each snapshot, a 2-4 ¢ spread
    q_snap, q_k = np.repeat(np.arange(n_snap), BRACKETS), np.tile(np.arange(BRACKETS), n_snap)
    q_bracket = snap_event[q_snap] * BRACKETS + q_k
    center_p = np.where(won[q_bracket], 0.55, 0.09) + rng.normal(0, 0.08, q_snap.size)
    mid_cc = np.clip(np.round(center_p * 10_000), 300, 9_700).astype(np.int64)
    half = rng.choice([100, 150, 200], q_snap.size)
    quotes = pl.DataFrame(
        {
            "market_ticker": tickers.gather(q_bracket),
            "ts": snapshot_at.gather(q_snap) - dt.timedelta(seconds=30),
            "yes_bid_cc": mid_cc - half,
            "yes_ask_cc": mid_cc + half,
        }
    )

    # one shadow would-trade per snapshot, on a random market, half of them filled
    t_k = rng.integers(0, BRACKETS, n_snap)
    t_bracket = snap_event * BRACKETS + t_k
    ids = pl.Series([f"d{i}" for i in range(n_snap)])
    price = mid_cc[np.arange(n_snap) * BRACKETS + t_k] + 150
    decisions = pl.DataFrame(
        {
            "decision_id": ids,
            "evaluated_at": snapshot_at,
            "market_ticker": tickers.gather(t_bracket),
            "city": predictions["city"],
            "climate_day": predictions["climate_day"],
            "mode": "shadow",
            "side": "yes",
            "count_cq": 1_000,
            "ev_per_contract_micros": rng.integers(-20_000, 80_000, n_snap),
        }
    )
    filled = np.flatnonzero(rng.random(n_snap) < 0.5)
    orders = pl.DataFrame(
        {"client_order_id": ("o" + ids).gather(filled), "decision_id": ids.gather(filled)}
    )
    fills = pl.DataFrame(
        {
            "fill_id": ("f" + ids).gather(filled),
            "client_order_id": ("o" + ids).gather(filled),
            "market_ticker": tickers.gather(t_bracket[filled]),
            "side": "yes",
            "action": "buy",
            "price_cc": price[filled],
            "count_cq": 1_000,
            "fee_micros": 170_000,
        }
    )
    return ScoringInputs(parts, brackets, predictions, quotes, decisions, orders, fills)


# --- the row-by-row baseline ----------------------------------------------------------------


def _cdf(pmf: dict[int, float], t: int) -> float:
    return sum(p for v, p in pmf.items() if v <= t)


def _distribution_scores(pmf: dict[int, float], y: int) -> dict[str, float]:
    total = 0.0
    for t in range(min(min(pmf), y) - 1, max(max(pmf), y) + 1):
        total += (_cdf(pmf, t) - (1.0 if t >= y else 0.0)) ** 2
    median = min(t for t in sorted(pmf) if _cdf(pmf, t) >= 0.5 - 1e-12)
    return {"crps": total, "mae": abs(median - y), "median_error": median - y}


def _bracket_scores(p: list[float], o: list[int]) -> tuple[list[float], list[float], float]:
    brier = [(q - w) ** 2 for q, w in zip(p, o, strict=True)]
    losses = []
    for q, w in zip(p, o, strict=True):
        q = min(max(q, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS)
        losses.append(-math.log(q) if w else -math.log(1 - q))
    cum_p = cum_o = rps = 0.0
    for q, w in zip(p[:-1], o[:-1], strict=True):
        cum_p, cum_o = cum_p + q, cum_o + w
        rps += (cum_p - cum_o) ** 2
    return brier, losses, rps / (len(p) - 1)


def _spread(low: float, high: float) -> list[int]:
    if math.isnan(low):
        return list(range(int(high) - MARKET_TAIL_WIDTH_F + 1, int(high) + 1))
    if math.isnan(high):
        return list(range(int(low), int(low) + MARKET_TAIL_WIDTH_F))
    return list(range(int(low), int(high) + 1))


def subset(inputs: ScoringInputs, snapshots: int) -> ScoringInputs:
    """The first ``snapshots`` predictions and decisions, and the rows they need."""
    predictions = inputs.predictions.head(snapshots)
    events = predictions.select("city", "climate_day").unique()
    brackets = inputs.brackets.join(events, on=["city", "climate_day"], how="semi")
    decisions = inputs.decisions.head(snapshots)
    orders = inputs.orders.join(decisions, on="decision_id", how="semi")
    return ScoringInputs(
        parts=inputs.parts.join(events, on=["city", "climate_day"], how="semi"),
        brackets=brackets,
        predictions=predictions,
        quotes=inputs.quotes.join(brackets, on="market_ticker", how="semi"),
        decisions=decisions,
        orders=orders,
        fills=inputs.fills.join(orders, on="client_order_id", how="semi"),
    )


def baseline_scores(
    inputs: ScoringInputs, snapshots: int
) -> tuple[dict[tuple[Any, ...], float], float]:
    """Score the first ``snapshots`` prediction snapshots (and their trades) row by row:
    (city, climate_day, subject, subject_key, metric) -> value, and the seconds it took
    (the subset's rows are selected before the clock starts)."""
    inputs = subset(inputs, snapshots)
    started = time.perf_counter()
    predictions = inputs.predictions.to_pandas()
    brackets = inputs.brackets.to_pandas()
    quotes = inputs.quotes.to_pandas()
    # Indexed once, as anyone would: each market's quotes, each event's markets.
    by_market = {t: g.sort_values("ts") for t, g in quotes.groupby("market_ticker")}
    by_event = {
        key: g.sort_values("wins_low_f", na_position="first")
        for key, g in brackets.groupby(["city", "climate_day"])
    }
    out: dict[tuple[Any, ...], float] = {}
    for _, row in predictions.iterrows():
        event = by_event[row.city, row.climate_day]
        obj = json.loads(row.distribution_json)
        model = {obj["lo"] + i: p for i, p in enumerate(obj["pmf"])}
        total = sum(model.values())
        model = {t: p / total for t, p in model.items()}
        lows = event.wins_low_f.astype(float).fillna(math.nan).tolist()
        highs = event.wins_high_f.astype(float).fillna(math.nan).tolist()
        outcome = [1 if r == "yes" else 0 for r in event.market_result]
        p_model = [
            sum(
                p
                for t, p in model.items()
                if (math.isnan(lo) or t >= lo) and (math.isnan(hi) or t <= hi)
            )
            for lo, hi in zip(lows, highs, strict=True)
        ]
        mids = []
        for ticker in event.market_ticker:
            book = by_market[ticker]
            seen = book[book.ts <= row.snapshot_at].iloc[-1]
            mids.append((seen.yes_bid_cc + seen.yes_ask_cc) / 20_000)
        p_market = [m / sum(mids) for m in mids]
        market: dict[int, float] = {}
        for q, lo, hi in zip(p_market, lows, highs, strict=True):
            span = _spread(lo, hi)
            for t in span:
                market[t] = market.get(t, 0.0) + q / len(span)
        w = BLEND_WEIGHT
        p_blend = [w * a + (1 - w) * b for a, b in zip(p_model, p_market, strict=True)]
        blend = {t: w * model.get(t, 0.0) + (1 - w) * market.get(t, 0.0) for t in {*model, *market}}
        snap = row.snapshot_at.strftime(SNAPSHOT_FORMAT)
        identity = f"{row.model_version}/{row.variant}"
        y = int(event.cli_high_f.iloc[0])
        for subject, key, p, dist in (
            ("model", f"{identity}@{snap}", p_model, model),
            ("market", f"mid@{snap}", p_market, market),
            ("blend", f"{identity}+mid@{snap}", p_blend, blend),
        ):
            brier, losses, rps = _bracket_scores(p, outcome)
            c = (row.city, pd.Timestamp(row.climate_day).date())
            out[(*c, subject, key, "rps")] = rps
            for name, value in _distribution_scores(dist, y).items():
                out[(*c, subject, key, name)] = value
            out[(*c, subject, key, "pit")] = _cdf(dist, y - 1)  # the interval's lower end
            for ticker, b, ll in zip(event.market_ticker, brier, losses, strict=True):
                out[(*c, subject, f"{key}#{ticker}", "brier")] = b
                out[(*c, subject, f"{key}#{ticker}", "log_loss")] = ll
    _baseline_trades(inputs, snapshots, out)
    return out, time.perf_counter() - started


def _baseline_trades(
    inputs: ScoringInputs, snapshots: int, out: dict[tuple[Any, ...], float]
) -> None:
    decisions = inputs.decisions.to_pandas()
    orders = inputs.orders.to_pandas().groupby("decision_id")["client_order_id"].apply(set)
    fills = {c: g for c, g in inputs.fills.to_pandas().groupby("client_order_id")}
    results = inputs.brackets.to_pandas().set_index("market_ticker")["market_result"]
    for _, d in decisions.iterrows():
        coids = orders.get(d.decision_id, set())
        mine = pd.concat([fills[c] for c in coids]) if coids else inputs.fills.head(0).to_pandas()
        filled = int(mine.count_cq.abs().sum())
        fees = int(mine.fee_micros.sum())
        pnl = 0
        for _, f in mine.iterrows():
            payout = 10_000 if results[f.market_ticker] == f.side else 0
            pnl += f.count_cq * (payout - f.price_cc) - f.fee_micros
        key = (d.city, pd.Timestamp(d.climate_day).date(), "trade", f"{d['mode']}/{d.decision_id}")
        ev = d.ev_per_contract_micros
        out[(*key, "ev_micros")] = ev * d.count_cq / 100
        out[(*key, "ev_filled_micros")] = ev * filled / 100
        out[(*key, "fill_rate")] = filled / d.count_cq
        out[(*key, "fees_micros")] = fees
        out[(*key, "realized_pnl_micros")] = pnl
        out[(*key, "pnl_minus_ev_micros")] = pnl - ev * filled / 100


def _agree(fast: pl.DataFrame, slow: dict[tuple[Any, ...], float]) -> int:
    """Compare the baseline's scores with the vectorized ones; returns how many matched."""
    columns = ("city", "climate_day", "subject", "subject_key", "metric")
    got = {
        key: v
        for *key_parts, v in fast.select(*columns, "value").iter_rows()
        if (key := tuple(key_parts)) in slow
    }
    if len(got) != len(slow):
        raise RuntimeError(f"the paths scored different rows: {len(got)} vs {len(slow)}: void")
    for key, expected in slow.items():
        value = got[key]
        if key[4] == "pit":  # randomized within [F(y-1), F(y)]: at least the lower end
            ok = value >= expected - 1e-9
        else:
            ok = math.isclose(value, expected, rel_tol=1e-7, abs_tol=1e-9)
        if not ok:
            raise RuntimeError(f"the paths disagree on {key}: {value} vs {expected}: void")
    return len(got)


def run_score_bench(
    rows: int = ROWS,
    baseline_snapshots: int = BASELINE_SNAPSHOTS,
    *,
    repeats: int = 1,
    echo: Callable[[str], Any] | None = None,
) -> str:
    """Run the benchmark and return its report; the last line is
    ``bench score: <x> s for <rows> rows, <R>x baseline``. ``echo`` sees each line as it
    comes (progress for a long run)."""
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if echo is not None:
            echo(line)

    t0 = time.perf_counter()
    inputs = synthetic_inputs(rows)
    n_snap = inputs.predictions.height
    say(
        f"inputs: {rows} snapshot rows = {n_snap} prediction snapshots x {BRACKETS} markets, "
        f"{inputs.parts.height} partitions, {inputs.quotes.height} quotes, "
        f"{inputs.decisions.height} would-trades (built in {time.perf_counter() - t0:.1f} s)"
    )
    best = math.inf
    scored = pl.DataFrame()
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        scored, summary = score_inputs(inputs)
        best = min(best, time.perf_counter() - started)
    say(
        f"vectorized: {best:.2f} s -> {scored.height} score rows "
        f"({dict(summary.snapshots)} snapshots scored; warehouse I/O not timed)"
    )
    sample = min(baseline_snapshots, n_snap)
    slow, slow_s = baseline_scores(inputs, sample)
    matched = _agree(scored, slow)
    per_snapshot = slow_s / sample
    extrapolated = per_snapshot * n_snap
    say(
        f"baseline (row by row, pandas): {slow_s:.2f} s for {sample} snapshots "
        f"({sample * BRACKETS} rows), {per_snapshot * 1e3:.2f} ms each; extrapolated linearly "
        f"to {n_snap} snapshots: {extrapolated:.0f} s; {matched} scores identical"
    )
    ratio = extrapolated / best
    verdict = "meets" if best <= TARGET_S and ratio >= TARGET_RATIO else "misses"
    say(f"targets <= {TARGET_S:g} s and >= {TARGET_RATIO:g}x: {verdict}")
    say(f"bench score: {best:.2f} s for {rows} rows, {ratio:.0f}x baseline")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(run_score_bench(echo=None))
