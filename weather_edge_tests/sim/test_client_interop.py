"""The platform's own Kalshi client (``weather_edge.kalshi``) against the simulator.

The same client code must run against the simulator, the demo exchange and production: here
it trades over REST and keeps every book from the WebSocket while agents trade at 60x and
the connection is dropped, gapped, duplicated and reordered; once the market goes quiet its
books must equal the exchange's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.book import BookStore
from weather_edge.kalshi.config import KalshiConfig
from weather_edge.kalshi.models import Action, OrderRequest, Side
from weather_edge.kalshi.rest import KalshiRestClient
from weather_edge.kalshi.ws import KalshiWebSocket, RawMessage
from weather_edge.sim.faults import FaultConfig
from weather_edge.sim.matching import Side as BookSide
from weather_edge.sim.server import Simulator

from .conftest import Signer

FAULTS = FaultConfig(
    ws_skip_seq_rate=0.02,
    ws_duplicate_rate=0.02,
    ws_reorder_rate=0.02,
    ws_malformed_rate=0.01,
    ws_drop_every_seconds=1.5,
)


def test_client_trades_and_keeps_exact_books_through_faults(
    make_sim: Callable[..., Simulator], signer: Signer
) -> None:
    sim = make_sim(agents=True, clock_speed=60, faults=FAULTS)
    client_signer = KalshiSigner(signer.key_id, signer.key)
    config = KalshiConfig.for_environment("custom", rest_url=sim.rest_url, ws_url=sim.ws_url)

    async def scenario() -> tuple[dict[str, tuple[list[tuple[int, int]], ...]], int]:
        async with KalshiRestClient(config, signer=client_signer) as rest:
            markets = [m async for m in rest.iter_markets(series_ticker="KXHIGHNY", status="open")]
            assert len(markets) == 12 and markets[0].strike_type == "less"
            placed = await rest.create_order(
                OrderRequest(
                    markets[2].ticker, Side.YES, Action.BUY, 150, 100
                ).with_client_order_id()
            )
            assert placed.ok and placed.order is not None and placed.order.remaining_count == 150
        store = BookStore()

        def sink(message: RawMessage) -> None:
            with contextlib.suppress(Exception):  # gaps, broken frames: the client resubscribes
                store.on_message(message.raw)

        ws = KalshiWebSocket(sim.ws_url, signer=client_signer, sink=sink)
        await ws.subscribe("orderbook_delta", [m.ticker for m in markets], wait=False)
        runner = asyncio.create_task(ws.run())
        await asyncio.sleep(3.0)
        sim.clock.set_speed(0)  # the market goes quiet
        deadline = time.monotonic() + 8
        books = {}
        while time.monotonic() < deadline:
            await asyncio.sleep(0.3)
            books = {
                m.ticker: (
                    store.books[m.ticker].levels("yes")[::-1],
                    store.books[m.ticker].levels("no")[::-1],
                )
                for m in markets
                if m.ticker in store.books and not store.books[m.ticker].needs_resync
            }
            if len(books) == len(markets) and books == _truth(sim, books):
                break
        await ws.close()
        await runner
        return books, ws.counters.reconnects

    books, reconnects = asyncio.run(scenario())
    assert reconnects >= 1  # the drops happened
    assert books == _truth(sim, books) and len(books) == 12


def _truth(
    sim: Simulator, books: dict[str, object]
) -> dict[str, tuple[list[tuple[int, int]], ...]]:
    """The exchange's own books of the same markets, ascending like the client's reversed."""
    out = {}
    for ticker in books:
        book = sim.exchange.book(ticker)
        out[ticker] = (book[BookSide.YES], book[BookSide.NO])
    return out
