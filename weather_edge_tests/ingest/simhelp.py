"""Helpers for running ingestion against the local simulator."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from weather_edge.kalshi.book import BookStore, TopOfBook, decode_book_message
from weather_edge.sim.matching import Side
from weather_edge.sim.server import Simulator, SimulatorConfig, run_simulator
from weather_edge_tests.conftest import KEY_ID

DAY = date(2026, 8, 24)
START = datetime(2026, 8, 24, 12, 0, tzinfo=UTC)


@contextmanager
def simulator(public_pem: bytes, **options: Any) -> Iterator[Simulator]:
    settings: dict[str, Any] = {
        "seed": 21, "cities": ("NYC", "CHI"), "days": (DAY,), "start": START,
        "clock_speed": 0, "rate_limit": None,
    } | options
    with run_simulator(SimulatorConfig(**settings)) as sim:
        sim.register_key(KEY_ID, public_pem)
        sim.advance(60)
        yield sim


@contextmanager
def advancing(sim: Simulator, seconds: float, step_s: float = 30.0) -> Iterator[None]:
    """Move the simulated market along in the background for ``seconds`` of real time."""
    stop = threading.Event()

    def run() -> None:
        end = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < end:
            sim.advance(step_s)
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
        stop.set()
        sim.flush()


def exchange_top(sim: Simulator, ticker: str) -> tuple[int | None, int | None]:
    """The simulator's own best YES bid and YES ask (cc)."""
    book = sim.exchange.book(ticker)
    yes, no = book[Side.YES], book[Side.NO]
    return (yes[-1][0] if yes else None), (10_000 - no[-1][0] if no else None)


def expected_tops(sent: list[str]) -> list[TopOfBook]:
    """Top-of-book changes an independent reader derives from the frames the server sent,
    skipping resent frames (already-seen seq) the way the journal processor must."""
    store, last_seq, tops = BookStore(), {}, []
    for text in sent:
        try:
            envelope = json.loads(text)
        except ValueError:
            continue
        if envelope.get("type") not in ("orderbook_snapshot", "orderbook_delta"):
            continue
        sid, seq = envelope.get("sid"), envelope.get("seq")
        if seq is not None:
            if sid in last_seq and seq <= last_seq[sid]:
                continue
            last_seq[sid] = seq
        try:
            top = store.apply_message(decode_book_message(text))  # type: ignore[arg-type]
        except Exception:
            continue
        if top is not None:
            tops.append(top)
    return tops


def journal_texts(journal_dir: Path) -> list[str]:
    from weather_edge.storage.journal import read_journal

    return [r.raw.decode() for r in read_journal(journal_dir)]
