"""The Dagster definitions load, and lineage only changes on purpose.

After an intended change to the graph, refresh the snapshot with
``WEATHER_EDGE_UPDATE_SNAPSHOTS=1 pytest weather_edge_tests/platform/test_definitions.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from weather_edge.definitions import build_definitions
from weather_edge.settings import load_settings

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "asset_graph.json"
REPO = Path(__file__).resolve().parents[2]


def describe_graph(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = node.partitions_def
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitions": type(partitions).__name__ if partitions else None,
            "partition_dimensions": sorted(
                d.name for d in getattr(partitions, "partitions_defs", [])
            ),
            "checks": sorted(c.name for c in node.check_keys),
        }
    jobs = sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__"))
    sensors = sorted(s.name for s in defs.sensors or [])
    schedules = sorted(s.name for s in defs.schedules or [])
    return {"assets": assets, "jobs": jobs, "sensors": sensors, "schedules": schedules}


def test_definitions_load_and_validate(tmp_path: Path) -> None:
    defs = build_definitions(load_settings(tmp_path))
    dg.Definitions.validate_loadable(defs)


def test_asset_graph_matches_the_snapshot(tmp_path: Path) -> None:
    described = describe_graph(build_definitions(load_settings(tmp_path)))
    if os.environ.get("WEATHER_EDGE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(described, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert described == expected, (
        "the asset graph changed; if on purpose, refresh the snapshot (see this module's docstring)"
    )


def test_the_module_dagster_loads_is_the_one_workspace_yaml_names() -> None:
    workspace = (REPO / "workspace.yaml").read_text()
    assert "module_name: weather_edge.definitions" in workspace
    from weather_edge import definitions

    assert isinstance(definitions.defs, dg.Definitions)


@pytest.mark.parametrize("config", ["dagster.yaml", "docker/dagster.yaml"])
def test_instance_configs_are_valid(config: str, tmp_path: Path, monkeypatch: Any) -> None:
    """Both instance files load as real instances (the production one on the real PostgreSQL)."""
    import shutil
    import uuid

    import psycopg

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / config, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    db = None
    if config.startswith("docker"):
        db = f"dagster_{uuid.uuid4().hex[:10]}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            c.execute(f"CREATE DATABASE {db}")
        for name, value in {
            "DAGSTER_PG_USER": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_DB": db,
            "DAGSTER_PG_PORT": "5432",
        }.items():
            monkeypatch.setenv(name, value)
    try:
        with dg.DagsterInstance.get() as instance:
            settings = instance.get_concurrency_config()
            assert settings.pool_config.default_pool_limit is not None
            assert instance.run_retries_enabled
            assert instance.run_monitoring_enabled
            limits = settings.run_queue_config.tag_concurrency_limits
            assert {"key": "weather_edge/ingestion", "limit": 1} in limits
    finally:
        if db:
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
                c.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
