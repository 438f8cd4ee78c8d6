"""The quote streamer: Kalshi WebSocket -> journal -> derived tables, for a bounded window.

Every frame goes to the journal first (raw bytes, receive time, connection, sid, seq). The
processor follows the journal and writes the derived tables in batches, so what the tables
hold is always derivable from what was journaled, live, after a crash, or in a replay. On
start it first applies whatever an earlier, killed window left unapplied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from weather_edge.ingest.catalog import Catalog, discover
from weather_edge.ingest.processor import BookListener, JournalProcessor
from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.config import KalshiConfig
from weather_edge.kalshi.rest import KalshiRestClient
from weather_edge.kalshi.tickers import parse_market_ticker
from weather_edge.kalshi.ws import KalshiWebSocket, RawMessage
from weather_edge.settings import Settings
from weather_edge.storage import Warehouse, open_warehouse
from weather_edge.storage.journal import NO_SEQ, NO_SID, JournalWriter
from weather_edge.weather.cities import get_city, registry

log = logging.getLogger(__name__)

BOOK_CHANNEL = "orderbook_delta"
DEFAULT_CHANNELS = (BOOK_CHANNEL, "trade", "market_lifecycle_v2")
PER_MARKET_CHANNELS = frozenset({BOOK_CHANNEL, "trade", "ticker"})


@dataclass(frozen=True)
class StreamOptions:
    duration_s: float | None = 4 * 3600.0  # bounded windows let deploys roll over
    cities: tuple[str, ...] = ()  # empty: every registry city
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    catalog_refresh_s: float = 300.0
    apply_interval_s: float = 0.5
    health_interval_s: float = 30.0
    stale_after_s: float = 60.0

    def city_list(self) -> list[Any]:
        return [get_city(c) for c in self.cities] if self.cities else list(registry().values())


@dataclass
class StreamHealth:
    """What the Dagster UI shows about the stream (also returned at the end of a window)."""

    started_at: datetime
    messages: int = 0
    messages_per_s: float = 0.0
    max_lag_s: float = 0.0
    reconnects: int = 0
    seq_gaps: int = 0
    malformed: int = 0
    duplicates: int = 0
    stale_markets: list[str] = field(default_factory=list)
    subscribed_markets: int = 0
    quotes_written: int = 0
    trades_written: int = 0
    lifecycle_written: int = 0
    last_message_age_s: dict[str, float] = field(default_factory=dict)
    catalog_problems: list[str] = field(default_factory=list)
    apply_failures: int = 0

    def metadata(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "messages_per_s": round(self.messages_per_s, 1),
            "max_lag_s": round(self.max_lag_s, 3),
            "reconnects": self.reconnects,
            "seq_gaps": self.seq_gaps,
            "malformed": self.malformed,
            "stale_markets": len(self.stale_markets),
            "subscribed_markets": self.subscribed_markets,
            "quotes_written": self.quotes_written,
            "trades_written": self.trades_written,
            "apply_failures": self.apply_failures,
            **{f"last_message_age_s/{c}": round(a, 1) for c, a in self.last_message_age_s.items()},
        }


class QuoteStreamer:
    """One bounded ingestion window. ``await run()``; ``stop()`` ends it early, cleanly."""

    def __init__(
        self,
        settings: Settings,
        kalshi: KalshiConfig,
        signer: KalshiSigner | None,
        options: StreamOptions | None = None,
        on_health: Callable[[StreamHealth], None] | None = None,
        listener_factory: Callable[[Warehouse], BookListener] | None = None,
    ) -> None:
        self.settings = settings
        self.kalshi = kalshi
        self.signer = signer
        self.options = options or StreamOptions()
        self.on_health = on_health
        self.warehouse = open_warehouse(settings.warehouse_url)
        self.warehouse.migrate()
        self.journal = JournalWriter(settings.journal_dir, flush_every=256)
        listener = listener_factory(self.warehouse) if listener_factory else None
        self.processor = JournalProcessor(self.warehouse, listener=listener)
        self.health = StreamHealth(started_at=datetime.now(UTC))
        self._stop = asyncio.Event()
        self._ws: KalshiWebSocket | None = None
        self._book_subscription: int | None = None
        self._subscribed: set[str] = set()

    def stop(self) -> None:
        self._stop.set()

    @property
    def subscribed(self) -> frozenset[str]:
        """The markets the stream follows now (it tracks the catalog)."""
        return frozenset(self._subscribed)

    def _journal_frame(self, message: RawMessage) -> None:
        self.journal.append(
            message.raw,
            received_ns=message.received_ns,
            connection_id=message.connection_id,
            sid=NO_SID if message.sid is None else message.sid,
            seq=NO_SEQ if message.seq is None else message.seq,
        )

    async def run(self) -> StreamHealth:
        options = self.options
        # Crash-only start: finish applying what a killed window journaled.
        recovered = await asyncio.to_thread(self.processor.catch_up, self.settings.journal_dir)
        if recovered:
            log.info("applied %d journaled records left by an earlier window", recovered)
        async with KalshiRestClient(self.kalshi, signer=self.signer) as rest:
            catalog = await self._refresh_catalog(rest)
            ws = self._ws = KalshiWebSocket(
                self.kalshi.hosts.ws_url,
                signer=self.signer,
                sink=self._journal_frame,
                signed_path=self.kalshi.hosts.ws_path,
                stale_after=options.stale_after_s,
            )
            tickers = catalog.open_tickers
            for channel in options.channels:
                markets = tickers if channel in PER_MARKET_CHANNELS else ()
                local_id = await ws.subscribe(channel, markets, wait=False)
                if channel == BOOK_CHANNEL:
                    self._book_subscription = local_id
            self._subscribed = set(tickers)
            tasks = [
                asyncio.create_task(ws.run(options.duration_s), name="ws"),
                asyncio.create_task(self._apply_loop(), name="apply"),
                asyncio.create_task(self._catalog_loop(rest), name="catalog"),
                asyncio.create_task(self._health_loop(), name="health"),
            ]
            stop_task = asyncio.create_task(self._stop.wait())
            await asyncio.wait([tasks[0], stop_task], return_when=asyncio.FIRST_COMPLETED)
            await ws.close()
            for task in [*tasks[1:], stop_task]:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.journal.close()
        await asyncio.to_thread(self.processor.catch_up, self.settings.journal_dir)
        return self._update_health()

    async def _refresh_catalog(self, rest: KalshiRestClient) -> Catalog:
        catalog = await discover(rest, self.options.city_list())
        self.warehouse.upsert("series", catalog.series_rows, update=True)
        self.warehouse.upsert("markets", catalog.market_rows, update=True)
        self.health.catalog_problems = catalog.problems
        return catalog

    async def _catalog_loop(self, rest: KalshiRestClient) -> None:
        """Follow the catalog: add a new day's markets without reconnecting, drop settled ones."""
        while True:
            await asyncio.sleep(self.options.catalog_refresh_s)
            try:
                catalog = await self._refresh_catalog(rest)
            except Exception as exc:  # a failed refresh must not end the stream
                log.warning("catalog refresh failed: %s", exc)
                continue
            await self.follow_catalog(set(catalog.open_tickers))

    async def follow_catalog(self, open_tickers: set[str]) -> None:
        ws = self._ws
        if ws is None:
            return
        added, dropped = open_tickers - self._subscribed, self._subscribed - open_tickers
        for local_id, (channel, _, _) in ws.subscriptions().items():
            if channel not in PER_MARKET_CHANNELS:
                continue
            if added:
                await ws.add_markets(local_id, sorted(added))
            if dropped:
                await ws.delete_markets(local_id, sorted(dropped))
        if added or dropped:
            log.info("catalog: +%d markets, -%d markets", len(added), len(dropped))
        self._subscribed = set(open_tickers)

    async def _apply_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.apply_interval_s)
            self.journal.flush()
            try:
                await asyncio.to_thread(self.processor.catch_up, self.settings.journal_dir)
            except Exception as exc:  # e.g. the warehouse restarting: the journal keeps it all
                self.health.apply_failures += 1
                log.warning("applying the journal failed (will retry): %s", exc)
                self.processor = JournalProcessor(self.warehouse, listener=self.processor.listener)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.health_interval_s)
            health = self._update_health()
            if self.on_health:
                self.on_health(health)

    def _update_health(self) -> StreamHealth:
        h = self.health
        stats = self.processor.stats
        ws = self._ws
        elapsed = max((datetime.now(UTC) - h.started_at).total_seconds(), 1e-9)
        if ws is not None:
            counters = ws.counters
            h.messages = counters.messages
            h.reconnects = counters.reconnects
            h.seq_gaps = counters.seq_gaps
            h.malformed = counters.malformed
            h.duplicates = counters.duplicates
            h.stale_markets = sorted(ws.stale_markets())
        h.messages_per_s = h.messages / elapsed
        h.max_lag_s = stats.max_lag_s
        h.subscribed_markets = len(self._subscribed)
        h.quotes_written, h.trades_written = stats.quotes, stats.trades
        h.lifecycle_written = stats.lifecycle
        now = datetime.now(UTC)
        ages: dict[str, float] = {}
        for ticker, at in stats.last_received_at.items():
            city = parse_market_ticker(ticker).city.code
            ages[city] = min(ages.get(city, float("inf")), (now - at).total_seconds())
        h.last_message_age_s = ages
        return h


async def stream_window(
    settings: Settings,
    kalshi: KalshiConfig,
    signer: KalshiSigner | None,
    options: StreamOptions | None = None,
    on_health: Callable[[StreamHealth], None] | None = None,
    listener_factory: Callable[[Warehouse], BookListener] | None = None,
) -> StreamHealth:
    started = time.monotonic()
    streamer = QuoteStreamer(settings, kalshi, signer, options, on_health, listener_factory)
    health = await streamer.run()
    log.info("stream window ended after %.0f s: %s", time.monotonic() - started, health.metadata())
    return health
