"""Settlements on both backends: the CLI value as of expiration, Kalshi's result, and a check
that fails, showing both, when they disagree under the bracket rule."""

from __future__ import annotations

import datetime as dt

import polars as pl

from weather_edge.scoring import check_settlements, settle
from weather_edge.storage import Warehouse
from weather_edge_tests.scoring import day as D

PART = [(D.DAY, D.CITY)]


def stored(warehouse: Warehouse) -> dict[str, dict[str, object]]:
    rows = warehouse.query_frame(
        "SELECT market_ticker, market_result, cli_high_f, expected_result, agrees, settled_at, "
        "later_cli_high_f FROM settlements"
    ).to_dicts()
    return {str(r.pop("market_ticker")).rsplit("-", 1)[1]: r for r in rows}


def test_settles_on_the_final_cli_before_expiration(warehouse: Warehouse) -> None:
    D.full_day().seed(warehouse)
    batch = settle(warehouse, PART)
    rows = stored(warehouse)
    assert set(rows) == {"T84", "B84.5", "B86.5", "T87"}
    assert {k: r["market_result"] for k, r in rows.items()} == {
        "T84": "no",
        "B84.5": "yes",
        "B86.5": "no",
        "T87": "no",
    }
    for r in rows.values():
        assert r["cli_high_f"] == 85  # the final report, not the preliminary 84
        assert r["expected_result"] == r["market_result"]
        assert r["agrees"] is True
        assert r["settled_at"] == D.EXPIRATION + dt.timedelta(minutes=5)
    assert batch.metadata()["disagreements"] == 0
    verdict = check_settlements(warehouse, PART)
    assert verdict.passed, verdict.metadata


def test_a_later_correction_is_recorded_not_applied(warehouse: Warehouse) -> None:
    D.full_day().seed(warehouse)  # a correction to 81 °F issued five hours after expiration
    settle(warehouse, PART)
    rows = stored(warehouse)
    assert all(r["cli_high_f"] == 85 and r["later_cli_high_f"] == 81 for r in rows.values())
    assert rows["B84.5"]["expected_result"] == "yes"  # 81 would have made T84 the winner
    verdict = check_settlements(warehouse, PART)
    assert verdict.passed
    assert "settled on 85 °F, later CLI 81 °F (recorded, not applied)" in str(
        verdict.metadata["later_corrections"]
    )


def test_a_correction_before_expiration_is_the_settlement_value(warehouse: Warehouse) -> None:
    d = D.Day()
    D.markets(d)
    D.reports(d, later=None)
    d.add(
        "climate_reports",
        city=D.CITY,
        climate_day=D.DAY,
        product_id="p-cca",
        issued_at=D.EXPIRATION - dt.timedelta(hours=1),  # corrected before expiration: counts
        high_f=84,
        high_time_local=None,
        low_f=70,
        preliminary=False,
        correction=True,
        source="nws_api",
    )
    d.seed(warehouse)
    settle(warehouse, PART)
    rows = stored(warehouse)
    assert {r["cli_high_f"] for r in rows.values()} == {84}
    assert {r["later_cli_high_f"] for r in rows.values()} == {None}
    assert rows["B84.5"]["agrees"] is True  # 84 and 85 are both in B84.5


def test_market_result_from_the_catalog_without_lifecycle(warehouse: Warehouse) -> None:
    d = D.Day()
    D.markets(d, lifecycle=False)
    D.reports(d)
    d.seed(warehouse)
    settle(warehouse, PART)
    rows = stored(warehouse)
    assert rows["B84.5"]["market_result"] == "yes"
    assert all(r["settled_at"] is None for r in rows.values())  # not invented
    assert check_settlements(warehouse, PART).passed


def test_a_disagreement_fails_the_check_showing_both_values(warehouse: Warehouse) -> None:
    results = {f"{D.EVENT}-B84.5": "no", f"{D.EVENT}-B86.5": "yes"}  # Kalshi says 86-87
    D.full_day(results=results).seed(warehouse)
    batch = settle(warehouse, PART)
    assert batch.disagreements["market_ticker"].to_list() == [
        f"{D.EVENT}-B84.5",
        f"{D.EVENT}-B86.5",
    ]
    rows = stored(warehouse)  # both values kept; nothing resolved
    assert rows["B86.5"]["market_result"] == "yes"
    assert rows["B86.5"]["cli_high_f"] == 85
    assert rows["B86.5"]["expected_result"] == "no"
    assert rows["B86.5"]["agrees"] is False
    verdict = check_settlements(warehouse, PART)
    assert not verdict.passed
    assert verdict.severity == "ERROR"
    assert verdict.metadata["disagreements"] == 2
    problems = str(verdict.metadata["problems"]).splitlines()
    assert problems == [
        f"{D.EVENT}-B84.5 (84-85°F): Kalshi result 'no', CLI high 85 °F implies 'yes'",
        f"{D.EVENT}-B86.5 (86-87°F): Kalshi result 'yes', CLI high 85 °F implies 'no'",
    ]


def test_two_yes_results_in_one_event_fail(warehouse: Warehouse) -> None:
    d = D.Day()
    D.markets(d, results={f"{D.EVENT}-T87": "yes"})
    d.seed(warehouse)  # no CLI report: nothing to compare, but two YES is wrong by itself
    settle(warehouse, PART)
    verdict = check_settlements(warehouse, PART)
    assert not verdict.passed and verdict.severity == "ERROR"
    assert "2 of 4 settled markets resolved YES" in str(verdict.metadata["problems"])


def test_settled_without_a_cli_value_warns(warehouse: Warehouse) -> None:
    d = D.Day()
    D.markets(d)
    d.seed(warehouse)
    batch = settle(warehouse, PART)
    assert batch.frame["cli_high_f"].null_count() == 4
    verdict = check_settlements(warehouse, PART)
    assert not verdict.passed
    assert verdict.severity == "WARN"
    assert verdict.metadata["unverified"] == 4


def test_nothing_to_settle_writes_nothing(warehouse: Warehouse) -> None:
    d = D.Day()
    D.markets(d, lifecycle=False)
    for row in d.rows["markets"]:
        row["result"] = None
        row["status"] = "active"
    d.seed(warehouse)
    batch = settle(warehouse, PART)
    assert batch.written == 0 and batch.markets == 4
    assert warehouse.count("settlements") == 0
    assert check_settlements(warehouse, PART).passed
    assert isinstance(batch.frame, pl.DataFrame)


def test_a_partly_settled_event_is_not_an_error(warehouse: Warehouse) -> None:
    d = D.full_day()
    d.rows["lifecycle_events"] = [  # B84.5 (the YES) not determined yet
        r for r in d.rows["lifecycle_events"] if not r["market_ticker"].endswith("B84.5")
    ]
    d.seed(warehouse)
    settle(warehouse, PART)
    rows = stored(warehouse)
    assert rows["B84.5"]["market_result"] is None and rows["B84.5"]["expected_result"] == "yes"
    verdict = check_settlements(warehouse, PART)
    assert verdict.passed, verdict.metadata
    assert verdict.metadata["settled_markets"] == 3
