"""Derive the quote, trade and lifecycle tables from journaled WebSocket messages.

This is the one code path from raw messages to tables: the live streamer, a restart after a
crash and a replay of recordings all go through it. It is deterministic in journal order and
idempotent (every derived row has a key built from where its message came from), so
reprocessing a segment after a crash rebuilds the books and writes no duplicate.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from weather_edge.kalshi.book import (
    BookIntegrityError,
    BookStore,
    DeltaMessage,
    OrderBook,
    TopOfBook,
    decode_book_message,
)
from weather_edge.kalshi.errors import KalshiProtocolError
from weather_edge.money import ONE_DOLLAR_CC, parse_price, parse_size
from weather_edge.storage.journal import JournalRecord, read_segment, segments
from weather_edge.storage.warehouse import Warehouse

log = logging.getLogger(__name__)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def exchange_ts_ns(value: Any, fallback_ns: int) -> int:
    """A message's exchange ``ts`` in integer nanoseconds (hot path: no float round trip).

    Kalshi sends Unix seconds, milliseconds or ISO-8601. A missing or unreadable ``ts``
    gives ``fallback_ns`` (the receive time): the message itself is kept, quote or trade.
    """
    if isinstance(value, bool) or value is None:
        return fallback_ns
    if isinstance(value, int):
        return value * (1_000_000 if value > 10**11 else 1_000_000_000)
    if isinstance(value, float):  # exact in decimal: no binary rounding of the instant
        return int(Decimal(repr(value)) * (1_000_000 if value > 10**11 else 1_000_000_000))
    text = str(value)
    if text.isdigit():
        return exchange_ts_ns(int(text), fallback_ns)
    try:
        parsed = datetime.fromisoformat(text)  # 3.11 reads the trailing "Z" itself
    except ValueError:
        return fallback_ns
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return ((parsed - _EPOCH) // _MICROSECOND) * 1000


def parse_exchange_ts(value: Any, fallback: datetime) -> datetime:
    """:func:`exchange_ts_ns` as aware UTC (microseconds)."""
    fallback_ns = ((fallback - _EPOCH) // _MICROSECOND) * 1000
    return _EPOCH + timedelta(microseconds=exchange_ts_ns(value, fallback_ns) // 1000)


class QuoteColumns:
    """Quote rows buffered column by column (the hot path builds no dict or datetime)."""

    __slots__ = (
        "ask",
        "ask_size",
        "bid",
        "bid_size",
        "received_ns",
        "source_id",
        "ticker",
        "ts_ns",
    )

    def __init__(self) -> None:
        self.ticker: list[str] = []
        self.source_id: list[str] = []
        self.ts_ns: list[int] = []
        self.received_ns: list[int] = []
        self.bid: list[int | None] = []
        self.bid_size: list[int | None] = []
        self.ask: list[int | None] = []
        self.ask_size: list[int | None] = []

    @property
    def size(self) -> int:
        return len(self.ticker)

    def add(
        self, top: TopOfBook, source_id: str, ts_ns: int, received_ns: int, sizes_known: bool
    ) -> None:
        self.ticker.append(top.market_ticker)
        self.source_id.append(source_id)
        self.ts_ns.append(ts_ns)
        self.received_ns.append(received_ns)
        self.bid.append(top.yes_bid_cc)
        no_bid = top.no_bid_cc
        self.ask.append(None if no_bid is None else ONE_DOLLAR_CC - no_bid)
        self.bid_size.append(top.yes_bid_cq if sizes_known else None)
        self.ask_size.append(top.no_bid_cq if sizes_known else None)

    def to_arrow(self, source: str) -> pa.Table:
        stamp = pa.timestamp("ns", tz="UTC")
        return pa.table(
            {
                "market_ticker": pa.array(self.ticker, pa.string()),
                "source_id": pa.array(self.source_id, pa.string()),
                "ts": pa.array(self.ts_ns, stamp),
                "received_at": pa.array(self.received_ns, stamp),
                "yes_bid_cc": pa.array(self.bid, pa.int32()),
                "yes_bid_size_cq": pa.array(self.bid_size, pa.int64()),
                "yes_ask_cc": pa.array(self.ask, pa.int32()),
                "yes_ask_size_cq": pa.array(self.ask_size, pa.int64()),
                "source": pa.array([source] * len(self.ticker), pa.string()),
            }
        )


class BookListener(Protocol):
    """Told of every top-of-book change as it is derived (e.g. the trading fast path).

    It may also define ``on_trade(ticker, ts, count_cq)`` and ``flush()``; it must not raise.
    """

    def __call__(
        self, ticker: str, top: TopOfBook, received_ns: int, book: OrderBook | None = None
    ) -> object: ...


@dataclass
class ProcessorStats:
    records: int = 0
    quotes: int = 0
    trades: int = 0
    lifecycle: int = 0
    duplicates: int = 0
    malformed: int = 0
    seq_gaps: int = 0
    dropped_stale: int = 0
    last_received_at: dict[str, datetime] = field(default_factory=dict)
    max_lag_s: float = 0.0


class JournalProcessor:
    """Applies journal records to books and buffers the derived rows for the warehouse."""

    def __init__(
        self,
        warehouse: Warehouse,
        *,
        source: str = "ws",
        sizes_known: bool = True,
        listener: BookListener | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.listener = listener
        self.source = source
        self.sizes_known = sizes_known  # tick logs record prices only
        self.stats = ProcessorStats()
        self._stores: dict[int, BookStore] = {}
        self._last_seq: dict[tuple[int, int], int] = {}
        self._quotes = QuoteColumns()
        self._trades: list[dict[str, Any]] = []
        self._lifecycle: list[dict[str, Any]] = []
        self._market_updates: list[tuple[str, str, str | None]] = []
        self._progress: dict[str, int] = {}
        self._last_received_ns: dict[str, int] = {}

    # -- feeding ------------------------------------------------------------------------

    def process(self, record: JournalRecord) -> None:
        self.stats.records += 1
        sid_key = (record.connection_id, record.sid)
        if record.seq >= 0:
            last = self._last_seq.get(sid_key)
            if last is not None and record.seq <= last:
                self.stats.duplicates += 1  # a resent or reordered frame already applied
                self._progress[record.segment] = record.next_offset
                return
            self._last_seq[sid_key] = record.seq
        try:
            self._apply(record)
        except KalshiProtocolError as exc:
            self.stats.malformed += 1
            log.debug("skipping malformed message at %s: %s", record.position, exc)
        self._progress[record.segment] = record.next_offset

    def _apply(self, record: JournalRecord) -> None:
        raw = record.raw
        message = decode_book_message(raw)
        if message is not None:
            self._apply_book(record, message)
            return
        received_at = record.received_at
        try:
            envelope = json.loads(raw)
        except ValueError as exc:
            raise KalshiProtocolError(f"not JSON: {exc}") from None
        if not isinstance(envelope, dict):
            raise KalshiProtocolError("a message must be a JSON object")
        kind = str(envelope.get("type", ""))
        body = envelope.get("msg") or {}
        if kind == "trade":
            trade = self._trade_row(body, received_at)
            self._trades.append(trade)
            on_trade = getattr(self.listener, "on_trade", None)
            if on_trade is not None:
                on_trade(trade["market_ticker"], trade["ts"], trade["count_cq"])
        elif kind == "market_lifecycle_v2":
            self._lifecycle_row(body, received_at, raw)

    def _apply_book(self, record: JournalRecord, message: Any) -> None:
        store = self._stores.get(record.connection_id)
        if store is None:
            store = self._stores[record.connection_id] = BookStore()
        try:
            top = store.apply_message(message)
        except BookIntegrityError as exc:
            # A gap or a delta to an unknown book: the streamer resubscribes; the book stays
            # untrusted (no quotes written from it) until its next snapshot.
            self.stats.seq_gaps += 1
            log.info("book untrusted at %s: %s", record.position, exc)
            return
        if top is None:
            book = store.books.get(message.msg.market_ticker)
            if type(message) is DeltaMessage and book is not None and book.needs_resync:
                self.stats.dropped_stale += 1
            return
        received_ns = record.received_ns
        ts_ns = received_ns
        if type(message) is DeltaMessage and message.msg.ts is not None:
            ts_ns = exchange_ts_ns(message.msg.ts, received_ns)
            lag_s = (received_ns - ts_ns) / 1e9
            if lag_s > self.stats.max_lag_s:
                self.stats.max_lag_s = lag_s
        self._last_received_ns[top.market_ticker] = received_ns
        self._quotes.add(
            top, f"{record.segment}@{record.offset}", ts_ns, received_ns, self.sizes_known
        )
        if self.listener is not None:
            self.listener(top.market_ticker, top, received_ns, store.books.get(top.market_ticker))

    def _trade_row(self, body: dict[str, Any], received_at: datetime) -> dict[str, Any]:
        try:
            return {
                "trade_id": str(body["trade_id"]),
                "market_ticker": str(body["market_ticker"]),
                "ts": parse_exchange_ts(body.get("ts"), received_at),
                "yes_price_cc": parse_price(body["yes_price_dollars"]),
                "no_price_cc": parse_price(body["no_price_dollars"]),
                "count_cq": parse_size(body["count_fp"]),
                "taker_side": str(body["taker_side"]),
                "source": self.source,
            }
        except (KeyError, ValueError) as exc:
            raise KalshiProtocolError(f"malformed trade: {exc}") from None

    def _lifecycle_row(self, body: dict[str, Any], received_at: datetime, raw: bytes) -> None:
        ticker = body.get("market_ticker")
        event_type = body.get("event_type")
        if not ticker or not event_type:
            return  # event_lifecycle messages (per event, not market) carry no market
        value = body.get("settlement_value")
        self._lifecycle.append(
            {
                "market_ticker": str(ticker),
                "event_type": str(event_type),
                "ts": parse_exchange_ts(body.get("ts"), received_at),
                "result": body.get("result") or None,
                "settlement_value_cc": None if value in (None, "") else parse_price(str(value)),
                "payload": raw.decode("utf-8", errors="replace"),
            }
        )
        status = {
            "activated": "active",
            "deactivated": "inactive",
            "determined": "determined",
            "settled": "finalized",
        }.get(str(event_type))
        if status:
            self._market_updates.append((str(ticker), status, body.get("result") or None))

    # -- writing --------------------------------------------------------------------------

    @property
    def pending_rows(self) -> int:
        return self._quotes.size + len(self._trades) + len(self._lifecycle)

    def flush(self) -> None:
        """Write buffered rows and how far the journal has been applied, in one transaction."""
        wh = self.warehouse
        now = datetime.now(UTC)
        with wh.session() as s:
            if self._quotes.size:
                quotes = self._quotes.to_arrow(self.source)
                self.stats.quotes += wh.upsert("quotes", quotes, session=s, unique_keys=True)
            self.stats.trades += wh.upsert("trades", self._trades, session=s)
            self.stats.lifecycle += wh.upsert("lifecycle_events", self._lifecycle, session=s)
            for ticker, status, result in self._market_updates:
                s.execute(
                    "UPDATE markets SET status = ?, result = COALESCE(?, result), "
                    "updated_at = ? WHERE ticker = ?",
                    (status, result, now, ticker),
                )
            progress = [
                {"segment": seg, "applied_offset": off, "updated_at": now}
                for seg, off in self._progress.items()
            ]
            wh.upsert("journal_progress", progress, update=True, session=s)
        self._quotes = QuoteColumns()
        self._trades, self._lifecycle, self._market_updates = [], [], []
        listener_flush = getattr(self.listener, "flush", None)
        if listener_flush is not None:
            listener_flush()
        self.stats.last_received_at.update(
            {
                t: datetime.fromtimestamp(ns / 1e9, tz=UTC)
                for t, ns in self._last_received_ns.items()
            }
        )

    def stale_markets(self) -> list[str]:
        return sorted({m for store in self._stores.values() for m in store.stale_markets()})

    # -- catching up with a journal directory ---------------------------------------------------

    def applied_offsets(self) -> dict[str, int]:
        rows = self.warehouse.query("SELECT segment, applied_offset FROM journal_progress")
        return {str(segment): int(offset) for segment, offset in rows}

    def catch_up(self, journal_dir: str | Path, batch_rows: int = 20_000) -> int:
        """Apply every record not yet applied; returns how many records were read.

        A segment this processor has not followed from its start is read from byte 0, so its
        books are rebuilt from the snapshots in it (rows already written are deduplicated).
        """
        seen = 0
        applied = None
        for path in segments(journal_dir):
            if path.name not in self._progress:
                applied = self.applied_offsets() if applied is None else applied
                if applied.get(path.name) == path.stat().st_size:
                    self._progress[path.name] = path.stat().st_size  # finished and applied
            start = self._progress.get(path.name, 0)
            for record in read_segment(path, start):
                self.process(record)
                seen += 1
                if not seen % 1024 and self.pending_rows >= batch_rows:
                    self.flush()
        self.flush()
        return seen

    def process_all(self, records: Iterable[JournalRecord]) -> None:
        for record in records:
            self.process(record)
        self.flush()
