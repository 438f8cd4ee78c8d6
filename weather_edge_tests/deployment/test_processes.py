"""The production topology of docker/compose.yaml, run as processes (no Docker engine here):
the user-code gRPC server, the webserver and the daemon on the real PostgreSQL, configured by
docker/dagster.yaml and docker/workspace.yaml. A run launched through the webserver is
queued, dequeued by the daemon, executed against the code server, and succeeds."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graphql(port: int, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            result: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"GraphQL {exc.code}: {exc.read()[:2000]!r}") from None
    assert "errors" not in result, result
    return result["data"]


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[dict[str, Any]]:
    dagster_db, warehouse_db = f"dagster_{uuid.uuid4().hex[:8]}", f"we_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {dagster_db}")
        con.execute(f"CREATE DATABASE {warehouse_db}")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "docker" / "dagster.yaml", home / "dagster.yaml")
    shutil.copy(REPO / "docker" / "workspace.yaml", home / "workspace.yaml")
    code_port, web_port = free_port(), free_port()
    # the code server's port is fixed at 4000 in docker/workspace.yaml: rewrite for the test
    workspace = (home / "workspace.yaml").read_text().replace("port: 4000", f"port: {code_port}")
    (home / "workspace.yaml").write_text(workspace)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_DB": dagster_db,
        "DAGSTER_PG_PORT": "5432",
        "WEATHER_EDGE_CODE_HOST": "127.0.0.1",
        "WEATHER_EDGE_HOME": str(tmp_path / "data"),
        "WEATHER_EDGE_WAREHOUSE_URL": f"postgresql://postgres@127.0.0.1:5432/{warehouse_db}",
    }
    bin_dir = Path(sys.executable).parent
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("code", "web", "daemon")}
    procs = [
        subprocess.Popen(
            [
                str(bin_dir / "dagster"),
                "code-server",
                "start",
                "-h",
                "127.0.0.1",
                "-p",
                str(code_port),
                "-m",
                "weather_edge.definitions",
            ],
            env=env,
            cwd=REPO,
            stdout=logs["code"],
            stderr=subprocess.STDOUT,
        ),
    ]
    wait_for(lambda: socket.create_connection(("127.0.0.1", code_port), 1), 120, "code server")
    procs += [
        subprocess.Popen(
            [
                str(bin_dir / "dagster-webserver"),
                "-w",
                str(home / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(web_port),
            ],
            env=env,
            cwd=REPO,
            stdout=logs["web"],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [str(bin_dir / "dagster-daemon"), "run", "-w", str(home / "workspace.yaml")],
            env=env,
            cwd=REPO,
            stdout=logs["daemon"],
            stderr=subprocess.STDOUT,
        ),
    ]
    try:
        yield {"web_port": web_port, "warehouse_db": warehouse_db, "logs": tmp_path}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
        with psycopg.connect(ADMIN, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {dagster_db} WITH (FORCE)")
            con.execute(f"DROP DATABASE IF EXISTS {warehouse_db} WITH (FORCE)")


LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on PythonError { message }
  }
}"""


def test_a_run_goes_through_webserver_daemon_and_code_server_on_postgres(
    deployment: dict[str, Any],
) -> None:
    port = deployment["web_port"]
    wait_for(lambda: graphql(port, "{ version }"), 180, "the webserver")
    repo = wait_for(
        lambda: [
            node
            for node in graphql(
                port,
                "{ repositoriesOrError { ... on RepositoryConnection "
                "{ nodes { name location { name } } } } }",
            )["repositoriesOrError"]["nodes"]
        ],
        180,
        "the code location",
    )[0]
    launched = graphql(
        port,
        LAUNCH,
        {
            "params": {
                "selector": {
                    "repositoryLocationName": repo["location"]["name"],
                    "repositoryName": repo["name"],
                    "jobName": "__ASSET_JOB",
                    "assetSelection": [{"path": ["warehouse_schema"]}],
                },
                "runConfigData": {},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status = wait_for(
        lambda: (
            (
                s := graphql(
                    port, f'{{ runOrError(runId: "{run_id}") {{ ... on Run {{ status }} }} }}'
                )["runOrError"]["status"]
            )
            in ("SUCCESS", "FAILURE", "CANCELED")
            and s
        ),
        240,
        "the run to finish (queued -> daemon -> code server)",
    )
    logs = {p.name: p.read_text()[-2000:] for p in deployment["logs"].glob("*.log")}
    assert status == "SUCCESS", logs
    # the asset really ran against the production warehouse on PostgreSQL
    url = f"postgresql://postgres@127.0.0.1:5432/{deployment['warehouse_db']}"
    with psycopg.connect(url) as con:
        versions = con.execute("SELECT version FROM schema_migrations").fetchall()
    assert versions
