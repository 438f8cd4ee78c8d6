"""The WebSocket client against the local simulator over real loopback sockets.

The simulator's clock is manual: activity happens only in ``sim.advance``, so once the
client has caught up its books can be compared with the exchange's own, exactly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.errors import KalshiWSCommandError
from weather_edge.kalshi.models import (
    WsFill,
    WsMarketLifecycle,
    WsMarketPosition,
    WsOrderbookDelta,
    WsTicker,
    WsTrade,
)
from weather_edge.kalshi.ws import BookKeeper, BooksStale, KalshiWebSocket, RawMessage, WsMessage
from weather_edge.sim.faults import FaultConfig
from weather_edge.sim.server import Simulator
from weather_edge_tests.kalshi_client.conftest import (
    RecordingSigner,
    exchange_levels,
    sim_client,
    simulator,
    taker_order,
)

PUBLIC_CHANNELS = ("ticker", "trade", "market_lifecycle_v2")
PRIVATE_CHANNELS = ("fill", "market_positions")


async def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def _books_match(sim: Simulator, books: BookKeeper, tickers: list[str]) -> bool:
    return all(books.levels(t) == exchange_levels(sim, t) for t in tickers)


class Recorder:
    """Sink and handler at once: keeps the order in which the client delivered things."""

    def __init__(self) -> None:
        self.raw: list[RawMessage] = []
        self.events: list[WsMessage | BooksStale] = []
        self.order: list[str] = []

    def sink(self, message: RawMessage) -> None:
        self.raw.append(message)
        self.order.append("raw")

    def handle(self, event: WsMessage | BooksStale) -> None:
        self.events.append(event)
        self.order.append("event")

    def bodies(self, kind: type[Any]) -> list[Any]:
        return [
            e.body for e in self.events if isinstance(e, WsMessage) and isinstance(e.body, kind)
        ]


def test_books_and_every_channel_match_the_simulator(
    public_pem: bytes, signer: KalshiSigner
) -> None:
    with simulator(public_pem) as sim:
        tickers = sorted(sim.exchange.markets)

        async def go() -> tuple[KalshiWebSocket, BookKeeper, Recorder, str]:
            books, seen = BookKeeper(), Recorder()
            ws = KalshiWebSocket(
                sim.ws_url, signer=signer, sink=seen.sink, handlers=[books, seen.handle]
            )
            await ws.subscribe("orderbook_delta", tickers)
            for channel in PUBLIC_CHANNELS + PRIVATE_CHANNELS:
                await ws.subscribe(channel)
            run = asyncio.create_task(ws.run(30))
            await ws.wait_fresh(5)
            assert _books_match(sim, books, tickers)
            for _ in range(4):
                await asyncio.to_thread(sim.advance, 30)
            async with sim_client(sim, signer) as rest:  # our own trade: fill and position
                markets = [await rest.get_market(t) for t in tickers]
                market = max(markets, key=lambda m: m.yes_bid or 0)
                placed = await rest.create_order(taker_order(market))
                assert placed.ok and placed.order is not None and placed.order.fill_count > 0
            await asyncio.to_thread(sim.exchange.pause_market, tickers[0])
            await asyncio.to_thread(sim.exchange.resume_market, tickers[0])
            await asyncio.to_thread(sim.advance, 30)
            await _until(lambda: _books_match(sim, books, tickers), 5, "the books")
            await _until(lambda: bool(seen.bodies(WsFill)), 5, "our fill")
            await _until(lambda: len(seen.bodies(WsMarketLifecycle)) >= 2, 5, "lifecycle")
            counters = ws.counters.as_dict()
            listing = await ws.list_subscriptions()
            assert sorted(s["channel"] for s in listing) == sorted(
                ("orderbook_delta", *PUBLIC_CHANNELS, *PRIVATE_CHANNELS)
            )
            await ws.close()
            await asyncio.wait_for(run, 5)
            assert placed.order_id is not None
            assert counters["stale_markets"] == 0
            return ws, books, seen, placed.order_id

        ws, _, seen, order_id = asyncio.run(go())
        counters = ws.counters
        assert (counters.seq_gaps, counters.duplicates, counters.malformed) == (0, 0, 0)
        assert (counters.reconnects, counters.handler_errors, counters.orphaned) == (0, 0, 0)
        # the sink got every frame the simulator sent, byte for byte, in order, first
        (connection,) = sim.connections()
        assert [m.raw.decode() for m in seen.raw] == list(connection.sent)
        assert len({m.connection_id for m in seen.raw}) == 1
        assert all(m.received_at.tzinfo is not None for m in seen.raw)
        assert seen.order[0] == "raw" and seen.order.count("raw") == counters.messages
        deltas = [m for m in seen.raw if m.seq is not None]
        assert deltas and all(m.sid is not None for m in deltas)
        # each channel decoded into exact ints
        assert seen.bodies(WsOrderbookDelta) and seen.bodies(WsTicker) and seen.bodies(WsTrade)
        fills = seen.bodies(WsFill)
        assert {f.order_id for f in fills} == {order_id}
        assert (
            sum(f.count for f in fills)
            == sim.exchange.account(signer.key_id).orders[order_id].filled
        )
        (position,) = {p.market_ticker: p for p in seen.bodies(WsMarketPosition)}.values()
        assert position.position == sum(f.count for f in fills)
        lifecycle = seen.bodies(WsMarketLifecycle)
        assert [e.event_type for e in lifecycle][-2:] == ["deactivated", "activated"]
        own = [d for d in seen.bodies(WsOrderbookDelta) if d.client_order_id]
        assert all(d.client_order_id for d in own)


def _fault_drive(sim: Simulator, seconds: float) -> Callable[[], Any]:
    async def drive() -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await asyncio.to_thread(sim.advance, 15)
            await asyncio.sleep(0.05)

    return drive


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(
            FaultConfig(
                seed=4,
                ws_skip_seq_rate=0.02,
                ws_duplicate_rate=0.02,
                ws_reorder_rate=0.02,
                ws_malformed_rate=0.01,
                ws_stall_after_messages=200,
                ws_stall_seconds=1.5,
            ),
            id="skips-duplicates-reorders-malformed-stall",
        ),
        pytest.param(
            FaultConfig(seed=5, ws_drop_every_seconds=0.7, ws_skip_seq_rate=0.01),
            id="drops",
        ),
    ],
)
def test_the_client_survives_faults_and_converges(
    public_pem: bytes, signer: KalshiSigner, faults: FaultConfig
) -> None:
    with simulator(public_pem, faults=faults) as sim:
        tickers = sorted(sim.exchange.markets)

        async def go() -> KalshiWebSocket:
            books, seen = BookKeeper(), Recorder()
            ws = KalshiWebSocket(
                sim.ws_url,
                signer=signer,
                sink=seen.sink,
                handlers=[books, seen.handle],
                stale_after=0.6,
                watchdog_interval=0.1,
                reconnect_base=0.1,
            )
            await ws.subscribe("orderbook_delta", tickers[:3])
            await ws.subscribe("orderbook_delta", tickers[3:])
            await ws.subscribe("trade")
            run = asyncio.create_task(ws.run(30))
            await _fault_drive(sim, 3.0)()
            await _until(
                lambda: _books_match(sim, books, tickers) and not ws.stale_markets(),
                10,
                "the books to converge",
            )
            await asyncio.sleep(0.3)  # and stay converged
            assert _books_match(sim, books, tickers) and not books.stale()
            await ws.close()
            await asyncio.wait_for(run, 5)
            assert not run.exception()
            # every frame went to the sink, the malformed ones too
            assert len(seen.raw) == ws.counters.messages
            return ws

        counters = asyncio.run(go()).counters
        if faults.ws_drop_every_seconds:
            assert counters.reconnects >= 2 and counters.connections == counters.reconnects + 1
        else:
            assert counters.seq_gaps >= 1 and counters.duplicates >= 1
            assert counters.malformed >= 1 and counters.watchdog_trips >= 1
            assert counters.reconnects == 0
        assert counters.resubscribes >= 1 and counters.handler_errors == 0


def test_handshake_is_authenticated(
    public_pem: bytes, signer: KalshiSigner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with simulator(public_pem, require_ws_auth=True) as sim:
        ticker = sorted(sim.exchange.markets)[0]

        async def go() -> None:
            stranger = RecordingSigner("unknown-key", rsa.generate_private_key(65537, 2048))
            refused = KalshiWebSocket(sim.ws_url, signer=stranger, reconnect_base=0.05)
            await refused.subscribe("ticker", [ticker])
            await refused.run(0.5)  # 401 at every handshake: retried, never crashes
            assert refused.counters.connections == 0 and refused.counters.reconnects >= 2
            assert "401" in caplog.text and len(stranger.signatures) >= 2
            assert not any(signature in caplog.text for signature in stranger.signatures)
            assert "KALSHI-ACCESS-SIGNATURE: <redacted>" in caplog.text  # websockets' DEBUG log

            ws = KalshiWebSocket(sim.ws_url, signer=signer)
            run = asyncio.create_task(ws.run(10))
            await ws.wait_connected(5)
            local = await ws.subscribe("orderbook_delta", [ticker])
            await ws.wait_fresh(5)
            assert ws.subscriptions()[local][2] is not None
            await ws.close()
            await asyncio.wait_for(run, 5)

        asyncio.run(go())

    with simulator(public_pem) as sim:  # unsigned: public channels only

        async def anonymous() -> None:
            ws = KalshiWebSocket(sim.ws_url)
            run = asyncio.create_task(ws.run(10))
            await ws.wait_connected(5)
            with pytest.raises(KalshiWSCommandError) as refused:
                await ws.subscribe("orderbook_delta", sorted(sim.exchange.markets)[:1])
            assert refused.value.code == 9
            assert await ws.subscribe("ticker") and len(ws.subscriptions()) == 1
            await ws.close()
            await asyncio.wait_for(run, 5)

        asyncio.run(anonymous())
