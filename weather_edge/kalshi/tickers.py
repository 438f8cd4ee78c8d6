"""Tickers of Kalshi daily-high markets: series, event (the climate day) and market (bracket).

* series ``KXHIGHNY``; the city comes from the registry (``cities.toml``), never from code;
* event ``KXHIGHNY-26AUG24``: series + ``YYMMMDD``, the climate day the market settles on;
* market ``KXHIGHNY-26AUG24-B84.5`` or ``-T85``: event + strike code.

What a strike code wins on (integer °F, the CLI reports whole degrees):

* ``B84.5`` is ``strike_type: between`` with ``floor_strike`` 84 and ``cap_strike`` 85, both
  inclusive: YES if the high is 84 or 85.
* ``T85`` is a tail, and the ticker alone does not say which one: ``strike_type`` does.
  ``greater`` with ``floor_strike`` 85 means *strictly* greater than the floor, so YES at 86
  and above; ``less`` with ``cap_strike`` 78 means strictly less than the cap, so YES at 77
  and below. (``greater_or_equal`` / ``less_or_equal`` include the strike itself.)

Evidence: every event in the shared KXHIGHNY recordings (Dec 2025, Aug-Sep 2026) has four
two-degree ``B`` brackets and two ``T`` tails whose numbers equal the lowest ``B`` floor and
the highest ``B`` cap (``KXHIGHNY-26SEP02``: T75, B75.5, B77.5, B79.5, B81.5, T82), so the six
markets tile the integers only if the tails are strict: T75 = "less than 75" (<= 74), T82 =
"greater than 82" (>= 83). Public market JSON agrees: ``KXHIGHNY-26AUG27-T80`` carries
``strike_type: "less"``, ``cap_strike: 80`` and ``yes_sub_title: "79° or below"``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Literal

from weather_edge.weather.cities import City, city_for_series


class TickerError(ValueError):
    """A ticker that does not have the daily-high shape, or a bracket that cannot be known."""


class StrikeMismatchError(TickerError):
    """A market whose ticker disagrees with its strike_type, floor_strike or cap_strike."""


class BracketKind(StrEnum):
    BETWEEN = "between"
    GREATER = "greater"
    LESS = "less"


@dataclass(frozen=True, slots=True)
class Bracket:
    """The inclusive integer °F range a market's YES wins on; ``None`` is an open end."""

    kind: BracketKind
    low_f: int | None
    high_f: int | None

    def __post_init__(self) -> None:
        shape_ok = {
            BracketKind.BETWEEN: self.low_f is not None and self.high_f is not None,
            BracketKind.GREATER: self.low_f is not None and self.high_f is None,
            BracketKind.LESS: self.low_f is None and self.high_f is not None,
        }[self.kind]
        if not shape_ok:
            raise ValueError(f"a {self.kind} bracket cannot be [{self.low_f}, {self.high_f}]")
        if self.low_f is not None and self.high_f is not None and self.low_f > self.high_f:
            raise ValueError(f"empty bracket [{self.low_f}, {self.high_f}]")

    def wins(self, high_f: int) -> bool:
        """Does a reported daily high of ``high_f`` °F settle this market YES?"""
        return (self.low_f is None or high_f >= self.low_f) and (
            self.high_f is None or high_f <= self.high_f
        )

    @property
    def label(self) -> str:
        if self.low_f is None:
            return f"{self.high_f}°F or below"
        if self.high_f is None:
            return f"{self.low_f}°F or above"
        return f"{self.low_f}-{self.high_f}°F"


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_EVENT_RE = re.compile(r"^(?P<series>[A-Z][A-Z0-9]*)-(?P<yy>\d{2})(?P<mon>[A-Z]{3})(?P<dd>\d{2})$")
_MARKET_RE = re.compile(r"^(?P<event>[^-]+-[^-]+)-(?P<letter>[BT])(?P<strike>-?\d+(?:\.\d+)?)$")


@dataclass(frozen=True, slots=True)
class EventTicker:
    series: str
    event_date: dt.date

    @property
    def ticker(self) -> str:
        d = self.event_date
        return f"{self.series}-{d.year % 100:02d}{_MONTHS[d.month - 1]}{d.day:02d}"

    @property
    def city(self) -> City:
        """The registry's city for the series (``UnknownCityError`` if none trades it)."""
        return city_for_series(self.series)

    def __str__(self) -> str:
        return self.ticker


@dataclass(frozen=True, slots=True)
class MarketTicker:
    event: EventTicker
    strike_letter: Literal["B", "T"]
    strike: Decimal  # the number in the ticker: 84.5 for B84.5, 85 for T85

    @property
    def ticker(self) -> str:
        return f"{self.event.ticker}-{self.strike_letter}{self.strike}"

    @property
    def series(self) -> str:
        return self.event.series

    @property
    def event_date(self) -> dt.date:
        return self.event.event_date

    @property
    def city(self) -> City:
        return self.event.city

    def bracket(self, strike_type: str | None = None) -> Bracket:
        """The bracket from the ticker; a ``T`` tail needs the market's ``strike_type``."""
        if self.strike_letter == "B":
            if strike_type not in (None, "between"):
                raise StrikeMismatchError(
                    f"{self.ticker}: a B ticker is a 'between' market, not {strike_type!r}"
                )
            floor, cap = _between_strikes(self.ticker, self.strike)
            return _bracket_from_strikes("between", floor, cap)
        if strike_type is None:
            raise TickerError(
                f"{self.ticker}: a T ticker is 'greater' or 'less'; pass the market's strike_type "
                "or infer it from the event's other markets (infer_event_brackets)"
            )
        if strike_type in ("greater", "greater_or_equal"):
            return _bracket_from_strikes(strike_type, self.strike, None)
        if strike_type in ("less", "less_or_equal"):
            return _bracket_from_strikes(strike_type, None, self.strike)
        raise StrikeMismatchError(f"{self.ticker}: a T ticker cannot be a {strike_type!r} market")

    def __str__(self) -> str:
        return self.ticker


def parse_event_ticker(text: str) -> EventTicker:
    """``"KXHIGHNY-26AUG24"`` -> series ``KXHIGHNY``, climate day 2026-08-24."""
    match = _EVENT_RE.match(text.strip().upper())
    if match is None:
        raise TickerError(f"not a daily event ticker (SERIES-YYMMMDD): {text!r}")
    if match["mon"] not in _MONTHS:
        raise TickerError(f"unknown month {match['mon']!r} in event ticker {text!r}")
    try:
        day = dt.date(2000 + int(match["yy"]), _MONTHS.index(match["mon"]) + 1, int(match["dd"]))
    except ValueError as exc:
        raise TickerError(f"impossible date in event ticker {text!r}: {exc}") from None
    return EventTicker(match["series"], day)


def parse_market_ticker(text: str) -> MarketTicker:
    """``"KXHIGHNY-26AUG24-B84.5"`` -> event, strike letter ``B`` and number 84.5."""
    match = _MARKET_RE.match(text.strip().upper())
    if match is None:
        raise TickerError(f"not a daily-high market ticker (EVENT-B84.5 or EVENT-T85): {text!r}")
    event = parse_event_ticker(match["event"])
    letter: Literal["B", "T"] = "B" if match["letter"] == "B" else "T"
    strike = Decimal(match["strike"])
    if letter == "B":
        _between_strikes(text, strike)  # a B number must sit half-way between two integers
    return MarketTicker(event, letter, strike)


def _between_strikes(ticker: str, strike: Decimal) -> tuple[Decimal, Decimal]:
    half = Decimal("0.5")
    floor, cap = strike - half, strike + half
    if floor != floor.to_integral_value():
        raise TickerError(f"{ticker}: a B strike is N.5 (between N and N+1), got {strike}")
    return floor, cap


def _bracket_from_strikes(strike_type: str, floor: Decimal | None, cap: Decimal | None) -> Bracket:
    if strike_type == "between" and floor is not None and cap is not None:
        return Bracket(BracketKind.BETWEEN, math.ceil(floor), math.floor(cap))
    if strike_type == "greater" and floor is not None:
        return Bracket(BracketKind.GREATER, math.floor(floor) + 1, None)
    if strike_type == "greater_or_equal" and floor is not None:
        return Bracket(BracketKind.GREATER, math.ceil(floor), None)
    if strike_type == "less" and cap is not None:
        return Bracket(BracketKind.LESS, None, math.ceil(cap) - 1)
    if strike_type == "less_or_equal" and cap is not None:
        return Bracket(BracketKind.LESS, None, math.floor(cap))
    raise StrikeMismatchError(
        f"strike_type {strike_type!r} with floor {floor} / cap {cap} is not a daily-high bracket"
    )


def _strike(market: Mapping[str, Any], key: str) -> Decimal | None:
    value = market.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise StrikeMismatchError(f"{key} must be a number, got {value!r}")
    try:
        number = Decimal(str(value))  # str() keeps a JSON float such as 84.0 exact
    except InvalidOperation:
        raise StrikeMismatchError(f"{key} must be a number, got {value!r}") from None
    if not number.is_finite():
        raise StrikeMismatchError(f"{key} must be finite, got {value!r}")
    return number


def bracket_from_market(market: Mapping[str, Any]) -> Bracket:
    """The bracket of a market JSON object, after checking its ticker against its strikes.

    Raises :class:`StrikeMismatchError` naming every disagreement between ``ticker``,
    ``event_ticker``, ``strike_type``, ``floor_strike`` and ``cap_strike``.
    """
    ticker = str(market.get("ticker") or "")
    parsed = parse_market_ticker(ticker)
    strike_type = market.get("strike_type")
    if not isinstance(strike_type, str) or not strike_type:
        raise StrikeMismatchError(f"{ticker}: the market has no strike_type")
    floor, cap = _strike(market, "floor_strike"), _strike(market, "cap_strike")
    problems: list[str] = []
    event_ticker = market.get("event_ticker")
    if event_ticker and str(event_ticker).upper() != parsed.event.ticker:
        problems.append(
            f"event_ticker {event_ticker!r} is not the ticker's {parsed.event.ticker!r}"
        )
    if parsed.strike_letter == "B":
        want_floor, want_cap = _between_strikes(ticker, parsed.strike)
        if strike_type != "between":
            problems.append(f"a B ticker needs strike_type 'between', got {strike_type!r}")
        if floor != want_floor:
            problems.append(f"floor_strike {floor} is not {want_floor}")
        if cap != want_cap:
            problems.append(f"cap_strike {cap} is not {want_cap}")
    elif strike_type in ("greater", "greater_or_equal"):
        if floor != parsed.strike:
            problems.append(f"floor_strike {floor} is not the ticker's {parsed.strike}")
        if cap is not None:
            problems.append(f"a {strike_type} market has no cap_strike, got {cap}")
    elif strike_type in ("less", "less_or_equal"):
        if cap != parsed.strike:
            problems.append(f"cap_strike {cap} is not the ticker's {parsed.strike}")
        if floor is not None:
            problems.append(f"a {strike_type} market has no floor_strike, got {floor}")
    else:
        problems.append(f"a T ticker needs strike_type greater or less, got {strike_type!r}")
    if problems:
        raise StrikeMismatchError(f"{ticker}: " + "; ".join(problems))
    return _bracket_from_strikes(strike_type, floor, cap)


def infer_event_brackets(tickers: Iterable[str]) -> dict[str, Bracket]:
    """Brackets of every market ticker given, without the market JSON (e.g. for tick logs).

    Within an event, a ``T`` equal to the lowest ``B`` floor is the lower tail (``less``)
    and a ``T`` equal to the highest ``B`` cap the upper tail (``greater``) -- the layout of
    every recorded KXHIGHNY event. Raises :class:`TickerError` if a tail cannot be placed or
    the event's brackets overlap or leave a gap.
    """
    by_event: dict[EventTicker, list[MarketTicker]] = defaultdict(list)
    for text in set(tickers):
        parsed = parse_market_ticker(text)
        by_event[parsed.event].append(parsed)
    result: dict[str, Bracket] = {}
    for event, markets in by_event.items():
        betweens = {m.ticker: m.bracket() for m in markets if m.strike_letter == "B"}
        floors = [b.low_f for b in betweens.values() if b.low_f is not None]
        caps = [b.high_f for b in betweens.values() if b.high_f is not None]
        brackets = dict(betweens)
        for market in (m for m in markets if m.strike_letter == "T"):
            if floors and market.strike == min(floors):
                brackets[market.ticker] = market.bracket("less")
            elif caps and market.strike == max(caps):
                brackets[market.ticker] = market.bracket("greater")
            else:
                raise TickerError(
                    f"{market.ticker}: cannot tell greater from less without its strike_type "
                    f"(the event's B brackets span {min(floors, default=None)}"
                    f"-{max(caps, default=None)})"
                )
        _check_tiling(event, brackets)
        result.update(brackets)
    return result


def _check_tiling(event: EventTicker, brackets: Mapping[str, Bracket]) -> None:
    ordered = sorted(
        brackets.items(), key=lambda kv: -math.inf if kv[1].low_f is None else kv[1].low_f
    )
    for (left_t, left), (right_t, right) in itertools.pairwise(ordered):
        if left.high_f is None or right.low_f is None or right.low_f != left.high_f + 1:
            raise TickerError(
                f"{event}: brackets {left_t} ({left.label}) and {right_t} ({right.label}) "
                "overlap or leave a gap"
            )
