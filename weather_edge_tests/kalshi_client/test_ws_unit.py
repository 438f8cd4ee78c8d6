"""WebSocket client against a tiny scripted server on a real loopback socket.

Each test scripts exactly which frames the server sends, so sequencing, duplicates, gaps,
malformed frames, stalls, reconnects and pings are checked deterministically. The same
behaviours are exercised against the full simulator in ``test_sim_ws.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from weather_edge.kalshi.auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiSigner,
    verify_signature,
)
from weather_edge.kalshi.errors import KalshiWSCommandError
from weather_edge.kalshi.ws import (
    BookKeeper,
    BooksStale,
    Event,
    KalshiWebSocket,
    RawMessage,
    WsMessage,
)

Script = Callable[[ServerConnection, int, dict[str, Any], int], Awaitable[None]]
A, B = "KXHIGHNY-26SEP02-B84.5", "KXHIGHNY-26SEP02-T82"


def snapshot(sid: int, seq: int, ticker: str, yes: list[list[str]], no: list[list[str]]) -> str:
    msg: dict[str, Any] = {"market_ticker": ticker}
    if yes:
        msg["yes_dollars_fp"] = yes
    if no:
        msg["no_dollars_fp"] = no
    return json.dumps({"type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": msg})


def delta(sid: int, seq: int, ticker: str, side: str, price: str, change: str) -> str:
    msg = {"market_ticker": ticker, "price_dollars": price, "delta_fp": change, "side": side}
    return json.dumps({"type": "orderbook_delta", "sid": sid, "seq": seq, "msg": msg})


class ScriptServer:
    """Answers commands like Kalshi; ``script`` sends data after each ``subscribed``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.commands: list[dict[str, Any]] = []
        self.connections = 0
        self.next_sid = 1
        self.headers: list[dict[str, str]] = []
        self.live: list[ServerConnection] = []

    async def handler(self, ws: ServerConnection) -> None:
        self.connections += 1
        connection = self.connections
        self.live.append(ws)
        assert ws.request is not None
        self.headers.append(dict(ws.request.headers))
        async for text in ws:
            command = json.loads(text)
            self.commands.append(command)
            cid, name, params = command["id"], command["cmd"], command.get("params", {})
            if name == "subscribe":
                sid, self.next_sid = self.next_sid, self.next_sid + 1
                channel = params["channels"][0]
                reply = {"id": cid, "type": "subscribed", "msg": {"channel": channel, "sid": sid}}
                await ws.send(json.dumps(reply))
                await self.script(ws, sid, params, connection)
            elif name == "unsubscribe":
                await ws.send(
                    json.dumps({"id": cid, "sid": params["sids"][0], "type": "unsubscribed"})
                )
            elif name == "update_subscription":
                if params["sid"] == 999:
                    error = {"id": cid, "type": "error", "msg": {"code": 7, "msg": "Unknown sid"}}
                    await ws.send(json.dumps(error))
                else:
                    await ws.send(json.dumps({"id": cid, "sid": params["sid"], "type": "ok"}))
            elif name == "list_subscriptions":
                listing = [{"channel": "orderbook_delta", "sid": self.next_sid - 1}]
                await ws.send(json.dumps({"id": cid, "type": "ok", "msg": listing}))

    def commands_named(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.commands if c["cmd"] == name]


@asynccontextmanager
async def scripted(script: Script) -> AsyncIterator[tuple[ScriptServer, str]]:
    server = ScriptServer(script)
    async with serve(server.handler, "127.0.0.1", 0) as running:
        port = next(iter(running.sockets)).getsockname()[1]
        yield server, f"ws://127.0.0.1:{port}/trade-api/ws/v2"


def _client(url: str, **kwargs: Any) -> tuple[KalshiWebSocket, BookKeeper, list[Any]]:
    books = BookKeeper()
    log: list[Any] = []

    def sink(message: RawMessage) -> None:
        log.append(("raw", message))

    def record(event: Event) -> None:
        log.append(("event", event))

    options: dict[str, Any] = {"reconnect_base": 0.05, "stale_after": 30.0} | kwargs
    client = KalshiWebSocket(url, sink=sink, handlers=[books, record], **options)
    return client, books, log


def test_snapshot_deltas_duplicates_gap_and_malformed(signer: KalshiSigner) -> None:
    async def script(ws: ServerConnection, sid: int, params: dict[str, Any], conn: int) -> None:
        if sid == 1:
            await ws.send(snapshot(1, 1, A, [["0.4000", "10.00"]], [["0.5500", "3.00"]]))
            await ws.send(delta(1, 2, A, "yes", "0.4100", "5.00"))
            await ws.send(delta(1, 2, A, "yes", "0.4100", "5.00"))  # duplicate
            await ws.send("{this is not json")
            await ws.send(delta(1, 3, A, "no", "0.5500", "-1.50"))
            await ws.send(delta(1, 5, A, "yes", "0.4000", "-10.00"))  # gap: 4 lost
            await ws.send(delta(1, 4, A, "yes", "0.4000", "-10.00"))  # late, on a dead sid
        else:  # the resubscription gets the true book
            await ws.send(snapshot(sid, 1, A, [["0.4100", "5.00"]], [["0.5500", "1.50"]]))
            await ws.send(delta(sid, 2, A, "no", "0.5600", "2.00"))

    async def main() -> None:
        async with scripted(script) as (server, url):
            client, books, log = _client(url, signer=signer)
            await client.subscribe("orderbook_delta", [A])
            run = asyncio.create_task(client.run(10))
            await asyncio.wait_for(_until(lambda: _has_level(books, A, "no", 5600)), 5)
            assert books.levels(A) == ([(4100, 500)], [(5600, 200), (5500, 150)])
            counters = client.counters
            assert (counters.duplicates, counters.seq_gaps, counters.malformed) == (1, 1, 1)
            assert counters.resubscribes == 1 and counters.stale_markets == 0
            assert not books.stale()
            await client.close()
            await asyncio.wait_for(run, 5)
            assert books.stale() == [A]  # nothing keeps it current any more
            # the resubscription dropped the old sid first, with unique command ids
            names = [c["cmd"] for c in server.commands]
            assert names == ["subscribe", "unsubscribe", "subscribe"]
            assert server.commands[1]["params"] == {"sids": [1]}
            assert len({c["id"] for c in server.commands}) == len(server.commands)
            # the handshake was signed over GET + the WS path
            _check_signed(signer, server.headers[0])
            # every frame reached the sink first, in order, with its sid and seq
            raws = [m for kind, m in log if kind == "raw"]
            assert len(raws) == counters.messages
            assert [(m.sid, m.seq) for m in raws[1:8]] == [
                (1, 1), (1, 2), (1, 2), (None, None), (1, 3), (1, 5), (1, 4)
            ]  # fmt: skip
            assert all(m.received_at.tzinfo is not None for m in raws)
            first_event = next(i for i, (kind, _) in enumerate(log) if kind == "event")
            assert log[first_event - 1][0] == "raw"
            stale = [e for kind, e in log if kind == "event" and isinstance(e, BooksStale)]
            assert [(s.reason, s.market_tickers) for s in stale] == [
                ("seq_gap", (A,)),
                ("disconnected", (A,)),
            ]

    asyncio.run(main())


def _check_signed(signer: KalshiSigner, headers: dict[str, str]) -> None:
    lower = {k.lower(): v for k, v in headers.items()}
    assert lower[HEADER_KEY.lower()] == signer.key_id
    ts = int(lower[HEADER_TIMESTAMP.lower()])
    assert verify_signature(
        signer.public_key(), ts, "GET", "/trade-api/ws/v2", lower[HEADER_SIGNATURE.lower()]
    )


def _has_level(books: BookKeeper, ticker: str, side: str, price: int) -> bool:
    yes, no = books.levels(ticker)
    return any(p == price for p, _ in (yes if side == "yes" else no))


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.01)


def test_reconnect_resubscribes_everything() -> None:
    async def script(ws: ServerConnection, sid: int, params: dict[str, Any], conn: int) -> None:
        tickers = params.get("market_tickers", [])
        for ticker in tickers:
            await ws.send(
                snapshot(sid, 1 + tickers.index(ticker), ticker, [["0.3000", "1.00"]], [])
            )
        if conn == 1 and sid == 2:
            await ws.close()  # the server drops us once both subscriptions are live

    async def main() -> None:
        async with scripted(script) as (server, url):
            client, books, log = _client(url)
            book_id = await client.subscribe("orderbook_delta", [A, B])
            ticker_id = await client.subscribe("ticker", [A])
            run = asyncio.create_task(client.run(10))
            await asyncio.wait_for(_until(lambda: server.connections >= 2), 5)
            await asyncio.wait_for(client.wait_fresh(), 5)
            subs = client.subscriptions()
            assert set(subs) == {book_id, ticker_id}  # stable local ids
            sid = subs[book_id][2]
            assert sid is not None and sid > 2  # a new server sid
            assert client.counters.reconnects == 1
            stale = [e for kind, e in log if kind == "event" and isinstance(e, BooksStale)]
            assert stale and stale[0].reason == "disconnected"
            assert set(stale[0].market_tickers) == {A, B}
            connection_ids = {m.connection_id for kind, m in log if kind == "raw"}
            assert len(connection_ids) == 2
            await client.close()
            await asyncio.wait_for(run, 5)
            assert books.levels(B) == ([(3000, 100)], [])

    asyncio.run(main())


def test_watchdog_resubscribes_a_silent_subscription() -> None:
    async def script(ws: ServerConnection, sid: int, params: dict[str, Any], conn: int) -> None:
        await ws.send(snapshot(sid, 1, A, [["0.2000", f"{sid}.00"]], []))
        # ...and then nothing: a stall that keeps the connection open and answering pings

    async def main() -> None:
        async with scripted(script) as (server, url):
            client, books, log = _client(url, stale_after=0.3, watchdog_interval=0.05)
            await client.subscribe("orderbook_delta", [A])
            await client.run(1.0)
            assert client.counters.watchdog_trips >= 2
            assert len(server.commands_named("subscribe")) >= 3
            assert client.counters.reconnects == 0
            snapshots = [
                e for kind, e in log if isinstance(e, WsMessage) and e.type == "orderbook_snapshot"
            ]
            assert len(snapshots) >= 3  # a fresh snapshot after every trip
            last_sid = server.next_sid - 1
            assert books.levels(A)[0] == [(2000, last_sid * 100)]

    asyncio.run(main())


def test_commands_and_server_pings() -> None:
    async def script(ws: ServerConnection, sid: int, params: dict[str, Any], conn: int) -> None:
        await ws.send(snapshot(sid, 1, A, [["0.2000", "1.00"]], []))

    async def main() -> None:
        async with scripted(script) as (server, url):
            client, _, _ = _client(url)
            run = asyncio.create_task(client.run(10))
            await client.wait_connected(5)
            local = await client.subscribe("orderbook_delta", [A])
            await client.add_markets(local, [B])
            await client.delete_markets(local, [B])
            listing = await client.list_subscriptions()
            assert listing == [{"channel": "orderbook_delta", "sid": 1}]
            updates = server.commands_named("update_subscription")
            assert [u["params"] for u in updates] == [
                {"sid": 1, "action": "add_markets", "market_tickers": [B]},
                {"sid": 1, "action": "delete_markets", "market_tickers": [B]},
            ]
            # websockets answers the server's pings with pongs on its own
            latency = await asyncio.wait_for(await server.live[0].ping(), 2)
            assert latency >= 0
            client._subs[local].sid = 999  # the server refuses an unknown sid
            with pytest.raises(KalshiWSCommandError) as refused:
                await client.add_markets(local, ["X"])
            assert refused.value.code == 7 and client.counters.command_errors == 1
            await client.close()
            await asyncio.wait_for(run, 5)
            assert not client.connected

    asyncio.run(main())


def test_run_is_bounded_without_a_server() -> None:
    async def main() -> None:
        client = KalshiWebSocket(
            "ws://127.0.0.1:9/trade-api/ws/v2", reconnect_base=0.05, open_timeout=0.5
        )
        await client.subscribe("ticker", [A])
        loop = asyncio.get_running_loop()
        start = loop.time()
        await client.run(0.6)
        assert loop.time() - start < 2.0
        assert client.counters.reconnects >= 2 and client.counters.connections == 0

    asyncio.run(main())
