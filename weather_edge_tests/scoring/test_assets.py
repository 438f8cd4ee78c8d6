"""The scoring assets under Dagster: a backfill range writes what partition runs write, the
settlement check blocks scoring on a disagreement, the report shows in the UI, the schedule
targets it, and the whole graph loads with the other modules' assets."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import dagster as dg
from PIL import Image

from weather_edge.defs import forecasting, ingestion, trading, weather
from weather_edge.defs.quality_checks import QUALITY_CHECKS
from weather_edge.defs.resources import WarehouseResource, build_resources
from weather_edge.defs.scoring import (
    MAX_PARTITIONS_PER_RUN,
    SCORING_ASSETS,
    SCORING_CHECKS,
    SCORING_SCHEDULES,
    calibration_report,
    nightly_calibration,
    scored_snapshots,
    settlements,
    settlements_agree_with_cli,
)
from weather_edge.settings import load_settings
from weather_edge.storage import Warehouse
from weather_edge_tests.scoring import day as D
from weather_edge_tests.scoring.conftest import (
    DAYS,
    check_results,
    key,
    materialized,
    meta,
    range_tags,
    run,
    seed_days,
    tables,
)

PNG = b"\x89PNG\r\n\x1a\n"
SCORING_RUN = [settlements, settlements_agree_with_cli, scored_snapshots]


def test_a_range_backfill_writes_what_partition_runs_write(
    warehouse_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    seed_days(warehouse)
    for day in DAYS:
        assert run(warehouse_url, tmp_path, SCORING_RUN, partition_key=key(day)).success
    one_by_one = tables(warehouse)
    assert one_by_one[1].height == 3 * 97
    warehouse.execute("DELETE FROM scores")
    warehouse.execute("DELETE FROM settlements")

    result = run(warehouse_url, tmp_path, SCORING_RUN, tags=range_tags(key(DAYS[0]), key(DAYS[-1])))
    assert result.success
    meta = materialized(result)
    assert meta["scored_snapshots"]["partitions"] == 3  # one run, the whole range
    assert meta["settlements"]["markets"] == 12
    assert check_results(result)["settlements_agree_with_cli"].passed
    ranged = tables(warehouse)
    assert ranged[0].equals(one_by_one[0])
    assert ranged[1].equals(one_by_one[1])  # PIT draws included


def test_the_backfill_policy_runs_a_year_in_a_few_runs() -> None:
    for asset in (settlements, scored_snapshots):
        policy = asset.backfill_policy
        assert policy is not None
        assert policy.max_partitions_per_run == MAX_PARTITIONS_PER_RUN
    assert -(-365 * 7 // MAX_PARTITIONS_PER_RUN) <= 7  # a year of all seven cities


def test_a_disagreement_fails_the_check_and_blocks_scoring(
    warehouse_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    results = {f"{D.EVENT}-B84.5": "no", f"{D.EVENT}-T87": "yes"}
    D.full_day(results=results).seed(warehouse)
    result = run(warehouse_url, tmp_path, SCORING_RUN, partition_key=key(D.DAY))
    check = check_results(result)["settlements_agree_with_cli"]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    problems = meta(check, "problems")
    assert f"{D.EVENT}-T87 (88°F or above): Kalshi result 'yes', CLI high 85 °F implies 'no'" in (
        problems
    )
    assert f"{D.EVENT}-B84.5 (84-85°F): Kalshi result 'no', CLI high 85 °F implies 'yes'" in (
        problems
    )
    assert "scored_snapshots" not in materialized(result)  # blocked downstream
    assert warehouse.count("scores") == 0


def test_the_report_asset_shows_html_summary_and_pngs(
    warehouse_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    D.full_day().seed(warehouse)
    assert run(warehouse_url, tmp_path, SCORING_RUN, partition_key=key(D.DAY)).success
    result = run(warehouse_url, tmp_path, [calibration_report])
    assert result.success
    meta = materialized(result)["calibration_report"]
    html = Path(meta["html"])
    assert html.is_file() and html.parent.parent == tmp_path / "reports" / "calibration"
    pngs = {k: Path(v) for k, v in meta.items() if k.endswith("_png")}
    assert set(pngs) == {
        f"{p}_png" for p in ("reliability", "pit", "scores_by_city_lead", "subjects", "pnl", "ev")
    }
    for path in pngs.values():
        assert path.read_bytes()[:8] == PNG
        with Image.open(path) as image:
            image.verify()
    summary = meta["summary"]
    assert "| figure | last 30 days | cumulative |" in summary
    assert re.search(r"\| brier_model \| \S+ \| \S+ \|", summary)
    preview = meta["preview"]
    data = base64.b64decode(preview.split("base64,", 1)[1].rstrip(")"))
    assert data[:8] == PNG
    Image.open(io.BytesIO(data)).verify()


def test_the_nightly_schedule_targets_the_report() -> None:
    assert [nightly_calibration] == SCORING_SCHEDULES
    assert nightly_calibration.cron_schedule == "0 6 * * *"
    assert nightly_calibration.execution_timezone == "UTC"
    warehouse = WarehouseResource(url="duckdb:///unused.duckdb", data_dir="unused")
    defs = dg.Definitions(
        assets=SCORING_ASSETS, schedules=SCORING_SCHEDULES, resources={"warehouse": warehouse}
    )
    job = defs.resolve_job_def(nightly_calibration.job_name)
    assert job.asset_layer.selected_asset_keys == {calibration_report.key}


def test_the_graph_loads_with_the_other_modules(tmp_path: Path) -> None:
    """Every key the scoring assets and checks name exists, partitioned alike."""
    settings = load_settings(tmp_path)
    defs = dg.Definitions(
        assets=[
            *dg.load_assets_from_modules([ingestion]),
            *weather.WEATHER_ASSETS,
            *forecasting.FORECASTING_ASSETS,
            *trading.TRADING_ASSETS,
            *SCORING_ASSETS,
        ],
        asset_checks=[*SCORING_CHECKS, *QUALITY_CHECKS],
        schedules=SCORING_SCHEDULES,
        resources={**build_resources(settings), **weather.weather_resources(settings)},
    )
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    for check in QUALITY_CHECKS:
        for check_key in check.check_keys:
            assert graph.has(check_key.asset_key), check_key
            assert graph.get(check_key.asset_key).partitions_def is not None
    assert graph.get(scored_snapshots.key).parent_keys >= {
        settlements.key,
        dg.AssetKey("predictions"),
        dg.AssetKey("would_trade_decisions"),
        dg.AssetKey("shadow_fills"),
    }
    assert graph.get(settlements.key).parent_keys == {
        dg.AssetKey("market_catalog"),
        dg.AssetKey("lifecycle_events"),
        dg.AssetKey("climate_reports"),
    }
