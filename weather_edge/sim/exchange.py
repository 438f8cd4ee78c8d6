"""The simulated exchange: series, events, markets, accounts, orders, fills and settlements.

Everything the REST and WebSocket server says comes from here. The exchange is thread-safe
(one re-entrant lock): the server's event loop, the synthetic agents and a test's own thread
may all call it. Every state change produces events (:data:`ExchangeEvent`) that registered
listeners receive in order, still under the lock; the server turns them into WebSocket
messages.

Weather markets. For each city of the registry and each climate day the exchange lists one
event (``KXHIGHNY-26AUG24``) of six mutually exclusive markets: a low tail ``T78`` ("less
than 78", YES at 77 and below), four two-degree brackets ``B78.5`` .. ``B84.5`` (both ends
inclusive) and a high tail ``T85`` ("greater than 85", YES at 86 and above), centred on the
forecast when the event is listed. Timeline (sim clock):

* created (``initialized``) ``listing_lead`` before the open;
* open (``active``) at 10:00 America/New_York on the day before;
* close at the end of the climate day, midnight local *standard* time (what the real
  captures show: ``close_time`` 05:00Z for New York all year); resting orders are canceled;
* ``determined`` ``determination_delay`` after the close, with the result from the weather
  source's true high (the "CLI" value); ``finalized`` ``settlement_delay`` later, when every
  winning contract pays $1 and the lifecycle channel says ``settled``.

With ``days`` empty the listing rolls like Kalshi's: each city's next day is listed every
morning. The true high and the forecast come from a :class:`WeatherSource`; until the
weather simulator exists the seeded :class:`SeededWeather` stands in.

Money: balances and amounts are micro-dollars inside, cents or dollar strings on the wire.
Positions net per market (``+`` YES, ``-`` NO): buying NO while holding YES closes the
pair and pays $1 per closed pair at once.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import heapq
import itertools
import math
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from weather_edge.kalshi.tickers import EventTicker
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
from weather_edge.sim.clock import SimClock
from weather_edge.sim.matching import (
    Action,
    BookDelta,
    Fill,
    IdFactory,
    MatchingEngine,
    MatchResult,
    Order,
    OrderRejected,
    SelfTradePrevention,
    SeriesFees,
    Side,
    TimeInForce,
    Trade,
    book_price_of,
    book_side_of,
)
from weather_edge.weather.cities import City, ensure_utc, get_city, registry
from weather_edge.weather.climate_day import climate_day_bounds, hours_to_climate_day_end

LISTING_ZONE = ZoneInfo("America/New_York")
RECENT_TRADES = 200_000  # GET /markets/trades without a ticker reaches this far back
LISTING_HOUR = 10


# ====================================================================== weather source


@dataclass(frozen=True)
class HighForecast:
    """A forecast of a day's high: normal with ``mean_f`` and ``sigma_f`` (°F), truncated
    below at ``observed_max_f`` once part of the day has been observed."""

    mean_f: float
    sigma_f: float
    observed_max_f: float | None = None

    def _cdf(self, x: float) -> float:
        sigma = max(self.sigma_f, 1e-6)
        return 0.5 * (1.0 + math.erf((x - self.mean_f) / (sigma * math.sqrt(2.0))))

    def probability(self, low_f: int | None, high_f: int | None) -> float:
        """P(low <= reported integer high <= high); ``None`` is an open end.

        The report rounds the continuous maximum X half up, so the bracket is
        ``low - 0.5 <= X < high + 0.5``.
        """
        lower = -math.inf if low_f is None else low_f - 0.5
        upper = math.inf if high_f is None else high_f + 0.5
        seen = self.observed_max_f
        if seen is not None:
            mass = 1.0 - self._cdf(seen)
            if mass < 1e-12:  # the forecast gave no room above what was seen
                return 1.0 if lower <= seen < upper else 0.0
            lower = max(lower, seen)
            if upper <= lower:
                return 0.0
            return (self._cdf(upper) - self._cdf(lower)) / mass
        cdf_up = 1.0 if upper == math.inf else self._cdf(upper)
        cdf_low = 0.0 if lower == -math.inf else self._cdf(lower)
        return max(0.0, cdf_up - cdf_low)


class WeatherSource(Protocol):
    """Where the simulator's weather comes from: the truth and the forecast of it."""

    def true_high(self, city: City, day: date) -> int:
        """The high the (simulated) NWS Daily Climate Report publishes for ``day``."""
        ...

    def forecast(self, city: City, day: date, as_of: datetime) -> HighForecast:
        """What a forecaster knows about the high of ``day`` at ``as_of``."""
        ...


# (annual mean of daily highs, seasonal amplitude, day-to-day spread), °F
_CLIMATE: dict[str, tuple[float, float, float]] = {
    "NYC": (62.0, 22.0, 6.5),
    "CHI": (59.0, 25.0, 8.0),
    "MIA": (84.0, 6.5, 2.5),
    "AUS": (80.0, 16.0, 6.0),
    "DEN": (64.0, 22.0, 9.0),
    "LAX": (71.0, 5.0, 4.0),
    "PHL": (64.0, 22.0, 6.5),
}


def seeded_rng(*parts: object) -> random.Random:
    """A ``random.Random`` that depends only on ``parts`` (not on ``PYTHONHASHSEED``)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


class SeededWeather:
    """A stand-in weather source: a seeded climatology and a forecast that converges on it.

    The true high is the seasonal climatology plus a seeded anomaly. The forecast's error
    is a smooth seeded path scaled by a spread that shrinks with the lead time (about 3 °F
    at 41 h, the NDFD median lead, whose MAE against the CLI is 2.5 °F), and it knows the
    truth once the climate day is over.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def true_high(self, city: City, day: date) -> int:
        mean, amplitude, spread = _CLIMATE.get(city.code, (70.0, 15.0, 6.0))
        season = math.cos(2.0 * math.pi * (day.timetuple().tm_yday - 201) / 365.25)
        anomaly = seeded_rng(self.seed, "high", city.code, day.isoformat()).gauss(0.0, spread)
        return round(mean + amplitude * season + anomaly)

    def forecast(self, city: City, day: date, as_of: datetime) -> HighForecast:
        truth = self.true_high(city, day)
        lead_h = hours_to_climate_day_end(city, day, as_of)
        if lead_h <= 0:
            return HighForecast(float(truth), 0.05)
        sigma = 0.5 + 2.6 * min(lead_h, 72.0) / 41.0
        rng = seeded_rng(self.seed, "path", city.code, day.isoformat())
        waves = [(rng.uniform(0, 2 * math.pi), period) for period in (5.0, 16.0, 43.0)]
        z = sum(math.sqrt(2.0 / 3.0) * math.sin(2 * math.pi * lead_h / p + ph) for ph, p in waves)
        return HighForecast(truth + sigma * z, sigma)


class SimulatedWeatherSource:
    """The weather simulator (:mod:`weather_edge.sim.weather`) as a :class:`WeatherSource`.

    The forecast is its latest issue, truncated at the maximum observed so far once the
    climate day has begun; before the first issue, climatology.
    """

    def __init__(self, weather: Any) -> None:
        self.weather = weather

    def true_high(self, city: City, day: date) -> int:
        return int(self.weather.true_high(city.code, day))

    def forecast(self, city: City, day: date, as_of: datetime) -> HighForecast:
        start, end = climate_day_bounds(city, day)
        if as_of >= end:
            return HighForecast(float(self.true_high(city, day)), 0.05)
        issue = self.weather.latest_forecast(city.code, day, as_of)
        if issue is None:
            return HighForecast(self.weather.normal_high(city.code, day), 7.0)
        seen = None
        if as_of > start:
            seen = float(self.weather.high_extreme(city.code, day, as_of).value_f)
        return HighForecast(float(issue.mean_high_f), float(issue.sigma_f), seen)


def default_weather(seed: int) -> WeatherSource:
    """The weather simulator when it is importable, else the seeded stand-in."""
    try:
        from weather_edge.sim.weather import SimulatedWeather
    except ImportError:
        return SeededWeather(seed)
    return SimulatedWeatherSource(SimulatedWeather(seed))


# ====================================================================== domain objects


class MarketStatus(StrEnum):
    INITIALIZED = "initialized"
    INACTIVE = "inactive"
    ACTIVE = "active"
    CLOSED = "closed"
    DETERMINED = "determined"
    FINALIZED = "finalized"


STATUS_FILTERS: dict[str, frozenset[MarketStatus]] = {
    "unopened": frozenset({MarketStatus.INITIALIZED}),
    "open": frozenset({MarketStatus.ACTIVE}),
    "paused": frozenset({MarketStatus.INACTIVE}),
    "closed": frozenset({MarketStatus.CLOSED}),
    "settled": frozenset({MarketStatus.DETERMINED, MarketStatus.FINALIZED}),
}


class StrikeType(StrEnum):
    LESS = "less"
    BETWEEN = "between"
    GREATER = "greater"


@dataclass
class SeriesInfo:
    ticker: str
    city: City
    title: str
    fee_type: str = "quadratic"
    fee_multiplier: Decimal = Decimal(1)
    category: str = "Climate and Weather"
    frequency: str = "daily"

    def json(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "title": self.title,
            "category": self.category,
            "frequency": self.frequency,
            "fee_type": self.fee_type,
            "fee_multiplier": float(self.fee_multiplier)
            if self.fee_multiplier != self.fee_multiplier.to_integral_value()
            else int(self.fee_multiplier),
            "settlement_sources": [
                {
                    "name": "National Weather Service",
                    "url": f"https://forecast.weather.gov/product.php?site={self.city.wfo}"
                    f"&product=CLI&issuedby={self.city.cli_product[3:]}",
                }
            ],
            "contract_url": "https://kalshi.com/markets/" + self.ticker.lower(),
            "tags": ["Weather", "Temperature"],
            "additional_prohibitions": [],
        }


@dataclass
class EventInfo:
    event_ticker: str
    series_ticker: str
    city: City
    day: date
    title: str
    sub_title: str
    close_time: datetime
    markets: list[str] = field(default_factory=list)


@dataclass
class MarketState:
    ticker: str
    event_ticker: str
    series_ticker: str
    market_id: str
    city: City
    day: date
    strike_type: StrikeType
    floor_strike: int | None
    cap_strike: int | None
    title: str
    yes_sub_title: str
    no_sub_title: str
    rules_primary: str
    rules_secondary: str
    created_time: datetime
    open_time: datetime
    close_time: datetime
    expected_expiration_time: datetime
    latest_expiration_time: datetime
    settle_delay: timedelta
    engine: MatchingEngine
    status: MarketStatus = MarketStatus.INITIALIZED
    result: str = ""
    determined_time: datetime | None = None
    settlement_ts: datetime | None = None
    last_price: int | None = None
    previous_price: int | None = None
    volume: int = 0
    open_interest: int = 0
    trades: list[Trade] = field(default_factory=list)
    trade_times: list[datetime] = field(default_factory=list)
    oi_after_trade: list[int] = field(default_factory=list)
    tob_times: list[datetime] = field(default_factory=list)
    tob_values: list[tuple[int, int]] = field(default_factory=list)
    published_ticker: tuple[int, int, int | None, int, int] | None = None

    @property
    def bracket(self) -> tuple[int | None, int | None]:
        """The inclusive integer °F range that wins YES; ``None`` is an open end."""
        if self.strike_type is StrikeType.BETWEEN:
            return self.floor_strike, self.cap_strike
        if self.strike_type is StrikeType.GREATER:
            assert self.floor_strike is not None
            return self.floor_strike + 1, None
        assert self.cap_strike is not None
        return None, self.cap_strike - 1

    def wins(self, high_f: int) -> bool:
        low, high = self.bracket
        return (low is None or high_f >= low) and (high is None or high_f <= high)

    @property
    def is_open(self) -> bool:
        return self.status is MarketStatus.ACTIVE

    def quotes(self) -> tuple[int, int]:
        """(best YES bid, best YES ask) in cc; an empty side shows as bid 0 / ask 1."""
        yes_bid = self.engine.best_bid(Side.YES) or 0
        no_bid = self.engine.best_bid(Side.NO)
        return yes_bid, ONE_DOLLAR_CC - no_bid if no_bid else ONE_DOLLAR_CC


@dataclass
class Position:
    ticker: str
    event_ticker: str
    position: int = 0  # cq: + YES, - NO
    cost: int = 0  # micro-dollars paid for the open position
    realized_pnl: int = 0
    fees_paid: int = 0
    total_traded: int = 0
    last_updated: datetime | None = None


@dataclass(frozen=True)
class SettlementRecord:
    ticker: str
    event_ticker: str
    result: str
    yes_count: int
    yes_total_cost: int
    no_count: int
    no_total_cost: int
    revenue: int  # micro-dollars
    fee_cost: int
    settled_time: datetime


@dataclass
class Account:
    """An API key's account. ``unlimited`` accounts (the agents) skip the balance check and
    keep no history of finished orders and fills, so a long run does not grow without end."""

    key_id: str
    cash: int  # micro-dollars
    unlimited: bool = False
    positions: dict[str, Position] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    open_orders: dict[str, Order] = field(default_factory=dict)
    client_ids: dict[str, str] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    settlements: list[SettlementRecord] = field(default_factory=list)
    updated: datetime | None = None

    def reserved(self) -> int:
        """Cash set aside for resting orders that open (rather than close) positions."""
        return sum(
            o.book_price * min(o.remaining, o.opening_count) for o in self.open_orders.values()
        )


# ====================================================================== events


@dataclass(frozen=True)
class PositionUpdate:
    account: str
    ticker: str
    position: int
    cost: int
    realized_pnl: int
    fees_paid: int
    ts: datetime


@dataclass(frozen=True)
class TickerUpdate:
    ticker: str
    market_id: str
    last_price: int | None
    yes_bid: int
    yes_ask: int
    volume: int
    open_interest: int
    ts: datetime


@dataclass(frozen=True)
class LifecycleUpdate:
    """A ``market_lifecycle_v2`` message body (``msg``), ready for the wire."""

    ticker: str
    event_type: str
    msg: dict[str, Any]
    ts: datetime


@dataclass(frozen=True)
class EventLifecycleUpdate:
    event_ticker: str
    msg: dict[str, Any]
    ts: datetime


ExchangeEvent = (
    BookDelta
    | Trade
    | Fill
    | PositionUpdate
    | TickerUpdate
    | LifecycleUpdate
    | EventLifecycleUpdate
)
Listener = Callable[[Sequence[ExchangeEvent]], None]
StepHook = Callable[[datetime], None]


# ====================================================================== requests


@dataclass(frozen=True)
class OrderRequest:
    """A create-order body, parsed: ``yes_price`` in cc, ``count`` in cq."""

    ticker: str
    side: Side
    action: Action
    count: int
    yes_price: int
    client_order_id: str = ""
    time_in_force: TimeInForce = TimeInForce.GOOD_TILL_CANCELED
    expiration_ts: int | None = None
    post_only: bool = False
    reduce_only: bool = False
    buy_max_cost: int | None = None  # micro-dollars
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS
    order_group_id: str | None = None

    @property
    def book_side(self) -> Side:
        return book_side_of(self.side, self.action)

    @property
    def book_price(self) -> int:
        return book_price_of(self.side, self.action, self.yes_price)


def _enum(kind: type[StrEnum], value: object, name: str) -> Any:
    try:
        return kind(str(value))
    except ValueError:
        allowed = "|".join(m.value for m in kind)
        raise OrderRejected("invalid_order", f"{name} must be one of {allowed}") from None


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise OrderRejected("invalid_parameters", f"{name} must be a boolean")
    return value


def _int_field(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise OrderRejected("invalid_parameters", f"{name} must be an integer")
    return value


def parse_count(
    body: Mapping[str, Any], int_name: str = "count", fp_name: str = "count_fp"
) -> int | None:
    """A count from ``count`` (whole contracts) and/or ``count_fp`` (string): cq."""
    whole = _int_field(body, int_name)
    text = body.get(fp_name)
    counts = set()
    if whole is not None:
        counts.add(whole * 100)
    if text is not None:
        if not isinstance(text, str):
            raise OrderRejected("invalid_parameters", f"{fp_name} must be a fixed-point string")
        try:
            counts.add(parse_size(text))
        except FixedPointError as exc:
            raise OrderRejected("invalid_parameters", str(exc)) from None
    if len(counts) > 1:
        raise OrderRejected("invalid_parameters", f"{int_name} and {fp_name} disagree")
    return counts.pop() if counts else None


def parse_yes_price(body: Mapping[str, Any], side: Side) -> int | None:
    """The YES price (cc) from ``yes_price``/``no_price`` (cents) or ``*_dollars`` strings."""
    prices: set[int] = set()
    for name, is_yes in (("yes_price", True), ("no_price", False)):
        cents = _int_field(body, name)
        if cents is not None:
            cc = cents * ONE_CENT_CC
            prices.add(cc if is_yes else ONE_DOLLAR_CC - cc)
        text = body.get(f"{name}_dollars")
        if text is not None:
            if not isinstance(text, str):
                raise OrderRejected("invalid_parameters", f"{name}_dollars must be a string")
            try:
                cc = parse_price(text)
            except FixedPointError as exc:
                raise OrderRejected("invalid_parameters", str(exc)) from None
            prices.add(cc if is_yes else ONE_DOLLAR_CC - cc)
    if len(prices) > 1:
        raise OrderRejected("invalid_parameters", "the YES and NO prices given disagree")
    return prices.pop() if prices else None


def parse_order_request(body: Mapping[str, Any]) -> OrderRequest:
    """Validate a ``POST /portfolio/orders`` body (raises :class:`OrderRejected`)."""
    if not isinstance(body, Mapping):
        raise OrderRejected("invalid_parameters", "the body must be a JSON object")
    ticker = body.get("ticker")
    if not isinstance(ticker, str) or not ticker:
        raise OrderRejected("missing_parameters", "ticker is required")
    if body.get("type", "limit") != "limit":
        raise OrderRejected("invalid_order", "only limit orders are supported")
    side = _enum(Side, body.get("side"), "side")
    action = _enum(Action, body.get("action"), "action")
    count = parse_count(body)
    if count is None or count <= 0:
        raise OrderRejected("invalid_order", "count must be positive")
    yes_price = parse_yes_price(body, side)
    if yes_price is None:
        raise OrderRejected("invalid_order", "a price is required")
    client_order_id = body.get("client_order_id") or ""
    if not isinstance(client_order_id, str):
        raise OrderRejected("invalid_parameters", "client_order_id must be a string")
    tif = body.get("time_in_force") or TimeInForce.GOOD_TILL_CANCELED.value
    stp = body.get("self_trade_prevention_type") or SelfTradePrevention.TAKER_AT_CROSS.value
    max_cost = _int_field(body, "buy_max_cost")
    if max_cost is not None and max_cost <= 0:
        raise OrderRejected("invalid_parameters", "buy_max_cost must be positive")
    group = body.get("order_group_id")
    return OrderRequest(
        ticker=ticker,
        side=side,
        action=action,
        count=count,
        yes_price=yes_price,
        client_order_id=client_order_id,
        time_in_force=_enum(TimeInForce, tif, "time_in_force"),
        expiration_ts=_int_field(body, "expiration_ts"),
        post_only=_flag(body, "post_only"),
        reduce_only=_flag(body, "reduce_only"),
        buy_max_cost=None if max_cost is None else max_cost * CENT_MICROS,
        self_trade_prevention=_enum(SelfTradePrevention, stp, "self_trade_prevention_type"),
        order_group_id=str(group) if group else None,
    )


# ====================================================================== wire formats


def rfc3339(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    text = ensure_utc(instant).isoformat(timespec="milliseconds")
    text = text.replace("+00:00", "Z")
    return text.replace(".000Z", "Z")


def unix(instant: datetime) -> int:
    return int(ensure_utc(instant).timestamp())


def format_micros(micros: int) -> str:
    """Micro-dollars as a dollar string: 4 decimals when exact to $0.0001, else 6."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MONEY_SCALE)
    if frac % 100 == 0:
        return f"{sign}{whole}.{frac // 100:04d}"
    return f"{sign}{whole}.{frac:06d}"


def micros_to_cents(micros: int) -> int:
    return micros // CENT_MICROS


def micros_to_centi_cents(micros: int) -> int:
    return micros // (MONEY_SCALE // ONE_DOLLAR_CC)


def order_json(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "user_id": order.account,
        "client_order_id": order.client_order_id,
        "ticker": order.ticker,
        "side": order.side.value,
        "action": order.action.value,
        "type": "limit",
        "status": order.status.value,
        "yes_price_dollars": format_price(order.yes_price),
        "no_price_dollars": format_price(order.no_price),
        "fill_count_fp": format_size(order.filled),
        "remaining_count_fp": format_size(order.remaining),
        "initial_count_fp": format_size(order.initial_count),
        "taker_fees_dollars": format_micros(order.taker_fees),
        "maker_fees_dollars": format_micros(order.maker_fees),
        "taker_fill_cost_dollars": format_micros(order.taker_fill_cost),
        "maker_fill_cost_dollars": format_micros(order.maker_fill_cost),
        "time_in_force": order.time_in_force.value,
        "post_only": order.post_only,
        "created_time": rfc3339(order.created_time),
        "last_update_time": rfc3339(order.last_update_time),
        "expiration_time": rfc3339(order.expiration_time),
        "self_trade_prevention_type": order.self_trade_prevention.value,
        "order_group_id": order.order_group_id,
    }


def fill_json(fill: Fill) -> dict[str, Any]:
    """A fill as ``GET /portfolio/fills`` lists it (the WS ``fill`` message adds a few)."""
    return {
        "fill_id": fill.fill_id,
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "ticker": fill.ticker,
        "market_ticker": fill.ticker,
        "side": fill.side.value,
        "action": fill.action.value,
        "count_fp": format_size(fill.count),
        **price_pair(fill.yes_price),
        "is_taker": fill.is_taker,
        "fee_cost": format_micros(fill.fee),
        "created_time": rfc3339(fill.ts),
        "ts": unix(fill.ts),
    }


def price_pair(yes_price: int) -> dict[str, str]:
    return {
        "yes_price_dollars": format_price(yes_price),
        "no_price_dollars": format_price(ONE_DOLLAR_CC - yes_price),
    }


def trade_json(trade: Trade) -> dict[str, Any]:
    """A trade as ``GET /markets/trades`` lists it (the WS ``trade`` message adds a few)."""
    return {
        "trade_id": trade.trade_id,
        "ticker": trade.ticker,
        "count_fp": format_size(trade.count),
        **price_pair(trade.yes_price),
        "taker_side": trade.taker_side.value,
        "created_time": rfc3339(trade.ts),
    }


def levels_json(levels: Iterable[tuple[int, int]]) -> list[list[str]]:
    return [[format_price(p), format_size(s)] for p, s in levels]


def market_json(market: MarketState, now: datetime) -> dict[str, Any]:
    yes_bid, yes_ask = market.quotes()
    day_ago = now - timedelta(days=1)
    first_recent = bisect.bisect_right(market.trade_times, day_ago)
    volume_24h = sum(t.count for t in market.trades[first_recent:])
    liquidity = sum(p * s for side in Side for p, s in market.engine.levels(side))
    return {
        "ticker": market.ticker,
        "event_ticker": market.event_ticker,
        "market_type": "binary",
        "title": market.title,
        "subtitle": market.yes_sub_title,
        "yes_sub_title": market.yes_sub_title,
        "no_sub_title": market.no_sub_title,
        "created_time": rfc3339(market.created_time),
        "open_time": rfc3339(market.open_time),
        "close_time": rfc3339(market.close_time),
        "expected_expiration_time": rfc3339(market.expected_expiration_time),
        "expiration_time": rfc3339(market.expected_expiration_time),
        "latest_expiration_time": rfc3339(market.latest_expiration_time),
        "settlement_timer_seconds": int(market.settle_delay.total_seconds()),
        "status": market.status.value,
        "response_price_units": "usd_cent",
        "notional_value_dollars": "1.0000",
        "yes_bid_dollars": format_price(yes_bid),
        "yes_ask_dollars": format_price(yes_ask),
        "no_bid_dollars": format_price(ONE_DOLLAR_CC - yes_ask),
        "no_ask_dollars": format_price(ONE_DOLLAR_CC - yes_bid),
        "last_price_dollars": format_price(market.last_price or 0),
        "previous_price_dollars": format_price(market.previous_price or 0),
        "volume_fp": format_size(market.volume),
        "volume_24h_fp": format_size(volume_24h),
        "open_interest_fp": format_size(market.open_interest),
        "liquidity_dollars": format_micros(liquidity),
        "result": market.result,
        "can_close_early": False,
        "settlement_value_dollars": format_price(ONE_DOLLAR_CC if market.result == "yes" else 0)
        if market.result
        else None,
        "settlement_ts": rfc3339(market.settlement_ts),
        "expiration_value": "",
        "strike_type": market.strike_type.value,
        "floor_strike": market.floor_strike,
        "cap_strike": market.cap_strike,
        "rules_primary": market.rules_primary,
        "rules_secondary": market.rules_secondary,
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "fractional_trading_enabled": True,
        "tick_size": 1,
    }


def event_json(event: EventInfo, status: str) -> dict[str, Any]:
    return {
        "event_ticker": event.event_ticker,
        "series_ticker": event.series_ticker,
        "title": event.title,
        "sub_title": event.sub_title,
        "category": "Climate and Weather",
        "mutually_exclusive": True,
        "collateral_return_type": "",
        "strike_date": rfc3339(event.close_time),
        "strike_period": "",
        "status": status,
    }


def strike_metadata(market: MarketState) -> dict[str, Any]:
    return {
        "name": market.title,
        "title": market.title,
        "yes_sub_title": market.yes_sub_title,
        "no_sub_title": market.no_sub_title,
        "rules_primary": market.rules_primary,
        "rules_secondary": market.rules_secondary,
        "can_close_early": False,
        "event_ticker": market.event_ticker,
        "expected_expiration_ts": unix(market.expected_expiration_time),
        "strike_type": market.strike_type.value,
        "floor_strike": market.floor_strike,
        "cap_strike": market.cap_strike,
    }


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        offset = int(number)
    except (ValueError, UnicodeDecodeError):
        raise OrderRejected("invalid_parameters", "invalid cursor") from None
    if kind != "o" or offset < 0:
        raise OrderRejected("invalid_parameters", "invalid cursor")
    return offset


def paginate(items: Sequence[Any], cursor: str | None, limit: int) -> tuple[list[Any], str]:
    """One page of ``items`` and the cursor of the next ("" on the last page)."""
    start = decode_cursor(cursor)
    page = list(items[start : start + limit])
    return page, encode_cursor(start + limit) if start + limit < len(items) else ""


# ====================================================================== sent-message log


@dataclass
class ConnectionRecord:
    conn_id: int
    account: str | None
    opened: datetime
    sent: deque[str] = field(default_factory=deque)
    received: list[str] = field(default_factory=list)
    closed: datetime | None = None
    close_reason: str = ""


class SentLog:
    """Every WebSocket frame the server sent (after fault injection), per connection;
    the last ``limit`` frames of each connection when a limit is set."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._records: dict[int, ConnectionRecord] = {}
        self._ids = itertools.count(1)

    def open(self, account: str | None, now: datetime) -> ConnectionRecord:
        with self._lock:
            record = ConnectionRecord(next(self._ids), account, now, deque(maxlen=self.limit))
            self._records[record.conn_id] = record
            return record

    def sent(self, conn_id: int, text: str) -> None:
        with self._lock:
            self._records[conn_id].sent.append(text)

    def received(self, conn_id: int, text: str) -> None:
        with self._lock:
            self._records[conn_id].received.append(text)

    def close(self, conn_id: int, now: datetime, reason: str) -> None:
        with self._lock:
            record = self._records[conn_id]
            record.closed, record.close_reason = now, reason

    def connections(self) -> list[ConnectionRecord]:
        with self._lock:
            return list(self._records.values())

    def messages(self, conn_id: int) -> list[str]:
        with self._lock:
            return list(self._records[conn_id].sent)


# ====================================================================== the exchange


def event_ticker_for(city: City, day: date) -> str:
    return EventTicker(city.series_ticker, day).ticker


def listing_times(city: City, day: date) -> tuple[datetime, datetime]:
    """(open, close) of a day's markets: 10:00 ET the day before, end of the climate day."""
    open_local = datetime.combine(day - timedelta(days=1), time(LISTING_HOUR), LISTING_ZONE)
    return open_local.astimezone(UTC), climate_day_bounds(city, day)[1]


def _long_date(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _short_date(day: date) -> str:
    return f"{day:%b} {day.day}, {day.year}"


@dataclass(frozen=True)
class ExchangeSettings:
    seed: int = 0
    cities: tuple[str, ...] = ()  # registry codes; empty means every city
    days: tuple[date, ...] = ()  # climate days to list; empty means a rolling listing
    starting_balance: int = 10_000 * MONEY_SCALE  # micro-dollars for a new API key
    listing_lead: timedelta = timedelta(minutes=10)
    determination_delay: timedelta = timedelta(hours=7)
    settlement_delay: timedelta = timedelta(minutes=30)
    step_seconds: float = 5.0  # the grid of agent steps (sim seconds)
    max_catchup: timedelta = timedelta(hours=1)  # skip agent steps beyond this backlog
    history_retention: timedelta = timedelta(days=3)  # trades/candles kept after settlement
    ws_record_limit: int | None = None  # WS frames remembered per connection (None: all)
    fee_type: str = "quadratic"
    fee_multiplier: Decimal = Decimal(1)


class Exchange:
    """The whole simulated venue. Public methods are thread-safe."""

    def __init__(
        self,
        clock: SimClock,
        settings: ExchangeSettings | None = None,
        weather: WeatherSource | None = None,
    ) -> None:
        self.settings = settings or ExchangeSettings()
        self.clock = clock
        self.weather = weather or default_weather(self.settings.seed)
        self.ids = IdFactory(self.settings.seed)
        self.sent = SentLog(self.settings.ws_record_limit)
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._step_hooks: list[StepHook] = []
        self._pending: list[ExchangeEvent] = []
        codes = self.settings.cities or tuple(registry())
        self.cities = [get_city(code) for code in codes]
        self.series: dict[str, SeriesInfo] = {}
        for city in self.cities:
            self.series[city.series_ticker] = SeriesInfo(
                ticker=city.series_ticker,
                city=city,
                title=f"Highest temperature in {self._place(city)} today?",
                fee_type=self.settings.fee_type,
                fee_multiplier=self.settings.fee_multiplier,
            )
        self.events: dict[str, EventInfo] = {}
        self.markets: dict[str, MarketState] = {}
        self.accounts: dict[str, Account] = {}
        self._trades: deque[Trade] = deque(maxlen=RECENT_TRADES)
        self._schedule: list[tuple[datetime, int, str, str]] = []
        self._schedule_seq = itertools.count()
        self.start = clock.now()
        self._processed = self.start - timedelta(microseconds=1)
        self._next_step = self.start
        self._plan_listings(self.start)
        self.advance_to(self.start)

    # ------------------------------------------------------------------ plumbing

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def add_step_hook(self, hook: StepHook) -> None:
        """Call ``hook(t)`` at every step of the agent grid (``settings.step_seconds``)."""
        with self._lock:
            self._step_hooks.append(hook)

    def _emit(self, events: Iterable[ExchangeEvent]) -> None:
        self._pending.extend(events)

    def _flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        for listener in list(self._listeners):
            listener(batch)

    @staticmethod
    def _place(city: City) -> str:
        return city.name.split(" (")[0]

    # ------------------------------------------------------------------ listing

    def _push(self, when: datetime, kind: str, key: str) -> None:
        heapq.heappush(self._schedule, (when, next(self._schedule_seq), kind, key))

    def _plan_listings(self, now: datetime) -> None:
        for city in self.cities:
            if self.settings.days:
                days: Iterable[date] = self.settings.days
            else:
                local = now.astimezone(city.standard_tz).date()
                days = [local + timedelta(days=k) for k in (-1, 0, 1, 2)]
            for day in sorted(set(days)):
                open_time, close_time = listing_times(city, day)
                if self.settings.days or close_time > now:
                    created = open_time - self.settings.listing_lead
                    self._push(max(created, now), "list", f"{city.code}|{day.isoformat()}")
                    if not self.settings.days:
                        break  # the rolling listing chains from the first live day

    def _list_event(self, city: City, day: date, now: datetime) -> None:
        event_ticker = event_ticker_for(city, day)
        if event_ticker in self.events:
            return
        open_time, close_time = listing_times(city, day)
        if not self.settings.days:
            next_day = day + timedelta(days=1)
            next_open, _ = listing_times(city, next_day)
            created = next_open - self.settings.listing_lead
            self._push(max(created, now), "list", f"{city.code}|{next_day.isoformat()}")
        place = self._place(city)
        event = EventInfo(
            event_ticker=event_ticker,
            series_ticker=city.series_ticker,
            city=city,
            day=day,
            title=f"Highest temperature in {place} on {_short_date(day)}?",
            sub_title=f"On {_short_date(day)}",
            close_time=close_time,
        )
        self.events[event_ticker] = event
        self._emit(
            [
                EventLifecycleUpdate(
                    event_ticker,
                    {
                        "event_ticker": event_ticker,
                        "series_ticker": city.series_ticker,
                        "title": event.title,
                        "sub_title": event.sub_title,
                        "collateral_return_type": "",
                        "strike_date": unix(close_time),
                        "strike_period": "",
                    },
                    now,
                )
            ]
        )
        mean = self.weather.forecast(city, day, now).mean_f
        low = round(mean - 3.5)
        fees = SeriesFees.from_series(self.series[city.series_ticker].json())
        strikes: list[tuple[str, StrikeType, int | None, int | None]] = [
            (f"T{low}", StrikeType.LESS, None, low)
        ]
        for k in range(4):
            floor = low + 2 * k
            strikes.append((f"B{floor}.5", StrikeType.BETWEEN, floor, floor + 1))
        strikes.append((f"T{low + 7}", StrikeType.GREATER, low + 7, None))
        determination = close_time + self.settings.determination_delay
        for code, strike_type, floor_strike, cap_strike in strikes:
            ticker = f"{event_ticker}-{code}"
            market = MarketState(
                ticker=ticker,
                event_ticker=event_ticker,
                series_ticker=city.series_ticker,
                market_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"weather-edge-sim/{ticker}")),
                city=city,
                day=day,
                strike_type=strike_type,
                floor_strike=floor_strike,
                cap_strike=cap_strike,
                title="",
                yes_sub_title="",
                no_sub_title="",
                rules_primary="",
                rules_secondary=(
                    "The climate day runs midnight to midnight local standard time. Revisions "
                    "to the report published after the market's expiration are not considered."
                ),
                created_time=now,
                open_time=open_time,
                close_time=close_time,
                expected_expiration_time=determination,
                latest_expiration_time=close_time + timedelta(days=7),
                settle_delay=self.settings.settlement_delay,
                engine=MatchingEngine(ticker, fees, self.ids),
            )
            self._describe(market, place)
            self.markets[ticker] = market
            event.markets.append(ticker)
            self._emit([self._lifecycle(market, "created", now)])
            self._push(open_time, "activate", ticker)
            self._push(close_time, "close", ticker)
            self._push(determination, "determine", ticker)
            self._push(determination + self.settings.settlement_delay, "settle", ticker)

    @staticmethod
    def _describe(market: MarketState, place: str) -> None:
        city, day = market.city, market.day
        low, high = market.bracket
        if market.strike_type is StrikeType.BETWEEN:
            condition, label = f"between {low}-{high}°", f"{low}° to {high}°"
            short = f"{low}-{high}°"
        elif market.strike_type is StrikeType.GREATER:
            condition, label = f"greater than {market.floor_strike}°", f"{low}° or above"
            short = f">{market.floor_strike}°"
        else:
            condition, label = f"less than {market.cap_strike}°", f"{high}° or below"
            short = f"<{market.cap_strike}°"
        market.title = f"Will the high temp in {place} be {short} on {_short_date(day)}?"
        market.yes_sub_title = label
        market.no_sub_title = label
        market.rules_primary = (
            f"If the highest temperature recorded at {city.rules_station_names[0]} "
            f"({city.cli_product}) for {_long_date(day)}, is {condition} according to the "
            f"National Weather Service's Daily Climate Report (the NWS Daily Climate Report "
            f"of station {city.station_id}), then the market resolves to Yes."
        )

    def _lifecycle(self, market: MarketState, event_type: str, now: datetime) -> LifecycleUpdate:
        msg: dict[str, Any] = {
            "market_ticker": market.ticker,
            "event_type": event_type,
            "open_ts": unix(market.open_time),
            "close_ts": unix(market.close_time),
        }
        if event_type == "created":
            msg["additional_metadata"] = strike_metadata(market)
        elif event_type == "determined":
            msg["result"] = market.result
            msg["determination_ts"] = unix(now)
            msg["settlement_value"] = format_price(ONE_DOLLAR_CC if market.result == "yes" else 0)
        elif event_type == "settled":
            msg["result"] = market.result
            msg["settled_ts"] = unix(now)
        return LifecycleUpdate(market.ticker, event_type, msg, now)

    # ------------------------------------------------------------------ time

    def advance_to(self, now: datetime) -> None:
        """Run everything due up to ``now``: listings, lifecycle, expiries, agent steps."""
        now = ensure_utc(now)
        with self._lock:
            if now <= self._processed:
                return
            step = timedelta(seconds=self.settings.step_seconds)
            if self._step_hooks and step > timedelta(0):
                backlog_start = now - self.settings.max_catchup
                if self._next_step < backlog_start:
                    skipped = math.ceil((backlog_start - self._next_step) / step)
                    self._next_step += skipped * step
                while self._next_step <= now:
                    t = self._next_step
                    self._run_due(t)
                    for hook in list(self._step_hooks):
                        hook(t)
                        self._flush()
                    self._next_step = t + step
            elif step > timedelta(0) and self._next_step <= now:
                self._next_step += math.ceil((now - self._next_step) / step + 1e-9) * step
            self._run_due(now)
            self._processed = now

    def _run_due(self, now: datetime) -> None:
        while self._schedule and self._schedule[0][0] <= now:
            when, _, kind, key = heapq.heappop(self._schedule)
            self._run_entry(when, kind, key)
            self._flush()

    def _run_entry(self, when: datetime, kind: str, key: str) -> None:
        if kind == "list":
            code, _, day_text = key.partition("|")
            self._list_event(get_city(code), date.fromisoformat(day_text), when)
            return
        if kind == "expire":
            ticker, _, order_id = key.partition("|")
            market = self.markets[ticker]
            if market.engine.resting(order_id) is not None:
                self._apply(market, market.engine.cancel(order_id, when), when)
            return
        market = self.markets[key]
        if kind == "activate" and market.status is MarketStatus.INITIALIZED:
            market.status = MarketStatus.ACTIVE
            self._emit([self._lifecycle(market, "activated", when)])
        elif kind == "close" and market.status in (MarketStatus.ACTIVE, MarketStatus.INACTIVE):
            if when < market.close_time:
                return  # the close moved later; another entry is queued
            market.status = MarketStatus.CLOSED
            self._apply(market, market.engine.cancel_all(when), when)
        elif kind == "determine" and market.status is MarketStatus.CLOSED:
            high = self.weather.true_high(market.city, market.day)
            market.result = "yes" if market.wins(high) else "no"
            market.status = MarketStatus.DETERMINED
            market.determined_time = when
            self._emit([self._lifecycle(market, "determined", when)])
        elif kind == "settle" and market.status is MarketStatus.DETERMINED:
            self._settle(market, when)
        elif kind == "archive":  # a settled market's tick-by-tick history goes
            for history in (market.trades, market.trade_times, market.oi_after_trade):
                history.clear()
            market.tob_times.clear()
            market.tob_values.clear()

    def _settle(self, market: MarketState, now: datetime) -> None:
        yes_wins = market.result == "yes"
        for account in self.accounts.values():
            pos = account.positions.get(market.ticker)
            if pos is None or pos.position == 0:
                continue
            held = abs(pos.position)
            won = (pos.position > 0) == yes_wins
            revenue = held * ONE_DOLLAR_CC if won else 0
            account.cash += revenue
            account.settlements.append(
                SettlementRecord(
                    ticker=market.ticker,
                    event_ticker=market.event_ticker,
                    result=market.result,
                    yes_count=max(pos.position, 0),
                    yes_total_cost=pos.cost if pos.position > 0 else 0,
                    no_count=max(-pos.position, 0),
                    no_total_cost=pos.cost if pos.position < 0 else 0,
                    revenue=revenue,
                    fee_cost=pos.fees_paid,
                    settled_time=now,
                )
            )
            pos.realized_pnl += revenue - pos.cost
            pos.position, pos.cost, pos.last_updated = 0, 0, now
            account.updated = now
            self._emit([self._position_update(account, pos, now)])
        market.open_interest = 0
        market.status = MarketStatus.FINALIZED
        market.settlement_ts = now
        self._emit([self._lifecycle(market, "settled", now)])
        self._push(now + self.settings.history_retention, "archive", market.ticker)

    # ------------------------------------------------------------------ admin

    def _market(self, ticker: str) -> MarketState:
        market = self.markets.get(ticker)
        if market is None:
            raise OrderRejected("not_found", f"market {ticker} not found", status=404)
        return market

    def pause_market(self, ticker: str) -> None:
        """Stop trading (``inactive``, lifecycle ``deactivated``); orders stay on the book."""
        self._switch(ticker, MarketStatus.ACTIVE, MarketStatus.INACTIVE, "deactivated")

    def resume_market(self, ticker: str) -> None:
        self._switch(ticker, MarketStatus.INACTIVE, MarketStatus.ACTIVE, "activated")

    def _switch(self, ticker: str, old: MarketStatus, new: MarketStatus, event_type: str) -> None:
        with self._lock:
            market = self._market(ticker)
            if market.status is old:
                market.status = new
                self._emit([self._lifecycle(market, event_type, self.clock.now())])
            self._flush()

    def update_close_time(self, ticker: str, close_time: datetime) -> None:
        with self._lock:
            market = self._market(ticker)
            market.close_time = ensure_utc(close_time)
            self._push(market.close_time, "close", ticker)
            self._emit([self._lifecycle(market, "close_date_updated", self.clock.now())])
            self._flush()

    # ------------------------------------------------------------------ accounts

    def register_account(
        self, key_id: str, *, balance: int | None = None, unlimited: bool = False
    ) -> Account:
        """Create (or return) the account of an API key id; ``balance`` in micro-dollars."""
        with self._lock:
            account = self.accounts.get(key_id)
            if account is None:
                cash = self.settings.starting_balance if balance is None else balance
                account = Account(key_id, cash, unlimited, updated=self.clock.now())
                self.accounts[key_id] = account
            return account

    def account(self, key_id: str) -> Account:
        with self._lock:
            account = self.accounts.get(key_id)
            if account is None:
                raise OrderRejected("unauthorized", f"unknown API key {key_id}", status=401)
            return account

    def deposit(self, key_id: str, micros: int) -> None:
        with self._lock:
            self.account(key_id).cash += micros

    # ------------------------------------------------------------------ trading

    def place_order(self, key_id: str, request: OrderRequest | Mapping[str, Any]) -> Order:
        """Create an order for ``key_id`` (raises :class:`OrderRejected`)."""
        req = request if isinstance(request, OrderRequest) else parse_order_request(request)
        with self._lock:
            now = self.clock.now()
            account = self.account(key_id)
            if req.client_order_id and req.client_order_id in account.client_ids:
                raise OrderRejected(
                    "order_already_exists",
                    f"an order with client_order_id {req.client_order_id} already exists",
                    status=409,
                )
            market = self._market(req.ticker)
            self._require_open(market)
            market.engine.validate_price(req.book_price)
            count, opening = self._size_order(account, market, req)
            expiration = None
            if req.expiration_ts is not None:
                expiration = datetime.fromtimestamp(req.expiration_ts, UTC)
                if expiration <= now:
                    raise OrderRejected("invalid_order", "expiration_ts is in the past")
            order = Order(
                order_id=self.ids.next("order"),
                account=key_id,
                ticker=market.ticker,
                side=req.side,
                action=req.action,
                book_price=req.book_price,
                initial_count=count,
                created_time=now,
                client_order_id=req.client_order_id,
                time_in_force=req.time_in_force,
                post_only=req.post_only,
                reduce_only=req.reduce_only,
                self_trade_prevention=req.self_trade_prevention,
                expiration_time=expiration,
                buy_max_cost=req.buy_max_cost,
                order_group_id=req.order_group_id,
                opening_count=opening,
            )
            result = market.engine.submit(order, now)
            if not account.unlimited or order.is_resting:
                account.orders[order.order_id] = order
            if req.client_order_id:
                account.client_ids[req.client_order_id] = order.order_id
            if expiration is not None and order.is_resting:
                self._push(expiration, "expire", f"{market.ticker}|{order.order_id}")
            self._apply(market, result, now)
            self._flush()
            return order

    def _require_open(self, market: MarketState) -> None:
        if not market.is_open:
            raise OrderRejected(
                "market_closed", f"market {market.ticker} is {market.status.value}, not open"
            )

    def _size_order(
        self, account: Account, market: MarketState, req: OrderRequest
    ) -> tuple[int, int]:
        """(count, opening count) after reduce-only capping and the balance check."""
        pos = account.positions.get(market.ticker)
        held = pos.position if pos else 0
        closable = max(-held, 0) if req.book_side is Side.YES else max(held, 0)
        count = req.count
        if req.reduce_only:
            if closable == 0:
                raise OrderRejected("invalid_order", "invalid order", details="reduce only")
            count = min(count, closable)
        opening = max(0, count - closable)
        if not account.unlimited:
            fee_bound = market.engine.fees.taker(req.book_price, count)
            needed = req.book_price * opening + fee_bound
            if needed > account.cash - account.reserved():
                raise OrderRejected("insufficient_balance", "insufficient balance for this order")
        return count, opening

    def _owned(self, key_id: str, order_id: str) -> tuple[Account, Order]:
        account = self.account(key_id)
        order = account.orders.get(order_id)
        if order is None:
            raise OrderRejected("not_found", f"order {order_id} not found", status=404)
        return account, order

    def cancel_order(self, key_id: str, order_id: str) -> tuple[Order, int]:
        """Cancel a resting order: (the order, how much was canceled)."""
        with self._lock:
            _, order = self._owned(key_id, order_id)
            if not order.is_resting:
                raise OrderRejected("not_found", f"order {order_id} is not resting", status=404)
            market = self._market(order.ticker)
            now = self.clock.now()
            result = market.engine.cancel(order_id, now)
            self._apply(market, result, now)
            self._flush()
            return order, result.reduced_by

    def decrease_order(
        self,
        key_id: str,
        order_id: str,
        *,
        reduce_by: int | None = None,
        reduce_to: int | None = None,
    ) -> Order:
        """Shrink a resting order by ``reduce_by`` or to ``reduce_to`` (cq)."""
        with self._lock:
            _, order = self._owned(key_id, order_id)
            if not order.is_resting:
                raise OrderRejected("not_found", f"order {order_id} is not resting", status=404)
            if (reduce_by is None) == (reduce_to is None):
                raise OrderRejected(
                    "invalid_parameters", "give exactly one of reduce_by, reduce_to"
                )
            target = order.remaining - reduce_by if reduce_by is not None else reduce_to
            assert target is not None
            if target < 0 or target >= order.remaining:
                raise OrderRejected("invalid_parameters", "a decrease must reduce the order")
            market = self._market(order.ticker)
            now = self.clock.now()
            self._apply(market, market.engine.decrease(order_id, target, now), now)
            self._flush()
            return order

    def amend_order(
        self,
        key_id: str,
        order_id: str,
        *,
        yes_price: int | None = None,
        count: int | None = None,
        updated_client_order_id: str | None = None,
    ) -> tuple[Order, Order]:
        """Change price (YES cc) and/or total count (cq): (old order, amended order)."""
        with self._lock:
            account, order = self._owned(key_id, order_id)
            if not order.is_resting:
                raise OrderRejected("not_found", f"order {order_id} is not resting", status=404)
            market = self._market(order.ticker)
            self._require_open(market)
            if (
                updated_client_order_id
                and updated_client_order_id != order.client_order_id
                and updated_client_order_id in account.client_ids
            ):
                raise OrderRejected(
                    "order_already_exists", "updated_client_order_id is already used", status=409
                )
            old = order.snapshot()
            new_price = order.book_price
            if yes_price is not None:
                new_price = book_price_of(order.side, order.action, yes_price)
            new_count = order.initial_count if count is None else count
            new_remaining = new_count - order.filled
            opening = min(
                new_remaining, order.opening_count + max(0, new_remaining - order.remaining)
            )
            if not account.unlimited:
                held = order.book_price * min(order.remaining, order.opening_count)
                if new_price * opening > account.cash - account.reserved() + held:
                    raise OrderRejected("insufficient_balance", "insufficient balance")
            now = self.clock.now()
            result = market.engine.amend(order_id, new_price, new_count, now)
            order.opening_count = min(opening, order.remaining)
            if updated_client_order_id:
                account.client_ids[updated_client_order_id] = order.order_id
                order.client_order_id = updated_client_order_id
            self._apply(market, result, now)
            self._flush()
            return old, order

    # ------------------------------------------------------------------ applying results

    def _apply(self, market: MarketState, result: MatchResult, now: datetime) -> None:
        """Book-keep a matching result: accounts, market stats, events."""
        events: list[ExchangeEvent] = list(result.deltas)
        touched: dict[str, Account] = {}
        for trade in result.trades:
            market.previous_price = market.last_price
            market.last_price = trade.yes_price
            market.volume += trade.count
        for fill in result.fills:
            account = self.accounts[fill.account]
            touched[account.key_id] = account
            fill_done = self._apply_fill(account, market, fill, now)
            if not account.unlimited:
                account.fills.append(fill_done)
            events.append(fill_done)
        for trade in result.trades:
            market.trades.append(trade)
            market.trade_times.append(trade.ts)
            market.oi_after_trade.append(market.open_interest)
            self._trades.append(trade)
            events.append(trade)
        for order in [*([result.order] if result.order else []), *result.canceled]:
            self._track(order)
        for fill in result.fills:
            owner = self.accounts[fill.account].orders.get(fill.order_id)
            if owner is not None:
                self._track(owner)
        for account in touched.values():
            pos = account.positions[market.ticker]
            events.append(self._position_update(account, pos, now))
        events.extend(self._ticker_if_changed(market, now))
        self._emit(events)

    def _track(self, order: Order) -> None:
        account = self.accounts[order.account]
        if order.is_resting:
            account.open_orders[order.order_id] = order
        else:
            account.open_orders.pop(order.order_id, None)
            if account.unlimited:
                account.orders.pop(order.order_id, None)

    def _apply_fill(self, account: Account, market: MarketState, fill: Fill, now: datetime) -> Fill:
        pos = account.positions.get(market.ticker)
        if pos is None:
            pos = account.positions[market.ticker] = Position(market.ticker, market.event_ticker)
        price, count = fill.book_price, fill.count
        cost = price * count
        account.cash -= cost + fill.fee
        pos.fees_paid += fill.fee
        pos.total_traded += cost
        sign = 1 if fill.book_side is Side.YES else -1
        before = pos.position
        closing = min(count, max(0, -sign * before))
        if closing:
            removed = pos.cost if closing == abs(before) else pos.cost * closing // abs(before)
            pos.cost -= removed
            account.cash += closing * ONE_DOLLAR_CC
            pos.realized_pnl += closing * (ONE_DOLLAR_CC - price) - removed
        pos.cost += (count - closing) * price
        pos.position = before + sign * count
        pos.last_updated = account.updated = now
        market.open_interest += max(pos.position, 0) - max(before, 0)
        return replace(fill, post_position=pos.position)

    @staticmethod
    def _position_update(account: Account, pos: Position, now: datetime) -> PositionUpdate:
        return PositionUpdate(
            account.key_id, pos.ticker, pos.position, pos.cost, pos.realized_pnl, pos.fees_paid, now
        )

    def _ticker_if_changed(self, market: MarketState, now: datetime) -> list[TickerUpdate]:
        yes_bid, yes_ask = market.quotes()
        state = (yes_bid, yes_ask, market.last_price, market.volume, market.open_interest)
        if state == market.published_ticker:
            return []
        if not market.tob_values or market.tob_values[-1] != (yes_bid, yes_ask):
            market.tob_times.append(now)
            market.tob_values.append((yes_bid, yes_ask))
        market.published_ticker = state
        return [
            TickerUpdate(
                market.ticker,
                market.market_id,
                market.last_price,
                yes_bid,
                yes_ask,
                market.volume,
                market.open_interest,
                now,
            )
        ]

    # ------------------------------------------------------------------ reads

    def book(self, ticker: str) -> dict[Side, list[tuple[int, int]]]:
        """The authoritative book: ascending ``(price_cc, size_cq)`` levels per side."""
        with self._lock:
            engine = self._market(ticker).engine
            return {Side.YES: engine.levels(Side.YES), Side.NO: engine.levels(Side.NO)}

    def snapshot(self, ticker: str) -> tuple[dict[Side, list[tuple[int, int]]], int]:
        """The book and its version (the count of deltas so far), taken atomically."""
        with self._lock:
            engine = self._market(ticker).engine
            return self.book(ticker), engine.version

    def market(self, ticker: str) -> MarketState:
        with self._lock:
            return self._market(ticker)

    def event_status(self, event: EventInfo) -> str:
        statuses = {self.markets[t].status for t in event.markets}
        if MarketStatus.ACTIVE in statuses or MarketStatus.INACTIVE in statuses:
            return "open"
        if statuses <= {MarketStatus.INITIALIZED}:
            return "unopened"
        if statuses <= STATUS_FILTERS["settled"]:
            return "settled"
        return "closed"

    def find_markets(
        self,
        *,
        series_ticker: str | None = None,
        event_tickers: Sequence[str] = (),
        tickers: Sequence[str] = (),
        statuses: Sequence[str] = (),
        min_close: datetime | None = None,
        max_close: datetime | None = None,
    ) -> list[MarketState]:
        with self._lock:
            wanted: set[MarketStatus] = set()
            for status in statuses:
                if status not in STATUS_FILTERS:
                    raise OrderRejected("invalid_parameters", f"unknown status filter {status}")
                wanted |= STATUS_FILTERS[status]
            found = []
            for market in self.markets.values():
                if series_ticker and market.series_ticker != series_ticker:
                    continue
                if event_tickers and market.event_ticker not in event_tickers:
                    continue
                if tickers and market.ticker not in tickers:
                    continue
                if wanted and market.status not in wanted:
                    continue
                if min_close and market.close_time < min_close:
                    continue
                if max_close and market.close_time > max_close:
                    continue
                found.append(market)
            return found

    def trades(self, ticker: str | None = None) -> list[Trade]:
        """Trades, newest first."""
        with self._lock:
            source = self._market(ticker).trades if ticker else self._trades
            return list(reversed(source))

    def portfolio_value(self, account: Account) -> int:
        """Mark-to-market value of the positions (micro-dollars), at the mid of each book."""
        value = 0
        for ticker, pos in account.positions.items():
            if pos.position == 0:
                continue
            market = self.markets[ticker]
            if market.status is MarketStatus.DETERMINED:
                mark = ONE_DOLLAR_CC if market.result == "yes" else 0
            else:
                yes_bid, yes_ask = market.quotes()
                mark = (yes_bid + yes_ask) // 2
            own = mark if pos.position > 0 else ONE_DOLLAR_CC - mark
            value += own * abs(pos.position)
        return value

    def candlesticks(
        self, ticker: str, start: datetime, end: datetime, period_minutes: int
    ) -> list[dict[str, Any]]:
        if period_minutes not in (1, 60, 1440):
            raise OrderRejected("invalid_parameters", "period_interval must be 1, 60 or 1440")
        with self._lock:
            market = self._market(ticker)
            period = period_minutes * 60
            first_end = (unix(start) // period + 1) * period
            candles = []
            for end_ts in range(first_end, unix(end) + period, period):
                candle = _candle(market, end_ts - period, end_ts)
                if candle is not None:
                    candles.append(candle)
                if len(candles) >= 5000:
                    break
            return candles


def _ohlc(values: Sequence[int]) -> dict[str, str | None]:
    if not values:
        return {f"{k}_dollars": None for k in ("open", "low", "high", "close")}
    return {
        "open_dollars": format_price(values[0]),
        "low_dollars": format_price(min(values)),
        "high_dollars": format_price(max(values)),
        "close_dollars": format_price(values[-1]),
    }


def _candle(market: MarketState, start_ts: int, end_ts: int) -> dict[str, Any] | None:
    start = datetime.fromtimestamp(start_ts, UTC)
    end = datetime.fromtimestamp(end_ts, UTC)
    first = bisect.bisect_right(market.tob_times, start)
    last = bisect.bisect_right(market.tob_times, end)
    if last == 0:
        return None  # nothing was quoted yet
    window = market.tob_values[max(first - 1, 0) : last]
    t0 = bisect.bisect_right(market.trade_times, start)
    t1 = bisect.bisect_right(market.trade_times, end)
    trades = market.trades[t0:t1]
    prices = [t.yes_price for t in trades]
    volume = sum(t.count for t in trades)
    price: dict[str, Any] = _ohlc(prices)
    if trades:
        weighted = sum(Decimal(t.yes_price * t.count) for t in trades) / Decimal(volume)
        price["mean_dollars"] = str((weighted / ONE_DOLLAR_CC).quantize(Decimal("0.000001")))
    else:
        price["mean_dollars"] = None
    price["previous_dollars"] = format_price(market.trades[t0 - 1].yes_price) if t0 else None
    return {
        "end_period_ts": end_ts,
        "yes_bid": _ohlc([v[0] for v in window]),
        "yes_ask": _ohlc([v[1] for v in window]),
        "price": price,
        "volume_fp": format_size(volume),
        "open_interest_fp": format_size(market.oi_after_trade[t1 - 1] if t1 else 0),
    }
