"""The ``live_execution`` job against the simulator: it places and records orders only in
live mode with keys and confirmation, and otherwise fails (or, in shadow mode, declines)
before any order."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from weather_edge.defs.resources import WarehouseResource
from weather_edge.defs.trading import MODE_TAG, live_execution
from weather_edge.ingest.catalog import Catalog, discover
from weather_edge.kalshi.rest import KalshiRestClient
from weather_edge.sim.server import Simulator
from weather_edge.storage import Warehouse, open_warehouse
from weather_edge.trading.config import LIVE_CONFIRMATION_PHRASE, TradingParams
from weather_edge.weather.cities import get_city
from weather_edge_tests.conftest import KEY_ID
from weather_edge_tests.kalshi_client.conftest import simulator

from .conftest import (
    CITY,
    failure_message,
    kalshi_resource,
    prediction_row,
    realtime_simulator,
    sim_kalshi_config,
)

LIVE = {"mode": "live", "live_confirmation": LIVE_CONFIRMATION_PHRASE}


@pytest.fixture
def sim(public_pem: bytes) -> Iterator[Simulator]:
    with realtime_simulator(public_pem, seed=8) as running:
        yield running


def sim_orders(sim: Simulator) -> list[Any]:
    with sim.exchange.lock:
        return list(sim.exchange.account(KEY_ID).orders.values())


def seed_catalog_and_prediction(
    sim: Simulator, warehouse: Warehouse, now: dt.datetime | None = None
) -> str:
    """The simulator's catalog in the warehouse, and a prediction 25 points above the ask of
    a two-sided market of the latest listed day (snapshot: ``now``, default the wall's)."""

    async def fetch() -> tuple[Catalog, str, int]:
        async with KalshiRestClient(sim_kalshi_config(sim)) as rest:
            catalog = await discover(rest, [get_city(CITY)])
            latest = max(r["close_time"] for r in catalog.market_rows)
            tickers = [r["ticker"] for r in catalog.market_rows if r["close_time"] == latest]
            for _ in range(50):  # the agents need a moment to quote
                for ticker in sorted(tickers):
                    book = await rest.get_orderbook(ticker)
                    if book.yes_bids and book.no_bids:
                        ask = 10_000 - book.no_bids[-1][0]
                        if 500 <= ask <= 7_000 and ask - book.yes_bids[-1][0] <= 2_000:
                            return catalog, ticker, ask
                await asyncio.sleep(0.1)
        raise AssertionError("no two-sided market to trade")

    catalog, ticker, ask = asyncio.run(fetch())
    warehouse.upsert("series", catalog.series_rows)
    warehouse.upsert("markets", catalog.market_rows)
    day = next(r["climate_day"] for r in catalog.market_rows if r["ticker"] == ticker)
    now = now or dt.datetime.now(dt.UTC)
    warehouse.upsert(
        "bracket_predictions",
        [prediction_row(ticker, now - dt.timedelta(seconds=1), ask / 10_000 + 0.25, "m1", day)],
    )
    return ticker


def run_job(
    sim: Simulator,
    key_file: Path | None,
    warehouse_url: str,
    data_dir: Path,
    config: dict[str, Any],
) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    instance = dg.DagsterInstance.ephemeral()
    settings = {"duration_s": 1.0, "poll_interval_s": 0.2, "cities": [CITY]}
    result = live_execution.execute_in_process(
        run_config={"ops": {"execute_live_orders": {"config": settings | config}}},
        resources={
            "kalshi": kalshi_resource(sim, key_file),
            "warehouse": WarehouseResource(url=warehouse_url, data_dir=str(data_dir)),
        },
        instance=instance,
        raise_on_error=False,
    )
    return result, instance


def fresh_warehouse(tmp_path: Path) -> tuple[str, Warehouse]:
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    warehouse = open_warehouse(url)
    warehouse.migrate()
    return url, warehouse


def mode_tag(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance) -> str | None:
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    return run.tags.get(MODE_TAG)


def test_live_mode_places_the_would_trades_and_records_them(
    sim: Simulator, key_file: Path, warehouse: Warehouse, warehouse_url: str, tmp_path: Path
) -> None:
    ticker = seed_catalog_and_prediction(sim, warehouse)
    result, instance = run_job(sim, key_file, warehouse_url, tmp_path, LIVE)
    assert result.success, failure_message(result)
    assert mode_tag(result, instance) == "live"

    placed = sim_orders(sim)
    assert placed, "the exchange received no order"
    assert {o.ticker for o in placed} == {ticker}
    stored = warehouse.query(
        "SELECT client_order_id, order_id, market_ticker, mode, decision_id, status FROM orders"
    )
    assert {r[0] for r in stored} == {o.client_order_id for o in placed}
    assert {r[1] for r in stored} == {o.order_id for o in placed}
    assert {r[3] for r in stored} == {"live"}
    assert all(r[5] in ("executed", "canceled") for r in stored)  # nothing left working
    decisions = warehouse.query("SELECT decision_id, market_ticker, reason, mode FROM decisions")
    assert {d[3] for d in decisions} == {"live"}
    traded = {d[0]: d[1] for d in decisions if d[2] == "trade"}
    assert set(traded.values()) == {ticker}
    assert {r[4] for r in stored} <= set(traded)  # every order names its decision
    open_now = warehouse.scalar(
        "SELECT COUNT(*) FROM markets WHERE status = 'active' AND close_time > ?",
        (dt.datetime.now(dt.UTC),),
    )
    assert len(decisions) == open_now  # every open market evaluated, refusals included
    assert warehouse.count("series") == 1
    outcome = result.output_for_node("execute_live_orders")
    assert outcome["mode"] == "live" and outcome["orders_submitted"] == 1
    [step] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = step.step_output_data.metadata
    assert metadata["config_hash"].value == TradingParams.load(LIVE).config_hash


@pytest.mark.parametrize(
    ("with_keys", "config", "missing"),
    [
        (False, LIVE, ["KALSHI_API_KEY_ID", "KALSHI_PRIVATE_KEY_PATH"]),
        (True, {"mode": "live"}, ["live_confirmation"]),
        (False, {"mode": "live"}, ["live_confirmation", "KALSHI_API_KEY_ID"]),
    ],
    ids=["no-keys", "no-confirmation", "neither"],
)
def test_live_mode_without_what_it_needs_fails_before_any_order(
    sim: Simulator,
    key_file: Path,
    tmp_path: Path,
    with_keys: bool,
    config: dict[str, Any],
    missing: list[str],
) -> None:
    url, warehouse = fresh_warehouse(tmp_path)
    seed_catalog_and_prediction(sim, warehouse)
    result, instance = run_job(sim, key_file if with_keys else None, url, tmp_path, config)
    assert not result.success
    message = failure_message(result)
    assert "refused before any order" in message
    for name in missing:
        assert name in message
    assert str(key_file) not in message and KEY_ID not in message
    assert mode_tag(result, instance) == "live"
    assert sim_orders(sim) == []
    assert warehouse.count("orders") == 0 and warehouse.count("decisions") == 0
    assert not (tmp_path / "trading").exists()  # no order store was even opened


def test_shadow_mode_places_nothing_and_says_so(
    sim: Simulator, key_file: Path, tmp_path: Path
) -> None:
    url, warehouse = fresh_warehouse(tmp_path)
    seed_catalog_and_prediction(sim, warehouse)
    result, instance = run_job(sim, key_file, url, tmp_path, {})
    assert result.success
    assert mode_tag(result, instance) == "shadow"
    assert result.output_for_node("execute_live_orders") == {"mode": "shadow", "orders": 0}
    logs = " ".join(
        str(e.message) for e in instance.all_logs(result.run_id) if e.message is not None
    )
    assert "shadow mode: no order placed" in logs
    assert sim_orders(sim) == []
    assert warehouse.count("orders") == 0


@pytest.mark.parametrize("clock", ["wall", "exchange"])
def test_on_a_simulated_day_only_the_exchange_clock_trades(
    public_pem: bytes, key_file: Path, tmp_path: Path, clock: str
) -> None:
    """The simulator lives on an August day (manual clock). On the wall clock every market
    of that day is long closed: nothing to evaluate. On the exchange's clock (its Date
    stamps) the markets are open and the would-trade is placed, stamped with its time."""
    with simulator(public_pem) as sim:
        url, warehouse = fresh_warehouse(tmp_path)
        sim_now = sim.clock.now()
        ticker = seed_catalog_and_prediction(sim, warehouse, now=sim_now)
        result, _ = run_job(sim, key_file, url, tmp_path, LIVE | {"clock": clock})
        assert result.success, failure_message(result)
        outcome = result.output_for_node("execute_live_orders")
        evaluated = warehouse.query("SELECT DISTINCT evaluated_at FROM decisions")
        if clock == "wall":
            assert outcome["markets"] == 0 and outcome["orders_submitted"] == 0
            assert sim_orders(sim) == [] and evaluated == []
            return
        assert outcome["markets"] > 0 and outcome["orders_submitted"] == 1
        assert {o.ticker for o in sim_orders(sim)} == {ticker}
        assert all(abs(row[0] - sim_now) < dt.timedelta(minutes=1) for row in evaluated)
        assert sim.clock.now() == sim_now  # nothing moved the simulated day meanwhile


def test_an_unknown_clock_is_refused_before_any_order(
    sim: Simulator, key_file: Path, tmp_path: Path
) -> None:
    url, warehouse = fresh_warehouse(tmp_path)
    seed_catalog_and_prediction(sim, warehouse)
    result, _ = run_job(sim, key_file, url, tmp_path, LIVE | {"clock": "sundial"})
    assert not result.success
    assert "clock: 'sundial' is not one of wall | exchange" in failure_message(result)
    assert sim_orders(sim) == []
