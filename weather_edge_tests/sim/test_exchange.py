"""The exchange: listings, accounts, dedup, positions, settlement, determinism, realism."""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from weather_edge.kalshi.rules import check_market_rules
from weather_edge.money import MONEY_SCALE, parse_size
from weather_edge.sim.agents import AgentPool
from weather_edge.sim.clock import SimClock
from weather_edge.sim.exchange import (
    Exchange,
    ExchangeSettings,
    LifecycleUpdate,
    MarketStatus,
    OrderRequest,
    market_json,
    parse_order_request,
)
from weather_edge.sim.matching import Action, OrderRejected, Side

from .conftest import START

C = 100
DOLLAR = MONEY_SCALE


def buy(ticker: str, side: str, cents: int, contracts: int, **kw: Any) -> OrderRequest:
    yes_cents = cents if side == "yes" else 100 - cents
    return OrderRequest(
        ticker=ticker,
        side=Side(side),
        action=Action.BUY,
        count=contracts * C,
        yes_price=yes_cents * 100,
        **kw,
    )


def test_events_list_six_exclusive_brackets_with_kalshi_shaped_fields(exchange: Exchange) -> None:
    assert set(exchange.events) == {"KXHIGHNY-26AUG23", "KXHIGHNY-26AUG24"}
    event = exchange.events["KXHIGHNY-26AUG24"]
    markets = [exchange.markets[t] for t in event.markets]
    codes = [m.ticker.rsplit("-", 1)[1] for m in markets]
    low = int(codes[0][1:])
    assert codes == [f"T{low}", *(f"B{low + 2 * k}.5" for k in range(4)), f"T{low + 7}"]
    assert [m.strike_type.value for m in markets] == ["less", *["between"] * 4, "greater"]
    for high in range(-20, 131):  # exactly one bracket wins, whatever the high
        assert sum(m.wins(high) for m in markets) == 1
    first = markets[0]
    assert first.open_time == datetime(2026, 8, 23, 14, 0, tzinfo=UTC)  # 10:00 EDT the day before
    assert first.close_time == datetime(2026, 8, 25, 5, 0, tzinfo=UTC)  # midnight EST
    now = exchange.clock.now()
    for market in markets:
        wire = market_json(market, now)
        assert check_market_rules(wire).ok, check_market_rules(wire).mismatch
        assert "Central Park" in wire["rules_primary"]
        assert "NWS Daily Climate Report" in wire["rules_primary"]
        assert wire["status"] == "active" and wire["price_level_structure"] == "linear_cent"
        assert wire["yes_bid_dollars"] == "0.0000" and wire["yes_ask_dollars"] == "1.0000"
    tail = market_json(markets[-1], now)
    assert tail["floor_strike"] == low + 7 and tail["cap_strike"] is None
    assert tail["yes_sub_title"] == f"{low + 8}° or above"


def test_rolling_listing_adds_the_next_day_each_morning(exchange: Exchange) -> None:
    exchange.advance_to(datetime(2026, 8, 24, 13, 49, tzinfo=UTC))
    assert "KXHIGHNY-26AUG25" not in exchange.events
    exchange.advance_to(datetime(2026, 8, 24, 13, 50, tzinfo=UTC))  # 10 min before 10:00 EDT
    markets = [exchange.markets[t] for t in exchange.events["KXHIGHNY-26AUG25"].markets]
    assert {m.status for m in markets} == {MarketStatus.INITIALIZED}
    exchange.advance_to(datetime(2026, 8, 24, 14, 0, tzinfo=UTC))
    assert {m.status for m in markets} == {MarketStatus.ACTIVE}


def test_client_order_id_is_deduplicated_per_account(exchange: Exchange) -> None:
    ticker = exchange.events["KXHIGHNY-26AUG24"].markets[2]
    for key in ("alice", "bob"):
        exchange.register_account(key)
    exchange.place_order("alice", buy(ticker, "yes", 30, 1, client_order_id="same"))
    with pytest.raises(OrderRejected) as info:
        exchange.place_order("alice", buy(ticker, "yes", 31, 1, client_order_id="same"))
    assert info.value.status == 409
    exchange.place_order("bob", buy(ticker, "yes", 30, 1, client_order_id="same"))  # other account


def test_balance_is_checked_against_resting_orders(exchange: Exchange) -> None:
    ticker = exchange.events["KXHIGHNY-26AUG24"].markets[2]
    exchange.register_account("poor", balance=10 * DOLLAR)
    exchange.place_order("poor", buy(ticker, "yes", 50, 19))  # $9.50 reserved
    with pytest.raises(OrderRejected) as info:
        exchange.place_order("poor", buy(ticker, "no", 40, 2))
    assert info.value.code == "insufficient_balance"


def test_request_bodies_are_parsed_like_kalshi() -> None:
    body = {"ticker": "X", "side": "no", "action": "sell", "count_fp": "2.50", "no_price": 35}
    req = parse_order_request(body)
    assert (req.count, req.yes_price, req.book_side, req.book_price) == (250, 6500, Side.YES, 6500)
    dollars = parse_order_request({**body, "no_price": None, "yes_price_dollars": "0.6500"})
    assert dollars.yes_price == 6500
    for bad in (
        {**body, "side": "maybe"},
        {**body, "count_fp": "1.005"},
        {**body, "yes_price": 60},  # disagrees with no_price 35
        {k: v for k, v in body.items() if k != "no_price"},
    ):
        with pytest.raises(OrderRejected):
            parse_order_request(bad)


def test_positions_net_and_realise_pnl(exchange: Exchange) -> None:
    ticker = exchange.events["KXHIGHNY-26AUG24"].markets[2]
    for key in ("alice", "bob"):
        exchange.register_account(key, balance=100 * DOLLAR)
    exchange.place_order("bob", buy(ticker, "no", 60, 10))  # YES ask 0.40
    exchange.place_order("alice", buy(ticker, "yes", 40, 10))
    alice = exchange.accounts["alice"]
    pos = alice.positions[ticker]
    assert pos.position == 10 * C and pos.cost == 4 * DOLLAR
    fee_in = alice.fills[-1].fee
    assert alice.cash == 100 * DOLLAR - 4 * DOLLAR - fee_in
    assert exchange.markets[ticker].open_interest == 10 * C
    # alice sells 4 YES at 0.50: a NO bid at 0.50, hit by bob's new YES bid
    exchange.place_order("alice", OrderRequest(ticker, Side.YES, Action.SELL, 4 * C, 5000))
    exchange.place_order("bob", buy(ticker, "yes", 50, 4))
    assert pos.position == 6 * C and pos.cost == 240 * DOLLAR // 100
    assert pos.realized_pnl == 4 * (DOLLAR // 2 - 4 * DOLLAR // 10)  # 4 x (0.50 - 0.40)
    assert alice.cash == 100 * DOLLAR - 4 * DOLLAR - fee_in + 4 * DOLLAR // 2
    assert exchange.markets[ticker].open_interest == 6 * C  # both sides closed 4
    assert exchange.accounts["bob"].positions[ticker].position == -6 * C


def test_settlement_pays_a_dollar_per_winning_contract(exchange: Exchange) -> None:
    event = exchange.events["KXHIGHNY-26AUG23"]
    high = exchange.weather.true_high(event.city, event.day)
    markets = [exchange.markets[t] for t in event.markets]
    winner = next(m for m in markets if m.wins(high))
    loser = next(m for m in markets if not m.wins(high))
    for key in ("alice", "bob"):
        exchange.register_account(key, balance=100 * DOLLAR)
    seen: list[Any] = []
    exchange.add_listener(seen.extend)
    for market in (winner, loser):
        exchange.place_order("bob", buy(market.ticker, "no", 70, 5))
        exchange.place_order("alice", buy(market.ticker, "yes", 30, 5))
    resting = exchange.place_order("alice", buy(winner.ticker, "yes", 10, 3))
    alice, bob = exchange.accounts["alice"], exchange.accounts["bob"]
    cash_alice, cash_bob = alice.cash, bob.cash

    exchange.advance_to(winner.close_time)
    assert winner.status is MarketStatus.CLOSED and not resting.is_resting
    with pytest.raises(OrderRejected):
        exchange.place_order("alice", buy(winner.ticker, "yes", 30, 1))
    exchange.advance_to(winner.close_time + timedelta(hours=7))
    assert winner.result == "yes" and loser.result == "no"
    assert alice.cash == cash_alice  # determined, not yet paid
    exchange.advance_to(winner.close_time + timedelta(hours=7, minutes=30))
    assert winner.status is MarketStatus.FINALIZED
    assert alice.cash == cash_alice + 5 * DOLLAR
    assert bob.cash == cash_bob + 5 * DOLLAR  # bob's NO on the loser
    assert alice.positions[winner.ticker].position == 0
    assert {s.ticker: s.revenue for s in alice.settlements} == {
        winner.ticker: 5 * DOLLAR,
        loser.ticker: 0,
    }
    lifecycle = [e for e in seen if isinstance(e, LifecycleUpdate)]
    assert [e.event_type for e in lifecycle if e.ticker == winner.ticker] == [
        "determined",
        "settled",
    ]
    determined = next(
        e for e in seen if isinstance(e, LifecycleUpdate) and e.event_type == "determined"
    )
    assert determined.msg["result"] in ("yes", "no")


def test_lifecycle_order_of_a_new_day(exchange: Exchange) -> None:
    seen: list[Any] = []
    exchange.add_listener(seen.extend)
    exchange.advance_to(datetime(2026, 8, 26, 13, 0, tzinfo=UTC))
    ticker = exchange.events["KXHIGHNY-26AUG25"].markets[0]
    kinds = [e.event_type for e in seen if isinstance(e, LifecycleUpdate) and e.ticker == ticker]
    assert kinds == ["created", "activated", "determined", "settled"]
    created = next(e for e in seen if isinstance(e, LifecycleUpdate) and e.ticker == ticker)
    assert created.msg["additional_metadata"]["strike_type"] == "less"


def test_pause_and_close_time_updates_emit_lifecycle(exchange: Exchange) -> None:
    ticker = exchange.events["KXHIGHNY-26AUG24"].markets[1]
    seen: list[Any] = []
    exchange.add_listener(seen.extend)
    exchange.pause_market(ticker)
    with pytest.raises(OrderRejected):
        exchange.register_account("x")
        exchange.place_order("x", buy(ticker, "yes", 20, 1))
    exchange.resume_market(ticker)
    later = exchange.markets[ticker].close_time + timedelta(hours=1)
    exchange.update_close_time(ticker, later)
    kinds = [e.event_type for e in seen if isinstance(e, LifecycleUpdate)]
    assert kinds == ["deactivated", "activated", "close_date_updated"]
    exchange.advance_to(later - timedelta(minutes=1))
    assert exchange.markets[ticker].status is MarketStatus.ACTIVE


def _run(seed: int, hours: float = 1.0) -> tuple[list[tuple[str, str, int, int]], Any]:
    clock = SimClock.manual(START)
    ex = Exchange(clock, ExchangeSettings(seed=seed, cities=("NYC",), step_seconds=10))
    AgentPool(ex, seed=seed).attach()
    for _ in range(int(hours * 12)):
        ex.advance_to(clock.advance(300))
    trades = [(t.trade_id, t.ticker, t.yes_price, t.count) for t in reversed(ex.trades())]
    books = {t: ex.book(t) for t in ex.markets}
    return trades, books


def test_agents_are_deterministic_for_a_seed() -> None:
    trades, books = _run(5)
    again, books_again = _run(5)
    other, _ = _run(6)
    assert len(trades) > 50
    assert trades == again and books == books_again
    assert trades != other


def test_agent_books_resemble_the_real_captures(shared_data: Path) -> None:
    """Spreads, level sizes and fractional sizes against KXHIGHNY recordings."""
    folder = shared_data / "kalshi" / "KXHIGHNY"
    real_sizes = []
    for path in (folder / "raw_orderbooks").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            book = json.loads(line)["payload"]["orderbook_fp"]
            real_sizes += [parse_size(s) for side in book.values() for _, s in side or []]
    with (folder / "orderbook_summary_202609.csv").open() as handle:
        real_spreads = [
            round(float(row["yes_spread"]) * 100)
            for row in csv.DictReader(handle)
            if row["yes_spread"] and 0.1 < float(row["yes_midpoint"] or 0) < 0.9
        ]
    clock = SimClock.manual(START)
    ex = Exchange(clock, ExchangeSettings(seed=3, cities=("NYC",)))
    pool = AgentPool(ex, seed=3)
    pool.attach()
    spreads: list[int] = []
    for _ in range(60):
        ex.advance_to(clock.advance(120))
        for market in ex.markets.values():
            yes_bid, yes_ask = market.quotes()
            if 1000 < (yes_bid + yes_ask) / 2 < 9000:
                spreads.append((yes_ask - yes_bid) // 100)
    sizes = [s for m in ex.markets.values() for side in Side for _, s in m.engine.levels(side)]

    def fractional(values: list[int]) -> float:
        return sum(1 for v in values if v % 100) / len(values)

    assert statistics.median(real_spreads) == statistics.median(spreads) == 1
    assert Counter(spreads)[1] / len(spreads) > 0.4  # mostly one cent, like the real books
    assert max(Counter(spreads)) <= 8
    real_median, sim_median = statistics.median(real_sizes), statistics.median(sizes)
    assert 0.5 < sim_median / real_median < 2.0  # tens of contracts a level
    assert 0.03 < fractional(sizes) < 3 * fractional(real_sizes)
    assert sum(m.volume for m in ex.markets.values()) > 0


def test_takers_push_prices_towards_the_truth_as_the_day_resolves() -> None:
    clock = SimClock.manual(START)
    ex = Exchange(clock, ExchangeSettings(seed=8, cities=("NYC",), step_seconds=60))
    AgentPool(ex, seed=8).attach()
    event = ex.events["KXHIGHNY-26AUG23"]
    high = ex.weather.true_high(event.city, event.day)
    for _ in range(13):  # until 04:00 UTC, an hour before the close
        ex.advance_to(clock.advance(3600))
    for ticker in event.markets:
        market = ex.markets[ticker]
        yes_bid, yes_ask = market.quotes()
        mid = (yes_bid + yes_ask) / 2 / 10_000
        assert (mid > 0.6) if market.wins(high) else (mid < 0.4), (ticker, high, mid)


def test_orders_expire(exchange: Exchange) -> None:
    ticker = exchange.events["KXHIGHNY-26AUG24"].markets[1]
    exchange.register_account("a")
    expiry = int((START + timedelta(minutes=5)).timestamp())
    order = exchange.place_order("a", buy(ticker, "yes", 20, 1, expiration_ts=expiry))
    exchange.advance_to(START + timedelta(minutes=4))
    assert order.is_resting
    exchange.advance_to(START + timedelta(minutes=5))
    assert not order.is_resting and exchange.book(ticker)[Side.YES] == []
