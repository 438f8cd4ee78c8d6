"""Typed Kalshi objects (msgspec Structs) with every price, size and amount as an exact int.

Wire fields keep their names on the wire (``yes_bid_dollars``, ``count_fp``) and get short
Python names whose type says the unit (see ``weather_edge.money``):

* :class:`Price` - centi-cents (1/10,000 dollar), from a dollar string: "0.5500" -> 5500;
* :class:`Size` - centi-contracts, from a count string (may be signed): "11.00" -> 1100;
* :class:`Micros` - micro-dollars, from a dollar amount string: "0.3400" -> 340000;
* :class:`MicrosFromCents` / :class:`MicrosFromCentiCents` - micro-dollars, from the integer
  cents (balance, revenue) and centi-cents (WS ``market_positions``) fields.

They are plain ``int`` subclasses: arithmetic gives ints, nothing is ever a float. Timestamps
are aware UTC ``datetime`` (RFC 3339 strings or Unix seconds on the wire). Unknown fields are
ignored, so additions on Kalshi's side never break decoding.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from typing import Any, Generic, TypeVar

import msgspec

from weather_edge.kalshi.errors import KalshiProtocolError
from weather_edge.money import (
    CENT_MICROS,
    MONEY_SCALE,
    ONE_CENT_CC,
    ONE_DOLLAR_CC,
    FixedPointError,
    format_price,
    format_size,
    parse_price,
    parse_size,
)

T = TypeVar("T")


class Price(int):
    """A price in centi-cents (1/10,000 dollar), decoded from a dollar string."""


class Size(int):
    """A contract count in centi-contracts (1/100 contract), decoded from a count string."""


class Micros(int):
    """An amount of money in micro-dollars, decoded from a dollar string ("0.3400")."""


class MicrosFromCents(int):
    """An amount of money in micro-dollars, decoded from an integer number of cents."""


class MicrosFromCentiCents(int):
    """An amount of money in micro-dollars, decoded from an integer number of centi-cents."""


class PriceFromCents(int):
    """A price in centi-cents, decoded from an integer number of cents (legacy fields)."""


def parse_dollars(text: str | int | Decimal) -> int:
    """A signed dollar amount string -> exact micro-dollars: "-1.25" -> -1_250_000."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation as exc:
        raise FixedPointError(f"not a dollar amount: {text!r}") from exc
    scaled = value * MONEY_SCALE
    if not value.is_finite() or scaled != scaled.to_integral_value():
        raise FixedPointError(f"dollar amount {text!r} is not a whole number of micro-dollars")
    return int(scaled)


def _exact_int(obj: object, what: str) -> int:
    if isinstance(obj, bool) or not isinstance(obj, int):
        raise FixedPointError(f"{what} must be an integer, got {obj!r}")
    return obj


def _no_float(obj: object, what: str) -> str | int:
    if isinstance(obj, (float, bool)) or not isinstance(obj, (str, int)):
        raise FixedPointError(f"{what} must be a fixed-point string, got {obj!r}")
    return obj


def _dec_hook(tp: type, obj: Any) -> Any:
    if tp is Price:
        return Price(parse_price(_no_float(obj, "price")))
    if tp is Size:
        return Size(parse_size(_no_float(obj, "size")))
    if tp is Micros:
        return Micros(parse_dollars(_no_float(obj, "dollar amount")))
    if tp is MicrosFromCents:
        return MicrosFromCents(_exact_int(obj, "cents") * CENT_MICROS)
    if tp is MicrosFromCentiCents:
        return MicrosFromCentiCents(_exact_int(obj, "centi-cents") * (MONEY_SCALE // 10_000))
    if tp is PriceFromCents:
        return PriceFromCents(_exact_int(obj, "cents") * ONE_CENT_CC)
    raise NotImplementedError(f"no decoder for {tp!r}")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Model(msgspec.Struct, kw_only=True):
    """Base of every decoded object: timestamps normalised to aware UTC."""

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime) and value.tzinfo is not UTC:
                setattr(self, name, _utc(value))


@cache
def _decoder(tp: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(tp, dec_hook=_dec_hook, strict=False)


def decode(tp: type[T], data: bytes | str | msgspec.Raw) -> T:
    """Decode JSON into ``tp``; any shape or fixed-point problem is a KalshiProtocolError."""
    try:
        return _decoder(tp).decode(data)  # type: ignore[arg-type]
    except (msgspec.DecodeError, FixedPointError, ValueError, TypeError) as exc:
        raise KalshiProtocolError(f"cannot decode {getattr(tp, '__name__', tp)}: {exc}") from None


def convert(tp: type[T], obj: Any) -> T:
    """Like :func:`decode` for already-parsed JSON objects (dicts and lists)."""
    try:
        return msgspec.convert(obj, tp, dec_hook=_dec_hook, strict=False)
    except (msgspec.ValidationError, FixedPointError, ValueError, TypeError) as exc:
        raise KalshiProtocolError(f"cannot convert {getattr(tp, '__name__', tp)}: {exc}") from None


# --------------------------------------------------------------------------- enums


class Side(StrEnum):
    YES = "yes"
    NO = "no"


class Action(StrEnum):
    BUY = "buy"
    SELL = "sell"


class TimeInForce(StrEnum):
    FILL_OR_KILL = "fill_or_kill"
    GOOD_TILL_CANCELED = "good_till_canceled"
    IMMEDIATE_OR_CANCEL = "immediate_or_cancel"


class SelfTradePrevention(StrEnum):
    TAKER_AT_CROSS = "taker_at_cross"
    MAKER = "maker"


class MarketStatusFilter(StrEnum):
    """Values of the ``status`` filter of ``GET /markets`` (not the market's own status)."""

    UNOPENED = "unopened"
    OPEN = "open"
    PAUSED = "paused"
    CLOSED = "closed"
    SETTLED = "settled"


Level = tuple[Price, Size]


# --------------------------------------------------------------------------- market data


class SettlementSource(Model):
    name: str = ""
    url: str = ""


class Series(Model):
    ticker: str
    title: str = ""
    category: str = ""
    frequency: str = ""
    fee_type: str = ""
    fee_multiplier: Decimal = Decimal(1)
    settlement_sources: list[SettlementSource] = []
    contract_url: str = ""
    tags: list[str] | None = None


class Market(Model):
    ticker: str
    event_ticker: str = ""
    market_type: str = ""
    title: str = ""
    subtitle: str = ""
    yes_sub_title: str = ""
    no_sub_title: str = ""
    status: str = ""
    open_time: datetime | None = None
    close_time: datetime | None = None
    expiration_time: datetime | None = None
    latest_expiration_time: datetime | None = None
    strike_type: str = ""
    floor_strike: Decimal | None = None
    cap_strike: Decimal | None = None
    yes_bid: Price | None = msgspec.field(name="yes_bid_dollars", default=None)
    yes_ask: Price | None = msgspec.field(name="yes_ask_dollars", default=None)
    no_bid: Price | None = msgspec.field(name="no_bid_dollars", default=None)
    no_ask: Price | None = msgspec.field(name="no_ask_dollars", default=None)
    last_price: Price | None = msgspec.field(name="last_price_dollars", default=None)
    previous_price: Price | None = msgspec.field(name="previous_price_dollars", default=None)
    volume: Size | None = msgspec.field(name="volume_fp", default=None)
    volume_24h: Size | None = msgspec.field(name="volume_24h_fp", default=None)
    open_interest: Size | None = msgspec.field(name="open_interest_fp", default=None)
    liquidity: Micros | None = msgspec.field(name="liquidity_dollars", default=None)
    result: str = ""
    settlement_ts: datetime | None = None
    settlement_value: Price | None = msgspec.field(name="settlement_value_dollars", default=None)
    can_close_early: bool | None = None
    price_level_structure: str = ""
    rules_primary: str = ""
    rules_secondary: str = ""


class Event(Model):
    event_ticker: str
    series_ticker: str = ""
    title: str = ""
    sub_title: str = ""
    category: str = ""
    strike_date: datetime | None = None
    strike_period: str = ""
    mutually_exclusive: bool | None = None
    markets: list[Market] | None = None


class EventDetail(Model):
    """``GET /events/{event_ticker}``: the event and its markets."""

    event: Event
    markets: list[Market] = []


class _Bids:
    """Both sides of a book message; a side that is absent or null is empty."""

    __slots__ = ()
    yes: list[Level] | None
    no: list[Level] | None

    @property
    def yes_bids(self) -> list[Level]:
        return self.yes or []

    @property
    def no_bids(self) -> list[Level]:
        return self.no or []


class Orderbook(Model, _Bids):
    """``GET /markets/{ticker}/orderbook``: bids only, each side ascending (best bid last)."""

    yes: list[Level] | None = msgspec.field(name="yes_dollars", default=None)
    no: list[Level] | None = msgspec.field(name="no_dollars", default=None)


class Trade(Model):
    trade_id: str
    ticker: str = ""
    count: Size = msgspec.field(name="count_fp", default=Size(0))
    yes_price: Price | None = msgspec.field(name="yes_price_dollars", default=None)
    no_price: Price | None = msgspec.field(name="no_price_dollars", default=None)
    taker_side: str = ""
    created_time: datetime | None = None


class BidAskOHLC(Model):
    open: Price | None = msgspec.field(name="open_dollars", default=None)
    low: Price | None = msgspec.field(name="low_dollars", default=None)
    high: Price | None = msgspec.field(name="high_dollars", default=None)
    close: Price | None = msgspec.field(name="close_dollars", default=None)


class PriceOHLC(Model):
    open: Price | None = msgspec.field(name="open_dollars", default=None)
    low: Price | None = msgspec.field(name="low_dollars", default=None)
    high: Price | None = msgspec.field(name="high_dollars", default=None)
    close: Price | None = msgspec.field(name="close_dollars", default=None)
    previous: Price | None = msgspec.field(name="previous_dollars", default=None)
    mean: Decimal | None = msgspec.field(name="mean_dollars", default=None)  # not on the grid


class Candlestick(Model):
    end_period_ts: datetime
    yes_bid: BidAskOHLC = msgspec.field(default_factory=BidAskOHLC)
    yes_ask: BidAskOHLC = msgspec.field(default_factory=BidAskOHLC)
    price: PriceOHLC = msgspec.field(default_factory=PriceOHLC)
    volume: Size = msgspec.field(name="volume_fp", default=Size(0))
    open_interest: Size = msgspec.field(name="open_interest_fp", default=Size(0))


# --------------------------------------------------------------------------- portfolio


class Order(Model):
    order_id: str
    client_order_id: str = ""
    ticker: str = ""
    side: Side = Side.YES
    action: Action = Action.BUY
    type: str = ""
    status: str = ""
    yes_price: Price | None = msgspec.field(name="yes_price_dollars", default=None)
    no_price: Price | None = msgspec.field(name="no_price_dollars", default=None)
    fill_count: Size = msgspec.field(name="fill_count_fp", default=Size(0))
    remaining_count: Size = msgspec.field(name="remaining_count_fp", default=Size(0))
    initial_count: Size = msgspec.field(name="initial_count_fp", default=Size(0))
    taker_fees: Micros = msgspec.field(name="taker_fees_dollars", default=Micros(0))
    maker_fees: Micros = msgspec.field(name="maker_fees_dollars", default=Micros(0))
    taker_fill_cost: Micros | None = msgspec.field(name="taker_fill_cost_dollars", default=None)
    maker_fill_cost: Micros | None = msgspec.field(name="maker_fill_cost_dollars", default=None)
    created_time: datetime | None = None
    last_update_time: datetime | None = None
    expiration_time: datetime | None = None
    order_group_id: str | None = None
    self_trade_prevention_type: str | None = None

    @property
    def price(self) -> Price | None:
        """The limit price on the order's own side."""
        return self.yes_price if self.side is Side.YES else self.no_price


class Fill(Model):
    fill_id: str = ""
    trade_id: str = ""
    order_id: str = ""
    ticker: str = ""
    market_ticker: str = ""
    side: Side = Side.YES
    action: Action = Action.BUY
    count: Size = msgspec.field(name="count_fp", default=Size(0))
    yes_price: Price | None = msgspec.field(name="yes_price_dollars", default=None)
    no_price: Price | None = msgspec.field(name="no_price_dollars", default=None)
    is_taker: bool | None = None
    fee_cost: Micros = Micros(0)
    client_order_id: str = ""
    created_time: datetime | None = None
    ts: datetime | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.ticker:
            self.ticker = self.market_ticker


class MarketPosition(Model):
    ticker: str
    position: Size = msgspec.field(name="position_fp", default=Size(0))
    total_traded: Micros = msgspec.field(name="total_traded_dollars", default=Micros(0))
    market_exposure: Micros = msgspec.field(name="market_exposure_dollars", default=Micros(0))
    realized_pnl: Micros = msgspec.field(name="realized_pnl_dollars", default=Micros(0))
    fees_paid: Micros = msgspec.field(name="fees_paid_dollars", default=Micros(0))
    resting_orders_count: int | None = None
    last_updated_ts: datetime | None = None


class EventPosition(Model):
    event_ticker: str
    total_cost: Micros = msgspec.field(name="total_cost_dollars", default=Micros(0))
    total_cost_shares: Size = msgspec.field(name="total_cost_shares_fp", default=Size(0))
    event_exposure: Micros = msgspec.field(name="event_exposure_dollars", default=Micros(0))
    realized_pnl: Micros = msgspec.field(name="realized_pnl_dollars", default=Micros(0))
    fees_paid: Micros = msgspec.field(name="fees_paid_dollars", default=Micros(0))


class Settlement(Model):
    ticker: str
    event_ticker: str = ""
    market_result: str = ""
    yes_count: Size = msgspec.field(name="yes_count_fp", default=Size(0))
    yes_total_cost: Micros = msgspec.field(name="yes_total_cost_dollars", default=Micros(0))
    no_count: Size = msgspec.field(name="no_count_fp", default=Size(0))
    no_total_cost: Micros = msgspec.field(name="no_total_cost_dollars", default=Micros(0))
    revenue: MicrosFromCents = MicrosFromCents(0)
    fee_cost: Micros = Micros(0)
    value: PriceFromCents | None = None
    settled_time: datetime | None = None


class Balance(Model):
    """``GET /portfolio/balance``: Kalshi sends cents; held here as micro-dollars."""

    balance: MicrosFromCents
    portfolio_value: MicrosFromCents = MicrosFromCents(0)
    updated_ts: datetime | None = None


class ExchangeStatus(Model):
    """``GET /exchange/status``."""

    exchange_active: bool
    trading_active: bool
    exchange_estimated_resume_time: datetime | None = None


class ErrorBody(Model):
    code: str | int = ""
    message: str = ""
    details: str | None = None


class BatchOrderItem(Model):
    client_order_id: str = ""
    order: Order | None = None
    error: ErrorBody | None = None


# --------------------------------------------------------------------------- response envelopes


class SeriesResponse(Model):
    series: Series


class EventsResponse(Model):
    events: list[Event] = []
    cursor: str = ""


class MarketsResponse(Model):
    markets: list[Market] = []
    cursor: str = ""


class MarketResponse(Model):
    market: Market


class OrderbookResponse(Model):
    orderbook_fp: Orderbook = msgspec.field(default_factory=Orderbook)


class TradesResponse(Model):
    trades: list[Trade] = []
    cursor: str = ""


class CandlesticksResponse(Model):
    ticker: str = ""
    candlesticks: list[Candlestick] = []


class OrderResponse(Model):
    order: Order


class OrdersResponse(Model):
    orders: list[Order] = []
    cursor: str = ""


class CancelOrderResponse(Model):
    order: Order
    reduced_by: Size = msgspec.field(name="reduced_by_fp", default=Size(0))


class AmendOrderResponse(Model):
    order: Order
    old_order: Order | None = None


class BatchOrdersResponse(Model):
    orders: list[BatchOrderItem] = []


class FillsResponse(Model):
    fills: list[Fill] = []
    cursor: str = ""


class PositionsResponse(Model):
    market_positions: list[MarketPosition] = []
    event_positions: list[EventPosition] = []
    cursor: str = ""


class SettlementsResponse(Model):
    settlements: list[Settlement] = []
    cursor: str = ""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a cursor-paginated listing; ``cursor`` is None on the last page."""

    items: list[T]
    cursor: str | None

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)


@dataclass(frozen=True, slots=True)
class PositionsPage:
    market_positions: list[MarketPosition]
    event_positions: list[EventPosition]
    cursor: str | None


# --------------------------------------------------------------------------- order requests


def new_client_order_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A limit order to place: ``count`` in centi-contracts, ``price`` in centi-cents on ``side``.

    ``buy_max_cost`` is micro-dollars (sent as whole cents). ``client_order_id`` is generated
    when omitted, and is what makes a resubmission safe: Kalshi answers 409 to a repeat.
    """

    ticker: str
    side: Side
    action: Action
    count: int
    price: int
    client_order_id: str | None = None
    time_in_force: TimeInForce | None = None
    expiration_ts: datetime | None = None
    post_only: bool | None = None
    reduce_only: bool | None = None
    buy_max_cost: int | None = None
    self_trade_prevention_type: SelfTradePrevention | None = None
    order_group_id: str | None = None

    def __post_init__(self) -> None:
        if self.count <= 0:
            raise ValueError(f"order count must be positive, got {self.count} centi-contracts")
        if not 0 < self.price < ONE_DOLLAR_CC:
            raise ValueError(f"a limit price must be strictly between 0 and 1 dollar: {self.price}")
        if self.buy_max_cost is not None and self.buy_max_cost % CENT_MICROS:
            raise ValueError("buy_max_cost must be a whole number of cents")
        if self.expiration_ts is not None and self.expiration_ts.tzinfo is None:
            raise ValueError("expiration_ts must be timezone-aware")

    def with_client_order_id(self) -> OrderRequest:
        """This request with a ``client_order_id`` (a fresh UUID if it had none)."""
        if self.client_order_id:
            return self
        return replace(self, client_order_id=new_client_order_id())

    def to_wire(self) -> dict[str, Any]:
        """The JSON body of ``POST /portfolio/orders`` (uses fixed-point strings)."""
        if not self.client_order_id:
            raise ValueError("call with_client_order_id() first: every order carries an id")
        body: dict[str, Any] = {
            "ticker": self.ticker,
            "side": self.side.value,
            "action": self.action.value,
            "count_fp": format_size(self.count),
            f"{self.side.value}_price_dollars": format_price(self.price),
            "client_order_id": self.client_order_id,
        }
        if self.time_in_force is not None:
            body["time_in_force"] = self.time_in_force.value
        if self.expiration_ts is not None:
            body["expiration_ts"] = int(self.expiration_ts.timestamp())
        for name in ("post_only", "reduce_only", "order_group_id"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        if self.buy_max_cost is not None:
            body["buy_max_cost"] = self.buy_max_cost // CENT_MICROS
        if self.self_trade_prevention_type is not None:
            body["self_trade_prevention_type"] = self.self_trade_prevention_type.value
        return body


# --------------------------------------------------------------------------- WebSocket messages


class Envelope(msgspec.Struct):
    """Outer shape of every WS message; ``msg`` stays raw until the type is known."""

    type: str = ""
    id: int | None = None
    sid: int | None = None
    seq: int | None = None
    msg: msgspec.Raw = msgspec.Raw(b"")  # empty when absent

    @property
    def has_msg(self) -> bool:
        return len(self.msg) > 0 and bytes(self.msg) != b"null"


class WsOrderbookSnapshot(Model, _Bids):
    market_ticker: str
    market_id: str = ""
    yes: list[Level] | None = msgspec.field(name="yes_dollars_fp", default=None)
    no: list[Level] | None = msgspec.field(name="no_dollars_fp", default=None)


class WsOrderbookDelta(Model):
    market_ticker: str
    price: Price = msgspec.field(name="price_dollars")
    delta: Size = msgspec.field(name="delta_fp")
    side: Side
    market_id: str = ""
    client_order_id: str | None = None
    ts: datetime | None = None


class WsTicker(Model):
    market_ticker: str
    market_id: str = ""
    price: Price | None = msgspec.field(name="price_dollars", default=None)
    yes_bid: Price | None = msgspec.field(name="yes_bid_dollars", default=None)
    yes_ask: Price | None = msgspec.field(name="yes_ask_dollars", default=None)
    volume: Size | None = msgspec.field(name="volume_fp", default=None)
    open_interest: Size | None = msgspec.field(name="open_interest_fp", default=None)
    ts: datetime | None = None


class WsTrade(Model):
    market_ticker: str
    trade_id: str = ""
    yes_price: Price | None = msgspec.field(name="yes_price_dollars", default=None)
    no_price: Price | None = msgspec.field(name="no_price_dollars", default=None)
    count: Size = msgspec.field(name="count_fp", default=Size(0))
    taker_side: str = ""
    ts: datetime | None = None


class WsFill(Model):
    market_ticker: str
    trade_id: str = ""
    order_id: str = ""
    is_taker: bool | None = None
    side: Side = Side.YES
    action: Action = Action.BUY
    yes_price: Price | None = msgspec.field(name="yes_price_dollars", default=None)
    count: Size = msgspec.field(name="count_fp", default=Size(0))
    fee_cost: Micros = Micros(0)
    post_position: Size | None = msgspec.field(name="post_position_fp", default=None)
    client_order_id: str = ""
    ts: datetime | None = None


class WsMarketPosition(Model):
    market_ticker: str
    position: Size = msgspec.field(name="position_fp", default=Size(0))
    position_cost: MicrosFromCentiCents = MicrosFromCentiCents(0)
    realized_pnl: MicrosFromCentiCents = MicrosFromCentiCents(0)
    fees_paid: MicrosFromCentiCents = MicrosFromCentiCents(0)


class WsMarketLifecycle(Model):
    market_ticker: str
    event_type: str = ""
    open_ts: datetime | None = None
    close_ts: datetime | None = None
    determination_ts: datetime | None = None
    settled_ts: datetime | None = None
    result: str = ""
    settlement_value: str | int | None = None
    additional_metadata: dict[str, Any] | None = None


class WsEventLifecycle(Model):
    event_ticker: str
    series_ticker: str = ""
    title: str = ""
    strike_date: datetime | None = None
    strike_period: str = ""


WS_MESSAGE_TYPES: dict[str, type[Model]] = {
    "orderbook_snapshot": WsOrderbookSnapshot,
    "orderbook_delta": WsOrderbookDelta,
    "ticker": WsTicker,
    "trade": WsTrade,
    "fill": WsFill,
    "market_positions": WsMarketPosition,
    "market_position": WsMarketPosition,
    "market_lifecycle_v2": WsMarketLifecycle,
    "event_lifecycle": WsEventLifecycle,
}
