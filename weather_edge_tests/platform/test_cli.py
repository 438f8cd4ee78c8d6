"""The `weather-edge` command as a person uses it, and the Dagster UI serving the workspace."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from weather_edge import __version__
from weather_edge.cli import main
from weather_edge.money import format_size

REPO = Path(__file__).resolve().parents[2]
DEMO = [sys.executable, "-m", "weather_edge.cli", "demo"]


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("command", all_commands(main), ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(main, ["version"])
    assert result.output.strip() == f"weather-edge {__version__}"


def test_demo_runs_the_platform_end_to_end_on_the_simulator(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "weather_edge.cli",
            "demo",
            "--data-dir",
            str(tmp_path),
            "--days",
            "1",
            "--city",
            "NYC",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "demo summary" in out
    numbers = {
        line.split()[0]: line.split()[-1].replace(",", "")
        for line in out.splitlines()
        if line.startswith("  ") and len(line.split()) >= 2
    }
    assert int(numbers["markets"]) >= 6
    assert int(numbers["quotes"]) > 100
    assert "failed checks     none" in out
    from weather_edge.storage import open_warehouse

    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'demo' / 'warehouse.duckdb'}")
    assert warehouse.count("forecasts") > 0
    assert warehouse.count("bracket_predictions") > 0
    assert warehouse.count("climate_reports") > 0


def test_demo_live_places_real_orders_through_the_execution_op(tmp_path: Path) -> None:
    """``demo --live``: the live_execution job trades the simulated day on the exchange's
    clock; its orders, fills and decisions are stored as live and scored beside shadow."""
    result = subprocess.run(
        [*DEMO, "--live", "--days", "1", "--city", "NYC", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "live run 2026-08-24 15:00Z for 2026-08-24" in out
    assert "live runs         1\n" in out and "resting left      0" in out
    assert "failed checks     none" in out
    from weather_edge.storage import open_warehouse

    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'demo' / 'warehouse.duckdb'}")
    orders = warehouse.query(
        "SELECT client_order_id, order_id, status, decision_id FROM orders WHERE mode = 'live'"
    )
    assert orders, "no live order was placed"
    assert all(o[1] for o in orders), "an order the exchange never acknowledged"
    assert {o[2] for o in orders} <= {"executed", "canceled"}  # nothing left working
    assert len({o[0] for o in orders}) == len(orders)
    decided = dict(
        warehouse.query("SELECT decision_id, evaluated_at FROM decisions WHERE mode = 'live'")
    )
    assert {o[3] for o in orders} <= set(decided)  # every order names its live decision
    # decided on the simulated morning (the exchange's clock), not on the wall's date
    assert {str(at)[:13] for at in decided.values()} <= {"2026-08-24 15", "2026-08-24 16"}
    filled = warehouse.scalar("SELECT SUM(count_cq) FROM fills WHERE mode = 'live'")
    assert filled and f"{format_size(int(filled))} contracts" in out
    assert warehouse.scalar(
        "SELECT COUNT(*) FROM scores WHERE subject = 'trading' AND subject_key = 'live'"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_webserver_serves_the_workspace(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "WEATHER_EDGE_HOME": str(tmp_path)}
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        query = json.dumps({"query": "{ assetNodes { assetKey { path } } }"}).encode()
        deadline = time.monotonic() + 120
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=query,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    body = json.loads(response.read())
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(1)
        keys = {"/".join(node["assetKey"]["path"]) for node in body["data"]["assetNodes"]}
        assert "warehouse_schema" in keys
    finally:
        server.terminate()
        server.wait(30)
