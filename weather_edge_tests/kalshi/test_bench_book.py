"""The order-book benchmark: a recorded-like stream, both paths agreeing, the summary line."""

from __future__ import annotations

import json
import random
import re

from weather_edge.bench.book import _recorded_seed as recorded_seed
from weather_edge.bench.book import build_stream, run_baseline, run_book_bench, run_fast
from weather_edge.kalshi.recordings import RawOrderbookCapture


def test_stream_is_real_ws_frames_over_the_captured_levels(
    captures: list[RawOrderbookCapture],
) -> None:
    seed = recorded_seed()
    assert seed is not None
    frames = build_stream(2_000, seed, random.Random(1))
    messages = [json.loads(f) for f in frames]
    assert [m["seq"] for m in messages] == list(range(1, len(frames) + 1))
    assert {m["type"] for m in messages[: len(seed.books)]} == {"orderbook_snapshot"}
    deltas = messages[len(seed.books) :]
    assert len(deltas) == 2_000 and {m["type"] for m in deltas} == {"orderbook_delta"}
    captured = {c.market_ticker for c in captures}
    assert {m["msg"]["market_ticker"] for m in deltas} <= captured
    assert all(re.fullmatch(r"-?\d+\.\d\d", m["msg"]["delta_fp"]) for m in deltas)
    # Both paths end with the same books and see the same top-of-book changes.
    fast_books, fast_changes = run_fast(frames)
    base_books, base_changes = run_baseline(frames)
    assert fast_changes == base_changes > len(seed.books)
    for ticker, sides in base_books.items():
        assert dict(fast_books[ticker].levels("yes")) == sides["yes"]
        assert not fast_books[ticker].crossed


def test_summary_line_format() -> None:
    lines: list[str] = []
    summary = run_book_bench(3_000, repeats=1, echo=lines.append)
    assert re.fullmatch(r"bench book: \d+ msg/s, \d+\.\dx baseline", summary)
    assert "msgspec + BookStore" in lines[2] and "baseline" in lines[3]
