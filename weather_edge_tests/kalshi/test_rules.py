"""Rule texts: station, authority, day and condition, checked against the city registry.

The texts marked "real" are ``rules_primary`` values as published verbatim by public projects
that captured them from Kalshi's API (KXHIGHNY, KXHIGHCHI, KXHIGHAUS, KXTEMPNYCH).
"""

from __future__ import annotations

import datetime as dt

import pytest

from weather_edge.kalshi.rules import (
    Authority,
    Measure,
    RulesParseError,
    check_market_rules,
    check_rules,
    parse_rules_primary,
)
from weather_edge.kalshi.tickers import Bracket, BracketKind
from weather_edge.weather.cities import get_city

# real, NWS era
NYC_NWS = (
    "If the highest temperature recorded in Central Park, New York for August 12, 2026 as "
    "reported by the National Weather Service's Climatological Report (Daily), is greater "
    "than 90°, then the market resolves to Yes."
)
CHI_NWS = (
    "If the highest temperature recorded at Chicago Midway, IL for July 26, 2026, is between "
    "89-90° according to the National Weather Service's Climatological Report (Daily), then "
    "the market resolves to Yes."
)
AUS_NWS = (
    "If the highest temperature recorded in Austin Bergstrom for July 26, 2026 as reported by "
    "the National Weather Service's Climatological Report (Daily), is between 96-97°, then the "
    "market resolves to Yes."
)
# real, The Weather Company era (from about 2026-08-14)
NYC_TWC = (
    "If the maximum temperature recorded at New York City (CLINYC) for Aug 27, 2026, is less "
    "than 80° fahrenheit according to The Weather Company, then the market resolves to Yes."
)
NYC_TWC_BETWEEN = (
    "If the maximum temperature recorded at New York City (CLINYC) for Sep 16, 2026, is "
    "between 81-82° fahrenheit according to The Weather Company, then the market resolves to Yes."
)
# real, an hourly market at the same station: not a daily high
NYC_HOURLY = (
    "If the temperature recorded at Central Park, New York City for Jul 26, 2026 1 PM EDT as "
    "reported by The Weather Company (for coordinates KNYC), is above 75.99°, then the market "
    "resolves to Yes."
)


def test_nws_era_rule() -> None:
    terms = parse_rules_primary(NYC_NWS)
    assert terms.measure is Measure.HIGH
    assert (terms.station, terms.station_name, terms.station_code) == (
        "Central Park, New York",
        "Central Park",
        None,
    )
    assert terms.authority is Authority.NWS_CLI
    assert terms.day == dt.date(2026, 8, 12)
    assert terms.bracket == Bracket(BracketKind.GREATER, 91, None)  # strictly greater than 90


def test_weather_company_era_rule() -> None:
    terms = parse_rules_primary(NYC_TWC)
    assert (terms.measure, terms.station_code) == (Measure.HIGH, "CLINYC")
    assert terms.authority is Authority.WEATHER_COMPANY
    assert terms.day == dt.date(2026, 8, 27)
    assert terms.bracket == Bracket(BracketKind.LESS, None, 79)
    assert parse_rules_primary(NYC_TWC_BETWEEN).bracket == Bracket(BracketKind.BETWEEN, 81, 82)


@pytest.mark.parametrize(
    ("text", "city"),
    [
        (NYC_NWS, "NYC"),
        (NYC_TWC, "NYC"),
        (NYC_TWC_BETWEEN, "NYC"),
        (CHI_NWS, "CHI"),
        (AUS_NWS, "AUS"),
    ],
)
def test_real_rules_match_their_registry_city(text: str, city: str) -> None:
    check = check_rules(text, get_city(city))
    assert check.ok, check.mismatch


@pytest.mark.parametrize(
    ("text", "city", "reason"),
    [
        (NYC_NWS, "CHI", "'Central Park, New York', not one of"),
        (CHI_NWS.replace("Chicago Midway", "Chicago O'Hare"), "CHI", "Chicago O'Hare"),
        (NYC_NWS.replace("Central Park", "LaGuardia Airport"), "NYC", "LaGuardia"),
        (NYC_TWC.replace("CLINYC", "CLILGA"), "NYC", "station code CLILGA"),
        (NYC_TWC, "MIA", "the registry has CLIMIA"),
        (NYC_HOURLY, "NYC", "not the daily high"),
        (NYC_NWS.replace("highest", "lowest"), "NYC", "daily low"),
        (
            NYC_NWS.replace("Climatological Report (Daily)", "Local Climate Analysis Tool"),
            "NYC",
            "NWS product other than",
        ),
        (NYC_TWC.replace("according to The Weather Company", ""), "NYC", "no settlement authority"),
        (NYC_NWS.replace("), is", ") as confirmed by The Weather Company, is"), "NYC", "both"),
        ("This market resolves per the underlying event.", "NYC", "unreadable"),
    ],
)
def test_mismatches_are_refused_with_a_reason(text: str, city: str, reason: str) -> None:
    check = check_rules(text, get_city(city))
    assert not check.ok
    assert check.mismatch is not None and reason in check.mismatch


def test_unreadable_text_raises_when_parsed_directly() -> None:
    with pytest.raises(RulesParseError):
        parse_rules_primary("")
    with pytest.raises(RulesParseError, match="more than one"):
        parse_rules_primary(
            "If the highest temperature recorded at Chicago Midway, IL for July 26, 2026 exceeds "
            "the highest temperature recorded at Denver, CO for July 26, 2026 according to the "
            "National Weather Service's Climatological Report (Daily), then the market resolves "
            "to Yes."
        )


def _market(**changes: object) -> dict[str, object]:
    market: dict[str, object] = {  # public market JSON of KXHIGHNY-26AUG27-T80
        "ticker": "KXHIGHNY-26AUG27-T80",
        "event_ticker": "KXHIGHNY-26AUG27",
        "strike_type": "less",
        "cap_strike": 80,
        "rules_primary": NYC_TWC,
    }
    market.update(changes)
    return market


def test_market_rules_checked_end_to_end() -> None:
    check = check_market_rules(_market())
    assert check.ok and check.city == get_city("NYC")
    wrong_day = check_market_rules(_market(ticker="KXHIGHNY-26AUG28-T80", event_ticker=None))
    assert wrong_day.mismatch == "rule is for 2026-08-27, the market for 2026-08-28"
    wrong_side = check_market_rules(
        _market(strike_type="greater", floor_strike=80, cap_strike=None)
    )
    assert wrong_side.mismatch is not None and "79°F or below" in wrong_side.mismatch
    assert "no city" in (
        check_market_rules(_market(ticker="KXHIGHXYZ-26AUG27-T80", event_ticker=None)).mismatch
        or ""
    )
    assert "no rules_primary" in (check_market_rules(_market(rules_primary=None)).mismatch or "")
