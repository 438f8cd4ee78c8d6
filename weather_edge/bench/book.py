"""``weather-edge bench book``: decode + apply of WebSocket order-book messages.

The stream is recorded-like: the real REST order books of one capture cycle of KXHIGHNY
(the latest one in ``shared/data/kalshi/KXHIGHNY/raw_orderbooks``) become
``orderbook_snapshot`` frames, then a seeded random walk changes those real levels (sizes
drawn from the captured ones, fractional included) and is serialized as real
``orderbook_delta`` envelopes with ``sid``/``seq``. Without the recordings a seeded
synthetic ladder stands in, and the table says so.

Two paths process the same frames, in the same run, each best of ``repeats`` with the
garbage collector paused:

* fast: :class:`~weather_edge.kalshi.book.BookStore` (msgspec structs, int-keyed levels,
  cached best prices, price/size strings memoised -- from cold in every run);
* baseline: the straightforward version -- ``json.loads``, ``money.parse_price`` /
  ``parse_size``, a ``dict`` per side, and ``max()`` over the side to learn the top.

Both check ``seq`` and count top-of-book changes; the run fails unless both end with the
same books and the same number of changes.
"""

from __future__ import annotations

import gc
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from weather_edge.kalshi.book import SIDES, BookStore, Level, OrderBook, clear_parse_caches
from weather_edge.kalshi.recordings import read_raw_orderbooks, shared_series_dir
from weather_edge.money import ONE_DOLLAR_CC, format_price, format_size, parse_price, parse_size

_SEED = 20_260_916


@dataclass(frozen=True)
class _Seed:
    source: str
    books: list[tuple[str, list[Level], list[Level]]]


def _recorded_seed() -> _Seed | None:
    try:
        captures = read_raw_orderbooks(shared_series_dir("KXHIGHNY") / "raw_orderbooks")
    except FileNotFoundError:
        return None
    cycle = max(c.cycle_id for c in captures)
    books = [
        (c.market_ticker, list(c.yes_levels), list(c.no_levels))
        for c in captures
        if c.cycle_id == cycle
    ]
    return _Seed(f"{len(books)} KXHIGHNY books captured in cycle {cycle}", books)


def _synthetic_seed(rng: random.Random) -> _Seed:
    books = []
    for index, fair in enumerate((5, 18, 34, 27, 12, 4)):
        yes = [(c * 100, rng.randint(1, 800) * 100) for c in range(max(1, fair - 20), fair)]
        no = [
            (c * 100, rng.randint(1, 800) * 100) for c in range(max(1, 99 - fair - 20), 100 - fair)
        ]
        books.append((f"KXHIGHNY-26SEP16-SYN{index}", yes, no))
    return _Seed("6 synthetic books (shared recordings not found)", books)


def _snapshot_frame(sid: int, seq: int, ticker: str, yes: list[Level], no: list[Level]) -> bytes:
    msg: dict[str, object] = {"market_ticker": ticker, "market_id": f"id-{ticker}"}
    if yes:  # an empty side is absent, as on the wire
        msg["yes_dollars_fp"] = [[format_price(p), format_size(s)] for p, s in sorted(yes)]
    if no:
        msg["no_dollars_fp"] = [[format_price(p), format_size(s)] for p, s in sorted(no)]
    frame = {"type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": msg}
    return json.dumps(frame, separators=(",", ":")).encode()


def build_stream(n_deltas: int, seed: _Seed, rng: random.Random) -> list[bytes]:
    """Snapshot frames for every seed book, then ``n_deltas`` delta frames (sid 1)."""
    sid, seq = 1, 0
    frames: list[bytes] = []
    state: list[tuple[str, dict[str, dict[int, int]]]] = []
    sizes = [s for _, yes, no in seed.books for _, s in yes + no] or [100]
    for ticker, yes, no in seed.books:
        seq += 1
        frames.append(_snapshot_frame(sid, seq, ticker, yes, no))
        state.append((ticker, {"yes": dict(yes), "no": dict(no)}))
    clock_us = 1_789_569_940_652_404  # 2026-09-16T14:45:40.652404Z
    while len(frames) < len(seed.books) + n_deltas:
        ticker, sides = rng.choice(state)
        side = rng.choice(("yes", "no"))
        levels, other = sides[side], sides["no" if side == "yes" else "yes"]
        ceiling = ONE_DOLLAR_CC - max(other, default=0)  # a bid at or above this would cross
        ranked = sorted(levels, reverse=True)
        roll = rng.random()
        if ranked and roll < 0.75:
            price = ranked[min(int(rng.expovariate(0.6)), len(ranked) - 1)]  # mostly near the top
        else:
            best = ranked[0] if ranked else ceiling // 2
            price = min(max(best + rng.choice((-300, -200, -100, 100)), 100), ceiling - 100)
            if price <= 0:
                continue
        held = levels.get(price, 0)
        if held and rng.random() < 0.5:
            delta = -held if rng.random() < 0.3 else -rng.randint(1, held)
        else:
            delta = rng.choice(sizes)
        levels[price] = held + delta
        if not levels[price]:
            del levels[price]
        seq += 1
        clock_us += rng.randint(200, 90_000)
        seconds, micros = divmod(clock_us, 1_000_000)
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"
        frames.append(
            (
                f'{{"type":"orderbook_delta","sid":{sid},"seq":{seq},"msg":{{'
                f'"market_ticker":"{ticker}","market_id":"id-{ticker}",'
                f'"price_dollars":"{format_price(price)}","delta_fp":"{format_size(delta)}",'
                f'"side":"{side}","ts":"{ts}"}}}}'
            ).encode()
        )
    return frames


def run_fast(frames: Sequence[bytes]) -> tuple[dict[str, OrderBook], int]:
    clear_parse_caches()  # start cold, like a fresh process: no credit for an earlier run
    store = BookStore()
    on_message = store.on_message
    changes = 0
    for raw in frames:
        if on_message(raw) is not None:
            changes += 1
    return store.books, changes


def run_baseline(frames: Sequence[bytes]) -> tuple[dict[str, dict[str, dict[int, int]]], int]:
    books: dict[str, dict[str, dict[int, int]]] = {}
    tops: dict[str, tuple[int, int, int, int]] = {}
    expected: dict[int, int] = {}
    changes = 0
    for raw in frames:
        message = json.loads(raw)
        kind = message.get("type")
        if kind not in ("orderbook_snapshot", "orderbook_delta"):
            continue
        sid, seq = message["sid"], message.get("seq")
        if seq is not None:
            if sid in expected and seq != expected[sid]:
                raise RuntimeError(f"sequence gap on sid {sid}")
            expected[sid] = seq + 1
        body = message["msg"]
        ticker = body["market_ticker"]
        if kind == "orderbook_snapshot":
            books[ticker] = {
                side: {
                    parse_price(p): parse_size(s) for p, s in body.get(f"{side}_dollars_fp") or []
                }
                for side in ("yes", "no")
            }
        else:
            levels = books[ticker][body["side"]]
            price = parse_price(body["price_dollars"])
            size = levels.get(price, 0) + parse_size(body["delta_fp"])
            if size < 0:
                raise RuntimeError(f"{ticker}: negative level")
            if size:
                levels[price] = size
            else:
                levels.pop(price, None)
        yes, no = books[ticker]["yes"], books[ticker]["no"]
        best_yes, best_no = max(yes, default=0), max(no, default=0)
        top = (best_yes, yes.get(best_yes, 0), best_no, no.get(best_no, 0))
        if top != tops.get(ticker) or kind == "orderbook_snapshot":
            tops[ticker] = top
            changes += 1  # a snapshot always counts, as BookStore reports it
    return books, changes


def _best_time(run: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            started = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
    return best


def recorded_stream(n_messages: int, seed_value: int = _SEED) -> tuple[list[bytes], str]:
    """A recorded-like WS stream (snapshots, then deltas) and a line saying where it came from."""
    rng = random.Random(seed_value)
    seed = _recorded_seed() or _synthetic_seed(rng)
    return build_stream(n_messages, seed, rng), seed.source


def run_book_bench(
    n_messages: int = 200_000, *, repeats: int = 3, echo: Callable[[str], None] = print
) -> str:
    """Run the benchmark, ``echo`` the table, and return the summary line
    ``bench book: <N> msg/s, <R>x baseline`` (the caller prints it)."""
    rng = random.Random(_SEED)
    seed = _recorded_seed() or _synthetic_seed(rng)
    frames = build_stream(n_messages, seed, rng)
    fast_books, fast_changes = run_fast(frames)
    base_books, base_changes = run_baseline(frames)
    same_books = all(
        {side: dict(fast_books[t].levels(side)) for side in SIDES} == base_books[t]
        for t in base_books
    )
    if not same_books or fast_changes != base_changes or set(fast_books) != set(base_books):
        raise RuntimeError("the fast path and the baseline disagree: the benchmark is void")
    fast_s = _best_time(lambda: run_fast(frames), repeats)
    base_s = _best_time(lambda: run_baseline(frames), repeats)
    fast_rate, base_rate = len(frames) / fast_s, len(frames) / base_s
    echo(
        f"{len(frames):,} WS frames ({len(seed.books)} snapshots + deltas) from {seed.source}; "
        f"best of {repeats}, one core"
    )
    echo(f"{'path':<36}{'seconds':>9}{'msg/s':>12}{'top changes':>13}")
    echo(f"{'msgspec + BookStore':<36}{fast_s:>9.3f}{fast_rate:>12,.0f}{fast_changes:>13,}")
    echo(
        f"{'stdlib json + dict (baseline)':<36}{base_s:>9.3f}{base_rate:>12,.0f}{base_changes:>13,}"
    )
    return f"bench book: {fast_rate:.0f} msg/s, {fast_rate / base_rate:.1f}x baseline"
