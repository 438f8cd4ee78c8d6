"""What a trading decision reads besides the book: the market's static facts and the forecast."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from weather_edge.kalshi.fees import FeeSchedule
from weather_edge.kalshi.models import Market
from weather_edge.kalshi.rules import RulesCheck, check_market_rules
from weather_edge.kalshi.tickers import parse_market_ticker
from weather_edge.money import ONE_CENT_CC
from weather_edge.weather.cities import ensure_utc

FAR_FUTURE = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)

OPEN_STATUSES = frozenset({"active", "open"})


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """The static facts of one market the engine needs (from the market catalog).

    ``rules_ok`` is the catalog's verdict that ``rules_primary`` names the station and
    authority of the city registry (the ``markets.rules_ok`` column); a market whose rules
    do not match is never traded.
    """

    ticker: str
    event_ticker: str
    series_ticker: str
    city: str
    climate_day: dt.date
    close_time: dt.datetime
    fees: FeeSchedule = field(default_factory=lambda: FeeSchedule("quadratic"))
    rules_ok: bool = True
    rules_problem: str | None = None
    status: str = "active"
    tick_cc: int = ONE_CENT_CC

    def __post_init__(self) -> None:
        ensure_utc(self.close_time)
        if self.tick_cc <= 0:
            raise ValueError(f"{self.ticker}: tick must be positive, got {self.tick_cc} cc")

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @classmethod
    def from_market(
        cls, market: Market, fees: FeeSchedule, *, rules: RulesCheck | None = None
    ) -> MarketSpec:
        """From a REST ``Market``. Its ``rules_primary`` is checked against the city registry
        (:func:`~weather_edge.kalshi.rules.check_market_rules`) unless ``rules`` is given."""
        parsed = parse_market_ticker(market.ticker)
        check = rules
        if check is None:
            fields = ("ticker", "event_ticker", "strike_type", "floor_strike", "cap_strike")
            wire = {name: getattr(market, name) for name in fields}
            check = check_market_rules(wire | {"rules_primary": market.rules_primary})
        return cls(
            ticker=market.ticker,
            event_ticker=market.event_ticker or parsed.event.ticker,
            series_ticker=parsed.series,
            city=parsed.city.code,
            climate_day=parsed.event_date,
            close_time=market.close_time or FAR_FUTURE,
            fees=fees,
            rules_ok=check.ok,
            rules_problem=check.mismatch,
            status=market.status or "unknown",
        )

    @classmethod
    def placeholder(cls, ticker: str) -> MarketSpec:
        """What the ticker alone tells (city, event, day): enough to count a position
        against the limits, never to trade (status ``unknown``)."""
        parsed = parse_market_ticker(ticker)
        return cls(
            ticker=ticker,
            event_ticker=parsed.event.ticker,
            series_ticker=parsed.series,
            city=parsed.city.code,
            climate_day=parsed.event_date,
            close_time=FAR_FUTURE,
            status="unknown",
        )


@dataclass(frozen=True, slots=True)
class BracketForecast:
    """The model's probability that a market settles YES, with its uncertainty.

    ``uncertainty`` is the standard deviation of the probability itself (model spread,
    calibration error); 0 means the engine takes ``probability`` at face value.
    """

    market_ticker: str
    probability: float
    uncertainty: float
    model_version: str
    snapshot_at: dt.datetime

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"{self.market_ticker}: probability {self.probability} not in [0, 1]")
        if not 0.0 <= self.uncertainty <= 1.0:
            raise ValueError(f"{self.market_ticker}: uncertainty {self.uncertainty} not in [0, 1]")
        ensure_utc(self.snapshot_at)


class ForecastCache:
    """The latest forecast per market, so a book change never waits for a model."""

    __slots__ = ("_by_ticker",)

    def __init__(self, forecasts: Iterable[BracketForecast] = ()) -> None:
        self._by_ticker: dict[str, BracketForecast] = {}
        for forecast in forecasts:
            self.put(forecast)

    def put(self, forecast: BracketForecast) -> None:
        """Keep ``forecast`` unless a newer one for the same market is already held."""
        held = self._by_ticker.get(forecast.market_ticker)
        if held is None or held.snapshot_at <= forecast.snapshot_at:
            self._by_ticker[forecast.market_ticker] = forecast

    def get(self, market_ticker: str) -> BracketForecast | None:
        return self._by_ticker.get(market_ticker)

    def __len__(self) -> int:
        return len(self._by_ticker)

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        default_uncertainty: float = 0.05,
        variant: str | None = None,
    ) -> ForecastCache:
        """From ``bracket_predictions`` rows (``market_ticker``, ``probability``,
        ``model_version``, ``snapshot_at``, optional ``uncertainty`` and ``variant``)."""
        cache = cls()
        for row in rows:
            if variant is not None and row.get("variant") not in (None, variant):
                continue
            cache.put(
                BracketForecast(
                    market_ticker=str(row["market_ticker"]),
                    probability=float(row["probability"]),
                    uncertainty=float(row.get("uncertainty") or default_uncertainty),
                    model_version=str(row["model_version"]),
                    snapshot_at=row["snapshot_at"],
                )
            )
        return cache
