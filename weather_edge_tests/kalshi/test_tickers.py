"""Tickers and brackets, on every real ticker in the recordings and on public market JSON."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from weather_edge.kalshi.recordings import read_orderbook_summaries, read_ticks
from weather_edge.kalshi.tickers import (
    Bracket,
    BracketKind,
    StrikeMismatchError,
    TickerError,
    bracket_from_market,
    infer_event_brackets,
    parse_event_ticker,
    parse_market_ticker,
)
from weather_edge.weather.cities import UnknownCityError, get_city


@pytest.fixture(scope="module")
def real_tickers(kxhighny: Path) -> list[str]:
    ticks = read_ticks(kxhighny / "ticks").select("market_ticker")
    summaries = read_orderbook_summaries(kxhighny).select("market_ticker")
    return sorted(pl.concat([ticks, summaries]).unique()["market_ticker"].to_list())


def _market_json(ticker: str, bracket: Bracket) -> dict[str, object]:
    """The strike fields Kalshi publishes for a bracket (see the tickers module docstring)."""
    number = parse_market_ticker(ticker).strike
    market: dict[str, object] = {"ticker": ticker, "event_ticker": ticker.rsplit("-", 1)[0]}
    if bracket.kind is BracketKind.BETWEEN:
        market.update(strike_type="between", floor_strike=bracket.low_f, cap_strike=bracket.high_f)
    elif bracket.kind is BracketKind.GREATER:
        market.update(strike_type="greater", floor_strike=float(number), cap_strike=None)
    else:
        market.update(strike_type="less", cap_strike=int(number))
    return market


def test_event_ticker_gives_the_climate_day_and_the_city() -> None:
    event = parse_event_ticker("KXHIGHNY-26AUG24")
    assert event.event_date == dt.date(2026, 8, 24)
    assert event.city == get_city("NYC")
    assert event.ticker == "KXHIGHNY-26AUG24"
    assert parse_event_ticker("KXHIGHCHI-25DEC05").city.station_id == "KMDW"
    with pytest.raises(UnknownCityError):
        _ = parse_event_ticker("KXHIGHXYZ-26AUG24").city


@pytest.mark.parametrize(
    "bad", ["KXHIGHNY-26AUG24-B84", "KXHIGHNY-26XYZ24-T85", "KXHIGHNY-26FEB30-T85", "KXHIGHNY-T85"]
)
def test_malformed_tickers_are_refused(bad: str) -> None:
    with pytest.raises(TickerError):
        parse_market_ticker(bad)


def test_every_recorded_ticker_parses_and_round_trips(real_tickers: list[str]) -> None:
    assert len(real_tickers) == 47 * 6  # 47 recorded events of six markets
    for ticker in real_tickers:
        parsed = parse_market_ticker(ticker)
        assert parsed.ticker == ticker
        assert parsed.city.code == "NYC"


def test_recorded_events_tile_the_integers(real_tickers: list[str]) -> None:
    brackets = infer_event_brackets(real_tickers)
    assert set(brackets) == set(real_tickers)
    sep02 = {t.rsplit("-", 1)[1]: b for t, b in brackets.items() if "-26SEP02-" in t}
    assert sep02 == {
        "T75": Bracket(BracketKind.LESS, None, 74),
        "B75.5": Bracket(BracketKind.BETWEEN, 75, 76),
        "B77.5": Bracket(BracketKind.BETWEEN, 77, 78),
        "B79.5": Bracket(BracketKind.BETWEEN, 79, 80),
        "B81.5": Bracket(BracketKind.BETWEEN, 81, 82),
        "T82": Bracket(BracketKind.GREATER, 83, None),
    }
    # Exactly one market of an event wins on any reported high.
    for high in range(60, 100):
        assert sum(b.wins(high) for b in sep02.values()) == 1


def test_a_lone_tail_cannot_be_placed_without_its_strike_type() -> None:
    with pytest.raises(TickerError, match="strike_type"):
        infer_event_brackets(["KXHIGHNY-26SEP02-T75"])
    with pytest.raises(TickerError, match="gap"):
        infer_event_brackets(["KXHIGHNY-26SEP02-B75.5", "KXHIGHNY-26SEP02-B79.5"])


def test_strike_cross_check_on_every_recorded_ticker(real_tickers: list[str]) -> None:
    for ticker, bracket in infer_event_brackets(real_tickers).items():
        market = _market_json(ticker, bracket)
        assert bracket_from_market(market) == bracket
        shifted = dict(market)
        key = "cap_strike" if bracket.kind is BracketKind.LESS else "floor_strike"
        shifted[key] = Decimal(str(market[key])) + 1
        with pytest.raises(StrikeMismatchError, match=key):
            bracket_from_market(shifted)


def test_public_market_json_examples() -> None:
    # Published by Kalshi for these markets (yes_sub_title "79° or below").
    less = {
        "ticker": "KXHIGHNY-26AUG27-T80",
        "event_ticker": "KXHIGHNY-26AUG27",
        "strike_type": "less",
        "cap_strike": 80,
    }
    assert bracket_from_market(less) == Bracket(BracketKind.LESS, None, 79)
    greater = {"ticker": "KXHIGHNY-26JUN08-T79", "strike_type": "greater", "floor_strike": 79}
    assert bracket_from_market(greater).label == "80°F or above"
    between = {
        "ticker": "KXHIGHNY-26JUN08-B77.5",
        "strike_type": "between",
        "floor_strike": 77,
        "cap_strike": 78,
    }
    assert bracket_from_market(between) == Bracket(BracketKind.BETWEEN, 77, 78)


@pytest.mark.parametrize(
    ("market", "reason"),
    [
        (
            {"ticker": "KXHIGHNY-26AUG24-T85", "strike_type": "between", "floor_strike": 85},
            "greater or less",
        ),
        (
            {"ticker": "KXHIGHNY-26AUG24-T85", "strike_type": "greater", "floor_strike": 84},
            "floor_strike 84",
        ),
        (
            {
                "ticker": "KXHIGHNY-26AUG24-T85",
                "strike_type": "less",
                "cap_strike": 85,
                "floor_strike": 80,
            },
            "no floor_strike",
        ),
        (
            {
                "ticker": "KXHIGHNY-26AUG24-B84.5",
                "strike_type": "greater",
                "floor_strike": 84,
                "cap_strike": 85,
            },
            "needs strike_type 'between'",
        ),
        (
            {
                "ticker": "KXHIGHNY-26AUG24-B84.5",
                "event_ticker": "KXHIGHNY-26AUG25",
                "strike_type": "between",
                "floor_strike": 84,
                "cap_strike": 85,
            },
            "event_ticker",
        ),
        ({"ticker": "KXHIGHNY-26AUG24-T85", "floor_strike": 85}, "no strike_type"),
    ],
)
def test_strike_mismatches_name_the_problem(market: dict[str, object], reason: str) -> None:
    with pytest.raises(StrikeMismatchError, match=reason):
        bracket_from_market(market)


def test_greater_means_strictly_greater() -> None:
    t85 = parse_market_ticker("KXHIGHNY-26AUG24-T85")
    greater = t85.bracket("greater")
    assert (greater.wins(85), greater.wins(86)) == (False, True)
    assert t85.bracket("greater_or_equal").wins(85)
    less = parse_market_ticker("KXHIGHNY-26AUG24-T78").bracket("less")
    assert (less.wins(78), less.wins(77)) == (False, True)
    b = parse_market_ticker("KXHIGHNY-26AUG24-B84.5").bracket()
    assert [h for h in range(80, 90) if b.wins(h)] == [84, 85]
