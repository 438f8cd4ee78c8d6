"""`weather-edge demo`: the platform on the embedded default.

For now it proves the installation: it loads the Dagster definitions, creates the embedded
warehouse and materializes what the graph holds, then reports what it did. Later steps grow
it into the full simulated run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from weather_edge.settings import load_settings


def run_demo(data_dir: Path | None, echo: Callable[[str], None] = print) -> str:
    import dagster as dg

    from weather_edge.definitions import build_definitions

    settings = load_settings(data_dir)
    defs = build_definitions(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    echo(f"[1/3] data directory {settings.data_dir}")
    graph = defs.resolve_asset_graph()
    keys = sorted(key.to_user_string() for key in graph.get_all_asset_keys())
    echo(f"[2/3] loaded the Dagster definitions: {len(keys)} assets ({', '.join(keys)})")
    with dg.DagsterInstance.ephemeral() as instance:
        unpartitioned = [
            k
            for k in graph.get_all_asset_keys()
            if graph.get(k).is_materializable and graph.get(k).partitions_def is None
        ]
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=unpartitioned
        )
    if not result.success:
        raise RuntimeError("the demo's materialization failed; see the log above")
    materialized = [
        e.asset_key.to_user_string()
        for e in result.get_asset_materialization_events()
        if e.asset_key is not None
    ]
    echo(f"[3/3] materialized {', '.join(materialized)} into {settings.warehouse_url}")
    from weather_edge.storage import open_warehouse

    warehouse = open_warehouse(settings.warehouse_url)
    tables = warehouse.query(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() ORDER BY table_name"
    )
    return (
        f"demo summary: warehouse {warehouse.dialect} at schema version "
        f"{warehouse.applied_migrations()[-1]} with {len(tables)} tables; "
        f"{len(materialized)} asset(s) materialized"
    )
