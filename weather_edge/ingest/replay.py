"""Replay recorded market data through the live ingestion path into the same tables.

Sources: the journal's own segment files, and the real recordings laid out like
``shared/data/kalshi/<SERIES>/`` (tick logs, order-book summaries, raw REST order books).
Each recorded top of book or book becomes the WebSocket ``orderbook_snapshot`` it stands
for and goes through :class:`~weather_edge.ingest.processor.JournalProcessor`, so every
downstream asset sees history exactly as it would have seen live data.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from weather_edge.ingest.markets import market_row
from weather_edge.ingest.processor import JournalProcessor, ProcessorStats
from weather_edge.kalshi.book import Level
from weather_edge.kalshi.recordings import read_orderbook_summaries, read_raw_orderbooks, read_ticks
from weather_edge.kalshi.tickers import infer_event_brackets
from weather_edge.money import ONE_DOLLAR_CC, format_price, format_size
from weather_edge.storage.journal import NO_SEQ, JournalRecord, segments
from weather_edge.storage.warehouse import Warehouse

Progress = Callable[[str, int, int], None]
UNKNOWN_SIZE_CQ = 100  # tick logs carry prices only; the quote rows record the size as unknown


class ReplayError(ValueError):
    """A path that holds nothing this command knows how to replay."""


@dataclass
class ReplayResult:
    kind: str
    records: int
    markets: int
    stats: ProcessorStats


def snapshot_message(ticker: str, yes: list[Level], no: list[Level]) -> bytes:
    """The WebSocket ``orderbook_snapshot`` for a book (levels ascending, best bid last)."""
    msg: dict[str, object] = {"market_ticker": ticker}
    if yes:
        msg["yes_dollars_fp"] = [[format_price(p), format_size(s)] for p, s in sorted(yes)]
    if no:
        msg["no_dollars_fp"] = [[format_price(p), format_size(s)] for p, s in sorted(no)]
    return json.dumps({"type": "orderbook_snapshot", "sid": 0, "msg": msg}).encode()


def _record(source: str, index: int, ts: datetime, raw: bytes) -> JournalRecord:
    return JournalRecord(
        segment=f"replay:{source}",
        offset=index,
        next_offset=index + 1,
        received_ns=int(ts.timestamp() * 1_000_000) * 1000,
        connection_id=zlib.crc32(source.encode()),
        sid=0,
        seq=NO_SEQ,
        raw=raw,
    )


def _level(price_cc: int | None, size_cq: int | None) -> list[Level]:
    return [] if price_cc is None else [(price_cc, size_cq or UNKNOWN_SIZE_CQ)]


def tick_records(frame: pl.DataFrame, source: str) -> Iterator[JournalRecord]:
    for i, row in enumerate(frame.iter_rows(named=True)):
        raw = snapshot_message(
            row["market_ticker"], _level(row["yes_bid_cc"], None), _level(row["no_bid_cc"], None)
        )
        yield _record(source, i, row["ts_utc"], raw)


def summary_records(frame: pl.DataFrame, source: str) -> Iterator[JournalRecord]:
    for i, row in enumerate(frame.sort("fetched_at", maintain_order=True).iter_rows(named=True)):
        no_bid = row["no_bid_cc"]
        if no_bid is None and row["yes_ask_cc"] is not None and row["yes_ask_cc"] < ONE_DOLLAR_CC:
            no_bid = ONE_DOLLAR_CC - row["yes_ask_cc"]
        raw = snapshot_message(
            row["market_ticker"],
            _level(row["yes_bid_cc"], row["yes_bid_cq"]),
            _level(no_bid, row["no_bid_cq"]),
        )
        yield _record(source, i, row["fetched_at"], raw)


def _kinds(path: Path) -> dict[str, Path]:
    """What a path holds: the journal, or any of the three kinds of recording."""
    if path.is_file():
        name = path.name
        if name.endswith(".wej"):
            return {"journal": path.parent}
        if name.startswith("market_data_"):
            return {"ticks": path}
        if name.startswith("orderbook_summary_"):
            return {"summaries": path}
        if name.endswith(".jsonl"):
            return {"raw_orderbooks": path}
        raise ReplayError(f"{path}: not a journal segment or a known recording")
    if not path.is_dir():
        raise ReplayError(f"{path} does not exist")
    found: dict[str, Path] = {}
    if segments(path):
        found["journal"] = path
    if list(path.glob("market_data_*.csv.gz")):
        found["ticks"] = path
    if (path / "ticks").is_dir():
        found["ticks"] = path / "ticks"
    if list(path.glob("orderbook_summary_*.csv")):
        found["summaries"] = path
    if list(path.glob("*.jsonl")):
        found["raw_orderbooks"] = path
    if (path / "raw_orderbooks").is_dir():
        found["raw_orderbooks"] = path / "raw_orderbooks"
    if not found:
        raise ReplayError(f"{path}: no journal segments or recordings found")
    return found


def _paced(records: Iterator[JournalRecord], speed: float | None) -> Iterator[JournalRecord]:
    """Release records at their recorded pace times ``speed`` (None: as fast as possible)."""
    if not speed:
        yield from records
        return
    first_ns: int | None = None
    started = time.monotonic()
    for record in records:
        first_ns = record.received_ns if first_ns is None else first_ns
        due = (record.received_ns - first_ns) / 1e9 / speed
        wait = due - (time.monotonic() - started)
        if wait > 0:
            time.sleep(wait)
        yield record


def replay(
    path: str | Path,
    warehouse: Warehouse,
    *,
    speed: float | None = None,
    progress: Progress | None = None,
    batch_rows: int = 50_000,
) -> list[ReplayResult]:
    """Replay everything under ``path`` into ``warehouse``; idempotent (a rerun adds nothing)."""
    results = []
    for kind, source in _kinds(Path(path)).items():
        if kind == "journal":
            processor = JournalProcessor(warehouse)
            count = processor.catch_up(source, batch_rows=batch_rows)
            results.append(ReplayResult(kind, count, 0, processor.stats))
            continue
        if kind == "raw_orderbooks":
            captures = read_raw_orderbooks(source)
            tickers = [c.market_ticker for c in captures]
            records: Iterator[JournalRecord] = (
                _record(
                    source.name,
                    i,
                    c.fetched_at,
                    snapshot_message(c.market_ticker, list(c.yes_levels), list(c.no_levels)),
                )
                for i, c in enumerate(sorted(captures, key=lambda c: c.fetched_at))
            )
            total = len(captures)
        else:
            frame = read_ticks(source) if kind == "ticks" else read_orderbook_summaries(source)
            tickers = frame["market_ticker"].unique().to_list()
            total = frame.height
            reader = tick_records if kind == "ticks" else summary_records
            records = reader(frame, source.name)
        brackets = infer_event_brackets(tickers)
        markets = [market_row(t, b, status="finalized") for t, b in sorted(brackets.items())]
        warehouse.upsert("markets", markets)
        processor = JournalProcessor(warehouse, source=kind, sizes_known=kind != "ticks")
        for done, record in enumerate(_paced(records, speed), start=1):
            processor.process(record)
            if processor.pending_rows >= batch_rows:
                processor.flush()
                if progress:
                    progress(kind, done, total)
        processor.flush()
        if progress:
            progress(kind, total, total)
        results.append(ReplayResult(kind, total, len(markets), processor.stats))
    return results
