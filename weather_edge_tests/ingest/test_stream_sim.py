"""Quote ingestion against the simulator: the job, faults, and a SIGKILL mid-stream."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from weather_edge.defs.ingestion import quote_ingestion
from weather_edge.defs.resources import KalshiResource, WarehouseResource
from weather_edge.ingest.processor import JournalProcessor
from weather_edge.sim.faults import FaultConfig
from weather_edge.storage import open_warehouse
from weather_edge_tests.conftest import KEY_ID
from weather_edge_tests.ingest.simhelp import (
    advancing,
    exchange_top,
    expected_tops,
    journal_texts,
    simulator,
)


def run_job(
    sim: Any, key_file: Path, data_dir: Path, duration_s: float, fast_path: bool = False
) -> Any:
    url = f"duckdb:///{data_dir / 'warehouse.duckdb'}"
    return quote_ingestion.execute_in_process(
        run_config={
            "ops": {
                "stream_quotes": {
                    "config": {
                        "duration_s": duration_s,
                        "health_interval_s": 1.0,
                        "stale_after_s": 30.0,
                        "fast_path": fast_path,
                    }
                }
            }
        },
        resources={
            "kalshi": KalshiResource(
                environment="custom",
                rest_url=sim.rest_url,
                ws_url=sim.ws_url,
                api_key_id=KEY_ID,
                private_key_path=str(key_file),
            ),
            "warehouse": WarehouseResource(url=url, data_dir=str(data_dir)),
        },
    )


def latest_quotes(warehouse: Any) -> dict[str, tuple[int | None, int | None]]:
    rows = warehouse.query(
        "SELECT market_ticker, yes_bid_cc, yes_ask_cc FROM ("
        " SELECT *, ROW_NUMBER() OVER (PARTITION BY market_ticker ORDER BY received_at DESC,"
        " source_id DESC) AS rn FROM quotes) WHERE rn = 1"
    )
    return {t: (b, a) for t, b, a in rows}


def test_a_job_run_stores_exactly_what_the_simulator_sent(
    public_pem: bytes, key_file: Path, tmp_path: Path
) -> None:
    with simulator(public_pem) as sim:
        with advancing(sim, seconds=3.0):
            result = run_job(sim, key_file, tmp_path, duration_s=5.0)
        assert result.success
        (connection,) = sim.connections()
        sent = list(connection.sent)
        tickers = sorted(sim.exchange.markets)
        final = {t: exchange_top(sim, t) for t in tickers}

    # the journal holds every frame the server sent, byte for byte, in order
    assert journal_texts(tmp_path / "journal") == sent
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    tops = expected_tops(sent)
    assert len(tops) > 20, "the simulated market barely moved"
    assert warehouse.count("quotes") == len(tops)
    assert latest_quotes(warehouse) == final
    sent_trades = {
        json.loads(m)["msg"]["trade_id"]
        for m in sent
        if '"type":"trade"' in m or '"type": "trade"' in m
    }
    stored = {r[0] for r in warehouse.query("SELECT trade_id FROM trades")}
    assert stored == sent_trades
    assert warehouse.count("markets") == len(tickers)
    observations = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert observations, "stream health is observed in Dagster"


def test_the_fast_path_records_a_decision_for_every_book_change(
    public_pem: bytes, key_file: Path, tmp_path: Path
) -> None:
    from weather_edge.ingest.streamer import QuoteStreamer, StreamOptions
    from weather_edge.kalshi.auth import KalshiSigner
    from weather_edge.kalshi.config import KalshiConfig
    from weather_edge.settings import Settings
    from weather_edge.trading.config import TradingParams
    from weather_edge.trading.fastpath import FastPath

    settings = Settings(tmp_path, f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    paths: list[FastPath] = []
    with simulator(public_pem, cities=("NYC",)) as sim:

        def fast_path(wh: Any) -> FastPath:  # the exchange's clock is the trading clock
            paths.append(FastPath(TradingParams(), wh, cities=("NYC",), clock=sim.clock.now))
            return paths[-1]

        config = KalshiConfig.for_environment("custom", rest_url=sim.rest_url, ws_url=sim.ws_url)
        streamer = QuoteStreamer(
            settings,
            config,
            KalshiSigner.from_file(KEY_ID, key_file),
            StreamOptions(duration_s=5.0, cities=("NYC",)),
            listener_factory=fast_path,
        )
        with advancing(sim, seconds=3.0):
            asyncio.run(streamer.run())
    warehouse = open_warehouse(settings.warehouse_url)
    decisions = warehouse.query_frame("SELECT market_ticker, reason, would_trade FROM decisions")
    evaluated = paths[0].stats.evaluated
    # identical evaluations (same market, instant and book on the stepped simulator clock)
    # share one deterministic id, so rows can be fewer than evaluations, never more
    assert 0 < decisions.height <= evaluated and paths[0].stats.errors == 0
    # no prediction was stored in this run: every evaluation says so, and none trades
    assert set(decisions["reason"]) == {"no_prediction"}
    assert not decisions["would_trade"].any()


@pytest.mark.parametrize(
    "faults",
    [
        FaultConfig(
            seed=3,
            ws_skip_seq_rate=0.02,
            ws_duplicate_rate=0.03,
            ws_reorder_rate=0.02,
            ws_malformed_rate=0.01,
        ),
        FaultConfig(seed=4, ws_drop_every_seconds=1.0, rest_500_rate=0.1, rest_429_rate=0.1),
    ],
    ids=["gaps-duplicates-reorders-malformed", "drops-and-rest-errors"],
)
def test_with_faults_the_tables_end_complete_and_correct(
    public_pem: bytes, key_file: Path, tmp_path: Path, faults: FaultConfig
) -> None:
    with simulator(public_pem, faults=faults) as sim:
        with advancing(sim, seconds=3.0):
            result = run_job(sim, key_file, tmp_path, duration_s=7.0)
        assert result.success
        final = {t: exchange_top(sim, t) for t in sorted(sim.exchange.markets)}
        sent = [m for c in sim.connections() for m in c.sent]
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    assert latest_quotes(warehouse) == final  # books resynced to the exchange's own
    assert len(journal_texts(tmp_path / "journal")) == len(sent)
    # no duplicate derived from a resent frame: every quote has its own journal position
    dupes = warehouse.query(
        "SELECT COUNT(*) FROM (SELECT market_ticker, received_at, yes_bid_cc, yes_ask_cc, "
        "yes_bid_size_cq, yes_ask_size_cq, COUNT(*) c FROM quotes GROUP BY ALL HAVING c > 1)"
    )
    assert dupes[0][0] == 0


def test_sigkill_mid_stream_then_restart_loses_and_duplicates_nothing(
    public_pem: bytes, key_file: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "WEATHER_EDGE_HOME": str(tmp_path),
        "KALSHI_ENV": "custom",
        "KALSHI_API_KEY_ID": KEY_ID,
        "KALSHI_PRIVATE_KEY_PATH": str(key_file),
    }
    command = [sys.executable, "-m", "weather_edge.cli", "stream", "--duration", "30"]
    with simulator(public_pem) as sim:
        env |= {"KALSHI_REST_URL": sim.rest_url, "KALSHI_WS_URL": sim.ws_url}
        with advancing(sim, seconds=8.0):
            first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
            assert first.stdout is not None
            first.stdout.readline()  # "streaming from ..."
            time.sleep(random.Random(os.getpid()).uniform(1.5, 3.0))
            first.send_signal(signal.SIGKILL)
            first.wait()
            second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
            assert second.stdout is not None
            second.stdout.readline()
            time.sleep(3.0)
        time.sleep(1.0)
        second.send_signal(signal.SIGTERM)
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 0, out
        assert "stream stopped cleanly" in out
        final = {t: exchange_top(sim, t) for t in sorted(sim.exchange.markets)}

    journal_dir = tmp_path / "journal"
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    assert latest_quotes(warehouse) == final  # the restart resynced from fresh snapshots
    # everything journaled is applied, and a from-scratch rebuild of the journal gives the
    # very same rows: nothing lost, nothing duplicated
    rebuilt = open_warehouse(f"duckdb:///{tmp_path / 'rebuilt.duckdb'}")
    rebuilt.migrate()
    JournalProcessor(rebuilt).catch_up(journal_dir)
    for table, key in (("quotes", "source_id"), ("trades", "trade_id")):
        got = {r[0] for r in warehouse.query(f"SELECT {key} FROM {table}")}
        want = {r[0] for r in rebuilt.query(f"SELECT {key} FROM {table}")}
        assert got == want and got
    sizes = {p.name: p.stat().st_size for p in journal_dir.glob("*.wej")}
    assert len(sizes) == 2
    applied = dict(warehouse.query("SELECT segment, applied_offset FROM journal_progress"))
    assert applied == sizes
