"""Read a market's ``rules_primary`` and check it against the city registry before pricing.

Real KXHIGH rule texts come in a few shapes (published verbatim by public projects that
captured them from the API)::

    If the highest temperature recorded in Central Park, New York for August 12, 2026 as
    reported by the National Weather Service's Climatological Report (Daily), is greater
    than 90°, then the market resolves to Yes.

    If the highest temperature recorded at Chicago Midway, IL for July 26, 2026, is between
    89-90° according to the National Weather Service's Climatological Report (Daily), then
    the market resolves to Yes.

    If the maximum temperature recorded at New York City (CLINYC) for Aug 27, 2026, is less
    than 80° fahrenheit according to The Weather Company, then the market resolves to Yes.

From each we read the measure (highest/maximum = the daily high), the station as written,
a station code when given (``(CLINYC)``, or ``(for coordinates KNYC)`` on hourly markets),
the settlement authority (the NWS Daily Climate Report, called "Climatological Report
(Daily)" since 2025, or The Weather Company since about August 2026), the day, and the
condition as a :class:`~weather_edge.kalshi.tickers.Bracket`.

:func:`check_rules` accepts a rule only if it is about the daily high at the registry's
station: a CLI product code, when present, must be the city's ``cli_product`` (it names
exactly one station, so the place name written beside it -- "New York City" -- is not
checked); without a code the station name must be one of the city's ``rules_station_names``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from weather_edge.kalshi.tickers import (
    Bracket,
    BracketKind,
    TickerError,
    bracket_from_market,
    parse_market_ticker,
)
from weather_edge.weather.cities import City, UnknownCityError


class Authority(StrEnum):
    NWS_CLI = "nws_cli"  # the NWS Daily Climate Report (CLI)
    WEATHER_COMPANY = "the_weather_company"


class Measure(StrEnum):
    HIGH = "high"
    LOW = "low"


class RulesParseError(ValueError):
    """A rule text this module does not understand; such a market must not be priced."""


@dataclass(frozen=True, slots=True)
class RuleTerms:
    """What a ``rules_primary`` says. ``measure`` is None for a point-in-time (hourly) rule."""

    measure: Measure | None
    station: str  # as written, e.g. "Chicago Midway, IL" or "New York City (CLINYC)"
    station_code: str | None  # "CLINYC" (a CLI product) or "KNYC" (coordinates), if given
    authority: Authority
    day: dt.date | None
    bracket: Bracket | None  # None if the condition is not a plain comparison we know

    @property
    def station_name(self) -> str:
        """The place without code or state: "Chicago Midway, IL" -> "Chicago Midway"."""
        without_code = re.sub(r"\s*\([^)]*\)", "", self.station)
        return without_code.split(",")[0].strip()


_MEASURES = {
    "highest": Measure.HIGH,
    "maximum": Measure.HIGH,
    "lowest": Measure.LOW,
    "minimum": Measure.LOW,
}
_RECORDED = re.compile(
    r"\b(?:(?P<measure>highest|maximum|lowest|minimum) )?temperature recorded (?:in|at) "
    r"(?P<station>.+?) (?:for|on) (?P<date>[A-Za-z]{3,9}\.? \d{1,2}, \d{4})",
    re.IGNORECASE,
)
_CLI_CODE = re.compile(r"\((CLI[A-Z]{3})\)")
_COORDINATES = re.compile(r"\(for coordinates ([A-Z0-9]{3,5})\)")
_NUMBER = r"(-?\d+(?:\.\d+)?)"
_TAIL = re.compile(rf"\bis (greater than|above|less than|below) {_NUMBER}", re.IGNORECASE)
_BETWEEN = re.compile(rf"\bis between {_NUMBER}\s*(?:-|to|and)\s*{_NUMBER}", re.IGNORECASE)
_NWS = re.compile(r"National Weather Service", re.IGNORECASE)
_NWS_CLI = re.compile(
    r"National Weather Service[’']?s? (?:Climatological Report \(Daily\)|Daily Climate Report)",
    re.IGNORECASE,
)
_TWC = re.compile(r"\bThe Weather Company\b", re.IGNORECASE)
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}


def _parse_day(text: str) -> dt.date:
    month_text, day_text, year_text = text.replace(",", "").replace(".", "").split()
    month = _MONTHS.get(month_text.lower())
    if month is None:
        raise RulesParseError(f"unknown month in {text!r}")
    try:
        return dt.date(int(year_text), month, int(day_text))
    except ValueError as exc:
        raise RulesParseError(f"impossible date {text!r}: {exc}") from None


def _authority(text: str) -> Authority:
    nws, twc = _NWS.search(text) is not None, _TWC.search(text) is not None
    if nws and twc:
        raise RulesParseError("the rule names both the NWS and The Weather Company")
    if twc:
        return Authority.WEATHER_COMPANY
    if nws:
        if _NWS_CLI.search(text) is None:
            raise RulesParseError(
                "the rule names an NWS product other than the Daily Climate Report"
            )
        return Authority.NWS_CLI
    raise RulesParseError("the rule names no settlement authority we know")


def _condition(text: str) -> Bracket | None:
    between = _BETWEEN.search(text)
    if between:
        low, high = Decimal(between[1]), Decimal(between[2])
        return Bracket(BracketKind.BETWEEN, math.ceil(low), math.floor(high))
    tail = _TAIL.search(text)
    if tail:
        value = Decimal(tail[2])
        if tail[1].lower() in ("greater than", "above"):  # strict: "greater than 90" wins at 91
            return Bracket(BracketKind.GREATER, math.floor(value) + 1, None)
        return Bracket(BracketKind.LESS, None, math.ceil(value) - 1)
    return None


def parse_rules_primary(text: str) -> RuleTerms:
    """The terms of a rule text; :class:`RulesParseError` if it is not a station-temperature
    rule with one station, a date and a known authority."""
    if not text or not text.strip():
        raise RulesParseError("empty rule text")
    text = " ".join(text.split())
    matches = list(_RECORDED.finditer(text))
    if not matches:
        raise RulesParseError(f"no 'temperature recorded at <station> for <date>' in {text[:80]!r}")
    if len(matches) > 1:
        raise RulesParseError("the rule names more than one recorded temperature")
    match = matches[0]
    station = match["station"].strip()
    if not station:
        raise RulesParseError("the rule names no station")
    code = _CLI_CODE.search(text) or _COORDINATES.search(text)
    measure = match["measure"]
    return RuleTerms(
        measure=_MEASURES[measure.lower()] if measure else None,
        station=station,
        station_code=code[1] if code else None,
        authority=_authority(text),
        day=_parse_day(match["date"]),
        bracket=_condition(text),
    )


@dataclass(frozen=True, slots=True)
class RulesCheck:
    """The verdict on one rule: ``ok``, or the ``mismatch`` reason to refuse the market."""

    terms: RuleTerms | None
    city: City | None
    mismatch: str | None

    @property
    def ok(self) -> bool:
        return self.mismatch is None


def _station_mismatch(terms: RuleTerms, city: City) -> str | None:
    code = terms.station_code
    if code is not None:
        expected = city.cli_product if code.startswith("CLI") else city.station_id
        if code != expected:
            return f"rule names station code {code}, the registry has {expected} for {city.code}"
        return None
    names = {n.casefold() for n in city.rules_station_names}
    if terms.station_name.casefold() in names or terms.station.casefold() in names:
        return None
    return (
        f"rule names station {terms.station!r}, not one of {list(city.rules_station_names)} "
        f"for {city.code}"
    )


def check_rules(
    text: str,
    city: City,
    *,
    day: dt.date | None = None,
    bracket: Bracket | None = None,
) -> RulesCheck:
    """Check a rule text against ``city`` (and, if given, the market's day and bracket)."""
    try:
        terms = parse_rules_primary(text)
    except RulesParseError as exc:
        return RulesCheck(None, city, f"unreadable rule: {exc}")
    reason: str | None = None
    if terms.measure is not Measure.HIGH:
        what = "a point-in-time reading" if terms.measure is None else f"the daily {terms.measure}"
        reason = f"rule is about {what}, not the daily high"
    else:
        reason = _station_mismatch(terms, city)
    if reason is None and day is not None and terms.day != day:
        reason = f"rule is for {terms.day}, the market for {day}"
    if reason is None and bracket is not None and terms.bracket != bracket:
        stated = terms.bracket.label if terms.bracket else "an unreadable condition"
        reason = f"rule states {stated}, the market's strikes say {bracket.label}"
    return RulesCheck(terms, city, reason)


def check_market_rules(market: Mapping[str, Any]) -> RulesCheck:
    """Check a market JSON object end to end: its series' city, its strikes against its
    ticker, and its ``rules_primary`` against both."""
    ticker = str(market.get("ticker") or "")
    try:
        parsed = parse_market_ticker(ticker)
        city = parsed.city
        bracket = bracket_from_market(market)
    except TickerError as exc:
        return RulesCheck(None, None, str(exc))
    except UnknownCityError as exc:  # a KeyError: str() would quote the message
        return RulesCheck(None, None, exc.args[0] if exc.args else repr(exc))
    text = market.get("rules_primary")
    if not isinstance(text, str):
        return RulesCheck(None, city, f"{ticker}: the market has no rules_primary")
    return check_rules(text, city, day=parsed.event_date, bracket=bracket)
