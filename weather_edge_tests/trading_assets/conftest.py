"""Fixtures of the trading assets' tests: a short recording of the simulator (quotes, trades,
catalog) taken once, partitions materialized through Dagster, and warehouse helpers."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from weather_edge.defs.resources import KalshiResource, WarehouseResource
from weather_edge.defs.trading import PARAMS_FILE_ENV
from weather_edge.ingest.markets import market_row
from weather_edge.ingest.streamer import StreamOptions, stream_window
from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.config import KalshiConfig
from weather_edge.kalshi.tickers import infer_event_brackets
from weather_edge.settings import Settings
from weather_edge.sim.agents import AgentSettings
from weather_edge.sim.server import Simulator, SimulatorConfig, run_simulator
from weather_edge.storage import Warehouse, open_warehouse
from weather_edge_tests.conftest import KEY_ID

CITY = "NYC"
RECORDED_TABLES = ("series", "markets", "quotes", "trades")


@pytest.fixture(autouse=True)
def _no_deployment_params(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests state their trading parameters; a deployment-wide file must not leak in."""
    monkeypatch.delenv(PARAMS_FILE_ENV, raising=False)


@contextmanager
def realtime_simulator(public_pem: bytes, seed: int = 5) -> Iterator[Simulator]:
    """New York's markets on a clock that follows the wall clock (so exchange timestamps
    and receive times share one timeline), agents stepping every quarter second."""
    config = SimulatorConfig(
        seed=seed,
        cities=(CITY,),
        clock_speed=1.0,
        step_seconds=0.25,
        rate_limit=None,
        agent_settings=AgentSettings(take_rate=0.3, take_rate_near=0.6),
    )
    with run_simulator(config) as sim:
        sim.register_key(KEY_ID, public_pem)
        yield sim


def sim_kalshi_config(sim: Simulator) -> KalshiConfig:
    return KalshiConfig.for_environment(
        "custom", rest_url=sim.rest_url, ws_url=sim.ws_url, tier="prime"
    )


def kalshi_resource(sim: Simulator, key_file: Path | None) -> KalshiResource:
    """The exchange resource on the simulator; without ``key_file``, no credentials."""
    return KalshiResource(
        environment="custom",
        rest_url=sim.rest_url,
        ws_url=sim.ws_url,
        rate_tier="prime",
        api_key_id=KEY_ID if key_file else None,
        private_key_path=str(key_file) if key_file else None,
    )


@dataclass
class Recording:
    """What a short stream of the simulator left in the warehouse, table by table."""

    frames: dict[str, pl.DataFrame]
    day: dt.date  # the climate day whose markets trade longest (the partition under test)

    def load_into(self, warehouse: Warehouse) -> None:
        for table in RECORDED_TABLES:
            warehouse.upsert(table, self.frames[table])


@pytest.fixture(scope="session")
def recording(
    tmp_path_factory: pytest.TempPathFactory, private_key: rsa.RSAPrivateKey, public_pem: bytes
) -> Recording:
    """Three seconds of the simulator streamed through the real ingestion path."""
    data_dir = tmp_path_factory.mktemp("recording")
    settings = Settings(data_dir=data_dir, warehouse_url=f"duckdb:///{data_dir / 'w.duckdb'}")
    with realtime_simulator(public_pem) as sim:
        options = StreamOptions(duration_s=3.0, cities=(CITY,), health_interval_s=1.0)
        signer = KalshiSigner(KEY_ID, private_key)
        asyncio.run(stream_window(settings, sim_kalshi_config(sim), signer, options))
    warehouse = open_warehouse(settings.warehouse_url)
    frames = {t: warehouse.query_frame(f"SELECT * FROM {t}") for t in RECORDED_TABLES}
    day = warehouse.scalar(
        "SELECT climate_day FROM markets WHERE status = 'active' "
        "ORDER BY close_time DESC, climate_day DESC LIMIT 1"
    )
    assert frames["quotes"].height > 20 and frames["trades"].height > 5, "the market barely moved"
    return Recording(frames, day)


def partition_key(day: dt.date, city: str = CITY) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"day": day.isoformat(), "city": city})


def materialize(
    assets: Sequence[dg.AssetsDefinition],
    warehouse_url: str,
    data_dir: Path,
    day: dt.date,
    config: Mapping[str, Any] | None = None,
    *,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """Materialize trading assets for one partition with the same trading config each."""
    return dg.materialize(
        assets,
        partition_key=partition_key(day),
        resources={"warehouse": WarehouseResource(url=warehouse_url, data_dir=str(data_dir))},
        run_config={"ops": {a.op.name: {"config": dict(config or {})} for a in assets}},
        raise_on_error=raise_on_error,
    )


def metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    [materialization] = result.asset_materializations_for_node(asset)
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    failures = [e for e in result.all_events if e.is_step_failure]
    assert failures, "the run was expected to fail"
    data = failures[0].step_failure_data
    return str(data.user_failure_data.description if data.user_failure_data else data.error)


def catalog_rows(
    tickers: Sequence[str], *, open_time: dt.datetime, close_time: dt.datetime, **fields: Any
) -> list[dict[str, Any]]:
    """``markets`` rows for tickers (brackets inferred), rules checked and matching."""
    brackets = infer_event_brackets(tickers)
    return [
        market_row(
            t,
            brackets[t],
            status=fields.get("status", "active"),
            open_time=open_time,
            close_time=close_time,
            result=fields.get("result"),
            rules_ok=True,
            updated_at=fields.get("updated_at", open_time),
        )
        for t in tickers
    ]


def series_row(at: dt.datetime, series: str = "KXHIGHNY") -> dict[str, Any]:
    return {
        "series_ticker": series,
        "title": "Highest temperature in NYC",
        "fee_type": "quadratic",
        "fee_multiplier": "1",
        "updated_at": at,
    }


def prediction_row(
    ticker: str, at: dt.datetime, probability: float, model: str, day: dt.date
) -> dict[str, Any]:
    return {
        "market_ticker": ticker,
        "snapshot_at": at,
        "model_version": model,
        "variant": "test",
        "city": CITY,
        "climate_day": day,
        "probability": probability,
    }
