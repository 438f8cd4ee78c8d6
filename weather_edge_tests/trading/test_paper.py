"""Shadow fills: taker walks, queue position of maker orders, fees and exact P&L."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from weather_edge.kalshi.fees import FeeSchedule
from weather_edge.storage import open_warehouse
from weather_edge.trading.config import TradingParams
from weather_edge.trading.decisions import DecisionEngine
from weather_edge.trading.inputs import MarketSpec
from weather_edge.trading.orders import OrderIntent, OrderStatus
from weather_edge.trading.paper import (
    PaperExchange,
    TradePrint,
    book_from_quote,
    recorded_events,
    replay,
)
from weather_edge.trading.risk import Mark

from .conftest import NOW, TICKER, forecast, make_book, make_spec

CENT = 10_000


def exchange(**params: object) -> PaperExchange:
    return PaperExchange(TradingParams.load(params), session_id="s1")


def tape(yes_price: int, contracts: int, taker_side: str, n: int = 0) -> TradePrint:
    return TradePrint(
        f"t{n}",
        TICKER,
        yes_price * 100,
        contracts * 100,
        taker_side,  # type: ignore[arg-type]
        NOW + dt.timedelta(seconds=n),
    )


def test_taker_walks_the_book_and_never_takes_the_same_size_twice(spec: MarketSpec) -> None:
    paper = exchange()
    paper.on_book(make_book([(45, 10)], [(52, 10), (51, 30)]), NOW)  # asks 48 x10, 49 x30
    order = paper.place(
        OrderIntent(spec, "yes", "buy", 4900, 1500, "taker"), NOW, client_order_id="a"
    )
    assert order.status is OrderStatus.EXECUTED
    assert [(f.price_cc, f.count_cq, f.fee_micros) for f in paper.fills] == [
        (4800, 1000, 18 * CENT),  # 0.07 x 10 x 0.2496 = 0.1747 -> 0.18
        (4900, 500, 9 * CENT),  # 0.07 x 5 x 0.2499 = 0.0875 -> 0.09
    ]
    assert paper.portfolio.cash_micros == -(480 + 245 + 27) * CENT
    second = paper.place(
        OrderIntent(spec, "yes", "buy", 4900, 3000, "taker"), NOW, client_order_id="b"
    )
    assert second.filled_cq == 2500  # only what the first order left at 49
    assert second.status is OrderStatus.CANCELED  # the rest of an immediate order
    assert paper.portfolio.position(TICKER) == 4000
    again = paper.place(
        OrderIntent(spec, "yes", "buy", 4900, 3000, "taker"), NOW, client_order_id="b"
    )
    assert again is second  # the same client_order_id is the same order


def test_maker_at_the_back_of_the_queue_waits_for_the_size_ahead(spec: MarketSpec) -> None:
    paper = exchange()
    paper.on_book(make_book([(45, 100)], [(52, 10)]), NOW)
    order = paper.place(
        OrderIntent(spec, "yes", "buy", 4500, 1000, "maker"), NOW, client_order_id="m"
    )
    assert order.status is OrderStatus.RESTING
    paper.on_trade(tape(45, 60, "no", 1))  # sellers hit the 45 bid: 60 of the 100 ahead
    paper.on_trade(tape(48, 50, "yes", 2))  # buyers lift the ask: not our side
    paper.on_trade(tape(45, 40, "no", 3))  # the last 40 ahead
    assert order.filled_cq == 0 and not paper.fills
    paper.on_trade(tape(45, 5, "no", 4))
    assert order.filled_cq == 500
    paper.on_trade(tape(45, 20, "no", 5))
    assert order.filled_cq == 1000 and order.status is OrderStatus.EXECUTED
    assert all(not f.is_taker and f.fee_micros == 0 for f in paper.fills)  # quadratic: no maker fee
    assert paper.portfolio.cash_micros == -450 * CENT


def test_queue_moves_up_on_cancellations_and_fills_on_trade_through(spec: MarketSpec) -> None:
    paper = exchange()
    paper.on_book(make_book([(45, 100)], [(52, 10)]), NOW)
    order = paper.place(
        OrderIntent(spec, "yes", "buy", 4500, 1000, "maker"), NOW, client_order_id="m"
    )
    paper.on_book(make_book([(45, 30)], [(52, 10)]), NOW)  # 70 cancelled at 45
    paper.on_trade(tape(45, 32, "no", 1))
    assert order.filled_cq == 200
    paper.on_trade(tape(44, 3, "no", 2))  # traded below our bid: we were taken first
    assert order.filled_cq == 500
    assert {f.price_cc for f in paper.fills} == {4500}


def test_maker_inside_the_spread_fills_when_the_other_side_reaches_it(spec: MarketSpec) -> None:
    paper = exchange()
    paper.on_book(make_book([(45, 100)], [(52, 10)]), NOW)
    order = paper.place(
        OrderIntent(spec, "yes", "buy", 4600, 1000, "maker"), NOW, client_order_id="m"
    )
    paper.on_trade(tape(45, 100, "no", 1))  # below our 46 bid: traded through it
    assert order.filled_cq == 1000
    inside = paper.place(
        OrderIntent(spec, "no", "buy", 5300, 1000, "maker"), NOW, client_order_id="n"
    )
    paper.on_book(make_book([(47, 4)], [(52, 10)]), NOW)  # a YES bid at 47 = NO ask at 53
    assert inside.filled_cq == 400
    paper.on_book(make_book([(47, 4), (46, 1)], [(52, 10)]), NOW)  # the same 4 are not reused
    assert inside.filled_cq == 400
    crossing = paper.place(
        OrderIntent(spec, "yes", "buy", 4800, 100, "maker"), NOW, client_order_id="x"
    )
    assert crossing.status is OrderStatus.FAILED  # post-only: it would take the 48 ask


def test_decision_goes_maker_then_taker_after_the_timeout(spec: MarketSpec) -> None:
    params = TradingParams.load({"maker": {"base_s": 10}, "aggressiveness": 0.5})
    book = make_book([(45, 10), (44, 50)], [(52, 10), (51, 30)])
    decision = DecisionEngine(params).evaluate(spec, book, forecast(0.60), now=NOW, book_at=NOW)
    paper = PaperExchange(params, session_id="s")
    later = NOW + dt.timedelta(seconds=11)
    replay(paper, [(NOW, book), (NOW, decision), (later, book)], {TICKER: spec})
    orders = list(paper.orders.values())
    assert [o.liquidity for o in orders] == ["maker", "taker"]
    assert orders[0].status is OrderStatus.CANCELED and orders[0].filled_cq == 0
    assert decision.taker is not None
    assert orders[1].price_cc == decision.taker.limit_cc
    assert orders[1].filled_cq == decision.taker.count_cq
    assert all(f.is_taker for f in paper.fills)


def test_shadow_pnl_is_exact_through_settlement(spec: MarketSpec) -> None:
    paper = exchange()
    paper.on_book(make_book([(45, 100)], [(52, 100)]), NOW)
    paper.place(OrderIntent(spec, "yes", "buy", 4800, 1000, "taker"), NOW, client_order_id="t")
    fee = 18 * CENT
    assert paper.pnl_micros() == 10 * 4500 * 100 - 10 * 4800 * 100 - fee  # marked at the bid
    assert paper.pnl_micros({TICKER: Mark.settled("yes")}) == 10 * 52 * CENT - fee
    paper.settle(TICKER, "yes", NOW)
    assert paper.portfolio.cash_micros == 520 * CENT - fee
    assert paper.summary()["pnl_micros"] == 502 * CENT


def test_paper_rows_fit_the_warehouse(tmp_path: Path) -> None:
    spec = make_spec(fees=FeeSchedule("quadratic_with_maker_fees"))
    paper = exchange()
    paper.on_book(book_from_quote(TICKER, 4500, 10_000, 4800, 10_000), NOW)
    paper.place(OrderIntent(spec, "yes", "buy", 4600, 200, "maker"), NOW, client_order_id="m")
    paper.on_trade(tape(45, 5, "no", 1))
    assert paper.fills[0].fee_micros == 1 * CENT  # 0.0175 x 2 x 0.2484 = 0.0087 -> 1¢
    warehouse = open_warehouse(f"duckdb:///{tmp_path / 'w.duckdb'}")
    warehouse.migrate()
    assert warehouse.upsert("orders", paper.order_rows()) == 1
    assert warehouse.upsert("fills", paper.fill_rows()) == 1
    assert warehouse.scalar("SELECT mode FROM fills") == "shadow"


def test_replay_from_warehouse_rows(spec: MarketSpec) -> None:
    t = [NOW + dt.timedelta(seconds=s) for s in range(4)]
    quotes = [
        {
            "market_ticker": TICKER,
            "ts": t[0],
            "yes_bid_cc": 4500,
            "yes_bid_size_cq": 5000,
            "yes_ask_cc": 4800,
            "yes_ask_size_cq": 1000,
        },
        {
            "market_ticker": TICKER,
            "ts": t[2],
            "yes_bid_cc": 4500,
            "yes_bid_size_cq": 2000,
            "yes_ask_cc": 4800,
            "yes_ask_size_cq": 1000,
        },
    ]
    trades = [
        {
            "trade_id": "x1",
            "market_ticker": TICKER,
            "ts": t[2],
            "yes_price_cc": 4500,
            "no_price_cc": 5500,
            "count_cq": 3000,
            "taker_side": "no",
        },
        {
            "trade_id": "x2",
            "market_ticker": TICKER,
            "ts": t[3],
            "yes_price_cc": 4500,
            "no_price_cc": 5500,
            "count_cq": 2500,
            "taker_side": "no",
        },
    ]
    events = recorded_events(quotes, trades)
    assert [type(e).__name__ for _, e in events] == [
        "OrderBook",
        "OrderBook",
        "TradePrint",
        "TradePrint",
    ]
    paper = exchange()
    paper.on_book(events[0][1], t[0])  # type: ignore[arg-type]
    order = paper.place(
        OrderIntent(spec, "yes", "buy", 4500, 1500, "maker"), t[1], client_order_id="m"
    )
    replay(paper, events[1:], {TICKER: spec})
    # 50 ahead, shrunk to 20 by the book at t2; 30 traded (20 ahead, 10 ours), then 5 more
    assert order.filled_cq == 1500
    assert [(f.count_cq, f.ts) for f in paper.fills] == [(1000, t[2]), (500, t[3])]
