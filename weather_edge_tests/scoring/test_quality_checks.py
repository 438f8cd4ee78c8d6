"""Each Great Expectations check, run by Dagster on a partition's rows read back from the
warehouse: all pass on the good hand-built day, each fails on a crafted bad one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from weather_edge.defs.quality_checks import QUALITY_CHECKS
from weather_edge.defs.scoring import settlements
from weather_edge.scoring.quality import MIN_CLIMATOLOGY_DAYS, validate_partitions
from weather_edge.storage import Warehouse
from weather_edge_tests.scoring import day as D
from weather_edge_tests.scoring.conftest import (
    OTHER_ASSETS,
    check_results,
    key,
    meta,
    run,
    stand_in,
)

# The stand-ins have no backfill policy, the settlements asset has one: fine for one partition.
pytestmark = pytest.mark.filterwarnings("ignore:Asset job __ephemeral_asset_job__ materializes")

BAD_DAY = D.DAY + dt.timedelta(days=1)
CHECKS = {
    "quotes_expectations",
    "forecasts_expectations",
    "predictions_expectations",
    "would_trade_decisions_expectations",
    "settlements_expectations",
}


def bad_day() -> D.Day:
    """One thing wrong in each table: a crossed quote, a forecast of 200 °F, bracket
    probabilities summing to 1.3, a trade at $0 and a no-trade without a reason, and a
    Kalshi result the CLI value contradicts."""
    event = D.event_ticker(BAD_DAY)
    d = D.full_day(BAD_DAY, results={f"{event}-B84.5": "no", f"{event}-B86.5": "yes"})
    d.rows["quotes"][4].update(yes_bid_cc=6000, yes_ask_cc=5500)
    d.rows["forecasts"][0]["forecast_high_f"] = 200.0
    d.rows["bracket_predictions"][2]["probability"] = 0.5  # 0 + 0.8 + 0.5 + 0
    trade, _, no_trade = (r for r in d.rows["decisions"] if r["climate_day"] == BAD_DAY)
    trade["price_cc"] = 0
    no_trade["reason"] = " "
    return d


def descriptions(evaluation: dg.AssetCheckEvaluation) -> list[str]:
    return [f["description"] for f in meta(evaluation, "failures")]


def test_each_check_passes_on_a_good_partition_and_fails_on_a_bad_one(
    warehouse_url: str, warehouse: Warehouse, tmp_path: Path
) -> None:
    D.full_day().seed(warehouse)
    bad_day().seed(warehouse)
    defs = [*(stand_in(name) for name in OTHER_ASSETS), settlements, *QUALITY_CHECKS]

    good = check_results(run(warehouse_url, tmp_path, defs, partition_key=key(D.DAY)))
    assert set(good) == CHECKS
    for name, evaluation in good.items():
        assert evaluation.passed, (name, meta(evaluation, "summary"))
        assert meta(evaluation, "rows") > 0, name  # rows were read and checked

    bad = check_results(run(warehouse_url, tmp_path, defs, partition_key=key(BAD_DAY)))
    assert set(bad) == CHECKS
    assert not any(e.passed for e in bad.values())
    assert descriptions(bad["quotes_expectations"]) == [
        "the book is not crossed: yes_bid_cc < yes_ask_cc"
    ]
    assert descriptions(bad["forecasts_expectations"]) == ["forecast highs lie within -40..130 °F"]
    assert descriptions(bad["predictions_expectations"])[0].startswith(
        "an event's bracket probabilities sum to 1"
    )
    assert set(descriptions(bad["would_trade_decisions_expectations"])) == {
        "every no-trade reason is non-empty",
        "trade prices lie strictly between $0 and $1",
    }
    assert descriptions(bad["settlements_expectations"]) == [
        "market_result is yes iff the CLI high lies in the market's bracket"
    ]
    assert "failed" in meta(bad["quotes_expectations"], "summary")


def test_the_checks_are_blocking_and_partitioned() -> None:
    for check in QUALITY_CHECKS:
        (spec,) = check.check_specs
        assert spec.blocking, spec.name
        assert check.partitions_def is not None


def test_forecasts_are_checked_against_a_well_covered_climatology(warehouse: Warehouse) -> None:
    d = D.Day()
    D.forecasts(d)
    d.rows["forecasts"][0]["forecast_high_f"] = 90.0  # plausible in general, not in December
    d.seed(warehouse)
    part = [(D.DAY, D.CITY)]
    assert validate_partitions(warehouse, "forecasts", part).success  # no climatology yet
    history = D.Day()
    for i in range(MIN_CLIMATOLOGY_DAYS):
        history.day = dt.date(2024, 12, 1 + i)
        D.reports(history, final=40 + i % 10, later=None)
    history.seed(warehouse)
    result = validate_partitions(warehouse, "forecasts", part)
    assert [f.description for f in result.failures] == [
        "forecast highs are not above the city's plausible range that month"
    ]
