"""The decision engine: hand-computed EV and fees, sizing, limits and every refusal reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from weather_edge.kalshi.book import book_from_levels
from weather_edge.kalshi.fees import FeeSchedule
from weather_edge.storage import open_warehouse
from weather_edge.trading.config import TradingParams
from weather_edge.trading.decisions import (
    Decision,
    DecisionEngine,
    DecisionRecorder,
    confidence,
    decide_all,
    ev_per_contract,
    order_fee,
)
from weather_edge.trading.inputs import ForecastCache, MarketSpec
from weather_edge.trading.risk import Reason, RiskState

from .conftest import NOW, forecast, make_book, make_spec

CENT = 10_000  # micro-dollars


def engine(**overrides: object) -> DecisionEngine:
    return DecisionEngine(TradingParams.load(overrides))


def test_hand_computed_maker_and_taker_ev(spec: MarketSpec, book_45_48) -> None:
    decision = engine().evaluate(spec, book_45_48, forecast(0.60), now=NOW, book_at=NOW)
    inputs = json.loads(decision.inputs_json)
    candidates = {(c[0], c[1], c[2]): c for c in inputs["candidates"]}
    maker = candidates[("yes", "buy", "maker")]
    taker = candidates[("yes", "buy", "taker")]
    assert maker[3] == 4600 and maker[4] == 14 * CENT  # 60 - 46 - 0 (quadratic: no maker fee)
    # taker at 48: 60 - 48 - ceil_to_cent(0.07 x 0.48 x 0.52 = 0.017472) = 60 - 48 - 2
    assert taker[3] == 4800 and taker[4] == 10 * CENT
    assert decision.would_trade and decision.reason is Reason.TRADE
    assert (decision.side, decision.action, decision.liquidity) == ("yes", "buy", "maker")
    assert decision.price_cc == 4600
    assert decision.ev_per_contract_micros == 14 * CENT
    assert decision.count_cq is not None and decision.count_cq > 0


def test_fee_maths() -> None:
    quadratic = FeeSchedule("quadratic")
    assert order_fee(quadratic, "taker", 5000, 100) == 2 * CENT  # one contract at 50¢ pays $0.02
    assert order_fee(quadratic, "taker", 4800, 10_000) == 175 * CENT  # 0.07x100x0.2496 = 1.7472
    assert order_fee(quadratic, "maker", 4600, 10_000) == 0
    maker_fees = FeeSchedule("quadratic_with_maker_fees")
    assert order_fee(maker_fees, "maker", 4600, 100) == 1 * CENT  # 0.0175x0.2484 -> 1¢
    assert ev_per_contract("yes", "buy", 4600, 1 * CENT, 0.60) == 13 * CENT
    assert ev_per_contract("no", "buy", 5300, 0, 0.30) == 17 * CENT
    assert ev_per_contract("yes", "sell", 4700, 0, 0.30) == 17 * CENT


def test_maker_fee_series_lowers_maker_ev(book_45_48) -> None:
    spec = make_spec(fees=FeeSchedule("quadratic_with_maker_fees"))
    decision = engine().evaluate(spec, book_45_48, forecast(0.60), now=NOW, book_at=NOW)
    assert decision.price_cc == 4600
    candidates = json.loads(decision.inputs_json)["candidates"]
    assert candidates[0][:5] == ["yes", "buy", "maker", 4600, 13 * CENT]


def test_one_tick_spread_joins_the_bid(spec: MarketSpec) -> None:
    book = make_book([(45, 10)], [(54, 10)])  # YES 45 / 46
    decision = engine().evaluate(spec, book, forecast(0.60), now=NOW, book_at=NOW)
    assert decision.price_cc == 4500  # never crossing: 46 would take the ask
    assert decision.liquidity == "maker"


def test_buys_no_when_the_model_is_low(spec: MarketSpec, book_45_48) -> None:
    decision = engine().evaluate(spec, book_45_48, forecast(0.30), now=NOW, book_at=NOW)
    assert (decision.side, decision.action, decision.price_cc) == ("no", "buy", 5300)
    assert decision.ev_per_contract_micros == 17 * CENT  # 70 - 53


def test_sells_a_held_position(spec: MarketSpec, book_45_48) -> None:
    risk = RiskState()
    risk.portfolio.apply_fill(spec, "yes", "buy", 4000, 1000, 0)  # 10 YES bought at 40
    decision = engine().evaluate(spec, book_45_48, forecast(0.30), now=NOW, book_at=NOW, risk=risk)
    assert (decision.side, decision.action, decision.liquidity) == ("yes", "sell", "maker")
    assert decision.price_cc == 4700  # one tick inside the 48 ask
    assert decision.count_cq == 1000
    assert decision.ev_per_contract_micros == 17 * CENT  # 47 - 30
    candidates = {(c[0], c[1], c[2]): c for c in json.loads(decision.inputs_json)["candidates"]}
    # taker: hit the 45 bid, pay ceil(0.07 x 0.45 x 0.55 = 0.017325) = 2¢: 45 - 2 - 30
    assert candidates[("yes", "sell", "taker")][4] == 13 * CENT
    assert ("no", "buy", "maker") not in candidates  # exits go through the sale


def test_taker_plan_walks_depth(spec: MarketSpec, book_45_48) -> None:
    decision = engine(limits={"max_dollars_per_trade": 100}).evaluate(
        spec, book_45_48, forecast(0.60), now=NOW, book_at=NOW
    )
    plan = decision.taker
    assert plan is not None
    # 10 at 48 and 30 at 49 are all the asks; 60 - 49 - 2 = 9¢ still clears the 2¢ minimum
    assert (plan.limit_cc, plan.count_cq) == (4900, 4000)
    # 40 x 0.60 - (10 x 0.48 + 30 x 0.49) - (0.18 + 0.53) = 24 - 19.50 - 0.71 = 3.79
    assert plan.ev_total_micros == 379 * CENT


def test_taker_plan_stops_where_marginal_ev_fails(spec: MarketSpec) -> None:
    book = make_book([(45, 10)], [(52, 10), (43, 100)])  # asks 48 then 57: 60 - 57 - 2 = 1¢
    decision = engine().evaluate(spec, book, forecast(0.60), now=NOW, book_at=NOW)
    assert decision.taker is not None
    assert (decision.taker.limit_cc, decision.taker.count_cq) == (4800, 1000)


def test_kelly_size_by_hand(spec: MarketSpec, book_45_48) -> None:
    big = {
        "max_dollars_per_trade": 1000,
        "max_total_exposure": 1000,
        "max_contracts_per_city": 10_000,
        "max_contracts_per_event": 10_000,
    }
    sharp = engine(aggressiveness=0.5, limits=big)
    decision = sharp.evaluate(spec, book_45_48, forecast(0.60, sigma=0.0), now=NOW, book_at=NOW)
    # f* = (0.60 - 0.46) / (1 - 0.46) = 0.259259; x 0.30 x $1000 = $77.78; / $0.46 = 169.08
    assert decision.count_cq == 16_900
    fuzzy = sharp.evaluate(spec, book_45_48, forecast(0.60, sigma=0.05), now=NOW, book_at=NOW)
    # uncertainty penalty 0.14² / (0.14² + 0.05²) = 0.88688: 169.08 x 0.88688 = 149.95
    assert fuzzy.count_cq == 14_900


def test_trade_limit_caps_the_size(spec: MarketSpec, book_45_48) -> None:
    decision = engine().evaluate(spec, book_45_48, forecast(0.60), now=NOW, book_at=NOW)
    sizing = json.loads(decision.inputs_json)["sizing"]
    assert sizing["binding"] == "limit_trade_dollars"
    assert decision.count_cq == 5_400  # $25 / $0.46 = 54.3 contracts
    assert decision.would_trade


def refusal(decision: Decision) -> str:
    assert not decision.would_trade
    row = decision.to_row()
    assert row["would_trade"] is False and row["side"] is None
    return row["reason"]


def test_refusal_reasons_of_the_market(book_45_48) -> None:
    e = engine(enabled_cities=["NYC"])
    fc = forecast(0.60)
    chi = make_spec("KXHIGHCHI-26AUG24-B84.5", city="CHI", series_ticker="KXHIGHCHI")
    assert refusal(e.evaluate(chi, book_45_48, fc, now=NOW, book_at=NOW)) == "city_disabled"
    closed = make_spec(status="closed")
    assert refusal(e.evaluate(closed, book_45_48, fc, now=NOW, book_at=NOW)) == "market_not_open"
    wrong = make_spec(rules_ok=False, rules_problem="rules name O'Hare, registry says Midway")
    decision = e.evaluate(wrong, book_45_48, fc, now=NOW, book_at=NOW)
    assert refusal(decision) == "rules_mismatch"
    assert "O'Hare" in json.loads(decision.inputs_json)["detail"]
    soon = make_spec(close_time=NOW + dt.timedelta(minutes=10))
    assert refusal(e.evaluate(soon, book_45_48, fc, now=NOW, book_at=NOW)) == "closes_soon"


def test_refusal_reasons_of_the_inputs(spec: MarketSpec, book_45_48) -> None:
    e = engine()
    fc = forecast(0.60)
    assert refusal(e.evaluate(spec, book_45_48, None, now=NOW, book_at=NOW)) == "no_prediction"
    old = forecast(0.60, at=NOW - dt.timedelta(hours=2))
    assert refusal(e.evaluate(spec, book_45_48, old, now=NOW, book_at=NOW)) == "prediction_stale"
    late = NOW - dt.timedelta(seconds=30)
    assert refusal(e.evaluate(spec, book_45_48, fc, now=NOW, book_at=late)) == "book_stale"
    gap = make_book([(45, 10)], [(52, 10)])
    gap.mark_stale("seq gap")
    assert refusal(e.evaluate(spec, gap, fc, now=NOW, book_at=NOW)) == "book_stale"
    crossed = make_book([(50, 10)], [(55, 10)])  # YES bid 50 >= YES ask 45
    assert refusal(e.evaluate(spec, crossed, fc, now=NOW, book_at=NOW)) == "book_crossed"
    one_sided = make_book([(45, 10)], [])
    assert refusal(e.evaluate(spec, one_sided, fc, now=NOW, book_at=NOW)) == "book_too_thin"
    tiny = book_from_levels(spec.ticker, [(4500, 1000)], [(5200, 50)])  # half a contract
    assert refusal(e.evaluate(spec, tiny, fc, now=NOW, book_at=NOW)) == "book_too_thin"
    wide = make_book([(20, 10)], [(30, 10)])  # 20 / 70
    assert refusal(e.evaluate(spec, wide, fc, now=NOW, book_at=NOW)) == "book_too_thin"
    halted = RiskState(halted=True, halt_reason="daily loss")
    assert (
        refusal(e.evaluate(spec, book_45_48, fc, now=NOW, book_at=NOW, risk=halted))
        == "kill_switch"
    )


def test_refusal_reasons_of_the_edge(spec: MarketSpec, book_45_48) -> None:
    e = engine()  # threshold 0.60, minimum EV 2¢
    thin_edge = forecast(0.47)  # maker at 46: 1¢
    assert refusal(e.evaluate(spec, book_45_48, thin_edge, now=NOW, book_at=NOW)) == (
        "ev_below_minimum"
    )
    unsure = forecast(0.55, sigma=0.5)  # 9¢ of EV but Φ(0.09 / 0.5) = 0.57 < 0.60
    assert confidence(9 * CENT, 0.5) == pytest.approx(0.5714, abs=1e-4)
    assert refusal(e.evaluate(spec, book_45_48, unsure, now=NOW, book_at=NOW)) == (
        "confidence_below_threshold"
    )
    bold = engine(aggressiveness=1.0)  # threshold 0.30
    assert bold.evaluate(spec, book_45_48, unsure, now=NOW, book_at=NOW).would_trade
    poor = engine(bankroll=1)
    assert refusal(poor.evaluate(spec, book_45_48, forecast(0.60), now=NOW, book_at=NOW)) == (
        "size_below_increment"
    )


def test_refusal_reasons_of_the_limits(spec: MarketSpec, book_45_48) -> None:
    fc = forecast(0.60)
    cheap = engine(limits={"max_dollars_per_trade": "0.40"})
    assert refusal(cheap.evaluate(spec, book_45_48, fc, now=NOW, book_at=NOW)) == (
        "limit_trade_dollars"
    )
    e = engine()
    lost = RiskState(daily_pnl_micros=-100_000_000)  # the $100 daily loss limit
    assert refusal(e.evaluate(spec, book_45_48, fc, now=NOW, book_at=NOW, risk=lost)) == (
        "limit_daily_loss"
    )
    same_event = RiskState()
    other = make_spec("KXHIGHNY-26AUG24-B86.5")
    same_event.portfolio.apply_fill(other, "yes", "buy", 1000, 10_000, 0)  # 100 contracts
    assert refusal(e.evaluate(spec, book_45_48, fc, now=NOW, book_at=NOW, risk=same_event)) == (
        "limit_event_position"
    )
    same_city = RiskState()
    for day in ("25", "26"):
        market = make_spec(f"KXHIGHNY-26AUG{day}-B84.5")
        same_city.portfolio.apply_fill(market, "no", "buy", 1000, 10_000, 0)
    assert refusal(e.evaluate(spec, book_45_48, fc, now=NOW, book_at=NOW, risk=same_city)) == (
        "limit_city_position"
    )
    exposed = RiskState()
    for i, city in enumerate(["CHI", "MIA", "AUS", "DEN", "LAX", "PHL"]):
        market = make_spec(f"KXHIGH{city}-26AUG24-B8{i}.5", city=city)
        exposed.portfolio.apply_fill(market, "yes", "buy", 9000, 10_000, 0)  # $90 each
    exposed.portfolio.reserve(
        "resting-1", make_spec("KXHIGHPHL-26AUG25-B80.5", city="PHL"), 5000, 9000
    )  # another $45 resting: $585 > $500
    assert refusal(e.evaluate(spec, book_45_48, fc, now=NOW, book_at=NOW, risk=exposed)) == (
        "limit_total_exposure"
    )


def test_every_reason_is_covered() -> None:
    tested = Path(__file__).read_text()
    missing = [r.value for r in Reason if f'"{r.value}"' not in tested and r is not Reason.TRADE]
    assert not missing


def test_decision_ids_are_deterministic(spec: MarketSpec, book_45_48) -> None:
    e = engine()
    a = e.evaluate(spec, book_45_48, forecast(0.60), now=NOW, book_at=NOW)
    b = engine().evaluate(spec, book_45_48, forecast(0.60), now=NOW, book_at=NOW)
    assert a.decision_id == b.decision_id
    later = e.evaluate(
        spec, book_45_48, forecast(0.60), now=NOW + dt.timedelta(seconds=1), book_at=NOW
    )
    assert later.decision_id != a.decision_id
    other_params = engine(aggressiveness=0.3).evaluate(
        spec, book_45_48, forecast(0.60), now=NOW, book_at=NOW
    )
    assert other_params.decision_id != a.decision_id
    assert other_params.config_hash != a.config_hash


def test_decisions_land_in_the_warehouse(tmp_path: Path, spec: MarketSpec, book_45_48) -> None:
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    warehouse.migrate()
    recorder = DecisionRecorder(warehouse)
    e = engine()
    for p in (0.60, 0.47, 0.30):
        recorder.record(e.evaluate(spec, book_45_48, forecast(p), now=NOW, book_at=NOW))
    recorder.record(e.evaluate(spec, book_45_48, forecast(0.60), now=NOW, book_at=NOW))
    assert recorder.flush() == 3  # the repeat has the same decision_id
    rows = warehouse.query(
        "SELECT reason, would_trade, price_cc, config_hash FROM decisions ORDER BY reason"
    )
    assert [r[0] for r in rows] == ["ev_below_minimum", "trade", "trade"]
    assert {r[3] for r in rows} == {e.config_hash}
    inputs = json.loads(warehouse.scalar("SELECT inputs_json FROM decisions LIMIT 1"))
    assert {"book", "forecast", "reason"} <= set(inputs)


def test_decision_round_trips_through_its_row(spec: MarketSpec, book_45_48) -> None:
    decision = engine().evaluate(spec, book_45_48, forecast(0.60), now=NOW, book_at=NOW)
    row = decision.to_row()
    row["evaluated_at"] = row["evaluated_at"].isoformat()
    row["climate_day"] = row["climate_day"].isoformat()
    again = Decision.from_row(row)
    assert again == decision


def test_decide_all_gives_one_decision_per_market(spec: MarketSpec, book_45_48) -> None:
    other = make_spec("KXHIGHNY-26AUG24-B86.5")
    cache = ForecastCache([forecast(0.60)])
    decisions = decide_all(
        engine(), [(spec, book_45_48, NOW), (other, book_45_48, NOW)], cache, now=NOW
    )
    assert [d.reason.value for d in decisions] == ["trade", "no_prediction"]
