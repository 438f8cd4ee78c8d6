"""The simulator's network face: Kalshi's REST API and WebSocket v2 on one port.

* REST under ``/trade-api/v2`` and the WebSocket at ``/trade-api/ws/v2``, speaking the
  wire protocol of ``design/kalshi-api.md`` (fixed-point strings, cursors, error JSON);
* the same authentication as Kalshi: RSA-PSS (SHA-256, MGF1 SHA-256, 32-byte salt) over
  ``timestamp_ms + METHOD + path`` (no query string), checked against registered public
  keys; a bad or stale signature gets 401 ``{"error": {"code", "message", "details"}}``.
  Portfolio endpoints, private channels and ``orderbook_delta`` need a key; public market
  data may be read without one;
* a token bucket per key (or per client address when anonymous): 429 with ``Retry-After``
  beyond ``rate_limit`` requests per second;
* WebSocket pings every ``ping_interval`` seconds (payload ``heartbeat``);
* fault injection (:mod:`weather_edge.sim.faults`).

Python API::

    with run_simulator(SimulatorConfig(seed=7, cities=("NYC",), clock_speed=0)) as sim:
        sim.register_key("my-key", public_key_pem)
        ... httpx against sim.rest_url, websockets against sim.ws_url ...
        sim.advance(3600)            # a manual clock moves only when told
        sim.exchange.book(ticker)    # the authoritative state

The command line (``weather-edge sim``) calls :func:`serve_forever`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import math
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import msgspec
import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from weather_edge.money import format_price, format_size
from weather_edge.sim.agents import AgentPool, AgentSettings
from weather_edge.sim.clock import SimClock, wall_clock_start
from weather_edge.sim.exchange import (
    EventLifecycleUpdate,
    Exchange,
    ExchangeEvent,
    ExchangeSettings,
    LifecycleUpdate,
    PositionUpdate,
    SimulatedWeatherSource,
    TickerUpdate,
    WeatherSource,
    default_weather,
    event_json,
    fill_json,
    format_micros,
    levels_json,
    market_json,
    micros_to_centi_cents,
    micros_to_cents,
    order_json,
    paginate,
    parse_count,
    parse_order_request,
    parse_yes_price,
    rfc3339,
    trade_json,
    unix,
)
from weather_edge.sim.faults import FaultConfig, Frame, RestFaults, WsFaults
from weather_edge.sim.matching import BookDelta, Fill, OrderRejected, Side, Trade

log = logging.getLogger(__name__)

REST_PREFIX = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"
NWS_PREFIX = "/nws"  # api.weather.gov-shaped routes of the same simulated weather
HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"
BATCH_LIMIT = 20


# ====================================================================== configuration


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything a simulator run needs. ``port=0`` picks a free port."""

    seed: int = 0
    cities: tuple[str, ...] = ()  # registry codes; empty: every city of the registry
    days: tuple[date, ...] = ()  # climate days to list; empty: list like Kalshi, daily
    start: datetime | None = None  # the simulated start instant; None: now
    clock_speed: float = 1.0  # simulated seconds per real second; 0: manual (stepped) clock
    rate_limit: float | None = 20.0  # requests per second per key; None: no limit
    rate_burst: float | None = None  # bucket size; None: one second's worth
    auth_skew_seconds: float = 30.0  # how old (or early) a signed timestamp may be
    require_ws_auth: bool = False  # refuse unsigned WebSocket connections
    faults: FaultConfig = field(default_factory=FaultConfig)
    host: str = "127.0.0.1"
    port: int = 0
    agents: bool = True
    agent_settings: AgentSettings = field(default_factory=AgentSettings)
    step_seconds: float = 5.0  # the agents' step (simulated seconds)
    tick_seconds: float = 0.05  # how often (real seconds) the simulation catches up
    ping_interval: float | None = 10.0
    starting_balance_cents: int = 1_000_000
    determination_delay: timedelta = timedelta(hours=7)
    settlement_delay: timedelta = timedelta(minutes=30)
    fee_type: str = "quadratic"
    ws_record_limit: int | None = 100_000  # frames kept per connection in exchange.sent
    keys: tuple[tuple[str, str], ...] = ()  # (key id, public key PEM) registered at start
    weather: WeatherSource | None = None  # None: the weather simulator (sim/weather.py)
    serve_weather: bool = True  # also serve its NWS API under /nws (same clock, same truth)


# ====================================================================== auth and limits


class AuthError(Exception):
    pass


def verify_signature(
    public_key: rsa.RSAPublicKey, timestamp: str, method: str, path: str, signature: str
) -> bool:
    """Kalshi's scheme: RSA-PSS/SHA-256 over ``timestamp + METHOD + path`` (no query)."""
    message = f"{timestamp}{method.upper()}{path.split('?', 1)[0]}".encode()
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(
            raw,
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


class RateLimiter:
    """A token bucket per caller; ``acquire`` answers 0 or the seconds to wait."""

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate or 0.0, 1.0)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, caller: str, cost: float = 1.0) -> float:
        if self.rate is None:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.get(caller, (self.burst, now))
            tokens = min(self.burst, tokens + (now - stamp) * self.rate)
            if tokens >= cost:
                self._buckets[caller] = (tokens - cost, now)
                return 0.0
            self._buckets[caller] = (tokens, now)
            return (cost - tokens) / self.rate


def error_body(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


# ====================================================================== WebSocket state

PUBLIC_CHANNELS = frozenset({"ticker", "trade", "market_lifecycle_v2"})
PRIVATE_CHANNELS = frozenset({"orderbook_delta", "fill", "market_positions"})
CHANNELS = PUBLIC_CHANNELS | PRIVATE_CHANNELS
COMMANDS = frozenset({"subscribe", "unsubscribe", "update_subscription", "list_subscriptions"})

WS_ERRORS = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    6: "Already subscribed",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    9: "Authentication required",
    10: "Channel error",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market ticker required",
    15: "Action required",
    16: "Market not found",
    17: "Internal error",
}


class WsCommandError(Exception):
    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(WS_ERRORS[code])
        self.code = code
        self.detail = detail


def _encode(obj: Any) -> str:
    return msgspec.json.encode(obj).decode()


@dataclass
class _Subscription:
    sid: int
    channel: str
    tickers: set[str] | None  # None: every market
    seq: int = 0
    versions: dict[str, int] = field(default_factory=dict)  # book version of each snapshot

    def covers(self, ticker: str) -> bool:
        return self.tickers is None or ticker in self.tickers


class _Connection:
    """One WebSocket client: its subscriptions, its outgoing queue, its faults."""

    def __init__(
        self, conn_id: int, account: str | None, websocket: WebSocket, faults: WsFaults
    ) -> None:
        self.conn_id = conn_id
        self.account = account
        self.websocket = websocket
        self.faults = faults
        self.queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.subs: dict[int, _Subscription] = {}

    def reply(self, message: dict[str, Any]) -> None:
        self.queue.put_nowait(Frame(_encode(message)))

    def data(self, sub: _Subscription, kind: str, msg: dict[str, Any], *, seq: bool) -> None:
        envelope: dict[str, Any] = {"type": kind, "sid": sub.sid}
        if seq:
            sub.seq += 1
            envelope["seq"] = sub.seq
        envelope["msg"] = msg
        droppable = kind == "orderbook_delta"
        self.queue.put_nowait(Frame(_encode(envelope), sub.sid, droppable))

    def deliver(self, event: ExchangeEvent, exchange: Exchange) -> None:
        for sub in list(self.subs.values()):
            self._deliver_to(sub, event, exchange)

    def _deliver_to(self, sub: _Subscription, event: ExchangeEvent, exchange: Exchange) -> None:
        channel = sub.channel
        if isinstance(event, BookDelta):
            if channel != "orderbook_delta" or not sub.covers(event.ticker):
                return
            if event.version <= sub.versions.get(event.ticker, event.version):
                return  # already in the snapshot this subscription got
            msg: dict[str, Any] = {
                "market_ticker": event.ticker,
                "market_id": exchange.markets[event.ticker].market_id,
                "price_dollars": format_price(event.price),
                "delta_fp": format_size(event.delta),
                "side": event.side.value,
                "ts": rfc3339(event.ts),
            }
            if event.client_order_id and event.account == self.account:
                msg["client_order_id"] = event.client_order_id
            self.data(sub, "orderbook_delta", msg, seq=True)
        elif isinstance(event, TickerUpdate):
            if channel == "ticker" and sub.covers(event.ticker):
                self.data(sub, "ticker", _ticker_msg(event), seq=False)
        elif isinstance(event, Trade):
            if channel == "trade" and sub.covers(event.ticker):
                self.data(sub, "trade", _trade_msg(event), seq=False)
        elif isinstance(event, Fill):
            if channel == "fill" and event.account == self.account and sub.covers(event.ticker):
                self.data(sub, "fill", _fill_msg(event), seq=False)
        elif isinstance(event, PositionUpdate):
            if (
                channel == "market_positions"
                and event.account == self.account
                and sub.covers(event.ticker)
            ):
                self.data(sub, "market_position", _position_msg(event), seq=False)
        elif isinstance(event, LifecycleUpdate):
            if channel == "market_lifecycle_v2" and sub.covers(event.ticker):
                self.data(sub, "market_lifecycle_v2", event.msg, seq=False)
        elif (
            isinstance(event, EventLifecycleUpdate)
            and channel == "market_lifecycle_v2"
            and sub.tickers is None
        ):
            self.data(sub, "event_lifecycle", event.msg, seq=False)


def _ticker_msg(event: TickerUpdate) -> dict[str, Any]:
    return {
        "market_ticker": event.ticker,
        "market_id": event.market_id,
        "price_dollars": format_price(event.last_price or 0),
        "yes_bid_dollars": format_price(event.yes_bid),
        "yes_ask_dollars": format_price(event.yes_ask),
        "volume_fp": format_size(event.volume),
        "open_interest_fp": format_size(event.open_interest),
        "ts": unix(event.ts),
        "ts_ms": int(event.ts.timestamp() * 1000),
    }


def _trade_msg(trade: Trade) -> dict[str, Any]:
    return {**trade_json(trade), "market_ticker": trade.ticker, "ts": unix(trade.ts)}


def _fill_msg(fill: Fill) -> dict[str, Any]:
    return {
        **fill_json(fill),
        "post_position_fp": format_size(fill.post_position or 0),
        "client_order_id": fill.client_order_id,
    }


def _position_msg(update: PositionUpdate) -> dict[str, Any]:
    return {
        "user_id": update.account,
        "market_ticker": update.ticker,
        "position_fp": format_size(update.position),
        "position_cost": micros_to_centi_cents(update.cost),
        "realized_pnl": micros_to_centi_cents(update.realized_pnl),
        "fees_paid": micros_to_centi_cents(update.fees_paid),
        "position_cost_dollars": format_micros(update.cost),
        "realized_pnl_dollars": format_micros(update.realized_pnl),
        "fees_paid_dollars": format_micros(update.fees_paid),
    }


# ====================================================================== the server


Handler = Callable[[Request, str | None], Awaitable[tuple[int, dict[str, Any]]]]


@dataclass(frozen=True)
class _Endpoint:
    method: str
    path: str
    handler: Handler
    private: bool = False


class SimServer:
    """The Starlette application over an :class:`Exchange` (runs in the simulator's loop)."""

    def __init__(
        self,
        exchange: Exchange,
        config: SimulatorConfig,
        extra_routes: Sequence[BaseRoute] = (),
    ) -> None:
        self.exchange = exchange
        self.config = config
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        self.limiter = RateLimiter(config.rate_limit, config.rate_burst)
        self.rest_faults = RestFaults(config.faults, config.seed)
        self.connections: dict[int, _Connection] = {}
        self._sids = iter(range(1, sys.maxsize))
        self._loop: asyncio.AbstractEventLoop | None = None
        self.app = Starlette(routes=[*self._routes(), *extra_routes])

    # ------------------------------------------------------------------ events

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.exchange.add_listener(self._on_events)

    def _on_events(self, events: Sequence[ExchangeEvent]) -> None:
        """Exchange listener (any thread, under the exchange lock): hop to the loop."""
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: shutting down
                self._loop.call_soon_threadsafe(self._dispatch, list(events))

    def _dispatch(self, events: list[ExchangeEvent]) -> None:
        for connection in list(self.connections.values()):
            for event in events:
                connection.deliver(event, self.exchange)

    # ------------------------------------------------------------------ auth

    def register_key(self, key_id: str, public_key_pem: str | bytes) -> None:
        pem = public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("a Kalshi API key must be an RSA public key")
        self.keys[key_id] = key

    def authenticate(self, headers: Mapping[str, str], method: str, path: str) -> str | None:
        """The key id of a correctly signed request, None if unsigned; AuthError if bad."""
        key_id = headers.get(HEADER_KEY)
        timestamp = headers.get(HEADER_TIMESTAMP)
        signature = headers.get(HEADER_SIGNATURE)
        if key_id is None and timestamp is None and signature is None:
            return None
        if not key_id or not timestamp or not signature:
            raise AuthError("incomplete authentication headers")
        public_key = self.keys.get(key_id)
        if public_key is None:
            raise AuthError("unknown API key")
        try:
            stamp_ms = int(timestamp)
        except ValueError:
            raise AuthError("the timestamp must be Unix milliseconds") from None
        if abs(time.time() * 1000 - stamp_ms) > self.config.auth_skew_seconds * 1000:
            raise AuthError("the request timestamp is too old or too far in the future")
        if not verify_signature(public_key, timestamp, method, path, signature):
            raise AuthError("invalid signature")
        return key_id

    # ------------------------------------------------------------------ REST plumbing

    def _routes(self) -> list[BaseRoute]:
        endpoints = [
            _Endpoint("GET", "/exchange/status", self._exchange_status),
            _Endpoint("GET", "/series", self._series_list),
            _Endpoint("GET", "/series/{series_ticker}", self._series),
            _Endpoint("GET", "/events", self._events),
            _Endpoint("GET", "/events/{event_ticker}", self._event),
            _Endpoint("GET", "/markets", self._markets),
            _Endpoint("GET", "/markets/trades", self._trades),
            _Endpoint("GET", "/markets/{ticker}", self._market),
            _Endpoint("GET", "/markets/{ticker}/orderbook", self._orderbook),
            _Endpoint(
                "GET", "/series/{series_ticker}/markets/{ticker}/candlesticks", self._candles
            ),
            _Endpoint("GET", "/portfolio/balance", self._balance, True),
            _Endpoint("GET", "/portfolio/positions", self._positions, True),
            _Endpoint("GET", "/portfolio/fills", self._fills, True),
            _Endpoint("GET", "/portfolio/settlements", self._settlements, True),
            _Endpoint("GET", "/portfolio/orders", self._orders, True),
            _Endpoint("POST", "/portfolio/orders", self._create_order, True),
            _Endpoint("POST", "/portfolio/orders/batched", self._batch_create, True),
            _Endpoint("DELETE", "/portfolio/orders/batched", self._batch_cancel, True),
            _Endpoint("GET", "/portfolio/orders/{order_id}", self._order, True),
            _Endpoint("DELETE", "/portfolio/orders/{order_id}", self._cancel, True),
            _Endpoint("POST", "/portfolio/orders/{order_id}/amend", self._amend, True),
            _Endpoint("POST", "/portfolio/orders/{order_id}/decrease", self._decrease, True),
        ]
        by_path: dict[str, dict[str, _Endpoint]] = {}
        for endpoint in endpoints:
            by_path.setdefault(endpoint.path, {})[endpoint.method] = endpoint
        routes: list[BaseRoute] = [
            Route(REST_PREFIX + path, self._rest(methods), methods=list(methods))
            for path, methods in by_path.items()
        ]
        routes.append(WebSocketRoute(WS_PATH, self._websocket))
        return routes

    def _rest(self, methods: dict[str, _Endpoint]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await self._serve(request, methods[request.method])

        return endpoint

    async def _serve(self, request: Request, endpoint: _Endpoint) -> Response:
        method, path = request.method, request.url.path
        try:
            key_id = self.authenticate(request.headers, method, path)
        except AuthError as exc:
            return _json(401, error_body("unauthorized", "authentication failed", str(exc)))
        if endpoint.private and key_id is None:
            return _json(401, error_body("unauthorized", "this endpoint needs an API key"))
        caller = key_id or f"ip:{request.client.host if request.client else '?'}"
        wait = self.limiter.acquire(caller)
        if wait > 0:
            return _too_many(wait)
        injected = self.rest_faults.before(method, path)
        if injected == 429:
            return _too_many(1.0)
        if injected == 500:
            return _json(500, error_body("internal_server_error", "simulated server error"))
        try:
            status, body = await endpoint.handler(request, key_id)
        except OrderRejected as exc:
            status, body = exc.status, error_body(exc.code, exc.message, exc.details)
        except Exception as exc:  # a bug must still answer in Kalshi's error shape
            log.exception("%s %s failed", method, path)
            status, body = 500, error_body("internal_server_error", "internal error", repr(exc))
        delay = self.rest_faults.ack_delay(method)
        if delay:
            await asyncio.sleep(delay)
        if self.rest_faults.after(method, path) == 500:
            return _json(500, error_body("internal_server_error", "simulated server error"))
        return _json(status, body)

    # ------------------------------------------------------------------ market data

    async def _exchange_status(self, request: Request, key: str | None) -> tuple[int, Any]:
        return 200, {"exchange_active": True, "trading_active": True}

    async def _series_list(self, request: Request, key: str | None) -> tuple[int, Any]:
        return 200, {"series": [s.json() for s in self.exchange.series.values()]}

    async def _series(self, request: Request, key: str | None) -> tuple[int, Any]:
        ticker = request.path_params["series_ticker"]
        series = self.exchange.series.get(ticker)
        if series is None:
            raise OrderRejected("not_found", f"series {ticker} not found", status=404)
        return 200, {"series": series.json()}

    async def _events(self, request: Request, key: str | None) -> tuple[int, Any]:
        q = request.query_params
        ex = self.exchange
        statuses = _csv(q.get("status"))
        nested = q.get("with_nested_markets", "false").lower() == "true"
        now = ex.clock.now()
        with ex.lock:
            rows = []
            for event in ex.events.values():
                if q.get("series_ticker") and event.series_ticker != q["series_ticker"]:
                    continue
                status = ex.event_status(event)
                if statuses and status not in statuses:
                    continue
                body = event_json(event, status)
                if nested:
                    body["markets"] = [market_json(ex.markets[t], now) for t in event.markets]
                rows.append(body)
        page, cursor = _page(q, rows, default=200, maximum=200)
        return 200, {"events": page, "cursor": cursor, "milestones": []}

    async def _event(self, request: Request, key: str | None) -> tuple[int, Any]:
        ticker = request.path_params["event_ticker"]
        ex = self.exchange
        now = ex.clock.now()
        with ex.lock:
            event = ex.events.get(ticker)
            if event is None:
                raise OrderRejected("not_found", f"event {ticker} not found", status=404)
            markets = [market_json(ex.markets[t], now) for t in event.markets]
            body = event_json(event, ex.event_status(event))
        if request.query_params.get("with_nested_markets", "false").lower() == "true":
            body["markets"] = markets
        return 200, {"event": body, "markets": markets}

    async def _markets(self, request: Request, key: str | None) -> tuple[int, Any]:
        q = request.query_params
        ex = self.exchange
        now = ex.clock.now()
        with ex.lock:
            found = ex.find_markets(
                series_ticker=q.get("series_ticker") or None,
                event_tickers=_csv(q.get("event_ticker")),
                tickers=_csv(q.get("tickers")),
                statuses=_csv(q.get("status")),
                min_close=_from_unix(q.get("min_close_ts")),
                max_close=_from_unix(q.get("max_close_ts")),
            )
            page, cursor = _page(q, found)
            rows = [market_json(m, now) for m in page]
        return 200, {"markets": rows, "cursor": cursor}

    async def _market(self, request: Request, key: str | None) -> tuple[int, Any]:
        with self.exchange.lock:
            market = self.exchange.market(request.path_params["ticker"])
            return 200, {"market": market_json(market, self.exchange.clock.now())}

    async def _orderbook(self, request: Request, key: str | None) -> tuple[int, Any]:
        book = self.exchange.book(request.path_params["ticker"])
        depth = _limit(request.query_params.get("depth"), 0, 100, minimum=0)
        sides = {}
        for side in Side:
            levels = book[side]
            sides[f"{side.value}_dollars"] = levels_json(levels[-depth:] if depth else levels)
        return 200, {"orderbook_fp": sides}

    async def _trades(self, request: Request, key: str | None) -> tuple[int, Any]:
        q = request.query_params
        trades = self.exchange.trades(q.get("ticker") or None)
        low, high = _from_unix(q.get("min_ts")), _from_unix(q.get("max_ts"))
        page, cursor = _page(q, [t for t in trades if _within(t.ts, low, high)])
        return 200, {"trades": [trade_json(t) for t in page], "cursor": cursor}

    async def _candles(self, request: Request, key: str | None) -> tuple[int, Any]:
        q = request.query_params
        ticker = request.path_params["ticker"]
        market = self.exchange.market(ticker)
        if market.series_ticker != request.path_params["series_ticker"]:
            raise OrderRejected("not_found", f"{ticker} is not in that series", status=404)
        start, end = _from_unix(q.get("start_ts")), _from_unix(q.get("end_ts"))
        if start is None or end is None or end < start:
            raise OrderRejected("invalid_parameters", "start_ts and end_ts are required")
        period = _limit(q.get("period_interval"), 60, 1440)
        candles = self.exchange.candlesticks(ticker, start, end, period)
        return 200, {"ticker": ticker, "candlesticks": candles}

    # ------------------------------------------------------------------ portfolio reads

    async def _balance(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        ex = self.exchange
        with ex.lock:
            account = ex.account(key)
            value = ex.portfolio_value(account)
            return 200, {
                "balance": micros_to_cents(account.cash),
                "portfolio_value": micros_to_cents(value),
                "updated_ts": unix(account.updated or ex.clock.now()),
            }

    async def _positions(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        q = request.query_params
        filters = set(_csv(q.get("count_filter")))
        ex = self.exchange
        with ex.lock:
            account = ex.account(key)
            resting: dict[str, int] = {}
            for order in account.open_orders.values():
                resting[order.ticker] = resting.get(order.ticker, 0) + 1
            rows: list[dict[str, Any]] = []
            events: dict[str, list[int]] = {}
            for pos in account.positions.values():
                if q.get("ticker") and pos.ticker != q["ticker"]:
                    continue
                if q.get("event_ticker") and pos.event_ticker != q["event_ticker"]:
                    continue
                if "position" in filters and pos.position == 0:
                    continue
                if "total_traded" in filters and pos.total_traded == 0:
                    continue
                rows.append(
                    {
                        "ticker": pos.ticker,
                        "position_fp": format_size(pos.position),
                        "total_traded_dollars": format_micros(pos.total_traded),
                        "market_exposure_dollars": format_micros(pos.cost),
                        "realized_pnl_dollars": format_micros(pos.realized_pnl),
                        "fees_paid_dollars": format_micros(pos.fees_paid),
                        "resting_orders_count": resting.get(pos.ticker, 0),
                        "last_updated_ts": rfc3339(pos.last_updated),
                    }
                )
                agg = events.setdefault(pos.event_ticker, [0, 0, 0, 0])
                agg[0] += pos.cost
                agg[1] += abs(pos.position)
                agg[2] += pos.realized_pnl
                agg[3] += pos.fees_paid
        page, cursor = _page(q, rows)
        event_rows = [
            {
                "event_ticker": ticker,
                "total_cost_dollars": format_micros(cost),
                "total_cost_shares_fp": format_size(shares),
                "event_exposure_dollars": format_micros(cost),
                "realized_pnl_dollars": format_micros(pnl),
                "fees_paid_dollars": format_micros(fees),
            }
            for ticker, (cost, shares, pnl, fees) in events.items()
        ]
        return 200, {"market_positions": page, "event_positions": event_rows, "cursor": cursor}

    async def _fills(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        q = request.query_params
        low, high = _from_unix(q.get("min_ts")), _from_unix(q.get("max_ts"))
        with self.exchange.lock:
            fills = [
                f
                for f in reversed(self.exchange.account(key).fills)
                if (not q.get("ticker") or f.ticker == q["ticker"])
                and (not q.get("order_id") or f.order_id == q["order_id"])
                and _within(f.ts, low, high)
            ]
        page, cursor = _page(q, fills)
        return 200, {"fills": [fill_json(f) for f in page], "cursor": cursor}

    async def _settlements(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        q = request.query_params
        with self.exchange.lock:
            records = [
                s
                for s in reversed(self.exchange.account(key).settlements)
                if (not q.get("ticker") or s.ticker == q["ticker"])
                and (not q.get("event_ticker") or s.event_ticker == q["event_ticker"])
            ]
        page, cursor = _page(q, records)
        rows = [
            {
                "ticker": s.ticker,
                "event_ticker": s.event_ticker,
                "market_result": s.result,
                "yes_count_fp": format_size(s.yes_count),
                "yes_total_cost_dollars": format_micros(s.yes_total_cost),
                "no_count_fp": format_size(s.no_count),
                "no_total_cost_dollars": format_micros(s.no_total_cost),
                "revenue": micros_to_cents(s.revenue),
                "fee_cost": format_micros(s.fee_cost),
                "value": 100 if s.result == "yes" else 0,
                "settled_time": rfc3339(s.settled_time),
            }
            for s in page
        ]
        return 200, {"settlements": rows, "cursor": cursor}

    async def _orders(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        q = request.query_params
        statuses = set(_csv(q.get("status")))
        low, high = _from_unix(q.get("min_ts")), _from_unix(q.get("max_ts"))
        ex = self.exchange
        with ex.lock:
            orders = [
                o
                for o in reversed(ex.account(key).orders.values())
                if (not q.get("ticker") or o.ticker == q["ticker"])
                and (
                    not q.get("event_ticker")
                    or ex.markets[o.ticker].event_ticker == q["event_ticker"]
                )
                and (not statuses or o.status.value in statuses)
                and _within(o.created_time, low, high)
            ]
            page, cursor = _page(q, orders)
            return 200, {"orders": [order_json(o) for o in page], "cursor": cursor}

    async def _order(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        order_id = request.path_params["order_id"]
        with self.exchange.lock:
            order = self.exchange.account(key).orders.get(order_id)
            if order is None:
                raise OrderRejected("not_found", f"order {order_id} not found", status=404)
            return 200, {"order": order_json(order)}

    # ------------------------------------------------------------------ portfolio writes

    async def _create_order(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        body = await _body(request)
        with self.exchange.lock:
            order = self.exchange.place_order(key, parse_order_request(body))
            return 201, {"order": order_json(order)}

    async def _batch_create(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        items = (await _body(request)).get("orders")
        if not isinstance(items, list) or not 0 < len(items) <= BATCH_LIMIT:
            raise OrderRejected("invalid_parameters", f"orders must list 1 to {BATCH_LIMIT}")
        answers = []
        with self.exchange.lock:
            for item in items:
                client_id = item.get("client_order_id", "") if isinstance(item, dict) else ""

                def create(item: Any = item) -> dict[str, Any]:
                    order = self.exchange.place_order(key, parse_order_request(item))
                    return {"order": order_json(order)}

                answers.append(_batch_item({"client_order_id": client_id}, create))
        return 201, {"orders": answers}

    async def _batch_cancel(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        body = await _body(request)
        ids = body.get("ids")
        if ids is None and isinstance(body.get("orders"), list):
            ids = [o.get("order_id") for o in body["orders"] if isinstance(o, dict)]
        if not isinstance(ids, list) or not 0 < len(ids) <= BATCH_LIMIT:
            raise OrderRejected("invalid_parameters", f"ids must list 1 to {BATCH_LIMIT}")
        answers = []
        with self.exchange.lock:
            for order_id in ids:

                def cancel(order_id: Any = order_id) -> dict[str, Any]:
                    order, reduced = self.exchange.cancel_order(key, str(order_id))
                    return {"order": order_json(order), "reduced_by_fp": format_size(reduced)}

                answers.append(_batch_item({"order_id": order_id}, cancel))
        return 200, {"orders": answers}

    async def _cancel(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        with self.exchange.lock:
            order, reduced = self.exchange.cancel_order(key, request.path_params["order_id"])
            return 200, {"order": order_json(order), "reduced_by_fp": format_size(reduced)}

    async def _amend(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        body = await _body(request)
        order_id = request.path_params["order_id"]
        with self.exchange.lock:
            account = self.exchange.account(key)
            current = account.orders.get(order_id)
            if current is None:
                raise OrderRejected("not_found", f"order {order_id} not found", status=404)
            for name in ("ticker", "side", "action"):
                given = body.get(name)
                if given is not None and given != getattr(current, name):
                    raise OrderRejected("invalid_parameters", f"{name} does not match the order")
            updated = body.get("updated_client_order_id")
            old, order = self.exchange.amend_order(
                key,
                order_id,
                yes_price=parse_yes_price(body, current.side),
                count=parse_count(body),
                updated_client_order_id=str(updated) if updated else None,
            )
            return 200, {"old_order": order_json(old), "order": order_json(order)}

    async def _decrease(self, request: Request, key: str | None) -> tuple[int, Any]:
        assert key is not None
        body = await _body(request)
        with self.exchange.lock:
            order = self.exchange.decrease_order(
                key,
                request.path_params["order_id"],
                reduce_by=parse_count(body, "reduce_by", "reduce_by_fp"),
                reduce_to=parse_count(body, "reduce_to", "reduce_to_fp"),
            )
            return 200, {"order": order_json(order)}

    # ------------------------------------------------------------------ WebSocket

    async def _websocket(self, websocket: WebSocket) -> None:
        try:
            account = self.authenticate(websocket.headers, "GET", WS_PATH)
            if account is None and self.config.require_ws_auth:
                raise AuthError("this server requires a signed WebSocket handshake")
        except AuthError as exc:
            body = error_body("unauthorized", "authentication failed", str(exc))
            await websocket.send_denial_response(_json(401, body))
            return
        await websocket.accept()
        record = self.exchange.sent.open(account, self.exchange.clock.now())
        faults = WsFaults(self.config.faults, self.config.seed, record.conn_id)
        connection = _Connection(record.conn_id, account, websocket, faults)
        self.connections[record.conn_id] = connection
        writer = asyncio.create_task(self._writer(connection))
        dropper = asyncio.create_task(self._dropper(connection)) if faults.drop_every else None
        reason = "client closed"
        try:
            while True:
                text = await websocket.receive_text()
                self.exchange.sent.received(record.conn_id, text)
                self._command(connection, text)
        except WebSocketDisconnect:
            pass
        except Exception as exc:  # a broken connection must not take the server down
            reason = f"error: {exc!r}"
        finally:
            self.connections.pop(record.conn_id, None)
            for task in (writer, dropper):
                if task is not None:
                    task.cancel()
            if connection.faults.injected and connection.faults.injected[-1][0] == "drop":
                reason = "fault: drop"
            self.exchange.sent.close(record.conn_id, self.exchange.clock.now(), reason)

    async def _writer(self, connection: _Connection) -> None:
        faults = connection.faults
        while True:
            deadline = faults.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                frame = await asyncio.wait_for(connection.queue.get(), timeout)
            except TimeoutError:
                frame = None
            now = time.monotonic()
            texts = faults.due(now)
            if frame is not None:
                texts += faults.outgoing(frame, now)
            for text in texts:
                await connection.websocket.send_text(text)
                self.exchange.sent.sent(connection.conn_id, text)

    async def _dropper(self, connection: _Connection) -> None:
        assert connection.faults.drop_every is not None
        await asyncio.sleep(connection.faults.drop_every)
        connection.faults.injected.append(("drop", None))
        abort = connection.websocket.scope.get("extensions", {}).get("weather_edge.transport")
        if abort is not None:
            abort["abort"]()
        else:
            await connection.websocket.close(code=1011, reason="simulated drop")

    def _command(self, connection: _Connection, text: str) -> None:
        command_id: Any = None
        try:
            try:
                command = json.loads(text)
            except ValueError:
                raise WsCommandError(1, "not JSON") from None
            if not isinstance(command, dict):
                raise WsCommandError(1, "a command must be a JSON object")
            command_id = command.get("id")
            name = command.get("cmd")
            if name not in COMMANDS:
                raise WsCommandError(5, str(name))
            params = command.get("params")
            if name == "list_subscriptions":
                subs = [
                    {
                        "channel": s.channel,
                        "sid": s.sid,
                        **({"market_tickers": sorted(s.tickers)} if s.tickers is not None else {}),
                    }
                    for s in connection.subs.values()
                ]
                connection.reply({"id": command_id, "type": "ok", "msg": subs})
                return
            if not isinstance(params, dict):
                raise WsCommandError(2)
            if name == "subscribe":
                self._subscribe(connection, command_id, params)
            elif name == "unsubscribe":
                self._unsubscribe(connection, command_id, params)
            else:
                self._update_subscription(connection, command_id, params)
        except WsCommandError as exc:
            msg = {"code": exc.code, "msg": WS_ERRORS[exc.code]}
            if exc.detail:
                msg["msg"] = f"{msg['msg']}: {exc.detail}"
            connection.reply({"id": command_id, "type": "error", "msg": msg})

    def _tickers(self, params: Mapping[str, Any]) -> list[str] | None:
        tickers = params.get("market_tickers")
        single = params.get("market_ticker")
        if tickers is None and single is None:
            return None
        found = list(tickers or []) + ([single] if single else [])
        if not all(isinstance(t, str) for t in found):
            raise WsCommandError(11, "market tickers must be strings")
        for ticker in found:
            if ticker not in self.exchange.markets:
                raise WsCommandError(16, ticker)
        return found

    def _subscribe(self, connection: _Connection, command_id: Any, params: dict[str, Any]) -> None:
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            raise WsCommandError(3)
        tickers = self._tickers(params)
        for channel in channels:
            if channel not in CHANNELS:
                raise WsCommandError(8, str(channel))
            if channel in PRIVATE_CHANNELS and connection.account is None:
                raise WsCommandError(9, channel)
            if channel == "orderbook_delta" and not tickers:
                raise WsCommandError(14)
            for sub in connection.subs.values():
                if sub.channel == channel and (
                    sub.tickers is None or tickers is None or sub.tickers & set(tickers)
                ):
                    raise WsCommandError(6, channel)
        for channel in channels:
            sub = _Subscription(next(self._sids), channel, set(tickers) if tickers else None)
            connection.subs[sub.sid] = sub
            connection.reply(
                {
                    "id": command_id,
                    "type": "subscribed",
                    "msg": {"channel": channel, "sid": sub.sid},
                }
            )
            if channel == "orderbook_delta":
                for ticker in tickers or ():
                    self._snapshot(connection, sub, ticker)

    def _snapshot(self, connection: _Connection, sub: _Subscription, ticker: str) -> None:
        book, version = self.exchange.snapshot(ticker)
        sub.versions[ticker] = version
        msg: dict[str, Any] = {
            "market_ticker": ticker,
            "market_id": self.exchange.markets[ticker].market_id,
        }
        for side in Side:
            if book[side]:
                msg[f"{side.value}_dollars_fp"] = levels_json(book[side])
        connection.data(sub, "orderbook_snapshot", msg, seq=True)

    def _unsubscribe(
        self, connection: _Connection, command_id: Any, params: dict[str, Any]
    ) -> None:
        sids = params.get("sids")
        if not isinstance(sids, list) or not sids:
            raise WsCommandError(4)
        unknown = [s for s in sids if s not in connection.subs]
        if unknown:
            raise WsCommandError(7, str(unknown[0]))
        for sid in sids:
            del connection.subs[sid]
            connection.reply({"id": command_id, "sid": sid, "type": "unsubscribed", "msg": {}})

    def _update_subscription(
        self, connection: _Connection, command_id: Any, params: dict[str, Any]
    ) -> None:
        sids = params.get("sids")
        sid = params.get("sid")
        if sid is None and isinstance(sids, list) and len(sids) == 1:
            sid = sids[0]
        if sid is None or (sids is not None and (not isinstance(sids, list) or len(sids) != 1)):
            raise WsCommandError(12)
        sub = connection.subs.get(sid)
        if sub is None:
            raise WsCommandError(7, str(sid))
        action = params.get("action")
        if not action:
            raise WsCommandError(15)
        if action not in ("add_markets", "delete_markets"):
            raise WsCommandError(13, str(action))
        tickers = self._tickers(params)
        if not tickers:
            raise WsCommandError(14)
        if sub.tickers is None:
            raise WsCommandError(11, "this subscription covers every market")
        if action == "add_markets":
            new = [t for t in tickers if t not in sub.tickers]
            sub.tickers.update(new)
        else:
            new = []
            sub.tickers.difference_update(tickers)
            for ticker in tickers:
                sub.versions.pop(ticker, None)
        connection.reply(
            {
                "id": command_id,
                "sid": sub.sid,
                "type": "ok",
                "msg": {"market_tickers": sorted(sub.tickers)},
            }
        )
        if sub.channel == "orderbook_delta":
            for ticker in new:
                self._snapshot(connection, sub, ticker)


def _batch_item(ident: dict[str, Any], action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One answer of a batch: the item's id, then its result or its error."""
    try:
        return {**ident, **action(), "error": None}
    except OrderRejected as exc:
        return {
            **ident,
            "order": None,
            "error": error_body(exc.code, exc.message, exc.details)["error"],
        }


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def _too_many(wait: float) -> Response:
    return _json(
        429,
        error_body("too_many_requests", "rate limit exceeded", f"retry in {wait:.2f} s"),
        {"Retry-After": str(max(1, math.ceil(wait)))},
    )


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise OrderRejected("invalid_parameters", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise OrderRejected("invalid_parameters", "the body must be a JSON object")
    return body


def _csv(value: str | None) -> list[str]:
    return [part for part in (value or "").split(",") if part]


def _limit(value: str | None, default: int, maximum: int, *, minimum: int = 1) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise OrderRejected("invalid_parameters", f"not an integer: {value!r}") from None
    if not minimum <= number <= maximum:
        raise OrderRejected("invalid_parameters", f"must be within [{minimum}, {maximum}]")
    return number


def _page(
    query: Mapping[str, str], rows: Sequence[Any], *, default: int = 100, maximum: int = 1000
) -> tuple[list[Any], str]:
    """The page ``cursor``/``limit`` of ``query`` ask for, and the next cursor."""
    return paginate(rows, query.get("cursor"), _limit(query.get("limit"), default, maximum))


def _within(instant: datetime, low: datetime | None, high: datetime | None) -> bool:
    return (low is None or instant >= low) and (high is None or instant <= high)


def _from_unix(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError):
        raise OrderRejected("invalid_parameters", f"not a Unix timestamp: {value!r}") from None


# ====================================================================== uvicorn glue


def _protocol_class() -> Any:
    """uvicorn's sans-I/O WebSocket protocol, pinging with ``heartbeat`` and exposing an abort.

    Kalshi's pings carry the body ``heartbeat``; uvicorn's carry random bytes. The abort
    (a TCP reset, no close frame) is what the ``drop`` fault uses. Both fall back to
    uvicorn's defaults if its internals ever change.
    """
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import (
            WebSocketsSansIOProtocol,
        )
    except ImportError:  # pragma: no cover - an older or newer uvicorn
        return "auto"

    class HeartbeatProtocol(WebSocketsSansIOProtocol):
        def send_keepalive_ping(self) -> None:
            try:
                self.ping_timer = None
                if self.close_sent or self.transport.is_closing():
                    return
                self.pending_ping_payload = b"heartbeat"
                self.ping_sent_at = self.loop.time()
                self.conn.send_ping(self.pending_ping_payload)
                self.transport.write(b"".join(self.conn.data_to_send()))
                if self.ping_timeout is not None:
                    self.pong_timer = self.loop.call_later(
                        self.ping_timeout, self.keepalive_timeout
                    )
                else:
                    self.schedule_ping()
            except AttributeError:  # pragma: no cover
                super().send_keepalive_ping()

        def handle_connect(self, event: Any) -> None:
            super().handle_connect(event)
            scope = getattr(self, "scope", None)
            if isinstance(scope, dict):
                scope.setdefault("extensions", {})["weather_edge.transport"] = {
                    "abort": self.transport.abort
                }

    return HeartbeatProtocol


class SimulatedDate:
    """ASGI wrapper stamping every HTTP answer's ``Date`` header with the simulated time,
    as a real server stamps its own: clients on a simulated day read the time from it."""

    def __init__(self, app: Any, clock: SimClock) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                stamp = format_datetime(self.clock.now(), usegmt=True).encode()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                message = {**message, "headers": [*headers, (b"date", stamp)]}
            await send(message)

        await self.app(scope, receive, stamped)


class Simulator:
    """A running simulator: the exchange, its clock, its agents and the HTTP/WS server."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        start = config.start or wall_clock_start()
        self.clock = SimClock(start, speed=config.clock_speed)
        weather = config.weather or default_weather(config.seed)
        self.exchange = Exchange(
            self.clock,
            ExchangeSettings(
                seed=config.seed,
                cities=config.cities,
                days=config.days,
                starting_balance=config.starting_balance_cents * 10_000,
                determination_delay=config.determination_delay,
                settlement_delay=config.settlement_delay,
                step_seconds=config.step_seconds,
                fee_type=config.fee_type,
                ws_record_limit=config.ws_record_limit,
            ),
            weather=weather,
        )
        self.agents: AgentPool | None = None
        if config.agents:
            self.agents = AgentPool(self.exchange, config.seed, config.agent_settings)
            self.agents.attach()
        extra: list[BaseRoute] = []
        if config.serve_weather and isinstance(weather, SimulatedWeatherSource):
            from weather_edge.sim.nws_routes import nws_routes

            extra.append(Mount(NWS_PREFIX, routes=nws_routes(weather.weather, self.clock)))
        self.server = SimServer(self.exchange, config, extra)
        for key_id, pem in config.keys:
            self.register_key(key_id, pem)
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets that say so, and
        # without it every response waits ~40 ms for a delayed ACK
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((config.host, config.port))
        self.host, self.port = config.host, self._socket.getsockname()[1]
        netloc = (
            f"[{self.host}]:{self.port}"
            if family == socket.AF_INET6
            else f"{self.host}:{self.port}"
        )
        self.rest_url = f"http://{netloc}{REST_PREFIX}"
        self.ws_url = f"ws://{netloc}{WS_PATH}"
        self.nws_url = f"http://{netloc}{NWS_PREFIX}" if extra else None
        self._uvicorn = uvicorn.Server(
            uvicorn.Config(
                SimulatedDate(self.server.app, self.clock),
                date_header=False,  # the Date header tells the simulated time instead
                ws=_protocol_class(),
                ws_ping_interval=config.ping_interval,
                ws_ping_timeout=max(20.0, config.ping_interval or 0.0),
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._driver = threading.Thread(
            target=self._drive, name="weather-edge-sim-clock", daemon=True
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None

    # ------------------------------------------------------------------ API

    @property
    def faults(self) -> RestFaults:
        return self.server.rest_faults

    def register_key(
        self, key_id: str, public_key_pem: str | bytes, *, balance_cents: int | None = None
    ) -> None:
        """Accept requests signed by ``key_id``'s private key; opens its account."""
        self.server.register_key(key_id, public_key_pem)
        self.exchange.register_account(
            key_id, balance=None if balance_cents is None else balance_cents * 10_000
        )

    def advance(self, delta: timedelta | float) -> datetime:
        """Move the clock forward and run everything due (agents, lifecycle) right now."""
        now = self.clock.advance(delta)
        self.exchange.advance_to(now)
        self.flush()
        return now

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until the server has handed out every event produced so far."""
        loop = self._loop
        if loop is None or loop.is_closed() or threading.current_thread() is self._thread:
            return

        async def _noop() -> None:
            return None

        asyncio.run_coroutine_threadsafe(_noop(), loop).result(timeout)

    def connections(self) -> list[Any]:
        """Every WebSocket connection so far, with the frames it was sent."""
        return self.exchange.sent.connections()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Simulator:
        self._socket.listen(128)
        self._socket.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="weather-edge-sim", daemon=True)
        self._thread.start()
        self._driver.start()
        deadline = time.monotonic() + 15
        while not self._uvicorn.started:
            if self._failure is not None:
                raise RuntimeError("the simulator failed to start") from self._failure
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the simulator did not start in time")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._uvicorn.should_exit = True
        for thread in (self._driver, self._thread):
            if thread is not None and thread.is_alive():
                thread.join(timeout=10)
        self._socket.close()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced by start()
            self._failure = exc
            log.exception("the simulator stopped")
        finally:
            loop.close()

    async def _main(self) -> None:
        self.server.bind(asyncio.get_running_loop())
        await self._uvicorn.serve(sockets=[self._socket])

    def _drive(self) -> None:
        """Catch the simulation up with the clock (its own thread: the loop stays free)."""
        while not self._stopping.wait(self.config.tick_seconds):
            if self.clock.is_manual or self._loop is None:
                continue
            try:
                self.exchange.advance_to(self.clock.now())
            except Exception:  # keep serving even if one step fails
                log.exception("simulation step failed")

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def run_simulator(config: SimulatorConfig | None = None) -> Iterator[Simulator]:
    """Start a simulator in a background thread; stop it on exit."""
    simulator = Simulator(config or SimulatorConfig())
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


def serve_forever(config: SimulatorConfig, echo: Callable[[str], None] = print) -> None:
    """Run the simulator until interrupted (the ``weather-edge sim`` command)."""
    with run_simulator(config) as sim:
        echo(f"Kalshi simulator: REST {sim.rest_url}  WebSocket {sim.ws_url}")
        if sim.nws_url:
            echo(f"  NWS API (same simulated weather): {sim.nws_url}")
        echo(
            f"  clock {sim.clock!r}, {len(sim.exchange.markets)} markets listed, "
            f"keys: {', '.join(sim.server.keys) or 'none'}"
        )
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)


# ====================================================================== command line


def _fault_config(specs: Sequence[str]) -> FaultConfig:
    values: dict[str, Any] = {}
    known = {f for f in FaultConfig.__dataclass_fields__}
    for spec in specs:
        name, _, text = spec.partition("=")
        name = name.strip().replace("-", "_")
        if name not in known or not text:
            raise SystemExit(f"unknown fault {spec!r}; known: {', '.join(sorted(known))}")
        values[name] = (
            int(text) if name == "ws_stall_after_messages" or name == "seed" else float(text)
        )
    return FaultConfig(**values)


def config_from_args(argv: Sequence[str] | None = None) -> SimulatorConfig:
    parser = argparse.ArgumentParser(
        prog="weather-edge sim", description="Run the local Kalshi simulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--city", action="append", default=[], help="registry code (repeat)")
    parser.add_argument("--day", action="append", default=[], help="climate day YYYY-MM-DD")
    parser.add_argument("--start", help="simulated start, ISO 8601 with a zone (default now)")
    parser.add_argument("--speed", type=float, default=1.0, help="clock speed (0 = frozen)")
    parser.add_argument("--rate-limit", type=float, default=20.0, help="requests/s per key")
    parser.add_argument(
        "--key", action="append", default=[], help="KEY_ID=PATH of an RSA public key PEM"
    )
    parser.add_argument("--no-agents", action="store_true", help="no synthetic liquidity")
    parser.add_argument("--fault", action="append", default=[], help="NAME=VALUE (repeat)")
    args = parser.parse_args(argv)
    keys = []
    for spec in args.key:
        key_id, _, path = spec.partition("=")
        if not key_id or not path:
            raise SystemExit(f"--key wants KEY_ID=PATH, got {spec!r}")
        keys.append((key_id, Path(path).read_text()))
    start = datetime.fromisoformat(args.start) if args.start else None
    return SimulatorConfig(
        seed=args.seed,
        cities=tuple(c.upper() for c in args.city),
        days=tuple(date.fromisoformat(d) for d in args.day),
        start=start,
        clock_speed=args.speed,
        rate_limit=args.rate_limit if args.rate_limit > 0 else None,
        faults=_fault_config(args.fault),
        host=args.host,
        port=args.port,
        agents=not args.no_agents,
        keys=tuple(keys),
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    serve_forever(config_from_args(argv))
    return 0


__all__ = [
    "SimServer",
    "Simulator",
    "SimulatorConfig",
    "config_from_args",
    "main",
    "run_simulator",
    "serve_forever",
    "verify_signature",
]
