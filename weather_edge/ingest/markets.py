"""Rows of the ``markets`` table, from the exchange's market JSON or from a bare ticker."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from weather_edge.kalshi.tickers import Bracket, BracketKind, parse_market_ticker
from weather_edge.weather.cities import city_for_series


def market_row(
    ticker: str,
    bracket: Bracket,
    *,
    status: str,
    strike_type: str | None = None,
    open_time: datetime | None = None,
    close_time: datetime | None = None,
    expiration_time: datetime | None = None,
    result: str | None = None,
    rules_primary: str | None = None,
    rules_ok: bool | None = None,
    rules_problem: str | None = None,
    updated_at: datetime | None = None,
) -> dict[str, Any]:
    parsed = parse_market_ticker(ticker)
    floor = bracket.low_f if bracket.kind is not BracketKind.LESS else None
    cap = bracket.high_f if bracket.kind is not BracketKind.GREATER else None
    if bracket.kind is BracketKind.GREATER and bracket.low_f is not None:
        floor = bracket.low_f - 1  # "greater than 85" wins from 86
    if bracket.kind is BracketKind.LESS and bracket.high_f is not None:
        cap = bracket.high_f + 1  # "less than 78" wins up to 77
    return {
        "ticker": ticker,
        "event_ticker": parsed.event.ticker,
        "series_ticker": parsed.series,
        "city": city_for_series(parsed.series).code,
        "climate_day": parsed.event_date,
        "strike_type": strike_type or str(bracket.kind),
        "floor_strike": floor,
        "cap_strike": cap,
        "wins_low_f": bracket.low_f,
        "wins_high_f": bracket.high_f,
        "status": status,
        "open_time": open_time,
        "close_time": close_time,
        "expiration_time": expiration_time,
        "result": result or None,
        "rules_primary": rules_primary,
        "rules_ok": rules_ok,
        "rules_problem": rules_problem,
        "updated_at": updated_at or datetime.now(UTC),
    }
