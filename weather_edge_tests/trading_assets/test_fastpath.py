"""The streamer's fast path on a real warehouse, and the parts every decision path shares:
predictions as of an instant, recent volume, trading parameters from Dagster config."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from weather_edge.defs.trading import (
    BookQualityConfig,
    LimitsConfig,
    LiveExecutionConfig,
    MakerConfig,
    StalenessConfig,
    TradingConfig,
)
from weather_edge.kalshi.book import TopOfBook, book_from_levels
from weather_edge.storage import Warehouse
from weather_edge.trading.config import (
    BookQuality,
    MakerTiming,
    Staleness,
    TradingLimits,
    TradingParams,
)
from weather_edge.trading.fastpath import (
    FastPath,
    ForecastTimeline,
    RecentVolume,
    forecast_from_row,
)
from weather_edge.trading.inputs import MarketSpec
from weather_edge.trading.risk import Mark
from weather_edge.trading.warehouse_io import ListedMarket

from .conftest import catalog_rows, prediction_row, series_row

DAY = dt.date(2026, 8, 24)
NOW = dt.datetime(2026, 8, 24, 15, 0, tzinfo=dt.UTC)
TICKER = "KXHIGHNY-26AUG24-B84.5"
EVENT = ["KXHIGHNY-26AUG24-T84", TICKER, "KXHIGHNY-26AUG24-B86.5", "KXHIGHNY-26AUG24-T87"]


def top(bid: int, ask: int, ticker: str = TICKER, size: int = 10) -> TopOfBook:
    """A top of book in whole cents and contracts."""
    return book_from_levels(
        ticker, [(bid * 100, size * 100)], [((100 - ask) * 100, size * 100)]
    ).top()


def ns(at: dt.datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000 + at.microsecond * 1_000


class Clocks:
    def __init__(self) -> None:
        self.now = NOW
        self.mono = 0.0

    def wall(self) -> dt.datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def seeded(warehouse: Warehouse) -> Warehouse:
    warehouse.upsert("series", [series_row(NOW)])
    warehouse.upsert(
        "markets",
        catalog_rows(
            EVENT, open_time=NOW - dt.timedelta(days=1), close_time=NOW + dt.timedelta(hours=14)
        ),
    )
    warehouse.upsert("bracket_predictions", [prediction_row(TICKER, NOW, 0.60, "m1", DAY)])
    return warehouse


def test_fast_path_decides_each_change_and_records_it(seeded: Warehouse) -> None:
    clocks = Clocks()
    fast = FastPath(
        TradingParams(),
        seeded,
        cities=["NYC"],
        refresh_s=30,
        clock=clocks.wall,
        monotonic=clocks.monotonic,
    )
    first = fast(TICKER, top(45, 46), ns(NOW))
    assert first is not None and first.would_trade and first.model_version == "m1"
    assert (first.side, first.action, first.price_cc) == ("yes", "buy", 4500)
    assert first.mode == "shadow" and first.evaluated_at == NOW

    # a newer prediction waits for the next refresh (the cache never blocks a change)
    seeded.upsert("bracket_predictions", [prediction_row(TICKER, NOW, 0.10, "m2", DAY)])
    seeded.upsert(
        "bracket_predictions",
        [prediction_row(TICKER, NOW + dt.timedelta(hours=1), 0.9, "m-future", DAY)],
    )
    clocks.advance(10)
    assert fast(TICKER, top(45, 47), ns(clocks.now)).model_version == "m1"  # type: ignore[union-attr]
    clocks.advance(25)
    later = fast(TICKER, top(44, 47), ns(clocks.now))
    assert later is not None and later.model_version == "m2" and later.side == "no"

    # a book received 4 s ago is evaluated as 4 s old; a backlog is skipped; so are unknowns
    lagged = fast(TICKER, top(44, 46), ns(clocks.now - dt.timedelta(seconds=4)))
    assert lagged is not None and '"age_ms":4000' in lagged.inputs_json
    assert fast(TICKER, top(44, 46), ns(clocks.now - dt.timedelta(minutes=5))) is None
    assert (
        fast("KXHIGHNY-26AUG24-B99.5", top(44, 46, "KXHIGHNY-26AUG24-B99.5"), ns(clocks.now))
        is None
    )
    broken = TopOfBook(TICKER, 0, 100, 5_000, 100)  # a price of zero: the book refuses it
    assert fast(TICKER, broken, ns(clocks.now)) is None
    assert (fast.stats.evaluated, fast.stats.skipped_backlog) == (4, 1)
    assert (fast.stats.unknown_market, fast.stats.errors, fast.stats.refreshes) == (1, 1, 2)

    assert seeded.count("decisions") == 0  # buffered until the stream flushes
    assert fast.flush() == 4
    rows = seeded.query("SELECT model_version, reason FROM decisions ORDER BY evaluated_at")
    assert [r[0] for r in rows] == ["m1", "m1", "m2", "m2"]
    assert fast.flush() == 0


def test_forecast_timeline_is_as_of_and_volume_slides() -> None:
    rows = [
        prediction_row(TICKER, NOW, 0.4, "a", DAY),
        prediction_row(TICKER, NOW + dt.timedelta(minutes=10), 0.5, "b", DAY),
        prediction_row(TICKER, NOW + dt.timedelta(minutes=10), 0.6, "c", DAY),
    ]
    timeline = ForecastTimeline.from_rows(reversed(rows))
    assert timeline.at(TICKER, NOW - dt.timedelta(seconds=1)) is None
    assert timeline.at(TICKER, NOW + dt.timedelta(minutes=9)).model_version == "a"  # type: ignore[union-attr]
    assert timeline.at(TICKER, NOW + dt.timedelta(minutes=10)).model_version == "b"  # type: ignore[union-attr]
    assert timeline.at("other", NOW) is None and len(timeline) == 3
    assert forecast_from_row(rows[0]).uncertainty == 0.05

    volume = RecentVolume(dt.timedelta(minutes=1))
    volume.add(TICKER, NOW, 300)
    volume.add(TICKER, NOW + dt.timedelta(seconds=30), 200)
    assert volume.at(TICKER, NOW + dt.timedelta(seconds=59)) == 500
    assert volume.at(TICKER, NOW + dt.timedelta(seconds=60)) == 200
    assert volume.at("other", NOW) == 0


def test_a_market_status_is_known_as_of_its_catalog_time() -> None:
    spec = MarketSpec(
        TICKER, EVENT[0][:-4], "KXHIGHNY", "NYC", DAY, NOW + dt.timedelta(hours=14), status="closed"
    )
    listed = ListedMarket(spec, NOW - dt.timedelta(days=1), "no", as_of=NOW)
    assert listed.spec_at(NOW - dt.timedelta(hours=1)).is_open  # it was open then
    assert listed.spec_at(NOW).status == "closed"  # closed early: the catalog says so
    assert listed.settled_mark == Mark.settled("no")
    never = ListedMarket(replace(spec, status="initialized"), None, None)
    assert not never.spec_at(NOW - dt.timedelta(hours=1)).is_open


def _fields(model: Any) -> set[str]:
    return set(model.model_fields)


def test_trading_config_mirrors_trading_params(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parameter added to TradingParams must be added to the Dagster config too."""
    assert _fields(TradingParams) <= _fields(TradingConfig)
    for config, model in [
        (LimitsConfig, TradingLimits),
        (MakerConfig, MakerTiming),
        (StalenessConfig, Staleness),
        (BookQualityConfig, BookQuality),
    ]:
        assert _fields(config) == _fields(model), config.__name__
    assert TradingConfig().trading_params() == TradingParams()
    live = LiveExecutionConfig(
        mode="live", limits=LimitsConfig(max_daily_loss="12.5"), enabled_cities=["nyc"]
    )
    params = live.trading_params()
    assert str(params.limits.max_daily_loss) == "12.5" and params.enabled_cities == ("NYC",)
    assert (
        params.config_hash
        == TradingParams.load(
            {"mode": "live", "limits": {"max_daily_loss": "12.5"}, "enabled_cities": ["NYC"]}
        ).config_hash
    )
