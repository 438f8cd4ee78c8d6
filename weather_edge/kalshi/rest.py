"""Async REST client for the Kalshi Trade API v2 (httpx).

* every request is signed when a signer is given (market data also works unsigned);
* reads and writes pass a client-side token bucket sized by the account's rate tier;
* only idempotent requests (GET, DELETE by id) are retried, with jittered exponential
  backoff that honours ``Retry-After``; a write is sent exactly once;
* listings come as pages (``get_*_page``) or as async iterators over every item
  (``iter_*``) that follow the cursor;
* order commands return an :class:`OrderCommandResult` whose outcome is *failed*,
  *acknowledged* or *unknown*. Every order carries a ``client_order_id``; a 409 for a
  repeated id is resolved by fetching the order that already exists. A network failure
  after the request may have left is *unknown*: reconciliation settles it, never a resend.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx
import msgspec

from weather_edge.http_dates import retry_after_seconds
from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.clock import ExchangeClock
from weather_edge.kalshi.config import KalshiConfig, RetryPolicy
from weather_edge.kalshi.errors import (
    ConflictError,
    KalshiAPIError,
    KalshiError,
    KalshiProtocolError,
    KalshiTransportError,
    ServerError,
    api_error,
)
from weather_edge.kalshi.models import (
    AmendOrderResponse,
    Balance,
    BatchOrdersResponse,
    CancelOrderResponse,
    Candlestick,
    CandlesticksResponse,
    Event,
    EventDetail,
    EventsResponse,
    ExchangeStatus,
    Fill,
    FillsResponse,
    Market,
    MarketPosition,
    MarketResponse,
    MarketsResponse,
    Order,
    Orderbook,
    OrderbookResponse,
    OrderRequest,
    OrderResponse,
    OrdersResponse,
    Page,
    PositionsPage,
    PositionsResponse,
    Series,
    SeriesResponse,
    Settlement,
    SettlementsResponse,
    Side,
    Trade,
    TradesResponse,
    decode,
)
from weather_edge.kalshi.ratelimit import RateLimiter
from weather_edge.money import format_price, format_size

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
MAX_BATCH = 20
PAGE_MAX = 1000


class EventFilters(TypedDict, total=False):
    series_ticker: str
    status: str
    with_nested_markets: bool
    limit: int


class MarketFilters(TypedDict, total=False):
    series_ticker: str
    event_ticker: str
    tickers: Sequence[str]
    status: str
    limit: int


class _TimeRange(TypedDict, total=False):
    ticker: str
    min_ts: datetime
    max_ts: datetime
    limit: int


class TradeFilters(_TimeRange, total=False):
    pass


class OrderFilters(_TimeRange, total=False):
    event_ticker: str
    status: str


class FillFilters(_TimeRange, total=False):
    order_id: str


class SettlementFilters(_TimeRange, total=False):
    event_ticker: str


class PositionFilters(TypedDict, total=False):
    ticker: str
    event_ticker: str
    count_filter: str
    limit: int


Params = Mapping[str, Any]


class CommandOutcome(StrEnum):
    FAILED = "failed"  # certainly had no effect
    ACKNOWLEDGED = "acknowledged"  # the exchange confirmed it
    UNKNOWN = "unknown"  # may or may not have happened: reconcile, do not resend blindly


@dataclass(frozen=True, slots=True)
class OrderCommandResult:
    """What happened to one order command (create, cancel, amend, decrease)."""

    command: str
    outcome: CommandOutcome
    client_order_id: str | None = None
    order_id: str | None = None
    order: Order | None = None
    error: KalshiError | None = None
    already_placed: bool = False  # a 409 resubmission resolved to the existing order
    reduced_by: int | None = None  # centi-contracts (cancel)
    old_order: Order | None = None  # amend

    @property
    def ok(self) -> bool:
        return self.outcome is CommandOutcome.ACKNOWLEDGED


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Equal-jitter exponential backoff: half the capped delay plus a random half."""
    ceiling = min(policy.max_delay, policy.base_delay * (2**attempt))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def _query(params: Params | None) -> dict[str, str | int]:
    out: dict[str, str | int] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{key} must be timezone-aware")
            out[key] = int(value.timestamp())
        elif isinstance(value, (list, tuple, set, frozenset)):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value) if isinstance(value, StrEnum) else value
    return out


def _page_params(filters: Mapping[str, Any], cursor: str | None, max_limit: int) -> dict[str, Any]:
    limit = min(int(filters.get("limit") or max_limit), max_limit)
    return {**filters, "cursor": cursor, "limit": limit}


def _seg(value: str) -> str:
    return quote(value, safe="")


def _is_unsent(exc: httpx.TransportError) -> bool:
    """True when the request certainly did not reach the server."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def _failed_command(
    command: str, exc: KalshiError, *, client_order_id: str | None, order_id: str | None = None
) -> OrderCommandResult:
    """Classify an exception: unknown if the command may have taken effect, else failed."""
    unknown = isinstance(exc, ServerError) or (isinstance(exc, KalshiTransportError) and exc.sent)
    return OrderCommandResult(
        command,
        CommandOutcome.UNKNOWN if unknown else CommandOutcome.FAILED,
        client_order_id=client_order_id,
        order_id=order_id,
        error=exc,
    )


class KalshiRestClient:
    """Async client for the Trade API v2. Use as ``async with KalshiRestClient(...) as c``."""

    def __init__(
        self,
        config: KalshiConfig | None = None,
        *,
        signer: KalshiSigner | None = None,
        limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.config = config or KalshiConfig()
        self.signer = signer
        self.limiter = limiter or RateLimiter(self.config.tier, headroom=self.config.rate_headroom)
        self.retry = self.config.retry
        self._prefix = self.config.hosts.rest_path_prefix
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=self.config.hosts.rest_url + "/",
            timeout=self.config.timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self.requests = 0
        self.retries = 0
        # every answer's Date header: the exchange's time, for runs on a simulated clock
        self.exchange_clock = ExchangeClock()

    def __repr__(self) -> str:
        return f"KalshiRestClient(rest_url={self.config.hosts.rest_url!r}, signer={self.signer!r})"

    async def __aenter__(self) -> KalshiRestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ transport

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> bytes:
        """Send one request (retrying only if idempotent) and return the 2xx body.

        ``path`` is relative to the API root (``/markets``); what is signed is the full path
        (``/trade-api/v2/markets``) without the query string.
        """
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        attempts = self.retry.max_attempts if idempotent else 1
        full_path = self._prefix + path
        query = _query(params)
        content = msgspec.json.encode(json) if json is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else {}
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            await self.limiter.acquire(method)
            if self.signer is not None:
                headers.update(self.signer.headers(method, full_path))
            self.requests += 1
            try:
                response = await self._http.request(
                    method, path.lstrip("/"), params=query, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                error = KalshiTransportError(
                    str(exc) or type(exc).__name__,
                    method=method,
                    path=full_path,
                    sent=not _is_unsent(exc),
                )
                if last:
                    raise error from None
                delay = backoff_delay(self.retry, attempt, self._rng)
                log.info("retrying %s %s in %.2fs after %s", method, full_path, delay, error)
                self.retries += 1
                await self._sleep(delay)
                continue
            self.exchange_clock.observe(response.headers.get("Date"))
            if response.status_code < 400:
                return response.content
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if response.status_code == 429 and retry_after:
                self.limiter.pause(min(retry_after, self.retry.max_retry_after))
            error_ = api_error(
                response.status_code,
                response.content,
                method=method,
                path=full_path,
                retry_after=retry_after,
            )
            retryable = response.status_code in self.retry.retry_statuses
            too_long = retry_after is not None and retry_after > self.retry.max_retry_after
            if last or not retryable or too_long:
                raise error_
            delay = (
                retry_after
                if retry_after is not None
                else backoff_delay(self.retry, attempt, self._rng)
            )
            log.info(
                "retrying %s %s in %.2fs after HTTP %d",
                method,
                full_path,
                delay,
                response.status_code,
            )
            self.retries += 1
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _get(self, tp: type[T], path: str, params: Params | None = None) -> T:
        return decode(tp, await self.request("GET", path, params=params))

    async def _page(
        self,
        tp: type[Any],
        path: str,
        cursor: str | None,
        filters: Mapping[str, Any],
        *,
        max_limit: int = PAGE_MAX,
    ) -> Page[Any]:
        """One page of a cursor listing; the list is named like the path's last segment."""
        response = await self._get(tp, path, _page_params(filters, cursor, max_limit))
        return Page(list(getattr(response, path.rsplit("/", 1)[-1])), response.cursor or None)

    @staticmethod
    async def _follow(
        fetch: Callable[[str | None], Awaitable[Page[T]]], cursor: str | None = None
    ) -> AsyncIterator[T]:
        seen: set[str] = set()
        while True:
            page = await fetch(cursor)
            for item in page.items:
                yield item
            if not page.cursor:
                return
            if page.cursor in seen:
                raise KalshiProtocolError(f"the server repeated cursor {page.cursor!r}")
            seen.add(page.cursor)
            cursor = page.cursor

    # ------------------------------------------------------------------ market data

    async def get_exchange_status(self) -> ExchangeStatus:
        return await self._get(ExchangeStatus, "/exchange/status")

    async def get_series(self, series_ticker: str) -> Series:
        return (await self._get(SeriesResponse, f"/series/{_seg(series_ticker)}")).series

    async def get_events_page(
        self, cursor: str | None = None, **filters: Unpack[EventFilters]
    ) -> Page[Event]:
        """``GET /events`` (at most 200 a page); ``with_nested_markets`` fills ``markets``."""
        return await self._page(EventsResponse, "/events", cursor, filters, max_limit=200)

    def iter_events(self, **filters: Unpack[EventFilters]) -> AsyncIterator[Event]:
        return self._follow(partial(self.get_events_page, **filters))

    async def get_event(
        self, event_ticker: str, *, with_nested_markets: bool = False
    ) -> EventDetail:
        params = {"with_nested_markets": with_nested_markets or None}
        return await self._get(EventDetail, f"/events/{_seg(event_ticker)}", params)

    async def get_markets_page(
        self, cursor: str | None = None, **filters: Unpack[MarketFilters]
    ) -> Page[Market]:
        """``GET /markets`` (at most 1000 a page); ``status`` is a filter value, see
        :class:`~weather_edge.kalshi.models.MarketStatusFilter`."""
        return await self._page(MarketsResponse, "/markets", cursor, filters)

    def iter_markets(self, **filters: Unpack[MarketFilters]) -> AsyncIterator[Market]:
        return self._follow(partial(self.get_markets_page, **filters))

    async def get_market(self, ticker: str) -> Market:
        return (await self._get(MarketResponse, f"/markets/{_seg(ticker)}")).market

    async def get_orderbook(self, ticker: str, *, depth: int | None = None) -> Orderbook:
        """Bids only, each side ascending by price: the best bid is the last level."""
        path = f"/markets/{_seg(ticker)}/orderbook"
        return (await self._get(OrderbookResponse, path, {"depth": depth})).orderbook_fp

    async def get_trades_page(
        self, cursor: str | None = None, **filters: Unpack[TradeFilters]
    ) -> Page[Trade]:
        return await self._page(TradesResponse, "/markets/trades", cursor, filters)

    def iter_trades(self, **filters: Unpack[TradeFilters]) -> AsyncIterator[Trade]:
        return self._follow(partial(self.get_trades_page, **filters))

    async def get_candlesticks(
        self,
        series_ticker: str,
        ticker: str,
        *,
        start_ts: datetime,
        end_ts: datetime,
        period_interval: int = 60,
    ) -> list[Candlestick]:
        """OHLC candles; ``period_interval`` in minutes (1, 60 or 1440)."""
        path = f"/series/{_seg(series_ticker)}/markets/{_seg(ticker)}/candlesticks"
        params = {"start_ts": start_ts, "end_ts": end_ts, "period_interval": period_interval}
        return (await self._get(CandlesticksResponse, path, params)).candlesticks

    # ------------------------------------------------------------------ orders

    async def create_order(self, request: OrderRequest) -> OrderCommandResult:
        """Place one order, sent once. Never raises for exchange or network failures."""
        request = request.with_client_order_id()
        coid = request.client_order_id
        try:
            body = await self.request("POST", "/portfolio/orders", json=request.to_wire())
        except ConflictError as exc:
            return await self._resolve_conflict(request, exc)
        except KalshiError as exc:
            return _failed_command("create", exc, client_order_id=coid)
        return self._acknowledged("create", coid, body)

    def _acknowledged(self, command: str, coid: str | None, body: bytes) -> OrderCommandResult:
        try:
            order = decode(OrderResponse, body).order
        except KalshiProtocolError as exc:
            # accepted by the exchange, but the answer is unreadable: reconciliation fills in
            return OrderCommandResult(command, CommandOutcome.ACKNOWLEDGED, coid, error=exc)
        return OrderCommandResult(
            command,
            CommandOutcome.ACKNOWLEDGED,
            client_order_id=order.client_order_id or coid,
            order_id=order.order_id,
            order=order,
        )

    async def _resolve_conflict(
        self, request: OrderRequest, conflict: ConflictError
    ) -> OrderCommandResult:
        coid = request.client_order_id
        assert coid is not None
        try:
            existing = await self.find_order_by_client_id(coid, ticker=request.ticker)
        except KalshiError as exc:
            log.warning("409 for client_order_id %s and the lookup failed: %s", coid, exc)
            return OrderCommandResult("create", CommandOutcome.UNKNOWN, coid, error=conflict)
        if existing is None:
            return OrderCommandResult("create", CommandOutcome.UNKNOWN, coid, error=conflict)
        return OrderCommandResult(
            "create",
            CommandOutcome.ACKNOWLEDGED,
            client_order_id=coid,
            order_id=existing.order_id,
            order=existing,
            already_placed=True,
        )

    async def find_order_by_client_id(
        self, client_order_id: str, *, ticker: str | None = None
    ) -> Order | None:
        """The order carrying ``client_order_id`` (listing ``ticker``'s orders), or None."""
        filters: OrderFilters = {"ticker": ticker} if ticker else {}
        async for order in self.iter_orders(**filters):
            if order.client_order_id == client_order_id:
                return order
        return None

    async def get_orders_page(
        self, cursor: str | None = None, **filters: Unpack[OrderFilters]
    ) -> Page[Order]:
        return await self._page(OrdersResponse, "/portfolio/orders", cursor, filters)

    def iter_orders(self, **filters: Unpack[OrderFilters]) -> AsyncIterator[Order]:
        return self._follow(partial(self.get_orders_page, **filters))

    async def get_order(self, order_id: str) -> Order:
        return (await self._get(OrderResponse, f"/portfolio/orders/{_seg(order_id)}")).order

    async def cancel_order(self, order_id: str) -> OrderCommandResult:
        """Cancel the rest of an order (DELETE: idempotent, so retried)."""
        try:
            body = await self.request("DELETE", f"/portfolio/orders/{_seg(order_id)}")
            response = decode(CancelOrderResponse, body)
        except KalshiError as exc:
            return _failed_command("cancel", exc, client_order_id=None, order_id=order_id)
        return OrderCommandResult(
            "cancel",
            CommandOutcome.ACKNOWLEDGED,
            client_order_id=response.order.client_order_id or None,
            order_id=response.order.order_id,
            order=response.order,
            reduced_by=int(response.reduced_by),
        )

    async def amend_order(
        self,
        order_id: str,
        *,
        ticker: str,
        side: Side,
        action: str,
        price: int,
        count: int,
        client_order_id: str | None = None,
        updated_client_order_id: str | None = None,
    ) -> OrderCommandResult:
        """New price (centi-cents on ``side``) and total count (centi-contracts). Sent once."""
        body: dict[str, Any] = {
            "ticker": ticker,
            "side": side.value,
            "action": str(action),
            f"{side.value}_price_dollars": format_price(price),
            "count_fp": format_size(count),
        }
        if client_order_id:
            body["client_order_id"] = client_order_id
        if updated_client_order_id:
            body["updated_client_order_id"] = updated_client_order_id
        coid = updated_client_order_id or client_order_id
        try:
            raw = await self.request("POST", f"/portfolio/orders/{_seg(order_id)}/amend", json=body)
            response = decode(AmendOrderResponse, raw)
        except KalshiError as exc:
            return _failed_command("amend", exc, client_order_id=coid, order_id=order_id)
        return OrderCommandResult(
            "amend",
            CommandOutcome.ACKNOWLEDGED,
            client_order_id=response.order.client_order_id or coid,
            order_id=response.order.order_id,
            order=response.order,
            old_order=response.old_order,
        )

    async def decrease_order(
        self, order_id: str, *, reduce_by: int | None = None, reduce_to: int | None = None
    ) -> OrderCommandResult:
        """Reduce a resting order by, or to, a count in centi-contracts. Sent once."""
        if (reduce_by is None) == (reduce_to is None):
            raise ValueError("give exactly one of reduce_by and reduce_to")
        body = (
            {"reduce_by_fp": format_size(reduce_by)}
            if reduce_by is not None
            else {"reduce_to_fp": format_size(reduce_to or 0)}
        )
        path = f"/portfolio/orders/{_seg(order_id)}/decrease"
        try:
            order = decode(OrderResponse, await self.request("POST", path, json=body)).order
        except KalshiError as exc:
            return _failed_command("decrease", exc, client_order_id=None, order_id=order_id)
        return OrderCommandResult(
            "decrease",
            CommandOutcome.ACKNOWLEDGED,
            client_order_id=order.client_order_id or None,
            order_id=order.order_id,
            order=order,
        )

    async def batch_create_orders(
        self, requests: Sequence[OrderRequest]
    ) -> list[OrderCommandResult]:
        """Place many orders, 20 per call; one result per request, in order."""
        prepared = [r.with_client_order_id() for r in requests]
        results: list[OrderCommandResult] = []
        for start in range(0, len(prepared), MAX_BATCH):
            chunk = prepared[start : start + MAX_BATCH]
            results.extend(await self._batch_chunk(chunk))
        return results

    async def _batch_chunk(self, chunk: Sequence[OrderRequest]) -> list[OrderCommandResult]:
        body = {"orders": [r.to_wire() for r in chunk]}
        try:
            raw = await self.request("POST", "/portfolio/orders/batched", json=body)
            items = decode(BatchOrdersResponse, raw).orders
        except KalshiError as exc:
            return [
                _failed_command("create", exc, client_order_id=r.client_order_id) for r in chunk
            ]
        by_coid = {item.client_order_id: item for item in items if item.client_order_id}
        results = []
        for index, request in enumerate(chunk):
            coid = request.client_order_id
            item = by_coid.get(coid or "") or (items[index] if index < len(items) else None)
            if item is not None and item.order is not None:
                order = item.order
                results.append(
                    OrderCommandResult(
                        "create", CommandOutcome.ACKNOWLEDGED, coid, order.order_id, order
                    )
                )
            elif item is not None and item.error is not None:
                err = KalshiAPIError(
                    0,
                    str(item.error.code),
                    item.error.message,
                    details=item.error.details or "",
                    method="POST",
                    path=self._prefix + "/portfolio/orders/batched",
                )
                results.append(OrderCommandResult("create", CommandOutcome.FAILED, coid, error=err))
            else:
                missing = KalshiProtocolError(f"no batch result for client_order_id {coid}")
                results.append(
                    OrderCommandResult("create", CommandOutcome.UNKNOWN, coid, error=missing)
                )
        return results

    # ------------------------------------------------------------------ portfolio

    async def get_fills_page(
        self, cursor: str | None = None, **filters: Unpack[FillFilters]
    ) -> Page[Fill]:
        return await self._page(FillsResponse, "/portfolio/fills", cursor, filters)

    def iter_fills(self, **filters: Unpack[FillFilters]) -> AsyncIterator[Fill]:
        return self._follow(partial(self.get_fills_page, **filters))

    async def get_positions_page(
        self, cursor: str | None = None, **filters: Unpack[PositionFilters]
    ) -> PositionsPage:
        """Market and event positions; ``count_filter`` is ``position`` / ``total_traded``."""
        params = _page_params(filters, cursor, PAGE_MAX)
        response = await self._get(PositionsResponse, "/portfolio/positions", params)
        return PositionsPage(
            response.market_positions, response.event_positions, response.cursor or None
        )

    def iter_market_positions(
        self, **filters: Unpack[PositionFilters]
    ) -> AsyncIterator[MarketPosition]:
        async def fetch(cursor: str | None) -> Page[MarketPosition]:
            page = await self.get_positions_page(cursor, **filters)
            return Page(page.market_positions, page.cursor)

        return self._follow(fetch)

    async def get_settlements_page(
        self, cursor: str | None = None, **filters: Unpack[SettlementFilters]
    ) -> Page[Settlement]:
        return await self._page(SettlementsResponse, "/portfolio/settlements", cursor, filters)

    def iter_settlements(self, **filters: Unpack[SettlementFilters]) -> AsyncIterator[Settlement]:
        return self._follow(partial(self.get_settlements_page, **filters))

    async def get_balance(self) -> Balance:
        """Balance and portfolio value (Kalshi sends cents; held as micro-dollars)."""
        return await self._get(Balance, "/portfolio/balance")
