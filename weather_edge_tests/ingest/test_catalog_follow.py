"""The stream follows the catalog: a new day's markets join the live connection."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from weather_edge.defs.ingestion import (
    lifecycle_events,
    market_catalog,
    quotes,
    quotes_fresh,
    trades,
)
from weather_edge.defs.partitions import day_city_partitions
from weather_edge.defs.resources import KalshiResource, WarehouseResource
from weather_edge.ingest.streamer import QuoteStreamer, StreamOptions
from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.config import KalshiConfig
from weather_edge.settings import Settings
from weather_edge.storage import open_warehouse
from weather_edge_tests.conftest import KEY_ID
from weather_edge_tests.ingest.simhelp import simulator

BEFORE_LISTING = datetime(2026, 8, 24, 13, 50, tzinfo=UTC)  # 09:50 ET: Aug 25 not listed yet


def test_a_new_days_markets_are_added_without_reconnecting(
    public_pem: bytes, key_file: Path, tmp_path: Path
) -> None:
    with simulator(public_pem, cities=("NYC",), days=(), start=BEFORE_LISTING) as sim:
        settings = Settings(tmp_path, f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
        config = KalshiConfig.for_environment(
            "custom",
            rest_url=sim.rest_url,
            ws_url=sim.ws_url,
            key_id=KEY_ID,
            private_key_path=str(key_file),
        )
        streamer = QuoteStreamer(
            settings,
            config,
            KalshiSigner.from_file(KEY_ID, key_file),
            StreamOptions(duration_s=12.0, cities=("NYC",), catalog_refresh_s=0.5),
        )

        async def go() -> None:
            run = asyncio.create_task(streamer.run())
            await asyncio.sleep(2.0)
            before = set(streamer.subscribed)
            assert before and all("26AUG24" in t for t in before)
            for _ in range(20):  # past 10:00 ET: Kalshi lists the next day
                await asyncio.to_thread(sim.advance, 60)
            await asyncio.sleep(2.5)
            added = set(streamer.subscribed) - before
            assert added and all("26AUG25" in t for t in added)
            await asyncio.to_thread(sim.advance, 30)
            await asyncio.sleep(1.5)
            streamer.stop()
            health = await run
            assert health.reconnects == 0

        asyncio.run(go())
    warehouse = open_warehouse(settings.warehouse_url)
    quoted = {r[0] for r in warehouse.query("SELECT DISTINCT market_ticker FROM quotes")}
    assert any("26AUG25" in t for t in quoted), "the new day's books streamed on the same socket"


def test_micro_batch_assets_materialize_a_partition(
    public_pem: bytes, key_file: Path, tmp_path: Path
) -> None:
    day = date(2026, 8, 24)
    with simulator(public_pem, cities=("NYC",)) as sim:
        settings = Settings(tmp_path, f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
        resources = {
            "kalshi": KalshiResource(
                environment="custom",
                rest_url=sim.rest_url,
                ws_url=sim.ws_url,
                api_key_id=KEY_ID,
                private_key_path=str(key_file),
            ),
            "warehouse": WarehouseResource(
                url=settings.warehouse_url, data_dir=str(settings.data_dir)
            ),
        }
        config = KalshiConfig.for_environment("custom", rest_url=sim.rest_url, ws_url=sim.ws_url)
        streamer = QuoteStreamer(
            settings,
            config,
            KalshiSigner.from_file(KEY_ID, key_file),
            StreamOptions(duration_s=3.0, cities=("NYC",)),
        )
        asyncio.run(streamer.run())
        key = dg.MultiPartitionKey({"day": day.isoformat(), "city": "NYC"})
        assert key in day_city_partitions.get_partition_keys()
        result = dg.materialize(
            [market_catalog, quotes, trades, lifecycle_events, quotes_fresh],
            partition_key=key,
            resources=resources,
        )
    assert result.success
    by_asset = {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key
    }
    assert by_asset["market_catalog"]["markets"].value == 6
    assert by_asset["quotes"]["rows"].value == open_warehouse(settings.warehouse_url).count(
        "quotes"
    )
    checks = result.get_asset_check_evaluations()
    assert any(c.check_name == "quotes_fresh" for c in checks)
