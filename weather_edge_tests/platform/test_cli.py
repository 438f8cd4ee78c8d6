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

REPO = Path(__file__).resolve().parents[2]


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
