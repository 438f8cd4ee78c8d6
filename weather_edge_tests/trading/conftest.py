"""Shared builders for the trading tests: one NYC market, its book and a forecast."""

from __future__ import annotations

import datetime as dt

import pytest

from weather_edge.kalshi.book import OrderBook, book_from_levels
from weather_edge.kalshi.fees import FeeSchedule
from weather_edge.trading.inputs import BracketForecast, MarketSpec
from weather_edge_tests.kalshi_client.conftest import signer  # noqa: F401 - shared fixture

NOW = dt.datetime(2026, 8, 24, 14, 0, tzinfo=dt.UTC)
TICKER = "KXHIGHNY-26AUG24-B84.5"
EVENT = "KXHIGHNY-26AUG24"


def make_spec(ticker: str = TICKER, **overrides: object) -> MarketSpec:
    fields: dict[str, object] = {
        "ticker": ticker,
        "event_ticker": ticker.rsplit("-", 1)[0],
        "series_ticker": "KXHIGHNY",
        "city": "NYC",
        "climate_day": dt.date(2026, 8, 24),
        "close_time": NOW + dt.timedelta(hours=10),
        "fees": FeeSchedule("quadratic"),
    }
    fields.update(overrides)
    return MarketSpec(**fields)  # type: ignore[arg-type]


def make_book(
    yes: list[tuple[int, int]], no: list[tuple[int, int]], ticker: str = TICKER
) -> OrderBook:
    """Levels in whole cents and whole contracts, for readability."""
    return book_from_levels(
        ticker, [(c * 100, n * 100) for c, n in yes], [(c * 100, n * 100) for c, n in no]
    )


def forecast(p: float, sigma: float = 0.05, ticker: str = TICKER, at: dt.datetime = NOW):
    return BracketForecast(ticker, p, sigma, "model-v1", at)


@pytest.fixture
def spec() -> MarketSpec:
    return make_spec()


@pytest.fixture
def book_45_48() -> OrderBook:
    """YES bid 45 / ask 48 (the ask is a NO bid at 52), 10 contracts at the top."""
    return make_book([(45, 10), (44, 50)], [(52, 10), (51, 30)])
