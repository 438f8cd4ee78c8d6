"""Reliability: a sustained stream through every fault, two SIGKILLs and a PostgreSQL restart.

Runs on its own (scripts/test.sh runs this folder after the parallel suite) because it
restarts the shared PostgreSQL server. Prints the faults injected and survived.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

from weather_edge.ingest.processor import JournalProcessor
from weather_edge.sim.faults import FaultConfig
from weather_edge.storage import open_warehouse
from weather_edge_tests.conftest import KEY_ID, POSTGRES_URL
from weather_edge_tests.ingest.simhelp import advancing, exchange_top, simulator

FAULTS = FaultConfig(
    seed=9,
    ws_drop_every_seconds=2.5,
    ws_skip_seq_rate=0.01,
    ws_duplicate_rate=0.02,
    ws_reorder_rate=0.01,
    ws_malformed_rate=0.01,
    rest_429_rate=0.05,
    rest_500_rate=0.05,
)


def restart_postgres() -> float:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for _ in range(60):
        try:
            psycopg.connect(POSTGRES_URL, connect_timeout=2).close()
            break
        except psycopg.OperationalError:
            time.sleep(0.5)
    return time.monotonic() - started


def wire_faults(connections: list[Any]) -> Counter[str]:
    """What the server's own record shows was done to the frames it sent."""
    seen: Counter[str] = Counter()
    for connection in connections:
        last: dict[int, int] = {}
        for text in connection.sent:
            try:
                frame = json.loads(text)
            except ValueError:
                seen["malformed frames"] += 1
                continue
            sid, seq = frame.get("sid"), frame.get("seq")
            if seq is None:
                continue
            before = last.get(sid)
            if before is not None and seq == before:
                seen["duplicated frames"] += 1
            elif before is not None and seq < before:
                seen["reordered frames"] += 1
            elif before is not None and seq > before + 1:
                seen["seq gaps"] += 1
            last[sid] = max(seq, before or seq)
    seen["WebSocket connections (3 starts + drops)"] = len(connections)
    return seen


def test_a_sustained_stream_survives_every_fault(
    public_pem: bytes, key_file: Path, tmp_path: Path
) -> None:
    schema = f"rel_{uuid.uuid4().hex[:10]}"
    url = f"{POSTGRES_URL}?schema={schema}"
    env = {
        **os.environ,
        "WEATHER_EDGE_HOME": str(tmp_path),
        "WEATHER_EDGE_WAREHOUSE_URL": url,
        "KALSHI_ENV": "custom",
        "KALSHI_API_KEY_ID": KEY_ID,
        "KALSHI_PRIVATE_KEY_PATH": str(key_file),
    }
    command = [sys.executable, "-m", "weather_edge.cli", "stream", "--duration", "120"]
    rng = random.Random(os.getpid())
    survived: list[tuple[str, str]] = []
    try:
        with simulator(public_pem, cities=("NYC", "CHI"), faults=FAULTS) as sim:
            env |= {"KALSHI_REST_URL": sim.rest_url, "KALSHI_WS_URL": sim.ws_url}

            def start() -> subprocess.Popen[str]:
                proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
                assert proc.stdout is not None
                proc.stdout.readline()  # "streaming from ..."
                return proc

            with advancing(sim, seconds=20.0, step_s=20.0):
                first = start()
                time.sleep(rng.uniform(2.0, 4.0))
                first.send_signal(signal.SIGKILL)
                first.wait()
                survived.append(("SIGKILL of the streamer", "restarted, resynced"))
                second = start()
                time.sleep(2.0)
                downtime = restart_postgres()
                survived.append(("PostgreSQL restart", f"{downtime:.1f} s down, reconnected"))
                time.sleep(rng.uniform(2.0, 3.0))
                assert second.poll() is None, "the streamer died with the PostgreSQL restart"
                second.send_signal(signal.SIGKILL)
                second.wait()
                survived.append(("SIGKILL of the streamer", "restarted, resynced"))
                third = start()
                time.sleep(6.0)  # long enough for the feed to drop it at least once
            time.sleep(2.0)  # the market is quiet: let the last frames land
            third.send_signal(signal.SIGTERM)
            out, _ = third.communicate(timeout=120)
            assert third.returncode == 0, out
            final = {t: exchange_top(sim, t) for t in sorted(sim.exchange.markets)}
            wire = wire_faults(sim.connections())

        warehouse = open_warehouse(url)
        journal_dir = tmp_path / "journal"
        # books correct after every resync: the last quote of each market is the exchange's
        latest = dict(
            warehouse.query(
                "SELECT market_ticker, yes_bid_cc || '/' || COALESCE(yes_ask_cc, -1) FROM ("
                " SELECT *, ROW_NUMBER() OVER (PARTITION BY market_ticker"
                " ORDER BY received_at DESC, source_id DESC) AS rn FROM quotes) t WHERE rn = 1"
            )
        )
        want = {
            t: f"{b}/{a if a is not None else -1}" for t, (b, a) in final.items() if b is not None
        }
        assert {t: latest.get(t) for t in want} == want
        # nothing journaled was lost or duplicated: a from-scratch rebuild matches exactly
        rebuilt = open_warehouse(f"duckdb:///{tmp_path / 'rebuilt.duckdb'}")
        rebuilt.migrate()
        JournalProcessor(rebuilt).catch_up(journal_dir)
        for table, key in (
            ("quotes", "source_id"),
            ("trades", "trade_id"),
            ("lifecycle_events", "market_ticker || event_type || ts"),
        ):
            got = [r[0] for r in warehouse.query(f"SELECT {key} FROM {table}")]
            want_rows = {r[0] for r in rebuilt.query(f"SELECT {key} FROM {table}")}
            assert len(got) == len(set(got)), f"duplicate rows in {table}"
            assert set(got) == want_rows, f"{table} differs from the journal"
        sizes = {p.name: p.stat().st_size for p in journal_dir.glob("*.wej")}
        assert (
            dict(warehouse.query("SELECT segment, applied_offset FROM journal_progress")) == sizes
        )
        assert wire["malformed frames"] and wire["duplicated frames"]
        assert wire["WebSocket connections (3 starts + drops)"] > 3, "no drop happened"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    rows = [(name, str(count), "no loss, no duplicate") for name, count in sorted(wire.items())]
    rows += [
        (
            "REST 429 / 500 answers",
            f"{FAULTS.rest_429_rate:.0%} / {FAULTS.rest_500_rate:.0%}",
            "retried (idempotent reads)",
        )
    ]
    rows += [(name, "1", outcome) for name, outcome in survived]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'fault':<{width}}  {'injected':>10}  survived")
    for name, count, outcome in rows:
        print(f"{name:<{width}}  {count:>10}  {outcome}")
