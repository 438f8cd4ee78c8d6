"""The freshness check fails when an open market's newest quote is older than the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from weather_edge.defs.ingestion import QuoteFreshnessConfig, quotes_fresh
from weather_edge.defs.resources import WarehouseResource
from weather_edge.ingest.markets import market_row
from weather_edge.kalshi.tickers import Bracket, BracketKind
from weather_edge.storage import open_warehouse

TICKER = "KXHIGHNY-26AUG24-B84.5"


def evaluate(folder: Path, quote_age: timedelta, limit_s: float) -> dg.AssetCheckResult:
    url = f"duckdb:///{folder / 'warehouse.duckdb'}"
    wh = open_warehouse(url)
    wh.migrate()
    now = datetime.now(UTC)
    bracket = Bracket(BracketKind.BETWEEN, 84, 85)
    wh.upsert(
        "markets",
        [market_row(TICKER, bracket, status="active", close_time=now + timedelta(hours=6))],
    )
    at = now - quote_age
    wh.upsert(
        "quotes",
        [
            {
                "market_ticker": TICKER,
                "source_id": "s@1",
                "ts": at,
                "received_at": at,
                "yes_bid_cc": 4500,
                "yes_ask_cc": 4800,
                "source": "ws",
            }
        ],
    )
    result = quotes_fresh(
        dg.build_asset_check_context(),
        config=QuoteFreshnessConfig(limit_s=limit_s),
        warehouse=WarehouseResource(url=url, data_dir=str(folder)),
    )
    assert isinstance(result, dg.AssetCheckResult)
    return result


def test_a_stale_open_market_fails_and_a_fresh_one_passes(tmp_path: Path) -> None:
    stale = evaluate(tmp_path / "stale", timedelta(minutes=10), limit_s=300)
    assert not stale.passed
    assert TICKER in str(stale.metadata["stale"].value)
    assert evaluate(tmp_path / "fresh", timedelta(seconds=5), limit_s=300).passed
    # the limit is configuration: ten minutes is fine under an hour's limit
    assert evaluate(tmp_path / "loose", timedelta(minutes=10), limit_s=3600).passed
