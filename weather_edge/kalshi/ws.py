"""Kalshi WebSocket v2 client: one authenticated connection multiplexing every subscription.

What it guarantees to its handlers
----------------------------------
* **Raw first.** Every frame received is handed to the ``sink`` (the ingestion journal)
  *before* anything else happens to it, with its receive time (aware UTC), the connection
  id, and the ``sid``/``seq`` read from the envelope (None when absent or unreadable).
* **A consistent book stream.** Per subscription (server ``sid``) the ``seq`` is tracked:
  a duplicate (``seq`` already seen) is dropped; a gap or a reordering, a malformed
  message on a sequenced subscription, or a delta for a market whose snapshot never came
  marks that subscription's markets *stale* (handlers get a :class:`BooksStale` notice)
  and resubscribes for fresh snapshots. So a handler that simply applies every
  ``orderbook_snapshot`` and ``orderbook_delta`` it receives keeps exact books.
* **Stable local ids.** :meth:`subscribe` returns a local subscription id that survives
  reconnects and resubscriptions; the server's ``sid`` behind it changes.
* **Survival.** Malformed JSON is counted and skipped; a handler that raises is counted and
  logged; a dropped connection is retried with jittered exponential backoff capped at 30 s
  and everything is resubscribed. A watchdog, independent of the connection state, marks
  a subscription stale and resubscribes when it has been silent for ``stale_after``
  seconds, and forces a reconnect when the whole connection has been silent for twice that.
* Pings from the server are answered with pongs by ``websockets`` itself; the client also
  pings (``ping_interval``) and drops a connection whose pongs stop.

Run it bounded: ``await client.run(duration)`` returns after ``duration`` seconds (or when
:meth:`close` is called) with the socket closed and every task finished.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection, connect

from weather_edge.kalshi.auth import HEADER_SIGNATURE, KalshiSigner
from weather_edge.kalshi.book import BookIntegrityError, OrderBook
from weather_edge.kalshi.config import WS_SIGNED_PATH
from weather_edge.kalshi.errors import KalshiProtocolError, KalshiWSCommandError
from weather_edge.kalshi.models import (
    WS_MESSAGE_TYPES,
    Envelope,
    Model,
    WsOrderbookDelta,
    WsOrderbookSnapshot,
    decode,
)

log = logging.getLogger(__name__)

ORDERBOOK_CHANNEL = "orderbook_delta"
SNAPSHOT = "orderbook_snapshot"
DELTA = "orderbook_delta"
REPLY_TYPES = frozenset({"subscribed", "unsubscribed", "ok", "error"})

_ENVELOPE = msgspec.json.Decoder(Envelope)


class _RedactingLogger(logging.LoggerAdapter):
    """``websockets`` logs every handshake header at DEBUG: never the signature."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if len(args) == 2 and str(args[0]).upper() == HEADER_SIGNATURE:
            args = (args[0], "<redacted>")
        super().log(level, msg, *args, **kwargs)


_TRANSPORT_LOG = _RedactingLogger(logging.getLogger("websockets.client"), {})


def _utc_from_ns(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC)


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One frame exactly as received, for the journal."""

    raw: bytes
    received_ns: int  # Unix nanoseconds (time.time_ns)
    connection_id: int
    sid: int | None
    seq: int | None

    @property
    def received_at(self) -> datetime:
        return _utc_from_ns(self.received_ns)


@dataclass(frozen=True, slots=True)
class WsMessage:
    """A decoded data message, delivered to handlers after the sink has the raw frame."""

    type: str
    body: Model
    subscription: int | None  # the stable local subscription id
    sid: int | None
    seq: int | None
    connection_id: int
    received_at: datetime

    @property
    def market_ticker(self) -> str | None:
        return getattr(self.body, "market_ticker", None)


@dataclass(frozen=True, slots=True)
class BooksStale:
    """These markets' books can no longer be trusted; a fresh snapshot will follow."""

    subscription: int
    market_tickers: tuple[str, ...]
    reason: str  # seq_gap | malformed | no_snapshot | watchdog | reconnect | resubscribe
    at: datetime


Event = WsMessage | BooksStale
Handler = Callable[[Event], Awaitable[None] | None]
Sink = Callable[[RawMessage], Awaitable[None] | None]


@dataclass
class WsCounters:
    """Health counters (monotonic, except the ``stale_markets`` gauge)."""

    messages: int = 0  # every frame received
    data_messages: int = 0  # decoded and delivered to handlers
    connections: int = 0
    reconnects: int = 0
    seq_gaps: int = 0
    duplicates: int = 0
    malformed: int = 0
    stale_marks: int = 0  # BooksStale notices sent
    watchdog_trips: int = 0
    resubscribes: int = 0
    orphaned: int = 0  # messages for a sid no longer (or not yet) ours
    handler_errors: int = 0
    command_errors: int = 0
    stale_markets: int = 0  # gauge: markets currently waiting for a snapshot

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass
class _Subscription:
    local_id: int
    channel: str
    markets: set[str]  # empty: every market of the channel
    sid: int | None = None
    last_seq: int | None = None
    last_message: float = 0.0  # monotonic time of the last data message (or of subscribing)
    last_progress: float = 0.0  # monotonic time of the last snapshot or (re)subscription
    fresh: set[str] = field(default_factory=set)  # markets with a snapshot on this sid
    stale: set[str] = field(default_factory=set)  # markets waiting for a snapshot
    seen: set[str] = field(default_factory=set)  # markets that ever had data (all-markets subs)
    requested: set[str] = field(default_factory=set)  # markets named in the last subscribe sent
    resubscribing: bool = False

    @property
    def has_books(self) -> bool:
        return self.channel == ORDERBOOK_CHANNEL

    def book_markets(self) -> set[str]:
        return self.markets | self.seen if self.has_books else set()


@dataclass
class _Pending:
    cmd: str
    future: asyncio.Future[Any]
    connection_id: int
    subscription: _Subscription | None = None
    sid: int | None = None


class KalshiWebSocket:
    """An asyncio client for ``wss://.../trade-api/ws/v2``. See the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        signer: KalshiSigner | None = None,
        sink: Sink | None = None,
        handlers: Sequence[Handler] = (),
        signed_path: str | None = None,
        stale_after: float = 60.0,
        watchdog_interval: float | None = None,
        reconnect_base: float = 0.5,
        reconnect_cap: float = 30.0,
        ping_interval: float | None = 10.0,
        ping_timeout: float | None = 10.0,
        open_timeout: float = 10.0,
        command_timeout: float = 10.0,
        max_size: int | None = 16 * 1024 * 1024,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.signer = signer
        self.sink = sink
        self.handlers: list[Handler] = list(handlers)
        self.signed_path = signed_path or _path_of(url)
        self.stale_after = stale_after
        self.watchdog_interval = watchdog_interval or max(0.05, min(1.0, stale_after / 4))
        self.reconnect_base = reconnect_base
        self.reconnect_cap = reconnect_cap
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.command_timeout = command_timeout
        self.max_size = max_size
        self.counters = WsCounters()
        self._rng = rng or random.Random()
        self._subs: dict[int, _Subscription] = {}
        self._by_sid: dict[int, _Subscription] = {}
        self._pending: dict[int, _Pending] = {}
        self._local_ids = itertools.count(1)
        self._command_ids = itertools.count(1)
        self._ws: ClientConnection | None = None
        self._connection_id = 0
        self._last_frame = 0.0
        self._connected = asyncio.Event()
        self._stop = asyncio.Event()
        self._running = False
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"KalshiWebSocket(url={self.url!r}, {state}, subscriptions={len(self._subs)})"

    # ------------------------------------------------------------------ public API

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._connected.is_set()

    @property
    def connection_id(self) -> int:
        return self._connection_id

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def subscriptions(self) -> dict[int, tuple[str, frozenset[str], int | None]]:
        """Local id -> (channel, markets, current server sid or None)."""
        return {i: (s.channel, frozenset(s.markets), s.sid) for i, s in sorted(self._subs.items())}

    def stale_markets(self) -> set[str]:
        """Markets whose book is waiting for a snapshot (on any orderbook subscription)."""
        out: set[str] = set()
        for sub in self._subs.values():
            out |= sub.stale
        return out

    async def subscribe(
        self, channel: str, market_tickers: Iterable[str] = (), *, wait: bool = True
    ) -> int:
        """Subscribe to one channel (for some markets, or all if none); returns the local id.

        Before :meth:`run` (or while disconnected) the subscription is only registered and is
        sent when the connection opens. Otherwise it is sent now and, with ``wait``, the
        server's answer is awaited (an error answer raises :class:`KalshiWSCommandError`).
        """
        now = _now()
        sub = _Subscription(
            next(self._local_ids), channel, set(market_tickers), last_message=now, last_progress=now
        )
        self._subs[sub.local_id] = sub
        sub.stale = set(sub.markets) if sub.has_books else set()
        self._update_gauge()
        if not self.connected:
            return sub.local_id
        if not wait:
            self._spawn(self._send_subscribe(sub))
            return sub.local_id
        try:
            await self._send_subscribe(sub)
        except KalshiWSCommandError:
            self._subs.pop(sub.local_id, None)  # refused (unknown channel, market...): drop it
            self._update_gauge()
            raise
        except (ConnectionError, TimeoutError) as exc:
            log.info("subscribe %d deferred: %s", sub.local_id, _describe(exc))
        return sub.local_id

    async def unsubscribe(self, local_id: int) -> None:
        sub = self._subs.pop(local_id)
        self._update_gauge()
        if sub.sid is not None:
            self._by_sid.pop(sub.sid, None)
            if self.connected:
                await self._resilient(
                    self._command("unsubscribe", {"sids": [sub.sid]}, sid=sub.sid)
                )

    async def update_subscription(
        self, local_id: int, action: str, market_tickers: Iterable[str]
    ) -> None:
        """``action`` is ``add_markets`` or ``delete_markets``."""
        if action not in ("add_markets", "delete_markets"):
            raise ValueError(f"unknown update_subscription action {action!r}")
        sub = self._subs[local_id]
        tickers = list(dict.fromkeys(market_tickers))
        if action == "add_markets":
            sub.markets.update(tickers)
            if sub.has_books:
                sub.stale.update(t for t in tickers if t not in sub.fresh)
        else:
            sub.markets.difference_update(tickers)
            sub.fresh.difference_update(tickers)
            sub.stale.difference_update(tickers)
            sub.seen.difference_update(tickers)
        self._update_gauge()
        if sub.sid is not None and self.connected:
            params = {"sid": sub.sid, "action": action, "market_tickers": tickers}
            await self._resilient(self._command("update_subscription", params))

    @staticmethod
    async def _resilient(command: Awaitable[Any]) -> None:
        """A command whose loss the client repairs itself (on reconnect, or by the watchdog)."""
        try:
            await command
        except (ConnectionError, TimeoutError) as exc:
            log.info("Kalshi WS command not confirmed: %s", _describe(exc))

    async def add_markets(self, local_id: int, market_tickers: Iterable[str]) -> None:
        await self.update_subscription(local_id, "add_markets", market_tickers)

    async def delete_markets(self, local_id: int, market_tickers: Iterable[str]) -> None:
        await self.update_subscription(local_id, "delete_markets", market_tickers)

    async def list_subscriptions(self) -> list[dict[str, Any]]:
        """The server's view: ``[{"channel", "sid", ...}, ...]``."""
        reply = await self._command("list_subscriptions", None)
        listing = reply.get("msg", reply.get("subscriptions", []))
        return list(listing) if isinstance(listing, list) else []

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def wait_fresh(self, timeout: float | None = None) -> None:
        """Until every subscription is live and no book is waiting for a snapshot."""

        async def _poll() -> None:
            while not (
                self.connected
                and all(s.sid is not None for s in self._subs.values())
                and not self.stale_markets()
            ):
                await asyncio.sleep(0.01)

        await asyncio.wait_for(_poll(), timeout)

    async def run(self, duration: float | None = None) -> None:
        """Connect, read and reconnect until ``duration`` seconds passed or :meth:`close`."""
        if self._running:
            raise RuntimeError("this KalshiWebSocket is already running")
        self._running = True
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        stopper = loop.call_later(duration, self._stop.set) if duration is not None else None
        watchdog = asyncio.create_task(self._watchdog(), name="kalshi-ws-watchdog")
        stop_wait = asyncio.create_task(self._stop.wait(), name="kalshi-ws-stop")
        try:
            failures = 0
            while not self._stop.is_set():
                session = asyncio.create_task(self._session(), name="kalshi-ws-session")
                await asyncio.wait({session, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                healthy = await self._finish_session(session)
                if self._stop.is_set():
                    break
                self.counters.reconnects += 1
                failures = 0 if healthy else failures + 1
                delay = self._reconnect_delay(failures)
                log.info("Kalshi WS reconnecting in %.2fs", delay)
                await asyncio.wait({stop_wait}, timeout=delay)
        finally:
            if stopper is not None:
                stopper.cancel()
            for task in (watchdog, stop_wait, *self._tasks):
                task.cancel()
            await asyncio.gather(watchdog, stop_wait, *self._tasks, return_exceptions=True)
            self._tasks.clear()
            self._running = False

    async def close(self) -> None:
        """Stop :meth:`run` (it returns once the socket is closed)."""
        self._stop.set()
        ws = self._ws
        if ws is not None:
            await ws.close()

    # ------------------------------------------------------------------ connection

    async def _session(self) -> bool:
        """One connection: returns True if it was healthy (received data) before ending."""
        headers = self.signer.ws_headers(self.signed_path) if self.signer is not None else None
        received_before = self.counters.messages
        async with connect(
            self.url,
            additional_headers=headers,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            open_timeout=self.open_timeout,
            close_timeout=2.0,
            max_size=self.max_size,
            logger=_TRANSPORT_LOG,
        ) as ws:
            self._connection_id = max(time.time_ns(), self._connection_id + 1)
            connection_id = self._connection_id
            self._ws = ws
            self._last_frame = _now()
            self.counters.connections += 1
            log.info("Kalshi WS connected (connection %d)", connection_id)
            await self._on_connected()
            self._connected.set()
            try:
                while True:
                    raw = await ws.recv(decode=False)
                    await self._on_frame(raw, connection_id)
            except websockets.ConnectionClosedOK:
                pass
        return self.counters.messages > received_before

    async def _finish_session(self, session: asyncio.Task[bool]) -> bool:
        """Wait for (or end) a session; connection failures are logged, anything else raised."""
        if not session.done():
            ws = self._ws
            if ws is not None:
                await ws.close()
                await asyncio.wait({session}, timeout=3.0)
            if not session.done():
                session.cancel()
                await asyncio.wait({session})
        healthy = False
        try:
            healthy = session.result()
        except asyncio.CancelledError:
            pass
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            log.warning("Kalshi WS connection ended: %s", _describe(exc))
        finally:
            await self._on_disconnected()
        return healthy

    def _reconnect_delay(self, failures: int) -> float:
        ceiling = min(self.reconnect_cap, self.reconnect_base * (2 ** min(failures, 16)))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    async def _on_connected(self) -> None:
        self._by_sid.clear()
        for sub in list(self._subs.values()):
            sub.sid = None
            sub.last_seq = None
            sub.resubscribing = False
            await self._notify_stale(sub, "reconnect")
            self._spawn(self._send_subscribe(sub))

    async def _on_disconnected(self) -> None:
        was_connected = self._ws is not None
        self._ws = None
        self._connected.clear()
        self._by_sid.clear()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(ConnectionError("the Kalshi WS connection closed"))
        self._pending.clear()
        for sub in list(self._subs.values()):
            sub.sid = None
            sub.last_seq = None
            if was_connected:
                await self._notify_stale(sub, "disconnected")

    # ------------------------------------------------------------------ commands

    async def _send_command(
        self,
        cmd: str,
        params: dict[str, Any] | None,
        *,
        subscription: _Subscription | None = None,
        sid: int | None = None,
    ) -> tuple[int, asyncio.Future[Any]]:
        """Send a command with a fresh id; the future gets the server's answer."""
        ws = self._ws
        if ws is None:
            raise ConnectionError("the Kalshi WS is not connected")
        command_id = next(self._command_ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = _Pending(cmd, future, self._connection_id, subscription, sid)
        message: dict[str, Any] = {"id": command_id, "cmd": cmd}
        if params is not None:
            message["params"] = params
        try:
            await ws.send(msgspec.json.encode(message).decode())
        except BaseException:
            self._pending.pop(command_id, None)
            raise
        return command_id, future

    async def _command(
        self,
        cmd: str,
        params: dict[str, Any] | None,
        *,
        subscription: _Subscription | None = None,
        sid: int | None = None,
    ) -> dict[str, Any]:
        """Send a command and wait for its answer (an error answer raises)."""
        command_id, future = await self._send_command(
            cmd, params, subscription=subscription, sid=sid
        )
        try:
            reply: dict[str, Any] = await asyncio.wait_for(future, self.command_timeout)
        finally:
            self._pending.pop(command_id, None)
        return reply

    async def _fire(self, cmd: str, params: dict[str, Any], *, sid: int | None = None) -> None:
        """Send a command without waiting: its answer (or error) is only logged."""
        command_id, future = await self._send_command(cmd, params, sid=sid)

        def done(f: asyncio.Future[Any]) -> None:
            self._pending.pop(command_id, None)
            if not f.cancelled() and f.exception() is not None:
                log.info("Kalshi WS %s refused: %s", cmd, f.exception())

        future.add_done_callback(done)

    async def _send_subscribe(self, sub: _Subscription) -> None:
        params: dict[str, Any] = {"channels": [sub.channel]}
        if sub.markets:
            params["market_tickers"] = sorted(sub.markets)
        sub.requested = set(sub.markets)
        sub.last_message = _now()
        await self._command("subscribe", params, subscription=sub)

    async def _resubscribe(self, sub: _Subscription) -> None:
        """Drop the subscription's current sid and subscribe again for fresh snapshots."""
        if sub.resubscribing:
            return
        sub.resubscribing = True
        self.counters.resubscribes += 1
        try:
            old_sid, sub.sid, sub.last_seq = sub.sid, None, None
            if old_sid is not None:
                self._by_sid.pop(old_sid, None)
                # Commands are processed in order: no need to wait for this answer.
                await self._fire("unsubscribe", {"sids": [old_sid]}, sid=old_sid)
            if sub.local_id in self._subs and self.connected:
                await self._send_subscribe(sub)
        except (ConnectionError, TimeoutError, websockets.WebSocketException) as exc:
            log.info("resubscribe of %s interrupted: %s", sub.local_id, _describe(exc))
        finally:
            sub.resubscribing = False

    def _spawn(self, coro: Awaitable[Any]) -> None:
        async def guarded() -> None:
            try:
                await coro
            except (ConnectionError, TimeoutError, websockets.WebSocketException) as exc:
                log.info("Kalshi WS command interrupted: %s", _describe(exc))
            except KalshiWSCommandError as exc:
                log.warning("Kalshi WS command refused: %s", exc)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_reply(self, env: Envelope, reply: dict[str, Any]) -> None:
        pending = self._pending.get(env.id) if env.id is not None else None
        if pending is None and env.type == "unsubscribed":
            pending = next((p for p in self._pending.values() if p.sid == env.sid), None)
        if pending is not None and pending.future.done():
            pending = None  # a duplicated answer
        body = reply.get("msg")
        if env.type == "error":
            self.counters.command_errors += 1
            info = body if isinstance(body, dict) else {}
            error = KalshiWSCommandError(
                int(info.get("code") or 0),
                str(info.get("msg") or info.get("message") or "error"),
                command=pending.cmd if pending else "?",
            )
            if pending is None:
                log.warning("Kalshi WS error without a pending command: %s", error)
            else:
                pending.future.set_exception(error)
            return
        if pending is None:
            return
        if env.type == "subscribed" and pending.subscription is not None:
            sid = body.get("sid") if isinstance(body, dict) else None
            if not isinstance(sid, int):
                problem = KalshiProtocolError(f"subscribed answer without a sid: {reply!r}")
                pending.future.set_exception(problem)
                return
            self._bind(pending.subscription, sid)
        pending.future.set_result(reply)

    def _bind(self, sub: _Subscription, sid: int) -> None:
        if sub.local_id not in self._subs:  # unsubscribed locally meanwhile
            self._spawn(self._fire("unsubscribe", {"sids": [sid]}, sid=sid))
            return
        sub.sid, sub.last_seq = sid, None
        sub.last_message = sub.last_progress = _now()
        sub.fresh.clear()
        self._by_sid[sid] = sub
        # markets added or deleted while the subscribe was in flight
        for action, tickers in (
            ("add_markets", sub.markets - sub.requested),
            ("delete_markets", sub.requested - sub.markets),
        ):
            if tickers and sub.requested:
                params = {"sid": sid, "action": action, "market_tickers": sorted(tickers)}
                self._spawn(self._fire("update_subscription", params))
        sub.requested = set(sub.markets)

    # ------------------------------------------------------------------ frames

    async def _on_frame(self, raw: bytes, connection_id: int) -> None:
        received_ns = time.time_ns()
        self.counters.messages += 1
        self._last_frame = _now()
        try:
            env: Envelope | None = _ENVELOPE.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            env = None
        sid = env.sid if env is not None else None
        seq = env.seq if env is not None else None
        if self.sink is not None:
            result = self.sink(RawMessage(raw, received_ns, connection_id, sid, seq))
            if inspect.isawaitable(result):
                await result
        if env is None:
            self.counters.malformed += 1
            log.warning("Kalshi WS: malformed frame skipped (%d bytes)", len(raw))
            return
        if env.type in REPLY_TYPES:
            reply = msgspec.json.decode(raw)  # valid JSON: the envelope decoded
            self._on_reply(env, reply if isinstance(reply, dict) else {})
            return
        await self._on_data(env, received_ns, connection_id)

    async def _on_data(self, env: Envelope, received_ns: int, connection_id: int) -> None:
        sub = self._by_sid.get(env.sid) if env.sid is not None else None
        if env.sid is not None and sub is None:
            self.counters.orphaned += 1
            return
        if sub is not None:
            sub.last_message = _now()
            if env.seq is not None:
                if sub.last_seq is not None and env.seq <= sub.last_seq:
                    self.counters.duplicates += 1
                    return
                if sub.last_seq is not None and env.seq != sub.last_seq + 1:
                    self.counters.seq_gaps += 1
                    log.warning(
                        "Kalshi WS seq gap on sid %s: %s after %s", env.sid, env.seq, sub.last_seq
                    )
                    await self._invalidate(sub, "seq_gap")
                    return
                sub.last_seq = env.seq
        message_type = WS_MESSAGE_TYPES.get(env.type)
        if message_type is None or not env.has_msg:
            log.debug("Kalshi WS: ignoring message type %r", env.type)
            return
        try:
            body = decode(message_type, env.msg)
        except KalshiProtocolError as exc:
            self.counters.malformed += 1
            log.warning("Kalshi WS: malformed %s skipped: %s", env.type, exc)
            if sub is not None and env.seq is not None:
                await self._invalidate(sub, "malformed")
            return
        if sub is not None and sub.has_books:
            ticker = getattr(body, "market_ticker", "")
            if sub.markets and ticker not in sub.markets:
                self.counters.orphaned += 1  # e.g. in flight before a delete_markets
                return
            if isinstance(body, WsOrderbookSnapshot):
                sub.last_progress = sub.last_message
                sub.fresh.add(body.market_ticker)
                sub.seen.add(body.market_ticker)
                if body.market_ticker in sub.stale:
                    sub.stale.discard(body.market_ticker)
                    self._update_gauge()
            elif isinstance(body, WsOrderbookDelta) and body.market_ticker not in sub.fresh:
                await self._invalidate(sub, "no_snapshot", extra=(body.market_ticker,))
                return
        self.counters.data_messages += 1
        message = WsMessage(
            env.type,
            body,
            sub.local_id if sub is not None else None,
            env.sid,
            env.seq,
            connection_id,
            _utc_from_ns(received_ns),
        )
        await self._dispatch(message)

    async def _dispatch(self, event: Event) -> None:
        broken: BookIntegrityError | None = None
        for handler in self.handlers:
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except BookIntegrityError as exc:
                self.counters.handler_errors += 1
                broken = exc
            except Exception:
                self.counters.handler_errors += 1
                log.exception("Kalshi WS handler %r failed", handler)
        if broken is not None and isinstance(event, WsMessage) and event.subscription:
            # a handler's book went inconsistent: treat it like a gap on that subscription
            log.warning("Kalshi WS: %s; resubscribing", broken)
            sub = self._subs.get(event.subscription)
            if sub is not None and sub.sid == event.sid:
                await self._invalidate(sub, "book_integrity", (broken.market_ticker,))

    # ------------------------------------------------------------------ staleness

    def _update_gauge(self) -> None:
        self.counters.stale_markets = len(self.stale_markets())

    async def _notify_stale(
        self, sub: _Subscription, reason: str, extra: Iterable[str] = ()
    ) -> None:
        """Mark the subscription's books stale; handlers hear of markets newly stale."""
        if not sub.has_books:
            return
        tickers = sub.book_markets() | set(extra)
        newly = tickers - sub.stale
        sub.fresh.clear()
        sub.stale |= tickers
        self._update_gauge()
        if newly:
            self.counters.stale_marks += 1
            at = datetime.now(UTC)
            await self._dispatch(BooksStale(sub.local_id, tuple(sorted(newly)), reason, at))

    async def _invalidate(self, sub: _Subscription, reason: str, extra: Iterable[str] = ()) -> None:
        """The sid's stream is broken: stale books, ignore the old sid, resubscribe."""
        if sub.sid is not None:
            self._by_sid.pop(sub.sid, None)  # drop whatever else arrives on the old sid
        await self._notify_stale(sub, reason, extra)
        self._spawn(self._resubscribe(sub))

    async def _watchdog(self) -> None:
        """Independent of the connection state: a subscription silent for ``stale_after``
        seconds, or whose stale markets got no snapshot for that long, is marked stale and
        resubscribed; a connection silent for twice that is dropped (and reconnected)."""
        while True:
            await asyncio.sleep(self.watchdog_interval)
            now = _now()
            for sub in list(self._subs.values()):
                if sub.resubscribing:
                    continue
                silent = now - sub.last_message >= self.stale_after
                stuck = bool(sub.stale) and now - sub.last_progress >= self.stale_after
                if not (silent or stuck):
                    continue
                self.counters.watchdog_trips += 1
                sub.last_message = sub.last_progress = now
                log.warning(
                    "Kalshi WS: subscription %d (%s) %s for %.1fs",
                    sub.local_id,
                    sub.channel,
                    "silent" if silent else "without snapshots",
                    self.stale_after,
                )
                if self.connected:
                    await self._invalidate(sub, "watchdog")
                else:
                    await self._notify_stale(sub, "watchdog")
            ws = self._ws
            if ws is not None and now - self._last_frame > 2 * self.stale_after:
                log.warning("Kalshi WS: connection silent, forcing a reconnect")
                self._last_frame = now
                self._spawn(ws.close())


def _now() -> float:
    return time.monotonic()


def _path_of(url: str) -> str:
    return urlsplit(url).path or WS_SIGNED_PATH


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class BookKeeper:
    """A handler keeping an :class:`~weather_edge.kalshi.book.OrderBook` per market.

    It applies every snapshot and delta it is given and marks books stale on
    :class:`BooksStale`; the client's sequencing makes that exact. A book that would go
    negative raises :class:`BookIntegrityError`, which makes the client resubscribe.
    """

    def __init__(self) -> None:
        self.books: dict[str, OrderBook] = {}
        self.top_changes = 0

    def __call__(self, event: Event) -> None:
        if isinstance(event, BooksStale):
            for ticker in event.market_tickers:
                book = self.books.get(ticker)
                if book is not None:
                    book.mark_stale(event.reason)
            return
        body = event.body
        if isinstance(body, WsOrderbookSnapshot):
            book = self.books.get(body.market_ticker)
            if book is None:
                book = self.books[body.market_ticker] = OrderBook(body.market_ticker)
            book.sid = event.sid
            self.top_changes += book.apply_snapshot(body.yes_bids, body.no_bids)
        elif isinstance(body, WsOrderbookDelta):
            book = self.books.get(body.market_ticker)
            if book is None:
                raise BookIntegrityError(body.market_ticker, "delta before any snapshot")
            self.top_changes += book.apply_delta(body.side.value, body.price, body.delta)

    def levels(self, ticker: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(YES bids, NO bids) of a market, best first; empty if unknown."""
        book = self.books.get(ticker)
        if book is None:
            return [], []
        return book.levels("yes"), book.levels("no")

    def stale(self) -> list[str]:
        return sorted(t for t, b in self.books.items() if b.needs_resync)
