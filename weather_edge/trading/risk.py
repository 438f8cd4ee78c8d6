"""Positions, exact P&L, exposure by city and event, limits, and the daily-loss kill switch.

:class:`Portfolio` is the one ledger of the trading layer (paper and live alike). It keeps
cash in micro-dollars and a signed position per market (YES positive, NO negative) and books
every fill exactly the way Kalshi nets contracts:

* a sell is the purchase of the other side at the complementary price (selling YES at p is
  buying NO at 1 - p);
* a YES and a NO contract of the same market together are worth exactly $1, so when a buy
  reduces an opposite position the collapsed pairs pay $1 each into cash.

So P&L is ``cash + value of positions`` with no averaging or rounding anywhere. A cost basis
per market is also kept (proportionally reduced when a position shrinks, floor-rounded): it
is the money at risk the exposure limit counts, not an accounting figure.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from weather_edge.kalshi.book import Action, OrderBook, Side
from weather_edge.money import ONE_DOLLAR_CC
from weather_edge.trading.config import TradingParams
from weather_edge.trading.inputs import MarketSpec

UNLIMITED = 1 << 62
PAIR_VALUE_PER_CQ = ONE_DOLLAR_CC  # a YES+NO pair of 1 cq pays $0.01 = 10_000 micro-dollars


class Reason(StrEnum):
    """Why an evaluation did (``trade``) or did not trade. The strings are stable."""

    TRADE = "trade"
    CITY_DISABLED = "city_disabled"
    MARKET_NOT_OPEN = "market_not_open"
    RULES_MISMATCH = "rules_mismatch"
    CLOSES_SOON = "closes_soon"
    NO_PREDICTION = "no_prediction"
    PREDICTION_STALE = "prediction_stale"
    BOOK_STALE = "book_stale"
    BOOK_CROSSED = "book_crossed"
    BOOK_THIN = "book_too_thin"
    KILL_SWITCH = "kill_switch"
    CONFIDENCE_LOW = "confidence_below_threshold"
    EV_LOW = "ev_below_minimum"
    SIZE_TOO_SMALL = "size_below_increment"
    LIMIT_TRADE = "limit_trade_dollars"
    LIMIT_DAILY_LOSS = "limit_daily_loss"
    LIMIT_CITY = "limit_city_position"
    LIMIT_EVENT = "limit_event_position"
    LIMIT_EXPOSURE = "limit_total_exposure"


@dataclass(frozen=True, slots=True)
class Mark:
    """What one contract of each side is worth now, in centi-cents."""

    yes_cc: int
    no_cc: int

    @classmethod
    def settled(cls, result: str) -> Mark:
        return cls(ONE_DOLLAR_CC, 0) if result == "yes" else cls(0, ONE_DOLLAR_CC)


def liquidation_mark(book: OrderBook) -> Mark:
    """The best bid of each side (0 for an empty side): what selling now would fetch."""
    return Mark(book.yes_bid_cc or 0, book.no_bid_cc or 0)


def as_buy(side: Side, action: Action, price_cc: int) -> tuple[Side, int]:
    """An order in buy terms: selling YES at p is buying NO at 1 - p (and vice versa)."""
    if action == "buy":
        return side, price_cc
    return ("no" if side == "yes" else "yes"), ONE_DOLLAR_CC - price_cc


class Portfolio:
    """Cash, positions, cost basis and resting-order reservations, aggregated by city/event."""

    def __init__(self) -> None:
        self.cash_micros = 0
        self.fees_micros = 0
        self.positions: dict[str, int] = {}  # signed cq: + YES, - NO
        self.cost_micros: dict[str, int] = {}  # money at risk in the open position
        self._reserved: dict[str, tuple[str, int, int]] = {}  # key -> (ticker, cq, micros)
        self._specs: dict[str, MarketSpec] = {}
        self._usage_cq: dict[str, int] = {}  # per ticker: |position| + resting buys
        self._usage_micros: dict[str, int] = {}
        self.city_cq: dict[str, int] = {}
        self.event_cq: dict[str, int] = {}
        self.exposure_micros = 0

    # -- reading -------------------------------------------------------------------------

    def position(self, ticker: str) -> int:
        return self.positions.get(ticker, 0)

    def value_micros(self, marks: Mapping[str, Mark]) -> int:
        """The positions at ``marks``; a market without a mark is valued at its cost basis."""
        total = 0
        for ticker, position in self.positions.items():
            mark = marks.get(ticker)
            if mark is None:
                total += self.cost_micros.get(ticker, 0)
            elif position > 0:
                total += position * mark.yes_cc
            else:
                total += -position * mark.no_cc
        return total

    def pnl_micros(self, marks: Mapping[str, Mark]) -> int:
        """Exact P&L since this ledger started: cash plus the positions' value at ``marks``."""
        return self.cash_micros + self.value_micros(marks)

    # -- booking -------------------------------------------------------------------------

    def apply_fill(
        self,
        spec: MarketSpec,
        side: Side,
        action: Action,
        price_cc: int,
        count_cq: int,
        fee_micros: int,
    ) -> None:
        """Book one fill exactly (see the module docstring for the netting rule)."""
        if count_cq <= 0:
            raise ValueError(f"a fill has a positive count, got {count_cq} cq")
        buy_side, buy_price = as_buy(side, action, price_cc)
        ticker = spec.ticker
        self._specs[ticker] = spec
        before = self.positions.get(ticker, 0)
        cost = buy_price * count_cq
        self.cash_micros -= cost + fee_micros
        self.fees_micros += fee_micros
        signed = count_cq if buy_side == "yes" else -count_cq
        after = before + signed
        opposite = -before if buy_side == "yes" else before
        closed = min(count_cq, max(opposite, 0))
        self.cash_micros += closed * PAIR_VALUE_PER_CQ
        basis = self.cost_micros.get(ticker, 0)
        if closed:
            basis -= basis * closed // abs(before)
        opened = count_cq - closed
        if opened:
            basis += buy_price * opened
        self._set(ticker, after, basis if after else 0)

    def set_position(self, spec: MarketSpec, position_cq: int, cost_micros: int) -> None:
        """Overwrite a market's position and cost basis (from the exchange)."""
        self._specs[spec.ticker] = spec
        self._set(spec.ticker, position_cq, cost_micros if position_cq else 0)

    def settle(self, ticker: str, result: str) -> int:
        """Pay out a settled market; returns the payout in micro-dollars."""
        position = self.positions.get(ticker, 0)
        payout = 0
        if (result == "yes" and position > 0) or (result == "no" and position < 0):
            payout = abs(position) * PAIR_VALUE_PER_CQ
        self.cash_micros += payout
        self._set(ticker, 0, 0)
        return payout

    def reserve(self, key: str, spec: MarketSpec, count_cq: int, price_cc: int) -> None:
        """Count a resting buy against the limits until :meth:`release`."""
        self.release(key)
        self._specs[spec.ticker] = spec
        self._reserved[key] = (spec.ticker, count_cq, count_cq * price_cc)
        self._refresh(spec.ticker)

    def release(self, key: str) -> None:
        held = self._reserved.pop(key, None)
        if held is not None:
            self._refresh(held[0])

    def reserved_keys(self) -> list[str]:
        return list(self._reserved)

    def _set(self, ticker: str, position: int, basis: int) -> None:
        if position:
            self.positions[ticker] = position
            self.cost_micros[ticker] = basis
        else:
            self.positions.pop(ticker, None)
            self.cost_micros.pop(ticker, None)
        self._refresh(ticker)

    def _refresh(self, ticker: str) -> None:
        spec = self._specs[ticker]
        cq = abs(self.positions.get(ticker, 0))
        micros = self.cost_micros.get(ticker, 0)
        for held_ticker, held_cq, held_micros in self._reserved.values():
            if held_ticker == ticker:
                cq += held_cq
                micros += held_micros
        delta_cq = cq - self._usage_cq.get(ticker, 0)
        delta_micros = micros - self._usage_micros.get(ticker, 0)
        self._usage_cq[ticker] = cq
        self._usage_micros[ticker] = micros
        self.city_cq[spec.city] = self.city_cq.get(spec.city, 0) + delta_cq
        self.event_cq[spec.event_ticker] = self.event_cq.get(spec.event_ticker, 0) + delta_cq
        self.exposure_micros += delta_micros


@dataclass(slots=True)
class RiskState:
    """What the limits are checked against: the ledger, today's P&L and the halt flag."""

    portfolio: Portfolio = field(default_factory=Portfolio)
    daily_pnl_micros: int = 0
    halted: bool = False
    halt_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Room:
    """How many centi-contracts each limit still allows for one buy."""

    caps: dict[Reason, int]

    @property
    def binding(self) -> tuple[Reason | None, int]:
        if not self.caps:
            return None, 0
        reason = min(self.caps, key=lambda r: self.caps[r])
        return reason, self.caps[reason]


def limit_room(
    params: TradingParams,
    portfolio: Portfolio,
    spec: MarketSpec,
    cost_per_contract_micros: int,
    daily_pnl_micros: int,
) -> Room:
    """What the limits allow for a new buy in ``spec`` at ``cost_per_contract_micros``.

    A daily loss at or past the limit leaves no room at all.
    """
    limits = params.limits
    unit = max(cost_per_contract_micros, 1)
    lost_too_much = -daily_pnl_micros >= limits.max_daily_loss_micros
    caps = {
        Reason.LIMIT_DAILY_LOSS: 0 if lost_too_much else UNLIMITED,
        Reason.LIMIT_TRADE: limits.max_trade_micros * 100 // unit,
        Reason.LIMIT_CITY: limits.max_city_cq - portfolio.city_cq.get(spec.city, 0),
        Reason.LIMIT_EVENT: limits.max_event_cq - portfolio.event_cq.get(spec.event_ticker, 0),
        Reason.LIMIT_EXPOSURE: (limits.max_exposure_micros - portfolio.exposure_micros)
        * 100
        // unit,
    }
    return Room({reason: max(cap, 0) for reason, cap in caps.items()})


class KillSwitch:
    """A persisted halt: once tripped, no new order until someone resets it by hand.

    The state is a small JSON file written atomically (temp file + rename + fsync), so a
    crash can never leave it half-written and a restart sees the halt.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"halted": False}
        except (OSError, ValueError):
            # unreadable state: fail closed
            return {"halted": True, "reason": f"unreadable kill-switch file {self.path}"}
        return data if isinstance(data, dict) else {"halted": True, "reason": "bad state"}

    @property
    def halted(self) -> bool:
        return bool(self.state().get("halted"))

    @property
    def reason(self) -> str | None:
        reason = self.state().get("reason")
        return str(reason) if reason else None

    def trip(self, reason: str, *, at: datetime | None = None) -> None:
        if self.halted:
            return
        when = (at or datetime.now(UTC)).isoformat()
        self._write({"halted": True, "reason": reason, "tripped_at": when})

    def reset(self, *, by: str, at: datetime | None = None) -> None:
        """The manual reset: trading may resume."""
        when = (at or datetime.now(UTC)).isoformat()
        previous = self.state()
        self._write({"halted": False, "reset_by": by, "reset_at": when, "previous": previous})

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".kill_switch.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
