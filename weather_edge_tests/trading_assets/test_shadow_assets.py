"""``would_trade_decisions`` and ``shadow_fills`` materialized through Dagster on both
warehouse backends: a hand-made partition whose queue arithmetic is known, and a short
recording of the simulator with crafted predictions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from weather_edge.defs.trading import shadow_fills, would_trade_decisions
from weather_edge.kalshi.book import book_from_levels
from weather_edge.storage import Warehouse
from weather_edge.trading.config import TradingParams
from weather_edge.trading.fastpath import FastPath
from weather_edge.trading.risk import Reason

from .conftest import (
    CITY,
    Recording,
    catalog_rows,
    failure_message,
    materialize,
    metadata_of,
    prediction_row,
    series_row,
)

BOTH = [would_trade_decisions, shadow_fills]
DAY = dt.date(2026, 8, 24)
T0 = dt.datetime(2026, 8, 24, 15, 0, tzinfo=dt.UTC)
TRADED = "KXHIGHNY-26AUG24-B84.5"
UNPREDICTED = "KXHIGHNY-26AUG24-B86.5"
EVENT = ["KXHIGHNY-26AUG24-T84", TRADED, UNPREDICTED, "KXHIGHNY-26AUG24-T87"]


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def quote(ticker: str, seconds: float, bid: int, bid_n: int, ask: int, ask_n: int) -> dict:
    """A ``quotes`` row in whole cents and whole contracts."""
    return {
        "market_ticker": ticker,
        "source_id": f"test@{seconds:08.3f}",
        "ts": at(seconds),
        "received_at": at(seconds + 0.05),
        "yes_bid_cc": bid * 100,
        "yes_bid_size_cq": bid_n * 100,
        "yes_ask_cc": ask * 100,
        "yes_ask_size_cq": ask_n * 100,
        "source": "ws",
    }


def trade(n: int, seconds: float, yes_cents: int, contracts: int, taker_side: str) -> dict:
    return {
        "trade_id": f"tr{n}",
        "market_ticker": TRADED,
        "ts": at(seconds),
        "yes_price_cc": yes_cents * 100,
        "no_price_cc": 10_000 - yes_cents * 100,
        "count_cq": contracts * 100,
        "taker_side": taker_side,
        "source": "ws",
    }


def seed_queue_scenario(warehouse: Warehouse) -> None:
    """A settled (YES) market that was open on the day: YES 45 bid x100 / 46 ask, the model
    says 60 %: the engine joins the 45 bid (one-tick spread) behind 100 contracts."""
    warehouse.upsert("series", [series_row(T0)])
    warehouse.upsert(
        "markets",
        catalog_rows(
            EVENT,
            open_time=at(-86_400),
            close_time=at(14 * 3600),
            status="finalized",
            result="yes",
            updated_at=at(20 * 3600),  # catalogued again after the settlement
        ),
    )
    warehouse.upsert(
        "quotes",
        [
            quote(TRADED, 0, 45, 100, 46, 50),
            quote(UNPREDICTED, 0.5, 30, 10, 33, 10),
            quote(TRADED, 5, 45, 20, 46, 50),
        ],
    )
    warehouse.upsert(
        "trades",
        [
            trade(1, 1, 45, 60, "no"),  # sellers hit the 45 bid: 60 of the 100 ahead
            trade(2, 2, 46, 30, "yes"),  # buyers lift the 46 ask: not our side
            trade(3, 2.5, 45, 40, "no"),  # the last 40 ahead
            trade(4, 3, 45, 5, "no"),  # ours: 5
            trade(5, 4, 45, 20, "no"),  # ours: 20
        ],
    )
    warehouse.upsert(
        "bracket_predictions",
        [
            prediction_row(TRADED, at(-600), 0.60, "m-now", DAY),
            prediction_row(TRADED, at(3600), 0.10, "m-future", DAY),  # after the recording
        ],
    )


def table_counts(warehouse: Warehouse) -> dict[str, int]:
    return {t: warehouse.count(t) for t in ("decisions", "orders", "fills")}


def test_queue_position_decides_the_shadow_fills(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path
) -> None:
    seed_queue_scenario(warehouse)
    result = materialize(BOTH, warehouse_url, tmp_path, DAY)
    decided = metadata_of(result, "would_trade_decisions")
    params = TradingParams()
    assert decided["config_hash"] == params.config_hash
    assert json.loads(json.dumps(decided["trading_params"]))["config_hash"] == params.config_hash
    assert decided["evaluations"] == 3 and decided["decisions_written"] == 3
    assert decided["reasons"] == {"no_prediction": 1, "trade": 2}

    rows = warehouse.query(
        "SELECT market_ticker, evaluated_at, reason, model_version, side, action, liquidity, "
        "price_cc, count_cq, mode FROM decisions ORDER BY evaluated_at"
    )
    first, unpredicted, second = rows
    # the market is finalized now, but it was open then: decided on its book
    assert first[:8] == (TRADED, at(0), "trade", "m-now", "yes", "buy", "maker", 4500)
    assert first[8] == 5_500  # Kelly wants ~109 contracts; $25 per trade caps it at 55
    assert unpredicted[0] == UNPREDICTED and unpredicted[2] == "no_prediction"
    assert second[1] == at(5) and second[3] == "m-now"  # the later model is never seen
    assert {r[9] for r in rows} == {"shadow"}

    # one order (the second decision finds it still working); it waits for the 100 ahead
    [order] = warehouse.query("SELECT price_cc, count_cq, filled_cq, status, mode FROM orders")
    assert order == (4500, 5_500, 2_500, "resting", "shadow")
    fills = warehouse.query(
        "SELECT ts, price_cc, count_cq, fee_micros, is_taker FROM fills ORDER BY ts"
    )
    assert fills == [(at(3), 4500, 500, 0, False), (at(4), 4500, 2_000, 0, False)]
    filled = metadata_of(result, "shadow_fills")
    assert filled["fill_rate"] == pytest.approx(2_500 / 5_500, abs=1e-4)
    # settled YES: 25 contracts pay $25 for $11.25
    assert filled["shadow_pnl_micros"] == 13_750_000
    assert filled["shadow_pnl"] == "$13.750000"
    assert filled["config_hash"] == params.config_hash

    before = table_counts(warehouse)
    again = materialize(BOTH, warehouse_url, tmp_path, DAY)
    assert table_counts(warehouse) == before == {"decisions": 3, "orders": 1, "fills": 2}
    assert metadata_of(again, "would_trade_decisions")["decisions_written"] == 0
    assert metadata_of(again, "shadow_fills")["fills_written"] == 0

    # a would-trade the stream's fast path recorded in between is not placed by the replay
    fast = FastPath(TradingParams(), warehouse, cities=[CITY], clock=lambda: at(2.2))
    book = book_from_levels(TRADED, [(4500, 4_000)], [(5400, 5_000)])
    streamed = fast(TRADED, book.top(), int(at(2.2).timestamp() * 1e9))
    assert streamed is not None and streamed.would_trade and fast.flush() == 1
    materialize([shadow_fills], warehouse_url, tmp_path, DAY)
    assert table_counts(warehouse) == {"decisions": 4, "orders": 1, "fills": 2}


def test_trading_config_reaches_the_engine_and_is_checked(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path
) -> None:
    seed_queue_scenario(warehouse)
    params_file = tmp_path / "params.toml"
    params_file.write_text('aggressiveness = 0.5\n[limits]\nmax_dollars_per_trade = "9"\n')
    config = {"params_file": str(params_file), "limits": {"max_total_exposure": "400"}}
    result = materialize([would_trade_decisions], warehouse_url, tmp_path, DAY, config)
    expected = TradingParams.load(
        {"aggressiveness": 0.5, "limits": {"max_dollars_per_trade": 9, "max_total_exposure": 400}}
    )
    meta = metadata_of(result, "would_trade_decisions")
    assert meta["config_hash"] == expected.config_hash
    assert meta["params_source"] == str(params_file)
    assert warehouse.scalar("SELECT MAX(count_cq) FROM decisions") == 2_000  # $9 at 45c

    # shadow fills under other parameters than the decisions' fail, naming both hashes
    failed = materialize([shadow_fills], warehouse_url, tmp_path, DAY, raise_on_error=False)
    assert not failed.success
    message = failure_message(failed)
    assert TradingParams().config_hash in message and expected.config_hash in message

    bad = {"bankroll": "lots", "limits": {"max_daily_loss": "-5"}}
    failed = materialize(
        [would_trade_decisions], warehouse_url, tmp_path, DAY, bad, raise_on_error=False
    )
    message = failure_message(failed)
    assert "bankroll" in message and "limits.max_daily_loss" in message
    missing = {"params_file": str(tmp_path / "nowhere.yaml")}
    failed = materialize(
        [would_trade_decisions], warehouse_url, tmp_path, DAY, missing, raise_on_error=False
    )
    assert "nowhere.yaml" in failure_message(failed)


def craft_predictions(warehouse: Warehouse, day: dt.date) -> dict[str, Any]:
    """Three markets of the recording: one the model disagrees with from the start, one it
    changes its mind on half-way, one without any prediction."""
    quotes = warehouse.query(
        "SELECT q.market_ticker, q.ts, q.yes_bid_cc, q.yes_ask_cc FROM quotes q "
        "JOIN markets m ON m.ticker = q.market_ticker WHERE m.climate_day = ? "
        "AND q.yes_bid_cc IS NOT NULL AND q.yes_ask_cc IS NOT NULL ORDER BY q.ts",
        (day,),
    )
    by_ticker: dict[str, list[tuple[dt.datetime, int, int]]] = {}
    for ticker, ts, bid, ask in quotes:
        by_ticker.setdefault(ticker, []).append((ts, bid, ask))
    busiest = sorted(by_ticker, key=lambda t: (-len(by_ticker[t]), t))
    strong, switch = busiest[0], busiest[1]
    start = quotes[0][1] - dt.timedelta(minutes=5)

    def edge(ticker: str) -> float:
        _, bid, ask = by_ticker[ticker][0]
        mid = (bid + ask) / 20_000
        return min(mid + 0.3, 0.99) if mid < 0.5 else max(mid - 0.3, 0.01)

    halfway = by_ticker[switch][len(by_ticker[switch]) // 2][0]
    first_mid = sum(by_ticker[switch][0][1:]) / 20_000
    rows = [
        prediction_row(strong, start, edge(strong), "m-strong", day),
        prediction_row(switch, start, first_mid, "m-early", day),
        prediction_row(switch, halfway, edge(switch), "m-late", day),
        prediction_row(strong, quotes[-1][1] + dt.timedelta(hours=1), 0.5, "m-future", day),
    ]
    warehouse.upsert("bracket_predictions", rows)
    return {"strong": strong, "switch": switch, "halfway": halfway}


def test_recorded_simulator_partition(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path, recording: Recording
) -> None:
    recording.load_into(warehouse)
    day = recording.day
    crafted = craft_predictions(warehouse, day)
    result = materialize(BOTH, warehouse_url, tmp_path, day)

    quotes = warehouse.query(
        "SELECT q.market_ticker, q.ts FROM quotes q JOIN markets m ON m.ticker = q.market_ticker "
        "WHERE m.city = ? AND m.climate_day = ?",
        (CITY, day),
    )
    decisions = warehouse.query(
        "SELECT market_ticker, evaluated_at, reason, model_version, would_trade FROM decisions"
    )
    meta = metadata_of(result, "would_trade_decisions")
    assert meta["evaluations"] == len(quotes) == meta["quotes_replayed"]
    # every book change was evaluated, and every evaluation stored with a known reason
    assert {(t, ts) for t, ts in quotes} == {(t, ts) for t, ts, *_ in decisions}
    assert {r for _, _, r, _, _ in decisions} <= {reason.value for reason in Reason}
    assert sum(meta["reasons"].values()) == meta["evaluations"]
    assert "no_prediction" in meta["reasons"]
    # the prediction in force, never a later one
    for ticker, evaluated_at, _, model, _ in decisions:
        assert model != "m-future"
        if ticker == crafted["switch"]:
            assert model == ("m-late" if evaluated_at >= crafted["halfway"] else "m-early")
    assert any(w for t, *_, w in decisions if t == crafted["strong"]), "no would-trade"

    fills = warehouse.query(
        "SELECT f.client_order_id, f.count_cq, f.price_cc, o.price_cc, o.side, o.action, f.mode "
        "FROM fills f JOIN orders o ON o.client_order_id = f.client_order_id"
    )
    orders = warehouse.query("SELECT client_order_id, count_cq, filled_cq, mode FROM orders")
    assert orders and {o[3] for o in orders} == {"shadow"}
    filled: dict[str, int] = {}
    for coid, count, price, limit, _side, action, mode in fills:
        filled[coid] = filled.get(coid, 0) + count
        assert mode == "shadow"
        assert price <= limit if action == "buy" else price >= limit  # never beyond the limit
    for coid, count, filled_cq, _ in orders:
        assert filled.get(coid, 0) == filled_cq <= count
    summary = metadata_of(result, "shadow_fills")
    assert summary["orders"] == len(orders) and summary["fills"] == len(fills)
    # the fills the decisions assumed (their positions bound later sizes) are the stored ones
    assert meta["paper_fills"] == summary["fills"]
    assert meta["paper_pnl_micros"] == summary["shadow_pnl_micros"]

    before = table_counts(warehouse)
    again = materialize(BOTH, warehouse_url, tmp_path, day)
    assert table_counts(warehouse) == before
    assert metadata_of(again, "would_trade_decisions")["decisions_written"] == 0
    assert metadata_of(again, "shadow_fills")["shadow_pnl_micros"] == summary["shadow_pnl_micros"]
