"""A matching engine for one Kalshi market: bids only, price-time priority, exact integers.

A Kalshi book holds **YES bids and NO bids**. Every order maps onto one of them:

=========  =======  ===========================  =========================================
side       action   rests as                     its limit, in the book's terms
=========  =======  ===========================  =========================================
``yes``    ``buy``  a YES bid                    the YES price ``p``
``no``     ``buy``  a NO bid                     the NO price ``q``
``yes``    ``sell`` a NO bid (selling YES is     ``1 - p`` (selling YES at ``p`` = buying
                    buying NO)                   NO at ``1 - p``)
``no``     ``sell`` a YES bid                    ``1 - q``
=========  =======  ===========================  =========================================

A YES bid at ``p`` crosses NO bids at ``>= 1 - p`` (a NO bid at ``q`` is a YES ask at
``1 - q``) and vice versa. The incoming order is the *taker*; it trades at the resting
(*maker*) order's price, best price first and, within a price, oldest first. Positions net
(a YES and a NO contract of the same account make $1), which the exchange does, not this
module.

Fees come from :mod:`weather_edge.kalshi.fees` by the series' fee type: the taker pays the
taker fee, a maker the maker fee (zero unless ``quadratic_with_maker_fees``). Like Kalshi,
fees accumulate per order and price level (``fee(total) - fee(already charged)``), so many
small fills cost what one fill of the same size costs.

Every operation returns a :class:`MatchResult` with the events the server turns into
WebSocket messages: one :class:`BookDelta` per change of a resting order's size at a price
level, one :class:`Trade` per match, and one :class:`Fill` per participant per match.

Prices are centi-cents on the order's *book* side, sizes centi-contracts, money micro-dollars
(see :mod:`weather_edge.money`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from weather_edge.kalshi.fees import FeeSchedule, maker_fee, taker_fee
from weather_edge.kalshi.models import Action, SelfTradePrevention, TimeInForce
from weather_edge.money import ONE_CENT_CC, ONE_DOLLAR_CC

# Action, TimeInForce and SelfTradePrevention are Kalshi's vocabulary, shared with the client.
# Self-trade prevention: TAKER_AT_CROSS (the default) cancels the incoming order's remainder;
# MAKER cancels the resting order and keeps matching.


class Side(StrEnum):
    """A book side; unlike the client's ``Side`` it knows its ``other``."""

    YES = "yes"
    NO = "no"

    @property
    def other(self) -> Side:
        return Side.NO if self is Side.YES else Side.YES


class OrderStatus(StrEnum):
    RESTING = "resting"
    CANCELED = "canceled"
    EXECUTED = "executed"


def book_side_of(side: Side, action: Action) -> Side:
    """Which bid book an order rests on: buying YES or selling NO is a YES bid."""
    return side if action is Action.BUY else side.other


def book_price_of(side: Side, action: Action, yes_price_cc: int) -> int:
    """The order's limit on its book side, from its YES price."""
    return yes_price_cc if book_side_of(side, action) is Side.YES else ONE_DOLLAR_CC - yes_price_cc


class OrderRejected(Exception):
    """An order the exchange refuses; carries Kalshi's HTTP status and error code."""

    def __init__(self, code: str, message: str, *, status: int = 400, details: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details


class FeeModel(Protocol):
    def taker(self, price_cc: int, size_cq: int) -> int: ...

    def maker(self, price_cc: int, size_cq: int) -> int: ...


@dataclass(frozen=True)
class SeriesFees:
    """The fee model of a series, from its ``fee_type``/``fee_multiplier`` (fees.py)."""

    schedule: FeeSchedule

    @classmethod
    def from_series(cls, series_json: dict[str, Any]) -> SeriesFees:
        return cls(FeeSchedule.from_series(series_json))

    def taker(self, price_cc: int, size_cq: int) -> int:
        return _fee(self.schedule, True, price_cc, size_cq)

    def maker(self, price_cc: int, size_cq: int) -> int:
        return _fee(self.schedule, False, price_cc, size_cq)


@functools.lru_cache(maxsize=65_536)
def _fee(schedule: FeeSchedule, is_taker: bool, price_cc: int, size_cq: int) -> int:
    """fees.py's exact (Fraction) arithmetic is slow for the agents' volume: memoised."""
    return (taker_fee if is_taker else maker_fee)(schedule, price_cc, size_cq)


class IdFactory:
    """Deterministic UUIDs for orders, trades and fills: the same seed gives the same ids."""

    _STRIDE = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd: n -> base + n * stride never repeats

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._counters: dict[str, tuple[int, Iterator[int]]] = {}

    def next(self, kind: str) -> str:
        entry = self._counters.get(kind)
        if entry is None:
            digest = hashlib.blake2b(f"{self._seed}:{kind}".encode(), digest_size=16).digest()
            entry = self._counters[kind] = (int.from_bytes(digest, "big"), itertools.count(1))
        base, counter = entry
        value = (base + next(counter) * self._STRIDE) % (1 << 128)
        return str(uuid.UUID(int=value, version=4))


@dataclass(eq=False)
class Order:
    """An order as the exchange keeps it. Mutable: the engine updates it in place."""

    order_id: str
    account: str
    ticker: str
    side: Side
    action: Action
    book_price: int  # cc on the book side
    initial_count: int  # cq
    created_time: datetime
    client_order_id: str = ""
    time_in_force: TimeInForce = TimeInForce.GOOD_TILL_CANCELED
    post_only: bool = False
    reduce_only: bool = False
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.TAKER_AT_CROSS
    expiration_time: datetime | None = None
    buy_max_cost: int | None = None  # micro-dollars, taker cost excluding fees
    order_group_id: str | None = None
    remaining: int = -1
    filled: int = 0
    status: OrderStatus = OrderStatus.RESTING
    last_update_time: datetime | None = None
    taker_fees: int = 0
    maker_fees: int = 0
    taker_fill_cost: int = 0
    maker_fill_cost: int = 0
    priority: int = 0
    opening_count: int = 0  # the part the exchange reserved cash for (not closing a position)
    fee_basis: dict[tuple[bool, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.remaining < 0:
            self.remaining = self.initial_count
        if self.last_update_time is None:
            self.last_update_time = self.created_time

    @property
    def book_side(self) -> Side:
        return book_side_of(self.side, self.action)

    @property
    def yes_price(self) -> int:
        return self.book_price if self.book_side is Side.YES else ONE_DOLLAR_CC - self.book_price

    @property
    def no_price(self) -> int:
        return ONE_DOLLAR_CC - self.yes_price

    @property
    def is_resting(self) -> bool:
        return self.status is OrderStatus.RESTING

    def snapshot(self) -> Order:
        """A detached copy (the state before an amend, for instance)."""
        clone = copy.copy(self)
        clone.fee_basis = dict(self.fee_basis)
        return clone


@dataclass(frozen=True)
class BookDelta:
    """A resting size change at one price level; ``version`` counts the market's deltas."""

    ticker: str
    side: Side
    price: int
    delta: int
    ts: datetime
    version: int
    account: str
    order_id: str
    client_order_id: str


@dataclass(frozen=True)
class Trade:
    trade_id: str
    ticker: str
    yes_price: int
    count: int
    taker_side: Side  # the book side of the taker (selling YES takes as a NO bid)
    ts: datetime
    taker_order_id: str
    maker_order_id: str


@dataclass(frozen=True)
class Fill:
    """One participant's side of a trade. ``post_position`` is filled in by the exchange."""

    fill_id: str
    trade_id: str
    order_id: str
    account: str
    client_order_id: str
    ticker: str
    side: Side
    action: Action
    count: int
    yes_price: int
    is_taker: bool
    fee: int
    ts: datetime
    post_position: int | None = None

    @property
    def book_side(self) -> Side:
        return book_side_of(self.side, self.action)

    @property
    def book_price(self) -> int:
        """What this participant paid per contract on its own book side."""
        return self.yes_price if self.book_side is Side.YES else ONE_DOLLAR_CC - self.yes_price


@dataclass
class MatchResult:
    order: Order | None = None
    fills: list[Fill] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    deltas: list[BookDelta] = field(default_factory=list)
    canceled: list[Order] = field(default_factory=list)  # other orders canceled on the way
    reduced_by: int = 0

    def extend(self, other: MatchResult) -> None:
        self.fills += other.fills
        self.trades += other.trades
        self.deltas += other.deltas
        self.canceled += other.canceled


class _BookSide:
    """The bids of one side: FIFO queues per price and the total size per price."""

    __slots__ = ("queues", "sizes")

    def __init__(self) -> None:
        self.queues: dict[int, deque[Order]] = {}
        self.sizes: dict[int, int] = {}

    def best(self) -> int | None:
        return max(self.sizes) if self.sizes else None

    def add(self, order: Order) -> None:
        self.queues.setdefault(order.book_price, deque()).append(order)
        self.sizes[order.book_price] = self.sizes.get(order.book_price, 0) + order.remaining

    def reduce(self, order: Order, amount: int) -> None:
        """Take ``amount`` off ``order`` (already counted in the level); drop it at zero."""
        price = order.book_price
        self.sizes[price] -= amount
        order.remaining -= amount
        if order.remaining == 0:
            self.queues[price].remove(order)
        if self.sizes[price] == 0:
            del self.sizes[price]
            del self.queues[price]

    def descending(self) -> Iterator[Order]:
        """Resting orders in matching priority: best price first, oldest first."""
        for price in sorted(self.queues, reverse=True):
            yield from tuple(self.queues[price])

    def levels(self) -> list[tuple[int, int]]:
        return sorted(self.sizes.items())


class MatchingEngine:
    """The book and the matching rules of one market."""

    def __init__(
        self, ticker: str, fees: FeeModel, ids: IdFactory, *, tick_cc: int = ONE_CENT_CC
    ) -> None:
        self.ticker = ticker
        self.fees = fees
        self.ids = ids
        self.tick_cc = tick_cc
        self.version = 0
        self._sides = {Side.YES: _BookSide(), Side.NO: _BookSide()}
        self._resting: dict[str, Order] = {}
        self._priority = itertools.count(1)

    # ------------------------------------------------------------------ reads

    def levels(self, side: Side) -> list[tuple[int, int]]:
        """``[(price_cc, size_cq), ...]`` ascending (best bid last), like the REST book."""
        return self._sides[side].levels()

    def best_bid(self, side: Side) -> int | None:
        return self._sides[side].best()

    def resting(self, order_id: str) -> Order | None:
        return self._resting.get(order_id)

    def resting_orders(self) -> list[Order]:
        return sorted(self._resting.values(), key=lambda o: o.priority)

    def crosses(self, book_side: Side, book_price: int) -> bool:
        best = self._sides[book_side.other].best()
        return best is not None and best + book_price >= ONE_DOLLAR_CC

    # ------------------------------------------------------------------ commands

    def validate_price(self, book_price: int) -> None:
        if not 0 < book_price < ONE_DOLLAR_CC:
            raise OrderRejected("invalid_order", "price must be strictly between 0 and 1 dollar")
        if book_price % self.tick_cc:
            raise OrderRejected(
                "invalid_order", f"price is off the market's tick grid ({self.tick_cc} cc)"
            )

    def submit(self, order: Order, now: datetime) -> MatchResult:
        """Match ``order`` as the taker; rest what is left if it is good-till-canceled."""
        self.validate_price(order.book_price)
        if order.remaining <= 0:
            raise OrderRejected("invalid_order", "count must be positive")
        if order.post_only and self.crosses(order.book_side, order.book_price):
            raise OrderRejected("invalid_order", "invalid order", details="post only cross")
        result = MatchResult(order=order)
        order.priority = next(self._priority)
        if (
            order.time_in_force is TimeInForce.FILL_OR_KILL
            and self._fillable(order) < order.remaining
        ):
            return self._finish(order, now, result, stopped=True)
        stopped = self._match(order, now, result)
        return self._finish(order, now, result, stopped=stopped)

    def cancel(self, order_id: str, now: datetime) -> MatchResult:
        order = self._require_resting(order_id)
        reduced = order.remaining
        result = MatchResult(order=order, reduced_by=reduced)
        self._remove(order, now, result)
        return result

    def decrease(self, order_id: str, new_remaining: int, now: datetime) -> MatchResult:
        """Shrink a resting order in place (it keeps its time priority); zero cancels it."""
        order = self._require_resting(order_id)
        if not 0 <= new_remaining < order.remaining:
            raise OrderRejected("invalid_parameters", "a decrease must reduce the resting count")
        if new_remaining == 0:
            return self.cancel(order_id, now)
        reduced = order.remaining - new_remaining
        result = MatchResult(order=order, reduced_by=reduced)
        self._sides[order.book_side].reduce(order, reduced)
        order.initial_count -= reduced
        order.last_update_time = now
        result.deltas.append(self._delta(order, -reduced, now))
        return result

    def amend(
        self, order_id: str, new_book_price: int, new_initial_count: int, now: datetime
    ) -> MatchResult:
        """Change a resting order's price and/or total count.

        ``new_initial_count`` counts what already filled, as Kalshi's amend does. A smaller
        count at the same price keeps time priority; any other change re-enters the order as
        a taker at the back of the queue.
        """
        order = self._require_resting(order_id)
        self.validate_price(new_book_price)
        new_remaining = new_initial_count - order.filled
        if new_remaining <= 0:
            raise OrderRejected("invalid_order", "the amended count must exceed what has filled")
        if new_book_price == order.book_price and new_remaining <= order.remaining:
            if new_remaining == order.remaining:
                return MatchResult(order=order)
            return self.decrease(order_id, new_remaining, now)
        if order.post_only and self._crosses_others(order, new_book_price):
            raise OrderRejected("invalid_order", "invalid order", details="post only cross")
        result = MatchResult(order=order)
        self._remove(order, now, result, status=OrderStatus.RESTING)
        order.book_price = new_book_price
        order.initial_count = new_initial_count
        order.remaining = new_remaining
        order.priority = next(self._priority)
        stopped = self._match(order, now, result)
        return self._finish(order, now, result, stopped=stopped)

    def cancel_all(self, now: datetime) -> MatchResult:
        result = MatchResult()
        for order in self.resting_orders():
            self._remove(order, now, result)
            result.canceled.append(order)
        return result

    # ------------------------------------------------------------------ internals

    def _require_resting(self, order_id: str) -> Order:
        order = self._resting.get(order_id)
        if order is None:
            raise OrderRejected("not_found", f"no resting order {order_id}", status=404)
        return order

    def _crosses_others(self, order: Order, book_price: int) -> bool:
        best = self._sides[order.book_side.other].best()
        return best is not None and best + book_price >= ONE_DOLLAR_CC

    def _delta(self, order: Order, delta: int, now: datetime) -> BookDelta:
        self.version += 1
        return BookDelta(
            ticker=self.ticker,
            side=order.book_side,
            price=order.book_price,
            delta=delta,
            ts=now,
            version=self.version,
            account=order.account,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
        )

    def _remove(
        self,
        order: Order,
        now: datetime,
        result: MatchResult,
        *,
        status: OrderStatus = OrderStatus.CANCELED,
    ) -> None:
        size = order.remaining
        self._sides[order.book_side].reduce(order, size)
        self._resting.pop(order.order_id, None)
        if status is OrderStatus.CANCELED:
            order.remaining = 0
            order.status = OrderStatus.CANCELED
        else:
            order.remaining = size
        order.last_update_time = now
        result.deltas.append(self._delta(order, -size, now))

    def _fillable(self, order: Order) -> int:
        """How much ``order`` would fill right now, walking the book as :meth:`_match` does."""
        total, spent = 0, 0
        for maker in self._sides[order.book_side.other].descending():
            if maker.book_price + order.book_price < ONE_DOLLAR_CC:
                break
            if maker.account == order.account:
                if order.self_trade_prevention is SelfTradePrevention.MAKER:
                    continue
                break
            take = min(order.remaining - total, maker.remaining)
            own_price = ONE_DOLLAR_CC - maker.book_price
            if order.buy_max_cost is not None:
                take = min(take, (order.buy_max_cost - spent) // own_price)
            total += take
            spent += take * own_price
            if total >= order.remaining or take == 0:
                break
        return total

    def _match(self, taker: Order, now: datetime, result: MatchResult) -> bool:
        """Trade ``taker`` against the book. True if it stopped for a reason other than price."""
        opposite = self._sides[taker.book_side.other]
        spent = taker.taker_fill_cost
        while taker.remaining > 0:
            best = opposite.best()
            if best is None or best + taker.book_price < ONE_DOLLAR_CC:
                return False
            maker = opposite.queues[best][0]
            if maker.account == taker.account:
                if taker.self_trade_prevention is SelfTradePrevention.MAKER:
                    self._remove(maker, now, result)
                    result.canceled.append(maker)
                    continue
                return True
            count = min(taker.remaining, maker.remaining)
            own_price = ONE_DOLLAR_CC - best
            if taker.buy_max_cost is not None:
                count = min(count, (taker.buy_max_cost - spent) // own_price)
                if count <= 0:
                    return True
            spent += count * own_price
            self._execute(taker, maker, count, now, result)
        return False

    def _execute(
        self, taker: Order, maker: Order, count: int, now: datetime, result: MatchResult
    ) -> None:
        trade_id = self.ids.next("trade")
        yes_price = maker.yes_price
        self._sides[maker.book_side].reduce(maker, count)
        result.deltas.append(self._delta(maker, -count, now))
        if maker.remaining == 0:
            self._resting.pop(maker.order_id, None)
            maker.status = OrderStatus.EXECUTED
        taker.remaining -= count
        for order, is_taker in ((taker, True), (maker, False)):
            order.filled += count
            order.last_update_time = now
            own_price = yes_price if order.book_side is Side.YES else ONE_DOLLAR_CC - yes_price
            fee = self._charge(order, is_taker, own_price, count)
            cost = count * own_price
            if is_taker:
                order.taker_fees += fee
                order.taker_fill_cost += cost
            else:
                order.maker_fees += fee
                order.maker_fill_cost += cost
            result.fills.append(
                Fill(
                    fill_id=self.ids.next("fill"),
                    trade_id=trade_id,
                    order_id=order.order_id,
                    account=order.account,
                    client_order_id=order.client_order_id,
                    ticker=self.ticker,
                    side=order.side,
                    action=order.action,
                    count=count,
                    yes_price=yes_price,
                    is_taker=is_taker,
                    fee=fee,
                    ts=now,
                )
            )
        result.trades.append(
            Trade(
                trade_id=trade_id,
                ticker=self.ticker,
                yes_price=yes_price,
                count=count,
                taker_side=taker.book_side,
                ts=now,
                taker_order_id=taker.order_id,
                maker_order_id=maker.order_id,
            )
        )

    def _charge(self, order: Order, is_taker: bool, price: int, count: int) -> int:
        """The fee increment of ``count`` more contracts traded at ``price``.

        Fees round up per order and price, so the increment is ``fee(total) - fee(before)``.
        """
        key = (is_taker, price)
        before = order.fee_basis.get(key, 0)
        after = before + count
        order.fee_basis[key] = after
        fee_of = self.fees.taker if is_taker else self.fees.maker
        return fee_of(price, after) - fee_of(price, before)

    def _finish(
        self, order: Order, now: datetime, result: MatchResult, *, stopped: bool
    ) -> MatchResult:
        order.last_update_time = now
        if order.remaining == 0:
            order.status = OrderStatus.EXECUTED
            return result
        rests = order.time_in_force is TimeInForce.GOOD_TILL_CANCELED and not stopped
        if not rests:
            order.remaining = 0
            order.status = OrderStatus.CANCELED
            return result
        order.status = OrderStatus.RESTING
        self._sides[order.book_side].add(order)
        self._resting[order.order_id] = order
        result.deltas.append(self._delta(order, order.remaining, now))
        return result
