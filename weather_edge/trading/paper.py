"""The paper exchange: shadow fills of would-trades against the recorded book and trade tape.

What it assumes, so a shadow P&L means something:

* **Taker orders walk the recorded book** up to their limit, best level first. What a paper
  order takes from a level is remembered until that market's next book update, so two
  would-trades never both take the same recorded size.
* **Maker orders join the back of the queue.** An order resting at a price where the
  recorded book already shows ``n`` contracts has ``n`` ahead of it. It fills only when the
  tape prints trades against its side at its price *after* those ``n`` have traded, or when
  the price trades through it (a trade at a worse price for the resting side, or the other
  side of the book reaching its price: the level, and the order, must have been taken).
  Size leaving the level without trading (cancellations) can only move it forward as far as
  the level's remaining size (``queue_ahead = min(queue_ahead, level size)``), the cautious
  model of hftbacktest's risk-averse queue.
* **Maker first, then taker.** A maker order still resting when its timeout passes is
  cancelled and its remainder taken at the decision's taker plan (never beyond its limit).
* **Fees** are Kalshi's, accumulated per order and price level like the exchange does.

Positions and P&L are booked by :class:`~weather_edge.trading.risk.Portfolio` (exact).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from weather_edge.kalshi.book import OrderBook, Side, book_from_levels
from weather_edge.money import ONE_DOLLAR_CC
from weather_edge.trading.config import TradingParams
from weather_edge.trading.decisions import Decision, TakerPlan
from weather_edge.trading.inputs import MarketSpec
from weather_edge.trading.orders import (
    FillRecord,
    OrderIntent,
    OrderRecord,
    OrderStatus,
    client_order_id_for,
)
from weather_edge.trading.risk import Mark, Portfolio, as_buy, liquidation_mark

SHADOW = "shadow"


def _other(side: Side) -> Side:
    return "no" if side == "yes" else "yes"


@dataclass(frozen=True, slots=True)
class TradePrint:
    """One trade of the public tape (a ``trades`` row): ``taker_side`` is the side the taker
    bought, so ``yes`` trades consumed NO bids at ``1 - yes_price``."""

    trade_id: str
    market_ticker: str
    yes_price_cc: int
    count_cq: int
    taker_side: Side
    ts: dt.datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TradePrint:
        taker = str(row["taker_side"])
        if taker not in ("yes", "no"):
            raise ValueError(f"trade {row.get('trade_id')}: taker_side {taker!r}")
        return cls(
            trade_id=str(row["trade_id"]),
            market_ticker=str(row["market_ticker"]),
            yes_price_cc=int(row["yes_price_cc"]),
            count_cq=int(row["count_cq"]),
            taker_side="yes" if taker == "yes" else "no",
            ts=row["ts"],
        )

    @property
    def book_side(self) -> Side:
        """The side of the book whose bids this trade consumed."""
        return "no" if self.taker_side == "yes" else "yes"

    @property
    def book_price_cc(self) -> int:
        """The consumed bids' price, in that side's terms."""
        return ONE_DOLLAR_CC - self.yes_price_cc if self.taker_side == "yes" else self.yes_price_cc


def book_from_quote(
    market_ticker: str,
    yes_bid_cc: int | None,
    yes_bid_cq: int | None,
    yes_ask_cc: int | None,
    yes_ask_cq: int | None,
) -> OrderBook:
    """A one-level book from a ``quotes`` row (best YES bid and ask with sizes)."""
    yes = [(yes_bid_cc, yes_bid_cq or 0)] if yes_bid_cc and yes_bid_cq else []
    no = (
        [(ONE_DOLLAR_CC - yes_ask_cc, yes_ask_cq or 0)]
        if yes_ask_cc and yes_ask_cc < ONE_DOLLAR_CC and yes_ask_cq
        else []
    )
    return book_from_levels(market_ticker, yes, no)


@dataclass(slots=True)
class _Resting:
    order: OrderRecord
    spec: MarketSpec
    book_side: Side  # where it rests, as a bid
    book_price_cc: int
    queue_ahead_cq: int
    crossed_taken_cq: int = 0


class PaperExchange:
    """A shadow venue for one session. Feed it books and trades in time order."""

    def __init__(self, params: TradingParams, *, session_id: str, mode: str = SHADOW) -> None:
        self.params = params
        self.session_id = session_id
        self.mode = mode
        self.portfolio = Portfolio()
        self.orders: dict[str, OrderRecord] = {}
        self.fills: list[FillRecord] = []
        self.books: dict[str, OrderBook] = {}
        self._consumed: dict[str, dict[tuple[Side, int], int]] = {}
        self._resting: dict[str, _Resting] = {}
        self._fill_seq: dict[str, int] = {}

    # ------------------------------------------------------------------ market data

    def on_book(self, book: OrderBook, ts: dt.datetime) -> None:
        """The recorded book of a market changed (pass the whole current book)."""
        ticker = book.market_ticker
        self.books[ticker] = book
        self._consumed.pop(ticker, None)
        for rest in self._resting_in(ticker):
            level = book.size_at(rest.book_side, rest.book_price_cc)
            rest.queue_ahead_cq = min(rest.queue_ahead_cq, level)
            floor = ONE_DOLLAR_CC - rest.book_price_cc
            crossing = sum(
                size for bid, size in book.levels(_other(rest.book_side)) if bid >= floor
            )
            take = min(rest.order.remaining_cq, crossing - rest.crossed_taken_cq)
            if take > 0:
                rest.crossed_taken_cq += take
                rest.queue_ahead_cq = 0
                self._fill(rest.order, rest.spec, rest.order.price_cc, take, False, ts)

    def on_trade(self, trade: TradePrint) -> None:
        """A trade printed: fill resting orders it reached (queue first)."""
        used = 0
        for rest in self._resting_in(trade.market_ticker):
            if rest.book_side != trade.book_side or rest.book_price_cc < trade.book_price_cc:
                continue
            volume = trade.count_cq - used
            if rest.book_price_cc == trade.book_price_cc:
                ahead = min(rest.queue_ahead_cq, volume)
                rest.queue_ahead_cq -= ahead
                volume -= ahead
            else:  # traded through: the whole level, this order included, was taken
                rest.queue_ahead_cq = 0
            take = min(volume, rest.order.remaining_cq)
            if take > 0:
                used += take
                self._fill(rest.order, rest.spec, rest.order.price_cc, take, False, trade.ts)

    # ------------------------------------------------------------------ orders

    def submit(self, decision: Decision, spec: MarketSpec, now: dt.datetime) -> OrderRecord | None:
        """Place a would-trade: maker first (with its timeout), or taker. None for a refusal
        or while another order of this exchange still works in that market."""
        if not decision.would_trade or self._resting_in(decision.market_ticker):
            return None  # a refusal, or an order still working there (one per market)
        assert decision.side and decision.action and decision.liquidity
        assert decision.price_cc is not None and decision.count_cq is not None
        timeout = self.params.maker_timeout_s(decision.recent_volume_cq)
        intent = OrderIntent(
            spec,
            decision.side,
            decision.action,
            decision.price_cc,
            decision.count_cq,
            decision.liquidity,
        )
        return self.place(
            intent,
            now,
            client_order_id=client_order_id_for(decision.decision_id, decision.liquidity),
            decision_id=decision.decision_id,
            expires_at=now + dt.timedelta(seconds=timeout),
            taker=decision.taker,
        )

    def place(
        self,
        intent: OrderIntent,
        now: dt.datetime,
        *,
        client_order_id: str,
        decision_id: str | None = None,
        expires_at: dt.datetime | None = None,
        taker: TakerPlan | None = None,
    ) -> OrderRecord:
        """Place one order: a taker walks the book (the rest is cancelled, like IOC); a maker
        rests (post-only: refused, status ``failed``, if it would cross)."""
        held = self.orders.get(client_order_id)
        if held is not None:
            return held  # the same client_order_id names the same order
        order = OrderRecord.new(
            client_order_id,
            intent,
            mode=self.mode,
            now=now,
            decision_id=decision_id,
            order_id=f"paper-{client_order_id}",
            expires_at=expires_at,
            fallback_limit_cc=taker.limit_cc if taker else None,
            fallback_count_cq=taker.count_cq if taker else None,
        )
        self.orders[client_order_id] = order
        spec = intent.spec
        book = self.books.get(spec.ticker)
        book_side, book_price = as_buy(intent.side, intent.action, intent.price_cc)
        crosses = book is not None and any(
            bid >= ONE_DOLLAR_CC - book_price for bid, _ in book.levels(_other(book_side))[:1]
        )
        if intent.liquidity == "taker":
            order.status = OrderStatus.RESTING
            if book is not None:
                self._take(order, spec, book, now)
            self._close(order, now)
            return order
        if crosses:
            order.status = OrderStatus.FAILED
            return order
        order.status = OrderStatus.RESTING
        ahead = book.size_at(book_side, book_price) if book is not None else 0
        self._resting[client_order_id] = _Resting(order, spec, book_side, book_price, ahead)
        return order

    def cancel(self, client_order_id: str, now: dt.datetime) -> None:
        rest = self._resting.pop(client_order_id, None)
        if rest is not None:
            rest.order.status = OrderStatus.CANCELED
            rest.order.updated_at = now

    def advance(self, now: dt.datetime) -> None:
        """Convert maker orders whose timeout passed into taker orders (their taker plan)."""
        for coid, rest in list(self._resting.items()):
            order = rest.order
            if order.expires_at is None or order.expires_at > now:
                continue
            remaining = order.remaining_cq
            self.cancel(coid, now)
            limit, count = order.fallback_limit_cc, order.fallback_count_cq
            if limit is None or count is None or remaining <= 0 or order.decision_id is None:
                continue
            intent = OrderIntent(
                rest.spec, order.side, order.action, limit, min(remaining, count), "taker"
            )
            self.place(
                intent,
                now,
                client_order_id=client_order_id_for(order.decision_id, "taker"),
                decision_id=order.decision_id,
            )

    def settle(self, ticker: str, result: str, now: dt.datetime) -> int:
        """Cancel what rests in a settled market and pay out its positions."""
        for rest in self._resting_in(ticker):
            self.cancel(rest.order.client_order_id, now)
        return self.portfolio.settle(ticker, result)

    # ------------------------------------------------------------------ internals

    def _resting_in(self, ticker: str) -> list[_Resting]:
        return [r for r in self._resting.values() if r.order.market_ticker == ticker]

    def _take(
        self, order: OrderRecord, spec: MarketSpec, book: OrderBook, now: dt.datetime
    ) -> None:
        buy_side, buy_limit = as_buy(order.side, order.action, order.price_cc)
        opposite = _other(buy_side)
        floor = ONE_DOLLAR_CC - buy_limit
        consumed = self._consumed.setdefault(spec.ticker, {})
        for bid, size in book.levels(opposite):
            remaining = order.remaining_cq
            if bid < floor or remaining <= 0:
                break
            qty = min(size - consumed.get((opposite, bid), 0), remaining)
            if qty <= 0:
                continue
            consumed[(opposite, bid)] = consumed.get((opposite, bid), 0) + qty
            price = ONE_DOLLAR_CC - bid if order.action == "buy" else bid
            self._fill(order, spec, price, qty, True, now)

    def _fill(
        self,
        order: OrderRecord,
        spec: MarketSpec,
        price_cc: int,
        count_cq: int,
        is_taker: bool,
        ts: dt.datetime,
    ) -> None:
        fee = order.charge(spec.fees, price_cc, count_cq)
        order.updated_at = ts
        seq = self._fill_seq.get(order.client_order_id, 0) + 1
        self._fill_seq[order.client_order_id] = seq
        self.fills.append(
            FillRecord(
                fill_id=f"{order.client_order_id}:{seq}",
                market_ticker=order.market_ticker,
                side=order.side,
                action=order.action,
                price_cc=price_cc,
                count_cq=count_cq,
                fee_micros=fee,
                is_taker=is_taker,
                mode=self.mode,
                ts=ts,
                client_order_id=order.client_order_id,
                order_id=order.order_id,
            )
        )
        self.portfolio.apply_fill(spec, order.side, order.action, price_cc, count_cq, fee)
        if order.filled_cq >= order.count_cq:
            order.status = OrderStatus.EXECUTED
            self._resting.pop(order.client_order_id, None)

    def _close(self, order: OrderRecord, now: dt.datetime) -> None:
        if order.filled_cq < order.count_cq:
            order.status = OrderStatus.CANCELED
            order.updated_at = now

    # ------------------------------------------------------------------ results

    def marks(self) -> dict[str, Mark]:
        return {ticker: liquidation_mark(book) for ticker, book in self.books.items()}

    def pnl_micros(self, marks: Mapping[str, Mark] | None = None) -> int:
        """Exact session P&L, positions valued at ``marks`` (default: the books' best bids)."""
        return self.portfolio.pnl_micros(self.marks() if marks is None else marks)

    def summary(self, marks: Mapping[str, Mark] | None = None) -> dict[str, Any]:
        marks = self.marks() if marks is None else marks
        return {
            "session_id": self.session_id,
            "mode": self.mode,
            "config_hash": self.params.config_hash,
            "params": self.params.snapshot(),
            "orders": len(self.orders),
            "fills": len(self.fills),
            "cash_micros": self.portfolio.cash_micros,
            "fees_micros": self.portfolio.fees_micros,
            "positions_cq": dict(self.portfolio.positions),
            "value_micros": self.portfolio.value_micros(marks),
            "pnl_micros": self.portfolio.pnl_micros(marks),
        }

    def order_rows(self) -> list[dict[str, Any]]:
        return [order.to_row() for order in self.orders.values()]

    def fill_rows(self) -> list[dict[str, Any]]:
        return [fill.to_row() for fill in self.fills]


def recorded_events(
    quote_rows: Iterable[Mapping[str, Any]], trade_rows: Iterable[Mapping[str, Any]]
) -> list[tuple[dt.datetime, OrderBook | TradePrint]]:
    """``quotes`` and ``trades`` rows as one time-ordered stream for :func:`replay` (a book
    before a trade of the same instant). Merge the decisions in by their ``evaluated_at``."""
    events: list[tuple[dt.datetime, int, OrderBook | TradePrint]] = []
    for row in quote_rows:
        book = book_from_quote(
            str(row["market_ticker"]),
            row.get("yes_bid_cc"),
            row.get("yes_bid_size_cq"),
            row.get("yes_ask_cc"),
            row.get("yes_ask_size_cq"),
        )
        events.append((row["ts"], 0, book))
    events.extend((row["ts"], 1, TradePrint.from_row(row)) for row in trade_rows)
    events.sort(key=lambda e: (e[0], e[1]))
    return [(ts, event) for ts, _, event in events]


def replay(
    exchange: PaperExchange,
    events: Iterable[tuple[dt.datetime, OrderBook | TradePrint | Decision]],
    specs: Mapping[str, MarketSpec],
) -> PaperExchange:
    """Feed time-ordered events: books (``on_book``), trades (``on_trade``) and decisions
    (``submit``); maker timeouts are checked before each event."""
    for ts, event in events:
        exchange.advance(ts)
        if isinstance(event, OrderBook):
            exchange.on_book(event, ts)
        elif isinstance(event, TradePrint):
            exchange.on_trade(event)
        else:
            exchange.submit(event, specs[event.market_ticker], ts)
    return exchange
