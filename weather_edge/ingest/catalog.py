"""The market catalog: open weather events and markets of every registry city, over REST.

Each market is cross-checked before anything trades it: its ticker against its strikes, and
its ``rules_primary`` against the city registry. A market that fails is still catalogued,
with ``rules_ok = false`` and the reason, so the decision engine can refuse it visibly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from weather_edge.ingest.markets import market_row
from weather_edge.kalshi.errors import NotFoundError
from weather_edge.kalshi.models import Market
from weather_edge.kalshi.rest import KalshiRestClient
from weather_edge.kalshi.rules import check_market_rules
from weather_edge.kalshi.tickers import TickerError, bracket_from_market
from weather_edge.weather.cities import City

log = logging.getLogger(__name__)

OPEN_STATUSES = frozenset({"active", "open", "initialized", "inactive"})


@dataclass
class Catalog:
    series_rows: list[dict[str, Any]] = field(default_factory=list)
    market_rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def open_tickers(self) -> list[str]:
        return sorted(r["ticker"] for r in self.market_rows if r["status"] in OPEN_STATUSES)

    def tickers_of(self, city_code: str) -> list[str]:
        return sorted(r["ticker"] for r in self.market_rows if r["city"] == city_code)


def catalog_market_row(market: Market, now: datetime) -> dict[str, Any] | None:
    """A ``markets`` row, or ``None`` for a market whose strikes contradict its ticker."""
    as_json = {  # what the strike and rules checks read, in the wire's names
        "ticker": market.ticker,
        "event_ticker": market.event_ticker,
        "strike_type": market.strike_type,
        "floor_strike": market.floor_strike,
        "cap_strike": market.cap_strike,
        "rules_primary": market.rules_primary,
    }
    try:
        bracket = bracket_from_market(as_json)
    except TickerError as exc:
        log.warning("not cataloguing %s: %s", market.ticker, exc)
        return None
    rules = check_market_rules(as_json)
    return market_row(
        market.ticker,
        bracket,
        status=market.status or "unknown",
        strike_type=market.strike_type,
        open_time=market.open_time,
        close_time=market.close_time,
        expiration_time=market.expiration_time,
        result=market.result or None,
        rules_primary=market.rules_primary,
        rules_ok=rules.ok,
        rules_problem=rules.mismatch,
        updated_at=now,
    )


async def discover(
    rest: KalshiRestClient, cities: Iterable[City], *, status: str = "open"
) -> Catalog:
    """Series (with fee terms) and markets of every city's weather series."""
    now = datetime.now(UTC)
    catalog = Catalog()
    for city in cities:
        try:
            series = await rest.get_series(city.series_ticker)
        except NotFoundError:
            catalog.problems.append(
                f"{city.code}: the exchange lists no series {city.series_ticker}"
            )
            continue
        catalog.series_rows.append(
            {
                "series_ticker": series.ticker,
                "title": series.title,
                "fee_type": series.fee_type,
                "fee_multiplier": str(series.fee_multiplier),
                "updated_at": now,
            }
        )
        async for event in rest.iter_events(
            series_ticker=city.series_ticker, status=status, with_nested_markets=True
        ):
            for market in event.markets or []:
                row = catalog_market_row(market, now)
                if row is None:
                    catalog.problems.append(f"{market.ticker}: strikes contradict the ticker")
                    continue
                if row["city"] != city.code:
                    catalog.problems.append(f"{market.ticker}: listed under {city.series_ticker}")
                    continue
                if not row["rules_ok"]:
                    catalog.problems.append(f"{market.ticker}: {row['rules_problem']}")
                catalog.market_rows.append(row)
    return catalog
