"""The dbt project builds on both backends through Dagster, with the marts' figures right.

One ``dbt build`` per backend (dbt starts slowly): seed a realistic warehouse, materialize the
dbt assets (seed, views, marts and every test as an asset check), then read the marts and
compare with the figures the dataset computed in Python. The custom generic tests are then
shown to fail on bad rows by running their compiled SQL again (the staging views are live).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from weather_edge.defs.dbt_assets import (
    ARTIFACT_RUNS_KEPT,
    SOURCE_ASSET_KEYS,
    WarehouseDbtResource,
    analytics_schema,
    build_dbt_assets,
    build_dbt_resource,
    city_seed_text,
    dbt_definitions,
    dbt_env,
    dbt_project,
    prepare_dbt_project,
)
from weather_edge.settings import Settings
from weather_edge.storage import Warehouse
from weather_edge_tests.analytics.dataset import MODEL, Dataset, seed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def manifest() -> Path:
    """Parse the project once per test session, so the tests see the current models."""
    return prepare_dbt_project()


@pytest.fixture
def seeded(warehouse: Warehouse, warehouse_url: str) -> Iterator[tuple[Warehouse, Dataset]]:
    data = seed(warehouse)
    yield warehouse, data
    if warehouse.dialect == "postgres":  # dbt's schema sits beside the fixture's own
        warehouse.execute(f"DROP SCHEMA IF EXISTS {analytics_schema(warehouse_url)} CASCADE")


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, warehouse_url=url)


def _compiled_tests(data_dir: Path) -> dict[str, str]:
    """Test name -> compiled SQL, from the artifacts of the run's one dbt invocation."""
    (results,) = (data_dir / "dbt_artifacts").glob("*/run_results.json")
    nodes = json.loads(results.read_text())["results"]
    return {
        node["unique_id"].split(".")[2]: node["compiled_code"]
        for node in nodes
        if node["unique_id"].startswith("test.")
    }


def test_dbt_build_through_dagster(
    manifest: Path, seeded: tuple[Warehouse, Dataset], warehouse_url: str, tmp_path: Path
) -> None:
    warehouse, data = seeded
    defs = dbt_definitions(_settings(warehouse_url, tmp_path))
    result = dg.materialize(list(defs.assets or []), resources=dict(defs.resources or {}))
    assert result.success

    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {
        "analytics/mart_pnl",
        "analytics/mart_calibration",
        "analytics/mart_decisions",
        "analytics/mart_calibration_reliability",
        "analytics/city_registry",
    } <= materialized
    checks = result.get_asset_check_evaluations()
    assert len(checks) > 40
    assert [c.check_name for c in checks if not c.passed] == []

    schema = analytics_schema(warehouse_url)
    pnl = warehouse.query(
        f"SELECT climate_day, city, realized_pnl_micros, fees_micros FROM {schema}.mart_pnl"
    )
    assert {(d, c): int(p) for d, c, p, _ in pnl} == data.realized_pnl_micros
    assert {(d, c): int(f) for d, c, _, f in pnl} == data.fees_micros
    drawdowns = warehouse.query(
        f"SELECT min(drawdown_micros), min(mode_drawdown_micros) FROM {schema}.mart_pnl"
    )
    assert min(drawdowns[0]) == 0

    reasons = warehouse.query(
        f"SELECT reason, sum(n_decisions) FROM {schema}.mart_decisions WHERE NOT would_trade "
        "GROUP BY reason"
    )
    assert {r: int(n) for r, n in reasons} == data.no_trade_reasons

    calibration = warehouse.query(
        f"SELECT source, lead_bucket, subject, subject_key, metric, n, mean_value "
        f"FROM {schema}.mart_calibration WHERE city = 'NYC'"
    )
    bracket = {(b, m): (n, v) for s, b, _, k, m, n, v in calibration if s == "bracket_predictions"}
    assert set(bracket) == {(b, m) for b in ("00-12h", "24-36h") for m in ("brier", "log_loss")}
    assert all(n == 45 and 0 < v < 1 for n, v in bracket.values())  # 9 days x 5 brackets
    subjects = {(s, k) for src, _, s, k, *_ in calibration if src == "scores"}
    assert {s for s, _ in subjects} == {"model", "market", "blend"}
    bins = warehouse.query(
        f"SELECT sum(n) FROM {schema}.mart_calibration_reliability "
        f"WHERE subject_key = '{MODEL}/base'"
    )
    assert int(bins[0][0]) == len(data.rows["bracket_predictions"])

    _custom_tests_catch_bad_rows(warehouse, data, _compiled_tests(tmp_path))


def _custom_tests_catch_bad_rows(
    warehouse: Warehouse, data: Dataset, tests: dict[str, str]
) -> None:
    """The generic tests in dbt/macros/tests return rows for bad data (they passed above)."""
    sums = next(sql for name, sql in tests.items() if name.startswith("sums_to_one_stg_bracket"))
    in_range = next(
        sql
        for name, sql in tests.items()
        if name.startswith("in_range_stg_bracket_predictions_probability")
    )
    assert warehouse.query(sums) == []
    assert warehouse.query(in_range) == []
    row: dict[str, Any] = dict(data.rows["bracket_predictions"][0])
    row["snapshot_at"] = row["snapshot_at"] + timedelta(minutes=1)  # a lone bracket, p = 1.5
    row["probability"] = 1.5
    warehouse.upsert("bracket_predictions", [row])
    assert len(warehouse.query(sums)) == 1
    assert [float(v[0]) for v in warehouse.query(in_range)] == [1.5]


def test_sources_map_to_the_python_assets(manifest: Path, tmp_path: Path) -> None:
    assets = build_dbt_assets(dbt_project())
    upstream = {
        dep.to_user_string()
        for key in assets.keys
        for dep in assets.asset_deps[key]
        if not dep.to_user_string().startswith("analytics/")
    }
    assert upstream == set(SOURCE_ASSET_KEYS.values())
    assert {k.to_user_string() for k in assets.keys} >= {
        "analytics/mart_pnl",
        "analytics/mart_calibration",
        "analytics/mart_decisions",
    }
    pnl_parents = {
        d.to_user_string()
        for key in ("analytics/stg_fills", "analytics/stg_settlements", "analytics/stg_decisions")
        for d in assets.asset_deps[dg.AssetKey.from_user_string(key)]
    }
    assert pnl_parents == {"shadow_fills", "settlements", "would_trade_decisions"}
    checks = {spec.name for spec in assets.check_specs}
    assert any(name.startswith("sums_to_one_stg_bracket_predictions") for name in checks)
    assert any(name.startswith("unique_combination_mart_pnl") for name in checks)


def test_dbt_definitions_choose_the_pool_and_target(manifest: Path, tmp_path: Path) -> None:
    duck = dbt_definitions(_settings(f"duckdb:///{tmp_path}/w.duckdb", tmp_path))
    pg = dbt_definitions(_settings("postgresql://postgres@127.0.0.1:5432/test?schema=x", tmp_path))
    (duck_assets,), (pg_assets,) = duck.assets or [], pg.assets or []
    assert isinstance(duck_assets, dg.AssetsDefinition)
    assert isinstance(pg_assets, dg.AssetsDefinition)
    assert duck_assets.op.pool == "warehouse_writer"
    assert pg_assets.op.pool is None
    resource = (pg.resources or {})["dbt"]
    assert isinstance(resource, WarehouseDbtResource)
    assert resource.target == "postgres"


def test_dbt_env_from_warehouse_urls() -> None:
    assert dbt_env("duckdb:////data/w.duckdb") == {
        "WEATHER_EDGE_DBT_TARGET": "duckdb",
        "WEATHER_EDGE_DUCKDB_PATH": "/data/w.duckdb",
    }
    env = dbt_env("postgresql://ana:p%40ss@db.internal:6543/ledger?schema=prod")
    assert env == {
        "WEATHER_EDGE_DBT_TARGET": "postgres",
        "WEATHER_EDGE_PG_HOST": "db.internal",
        "WEATHER_EDGE_PG_PORT": "6543",
        "WEATHER_EDGE_PG_USER": "ana",
        "WEATHER_EDGE_PG_PASSWORD": "p@ss",
        "WEATHER_EDGE_PG_DB": "ledger",
        "WEATHER_EDGE_PG_SCHEMA": "prod",
    }
    assert dbt_env("postgresql://postgres@127.0.0.1/test")["WEATHER_EDGE_PG_SCHEMA"] == "public"
    assert analytics_schema("postgresql://postgres@127.0.0.1/test?schema=t_1") == "t_1_analytics"
    assert analytics_schema("duckdb:////x.duckdb") == "main_analytics"
    with pytest.raises(ValueError, match="unsupported"):
        dbt_env("sqlite:///x.db")


def test_city_seed_matches_the_registry() -> None:
    seed_file = dbt_project().project_dir / "seeds" / "city_registry.csv"
    assert seed_file.read_text(encoding="utf-8") == city_seed_text(), (
        "dbt/seeds/city_registry.csv is stale: run `python -m weather_edge.defs.dbt_assets "
        "seed-cities`"
    )


def test_artifacts_go_to_fresh_pruned_folders_with_the_newest_parse_state(
    manifest: Path, tmp_path: Path
) -> None:
    root = tmp_path / "artifacts"
    for i in range(ARTIFACT_RUNS_KEPT + 5):
        (root / f"20250101T0000{i:02d}-old").mkdir(parents=True)
    newest = root / f"20250101T0000{ARTIFACT_RUNS_KEPT + 4:02d}-old"
    (newest / "partial_parse.msgpack").write_bytes(b"newest state")
    resource = build_dbt_resource(Settings(data_dir=tmp_path, warehouse_url="duckdb:///x"))
    target = resource._fresh_target_path(root)
    assert (target / "partial_parse.msgpack").read_bytes() == b"newest state"
    runs = sorted(p for p in root.iterdir())
    assert len(runs) == ARTIFACT_RUNS_KEPT and runs[-1] == target
