"""Kalshi trading fees, exactly, from a series' ``fee_type`` and ``fee_multiplier``.

For C contracts at price P (dollars) and the series multiplier m:

* taker, ``quadratic`` and ``quadratic_with_maker_fees``: ``0.07 * m * C * P * (1 - P)``;
* maker: zero, except ``quadratic_with_maker_fees``: ``0.0175 * m * C * P * (1 - P)``;
* ``flat``: the API docs only say it "is described by the Specific Trading Fees Table" of
  Kalshi's fee-schedule PDF, whose numbers are not public in any source we could read. Our
  reading, **unverified**: a price-independent fee of ``m`` dollars per contract for the
  taker and none for the maker. Check the PDF before trading a ``flat`` series.

Rounding: each fee is rounded **up to a whole cent** for the quantity passed in, taker and
maker alike -- Kalshi's schedule says "round up", one contract at 50¢ pays $0.02 as a taker
and $0.01 as a maker. Pass the order's total filled quantity, not each fill: Kalshi keeps a
per-order accumulator that refunds rounding overpaid on earlier fills, so many small fills
cost what one fill of the same total costs. (Direct exchange members round to $0.0001
instead; this module models ordinary accounts.)

All arithmetic is on integers and ``Fraction``: prices in centi-cents, sizes in
centi-contracts, fees in micro-dollars (see :mod:`weather_edge.money`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Literal, get_args

from weather_edge.kalshi.book import Action, Quotes, Side
from weather_edge.money import CENT_MICROS, MONEY_SCALE, ONE_DOLLAR_CC, PRICE_SCALE, SIZE_SCALE

FeeType = Literal["quadratic", "quadratic_with_maker_fees", "flat"]
Liquidity = Literal["maker", "taker"]

TAKER_RATE = Fraction(7, 100)
MAKER_RATE = Fraction(175, 10_000)


class FeeScheduleError(ValueError):
    """A series whose fee fields are missing or not understood."""


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A series' fee structure: ``fee_type`` and the exact ``multiplier`` (never a float)."""

    fee_type: FeeType
    multiplier: Decimal = Decimal(1)

    def __post_init__(self) -> None:
        if self.fee_type not in get_args(FeeType):
            raise FeeScheduleError(
                f"unknown fee_type {self.fee_type!r}; known: {', '.join(get_args(FeeType))}"
            )
        if not isinstance(self.multiplier, Decimal) or not self.multiplier.is_finite():
            raise FeeScheduleError(f"fee multiplier must be a finite Decimal: {self.multiplier!r}")
        if self.multiplier < 0:
            raise FeeScheduleError(f"fee multiplier must not be negative: {self.multiplier}")

    @classmethod
    def from_series(cls, series: Mapping[str, Any]) -> FeeSchedule:
        """From a ``GET /series/{ticker}`` response or its ``series`` object.

        ``fee_multiplier`` arrives as a JSON number; it goes through ``str`` so 0.5 stays
        exactly 0.5 rather than the binary float nearest to it.
        """
        inner = series.get("series", series)
        if not isinstance(inner, Mapping):
            raise FeeScheduleError("a series response needs a 'series' object")
        ticker = inner.get("ticker", "?")
        fee_type = inner.get("fee_type")
        raw_multiplier = inner.get("fee_multiplier")
        if not isinstance(fee_type, str) or raw_multiplier is None:
            raise FeeScheduleError(
                f"series {ticker}: fee_type and fee_multiplier are required, got "
                f"{fee_type!r} and {raw_multiplier!r}"
            )
        if isinstance(raw_multiplier, bool):
            raise FeeScheduleError(f"series {ticker}: fee_multiplier {raw_multiplier!r}")
        try:
            multiplier = Decimal(str(raw_multiplier))
        except InvalidOperation:
            raise FeeScheduleError(
                f"series {ticker}: fee_multiplier is not a number: {raw_multiplier!r}"
            ) from None
        return cls(fee_type, multiplier)  # type: ignore[arg-type]  # checked in __post_init__


def _check_fill(price_cc: int, size_cq: int) -> None:
    if not 0 <= price_cc <= ONE_DOLLAR_CC:
        raise ValueError(f"price {price_cc} cc is outside [0, 1] dollar")
    if size_cq < 0:
        raise ValueError(f"size {size_cq} cq is negative")


def _ceil_to_cent(micros: Fraction) -> int:
    return math.ceil(micros / CENT_MICROS) * CENT_MICROS


def _quadratic_micros(rate: Fraction, multiplier: Decimal, price_cc: int, size_cq: int) -> Fraction:
    """Exact ``rate * m * C * P * (1 - P)`` in micro-dollars."""
    contracts = Fraction(size_cq, SIZE_SCALE)
    price = Fraction(price_cc, PRICE_SCALE)
    return rate * Fraction(multiplier) * contracts * price * (1 - price) * MONEY_SCALE


def taker_fee(schedule: FeeSchedule, price_cc: int, size_cq: int) -> int:
    """Fee in micro-dollars for taking ``size_cq`` at ``price_cc``, rounded up to a cent."""
    _check_fill(price_cc, size_cq)
    if schedule.fee_type == "flat":
        exact = Fraction(schedule.multiplier) * Fraction(size_cq, SIZE_SCALE) * MONEY_SCALE
    else:
        exact = _quadratic_micros(TAKER_RATE, schedule.multiplier, price_cc, size_cq)
    return _ceil_to_cent(exact)


def maker_fee(schedule: FeeSchedule, price_cc: int, size_cq: int) -> int:
    """Fee in micro-dollars when a resting order is filled: zero unless the series is
    ``quadratic_with_maker_fees``; rounded up to a cent like the taker fee."""
    _check_fill(price_cc, size_cq)
    if schedule.fee_type != "quadratic_with_maker_fees":
        return 0
    return _ceil_to_cent(_quadratic_micros(MAKER_RATE, schedule.multiplier, price_cc, size_cq))


def fee(schedule: FeeSchedule, liquidity: Liquidity, price_cc: int, size_cq: int) -> int:
    """The maker or taker fee, by ``liquidity``."""
    if liquidity == "taker":
        return taker_fee(schedule, price_cc, size_cq)
    if liquidity == "maker":
        return maker_fee(schedule, price_cc, size_cq)
    raise ValueError(f"liquidity must be 'maker' or 'taker', got {liquidity!r}")


def classify_liquidity(side: Side, action: Action, price_cc: int, book: Quotes) -> Liquidity:
    """Would a limit order at ``price_cc`` take liquidity right now?

    An order that crosses the spread trades at once and is a taker whatever its type; one
    that does not would rest and be a maker. Buying YES crosses at or above the best YES ask
    (1 - best NO bid); selling YES at or below the best YES bid; likewise for NO.
    """
    if side == "yes":
        ask, bid = book.yes_ask_cc, book.yes_bid_cc
    elif side == "no":
        ask, bid = book.no_ask_cc, book.no_bid_cc
    else:
        raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
    if action == "buy":
        crosses = ask is not None and price_cc >= ask
    elif action == "sell":
        crosses = bid is not None and price_cc <= bid
    else:
        raise ValueError(f"action must be 'buy' or 'sell', got {action!r}")
    return "taker" if crosses else "maker"
