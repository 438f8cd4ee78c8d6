"""The warehouse behaves the same on DuckDB and PostgreSQL: migrations, keys, idempotence."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from weather_edge.storage import open_warehouse
from weather_edge.storage.schema import TABLE_KEYS
from weather_edge.storage.warehouse import WarehouseError, migrations

T0 = datetime(2026, 8, 24, 14, 0, tzinfo=UTC)
DAY = date(2026, 8, 24)


def sample_rows(table: str, n: int) -> list[dict[str, Any]]:
    """``n`` distinct, valid rows for every table of the schema."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        ts = T0 + timedelta(minutes=i)
        ticker = f"KXHIGHNY-26AUG24-B{80 + 2 * i}.5"
        row: dict[str, Any] = {
            "series": {
                "series_ticker": f"KXHIGH{i}",
                "fee_type": "quadratic",
                "fee_multiplier": "1",
                "updated_at": ts,
            },
            "markets": {
                "ticker": ticker,
                "event_ticker": "KXHIGHNY-26AUG24",
                "series_ticker": "KXHIGHNY",
                "city": "NYC",
                "climate_day": DAY,
                "strike_type": "between",
                "floor_strike": 80 + 2 * i,
                "cap_strike": 81 + 2 * i,
                "status": "active",
                "updated_at": ts,
            },
            "quotes": {
                "market_ticker": ticker,
                "source_id": f"1:1:{i}",
                "ts": ts,
                "received_at": ts,
                "yes_bid_cc": 4500,
                "yes_bid_size_cq": 10_000,
                "yes_ask_cc": 4800,
                "yes_ask_size_cq": 2_550,
                "source": "ws",
            },
            "trades": {
                "trade_id": f"t{i}",
                "market_ticker": ticker,
                "ts": ts,
                "yes_price_cc": 4600,
                "no_price_cc": 5400,
                "count_cq": 500,
                "taker_side": "yes",
                "source": "ws",
            },
            "lifecycle_events": {"market_ticker": ticker, "event_type": "activated", "ts": ts},
            "forecasts": {
                "city": "NYC",
                "climate_day": DAY,
                "source": "nws_hourly",
                "issued_at": ts,
                "forecast_high_f": 84.2,
                "lead_hours": 10.0,
                "suspect": False,
                "retrieved_at": ts,
            },
            "observations": {
                "station_id": "KNYC",
                "observed_at": ts,
                "city": "NYC",
                "climate_day": DAY,
                "temperature_f": 80.1,
                "running_max_f": 81.0,
                "source": "nws",
            },
            "climate_reports": {
                "city": "NYC",
                "climate_day": DAY,
                "product_id": f"p{i}",
                "high_f": 85,
                "preliminary": False,
                "correction": False,
                "source": "nws",
            },
            "predictions": {
                "city": "NYC",
                "climate_day": DAY,
                "snapshot_at": ts,
                "model_version": "m1",
                "variant": "model",
                "distribution_json": "{}",
                "median_f": 85,
                "inputs_hash": "h",
            },
            "bracket_predictions": {
                "market_ticker": ticker,
                "snapshot_at": ts,
                "model_version": "m1",
                "variant": "model",
                "city": "NYC",
                "climate_day": DAY,
                "probability": 0.25,
            },
            "decisions": {
                "decision_id": f"d{i}",
                "evaluated_at": ts,
                "market_ticker": ticker,
                "city": "NYC",
                "climate_day": DAY,
                "mode": "shadow",
                "would_trade": False,
                "reason": "stale_book",
                "config_hash": "c",
                "inputs_json": "{}",
            },
            "orders": {
                "client_order_id": f"c{i}",
                "market_ticker": ticker,
                "side": "yes",
                "action": "buy",
                "price_cc": 4600,
                "count_cq": 100,
                "status": "resting",
                "mode": "shadow",
                "created_at": ts,
                "updated_at": ts,
            },
            "fills": {
                "fill_id": f"f{i}",
                "market_ticker": ticker,
                "side": "yes",
                "action": "buy",
                "price_cc": 4600,
                "count_cq": 100,
                "fee_micros": 20_000,
                "is_taker": True,
                "mode": "shadow",
                "ts": ts,
            },
            "settlements": {
                "market_ticker": ticker,
                "city": "NYC",
                "climate_day": DAY,
                "market_result": "yes",
                "cli_high_f": 85,
            },
            "scores": {
                "city": "NYC",
                "climate_day": DAY,
                "subject": "prediction",
                "subject_key": f"k{i}",
                "metric": "brier",
                "value": 0.1,
            },
            "journal_progress": {"segment": f"seg{i}", "applied_offset": 10, "updated_at": ts},
        }[table]
        rows.append(row)
    return rows


def test_migrations_are_versioned_and_idempotent(warehouse_url: str) -> None:
    wh = open_warehouse(warehouse_url)
    expected = [version for version, _, _ in migrations()]
    assert wh.migrate() == expected
    assert wh.migrate() == []
    assert open_warehouse(warehouse_url).migrate() == []
    assert wh.applied_migrations() == expected
    wh.close()


@pytest.mark.parametrize("table", sorted(TABLE_KEYS))
def test_reinserting_the_same_records_changes_no_counts(warehouse: Any, table: str) -> None:
    rows = sample_rows(table, 3)
    assert warehouse.upsert(table, rows) == 3
    assert warehouse.upsert(table, rows) == 0
    assert warehouse.upsert(table, rows + rows) == 0
    assert warehouse.count(table) == 3


def test_table_keys_match_the_primary_keys_in_the_database(warehouse: Any) -> None:
    found = warehouse.query(
        "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name "
        "AND tc.table_name = kcu.table_name AND tc.table_schema = kcu.table_schema "
        "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()"
    )
    actual: dict[str, set[str]] = {}
    for table, column in found:
        actual.setdefault(table, set()).add(column)
    actual.pop("schema_migrations", None)
    assert actual == {t: set(k) for t, k in TABLE_KEYS.items()}


def test_update_mode_overwrites_non_key_columns(warehouse: Any) -> None:
    [row] = sample_rows("markets", 1)
    warehouse.upsert("markets", [row])
    warehouse.upsert("markets", [{**row, "status": "closed"}])
    assert warehouse.scalar("SELECT status FROM markets") == "active"
    warehouse.upsert("markets", [{**row, "status": "closed"}], update=True)
    assert warehouse.scalar("SELECT status FROM markets") == "closed"
    assert warehouse.count("markets") == 1


def test_timestamps_come_back_aware_utc(warehouse: Any) -> None:
    [row] = sample_rows("trades", 1)
    row["ts"] = datetime(2026, 8, 24, 10, 0, tzinfo=UTC).astimezone()  # any aware zone
    warehouse.upsert("trades", [row])
    (ts,) = warehouse.query("SELECT ts FROM trades")[0]
    assert ts.utcoffset() == timedelta(0)
    assert ts == datetime(2026, 8, 24, 10, 0, tzinfo=UTC)
    frame = warehouse.query_frame("SELECT ts FROM trades")
    assert str(frame.schema["ts"].time_zone) == "UTC"  # type: ignore[attr-defined]


def test_naive_timestamps_are_refused(warehouse: Any) -> None:
    [row] = sample_rows("trades", 1)
    row["ts"] = datetime(2026, 8, 24, 10, 0)
    with pytest.raises(WarehouseError, match="naive"):
        warehouse.upsert("trades", [row])
    assert warehouse.count("trades") == 0


def test_rows_without_key_columns_are_refused(warehouse: Any) -> None:
    with pytest.raises(WarehouseError, match="key columns"):
        warehouse.upsert("trades", [{"market_ticker": "X"}])


def test_unknown_urls_are_explained() -> None:
    with pytest.raises(WarehouseError, match="duckdb:///"):
        open_warehouse("sqlite:///x.db")


def _write_batches(url: str, start: int) -> None:
    wh = open_warehouse(url)
    for i in range(start, start + 20):
        [row] = sample_rows("trades", 1)
        wh.upsert("trades", [{**row, "trade_id": f"p{i}"}])


def test_two_processes_write_one_embedded_file_without_losing_rows(tmp_path: Any) -> None:
    """DuckDB allows one writer per file: short sessions let processes take turns."""
    url = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    open_warehouse(url).migrate()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_batches, args=(url, k * 100)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert open_warehouse(url).count("trades") == 40
