"""The dbt marts (``dbt/``) in the same lineage graph as the Python assets.

Each dbt source (a warehouse table) maps to the Dagster asset that writes it
(``SOURCE_ASSET_KEYS``), so ``analytics/mart_pnl`` sits downstream of ``shadow_fills`` and
``settlements``; dbt tests on models show as asset checks. The models' keys are
``analytics/<model>`` and they form the ``analytics`` group.

The manifest is prepared at build or install time, not on every code load: run
``prepare_dbt_project()`` (``weather-edge dbt-prepare``) in CI and in the image build.
``dagster dev`` re-parses on load (as ``DbtProject.prepare_if_dev`` would), and a checkout
without a manifest is parsed once, on its first load.

One source of truth for where the warehouse is: ``dbt_env(settings.warehouse_url)`` turns the
URL into the variables ``dbt/profiles.yml`` reads, and ``WarehouseDbtResource`` sets them for
each dbt invocation. From a shell: ``eval "$(python -m weather_edge.defs.dbt_assets env)"``
then ``dbt build --project-dir dbt --profiles-dir dbt``.
"""

import csv
import datetime as dt
import fcntl
import io
import logging
import os
import shlex
import shutil
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from dagster_dbt.dbt_project import using_dagster_dev

from weather_edge.defs.resources import WAREHOUSE_WRITER_POOL
from weather_edge.settings import Settings, load_settings
from weather_edge.weather.cities import registry

log = logging.getLogger(__name__)

DBT_PROJECT_DIR_ENV = "WEATHER_EDGE_DBT_PROJECT_DIR"
DBT_GROUP = "analytics"
DBT_SCHEMA_SUFFIX = "analytics"  # dbt_project.yml: +schema: analytics
DBT_RESOURCE_KEY = "dbt"
ARTIFACT_RUNS_KEPT = 20
PARTIAL_PARSE = "partial_parse.msgpack"

# dbt source table (a warehouse table) -> the key of the Python asset that writes it.
# The lead names the Python assets; adjust here if a name changes. Several tables may map to
# one asset (bracket_predictions and predictions are both written by `predictions`).
SOURCE_ASSET_KEYS: dict[str, str] = {
    "markets": "markets",
    "quotes": "quotes",
    "trades": "trades",
    "forecasts": "forecasts",
    "predictions": "predictions",
    "bracket_predictions": "predictions",
    "decisions": "would_trade_decisions",
    "fills": "shadow_fills",
    "settlements": "settlements",
    "scores": "scored_snapshots",
}

# The profile's variables (dbt/profiles.yml); dbt_env() fills them from a warehouse URL.
ENV_TARGET = "WEATHER_EDGE_DBT_TARGET"
ENV_DUCKDB_PATH = "WEATHER_EDGE_DUCKDB_PATH"
ENV_PG = {
    "host": "WEATHER_EDGE_PG_HOST",
    "port": "WEATHER_EDGE_PG_PORT",
    "user": "WEATHER_EDGE_PG_USER",
    "password": "WEATHER_EDGE_PG_PASSWORD",
    "dbname": "WEATHER_EDGE_PG_DB",
    "schema": "WEATHER_EDGE_PG_SCHEMA",
}


def dbt_project_dir() -> Path:
    """``$WEATHER_EDGE_DBT_PROJECT_DIR``, else ``dbt/`` beside the package (an editable
    install or a checkout), else ``./dbt`` (the Docker image's working directory)."""
    candidates = [
        os.environ.get(DBT_PROJECT_DIR_ENV),
        Path(__file__).resolve().parents[2] / "dbt",
        Path.cwd() / "dbt",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "dbt_project.yml").is_file():
            return Path(candidate).resolve()
    raise FileNotFoundError(
        f"no dbt project found: set {DBT_PROJECT_DIR_ENV} to the folder holding dbt_project.yml"
    )


@cache
def dbt_project() -> DbtProject:
    """The dbt project; its ``profiles.yml`` lives inside it."""
    project_dir = dbt_project_dir()
    return DbtProject(project_dir=project_dir, profiles_dir=project_dir)


def dbt_executable() -> str:
    """The ``dbt`` beside this interpreter (a venv need not be activated), else ``dbt``."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.is_file() else "dbt"


def prepare_dbt_project(project: DbtProject | None = None) -> Path:
    """Parse the project into ``target/manifest.json`` (build, install and CI time).

    Meant for ``weather-edge dbt-prepare``. Concurrent callers (test workers) take turns on a
    lock file. Returns the manifest path.
    """
    project = project or dbt_project()
    target = project.project_dir / project.target_path
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".prepare.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        DbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path
        ).wait()
    return project.manifest_path


def _ensure_manifest(project: DbtProject) -> Path:
    """Re-parse under ``dagster dev`` (edits show up on reload); elsewhere parse only when a
    checkout has no manifest yet."""
    if using_dagster_dev() or not project.manifest_path.exists():
        if not using_dagster_dev():
            log.warning(
                "no dbt manifest at %s: parsing the project now (run `weather-edge "
                "dbt-prepare` at build time to skip this)",
                project.manifest_path,
            )
        prepare_dbt_project(project)
    return project.manifest_path


CITY_SEED = Path("seeds") / "city_registry.csv"


def city_seed_text() -> str:
    """The city registry (``cities.toml``) as the CSV seed dbt joins for climate-day ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["city", "name", "series_ticker", "station_id", "timezone", "std_utc_offset_hours"]
    )
    for c in registry().values():
        writer.writerow(
            [c.code, c.name, c.series_ticker, c.station_id, c.timezone, c.std_utc_offset_hours]
        )
    return out.getvalue()


def write_city_seed(project_dir: Path | None = None) -> Path:
    """Rewrite ``dbt/seeds/city_registry.csv`` after a city is added to the registry."""
    path = (project_dir or dbt_project_dir()) / CITY_SEED
    path.write_text(city_seed_text(), encoding="utf-8")
    return path


def dbt_env(warehouse_url: str) -> dict[str, str]:
    """The variables ``dbt/profiles.yml`` reads, for a warehouse URL.

    ``duckdb:///abs/file.duckdb`` selects the ``duckdb`` target on that file;
    ``postgresql://user[:password]@host[:port]/db[?schema=NAME]`` the ``postgres`` target.
    """
    if warehouse_url.startswith("duckdb:///"):
        path = "/" + warehouse_url.removeprefix("duckdb://").lstrip("/")  # f"duckdb:///{abs}"
        return {ENV_TARGET: "duckdb", ENV_DUCKDB_PATH: path}
    parts = urlsplit(warehouse_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"unsupported warehouse URL for dbt: {warehouse_url!r}")
    query = dict(pair.partition("=")[::2] for pair in parts.query.split("&") if pair)
    values = {
        "host": parts.hostname or "127.0.0.1",
        "port": str(parts.port or 5432),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "dbname": parts.path.lstrip("/") or "postgres",
        "schema": query.get("schema") or "public",
    }
    return {ENV_TARGET: "postgres", **{ENV_PG[name]: value for name, value in values.items()}}


def analytics_schema(warehouse_url: str) -> str:
    """The schema dbt builds into for this warehouse: ``<warehouse schema>_analytics``
    (``main_analytics`` on DuckDB), e.g. ``SELECT * FROM main_analytics.mart_pnl``."""
    env = dbt_env(warehouse_url)
    base = "main" if env[ENV_TARGET] == "duckdb" else env[ENV_PG["schema"]]
    return f"{base}_{DBT_SCHEMA_SUFFIX}"


_ENV_LOCK = threading.Lock()


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the duration of the block (dbt reads its profile from the process
    environment both in the subprocess and in Dagster's in-process adapter handle)."""
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, old in saved.items():
                if old is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = old


class WarehouseDbtResource(DbtCliResource):
    """``DbtCliResource`` pointed at the configured warehouse (DuckDB file or PostgreSQL).

    With ``artifacts_dir`` set, each invocation writes its artifacts (manifest, run results,
    compiled SQL, log) to a fresh folder there instead of ``dbt/target`` (which an installed
    image may not let the run write), seeded with the newest partial-parse state so dbt skips
    re-parsing; only the newest ``ARTIFACT_RUNS_KEPT`` folders are kept.
    """

    warehouse_url: str
    artifacts_dir: str | None = None

    def cli(self, args: Sequence[str], **kwargs: Any) -> DbtCliInvocation:
        if self.artifacts_dir and kwargs.get("target_path") is None:
            kwargs["target_path"] = self._fresh_target_path(Path(self.artifacts_dir))
        # The subprocess copies the environment when it starts, inside this call.
        with _environment(dbt_env(self.warehouse_url)):
            return super().cli(args, **kwargs)

    def _fresh_target_path(self, root: Path) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        runs = sorted(p for p in root.iterdir() if p.is_dir())  # names sort by time
        split = max(0, len(runs) - (ARTIFACT_RUNS_KEPT - 1))  # room for the new one
        for stale in runs[:split]:
            shutil.rmtree(stale, ignore_errors=True)
        target = root / f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        target.mkdir()
        states = [run / PARTIAL_PARSE for run in reversed(runs[split:])]
        states.append(Path(self.project_dir) / "target" / PARTIAL_PARSE)
        newest = next((s for s in states if s.is_file()), None)
        if newest is not None:
            shutil.copy(newest, target / PARTIAL_PARSE)
        return target


def build_dbt_resource(settings: Settings) -> WarehouseDbtResource:
    project = dbt_project()
    return WarehouseDbtResource(
        project_dir=os.fspath(project.project_dir),
        profiles_dir=os.fspath(project.profiles_dir),
        dbt_executable=dbt_executable(),
        target=dbt_env(settings.warehouse_url)[ENV_TARGET],
        warehouse_url=settings.warehouse_url,
        artifacts_dir=str(settings.data_dir / "dbt_artifacts"),
    )


class WeatherEdgeDbtTranslator(DagsterDbtTranslator):
    """Sources become the Python assets that write them; models form the analytics group."""

    def __init__(self, source_asset_keys: Mapping[str, str] | None = None) -> None:
        super().__init__(
            settings=DagsterDbtTranslatorSettings(
                enable_asset_checks=True,
                enable_duplicate_source_asset_keys=True,
            )
        )
        self.source_asset_keys = dict(source_asset_keys or SOURCE_ASSET_KEYS)

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            mapped = self.source_asset_keys.get(dbt_resource_props["name"])
            if mapped is not None:
                return dg.AssetKey(mapped)
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return DBT_GROUP


def build_dbt_assets(
    project: DbtProject,
    *,
    source_asset_keys: Mapping[str, str] | None = None,
    pool: str | None = WAREHOUSE_WRITER_POOL,
) -> dg.AssetsDefinition:
    """``dbt build`` (seeds, models and their tests) as one multi-asset."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name="weather_edge_dbt",
        dagster_dbt_translator=WeatherEdgeDbtTranslator(source_asset_keys),
        pool=pool,
    )
    def weather_edge_dbt(
        context: dg.AssetExecutionContext, dbt: WarehouseDbtResource
    ) -> Iterator[Any]:
        yield from dbt.cli(["build"], context=context).stream()

    return weather_edge_dbt


def dbt_definitions(settings: Settings) -> dg.Definitions:
    """The dbt assets and their resource, to merge into the platform's definitions.

    On DuckDB the run takes the warehouse-writer pool (one writer per file); on PostgreSQL it
    runs alongside the other writers.
    """
    project = dbt_project()
    _ensure_manifest(project)
    duckdb = dbt_env(settings.warehouse_url)[ENV_TARGET] == "duckdb"
    return dg.Definitions(
        assets=[build_dbt_assets(project, pool=WAREHOUSE_WRITER_POOL if duckdb else None)],
        resources={DBT_RESOURCE_KEY: build_dbt_resource(settings)},
    )


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - shell helper
    """``prepare`` writes the manifest; ``env`` prints the profile's variables as exports;
    ``seed-cities`` rewrites the city seed from the registry."""
    command = (argv if argv is not None else sys.argv[1:]) or ["prepare"]
    if command[0] == "prepare":
        print(prepare_dbt_project())
    elif command[0] == "env":
        for name, value in dbt_env(load_settings().warehouse_url).items():
            print(f"export {name}={shlex.quote(value)}")
    elif command[0] == "seed-cities":
        print(write_city_seed())
    else:
        print(
            "usage: python -m weather_edge.defs.dbt_assets [prepare|env|seed-cities]",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
