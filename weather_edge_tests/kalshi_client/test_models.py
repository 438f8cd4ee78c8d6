"""Typed models: fixed-point strings become exact ints, timestamps aware UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from weather_edge.kalshi.errors import KalshiProtocolError
from weather_edge.kalshi.models import (
    Action,
    Balance,
    MarketResponse,
    Micros,
    Order,
    OrderbookResponse,
    OrderRequest,
    Price,
    Settlement,
    Side,
    Size,
    TimeInForce,
    WsMarketPosition,
    WsOrderbookDelta,
    WsOrderbookSnapshot,
    decode,
    parse_dollars,
)
from weather_edge.money import format_price, format_size

MARKET = {
    "market": {
        "ticker": "KXHIGHNY-26SEP02-B84.5",
        "event_ticker": "KXHIGHNY-26SEP02",
        "status": "active",
        "open_time": "2026-09-01T14:00:00Z",
        "close_time": "2026-09-03T03:59:00-04:00",
        "strike_type": "between",
        "floor_strike": 84,
        "cap_strike": 85,
        "yes_bid_dollars": "0.5500",
        "yes_ask_dollars": "0.57",
        "no_bid_dollars": "0.4300",
        "no_ask_dollars": "0.4500",
        "last_price_dollars": "0.5600",
        "volume_fp": "11813.60",
        "open_interest_fp": "250.00",
        "result": "",
        "price_level_structure": "linear_cent",
        "rules_primary": "If the highest temperature recorded in Central Park...",
        "some_future_field": {"ignored": True},
    }
}


def test_market_prices_and_sizes_are_exact_ints() -> None:
    market = decode(MarketResponse, json.dumps(MARKET)).market
    assert market.yes_bid == 5500 and isinstance(market.yes_bid, Price)
    assert market.yes_ask == 5700
    assert market.volume == 1181360 and isinstance(market.volume, Size)
    assert market.open_interest == 25000
    assert market.floor_strike == Decimal(84) and market.cap_strike == Decimal(85)
    assert market.open_time == datetime(2026, 9, 1, 14, tzinfo=UTC)
    assert market.close_time is not None and market.close_time.tzinfo is UTC
    assert market.close_time == datetime(2026, 9, 3, 7, 59, tzinfo=UTC)
    assert market.settlement_ts is None and market.no_bid == 4300


def test_float_and_over_precise_prices_are_refused() -> None:
    bad = json.loads(json.dumps(MARKET))
    bad["market"]["yes_bid_dollars"] = 0.55  # a binary float never becomes a price
    with pytest.raises(KalshiProtocolError, match="fixed-point"):
        decode(MarketResponse, json.dumps(bad))
    bad["market"]["yes_bid_dollars"] = "0.55005"
    with pytest.raises(KalshiProtocolError):
        decode(MarketResponse, json.dumps(bad))
    bad["market"]["yes_bid_dollars"] = "1.5000"
    with pytest.raises(KalshiProtocolError):
        decode(MarketResponse, json.dumps(bad))
    with pytest.raises(KalshiProtocolError):
        decode(MarketResponse, b"{not json")


def test_orderbook_levels() -> None:
    body = {"orderbook_fp": {"yes_dollars": [["0.4500", "85.00"], ["0.5500", "39.50"]]}}
    book = decode(OrderbookResponse, json.dumps(body)).orderbook_fp
    assert book.yes_bids == [(4500, 8500), (5500, 3950)]
    assert book.no_bids == []  # a missing side is empty
    raw = b'{"orderbook_fp": {"yes_dollars": null, "no_dollars": []}}'
    book = decode(OrderbookResponse, raw).orderbook_fp
    assert book.yes_bids == [] and book.no_bids == []


def test_amounts_cents_and_centi_cents() -> None:
    balance = decode(
        Balance, b'{"balance": 123456, "portfolio_value": 5, "updated_ts": 1700000000}'
    )
    assert balance.balance == 1_234_560_000  # $1,234.56 in micro-dollars
    assert balance.portfolio_value == 50_000
    assert balance.updated_ts == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    settlement = decode(
        Settlement,
        json.dumps(
            {
                "ticker": "T",
                "market_result": "yes",
                "yes_count_fp": "10.00",
                "yes_total_cost_dollars": "5.500000",
                "revenue": 1000,
                "fee_cost": "0.3400",
                "value": 100,
                "settled_time": "2026-09-03T12:00:00Z",
            }
        ),
    )
    assert settlement.revenue == 10_000_000 and settlement.fee_cost == 340_000
    assert settlement.yes_total_cost == 5_500_000 and settlement.value == 10_000
    position = decode(
        WsMarketPosition,
        b'{"market_ticker": "T", "position_fp": "-3.00", "position_cost": 5500, '
        b'"realized_pnl": -125, "fees_paid": 200}',
    )
    assert position.position == -300
    assert position.position_cost == 550_000  # 5500 centi-cents = $0.55
    assert position.realized_pnl == -12_500


def test_order_and_ws_messages() -> None:
    order = decode(
        Order,
        json.dumps(
            {
                "order_id": "o1",
                "client_order_id": "c1",
                "ticker": "T",
                "side": "no",
                "action": "buy",
                "status": "resting",
                "yes_price_dollars": "0.6100",
                "no_price_dollars": "0.3900",
                "fill_count_fp": "1.50",
                "remaining_count_fp": "8.50",
                "initial_count_fp": "10.00",
                "taker_fees_dollars": "0.0200",
                "maker_fees_dollars": "0.0000",
                "created_time": "2026-09-01T17:46:25.566929123Z",
            }
        ),
    )
    assert order.side is Side.NO and order.price == 3900
    assert order.fill_count == 150 and order.taker_fees == Micros(20_000)
    assert order.created_time == datetime(2026, 9, 1, 17, 46, 25, 566929, tzinfo=UTC)
    snap = decode(
        WsOrderbookSnapshot,
        b'{"market_ticker": "T", "yes_dollars_fp": [["0.0100", "5.00"]], "market_id": "x"}',
    )
    assert snap.yes_bids == [(100, 500)] and snap.no_bids == []
    delta = decode(
        WsOrderbookDelta,
        b'{"market_ticker": "T", "price_dollars": "0.9600", "delta_fp": "-2.50", "side": "yes"}',
    )
    assert (delta.price, delta.delta, delta.side) == (9600, -250, Side.YES)


def test_order_request_wire_body() -> None:
    request = OrderRequest(
        ticker="KXHIGHNY-26SEP02-T82",
        side=Side.NO,
        action=Action.BUY,
        count=250,
        price=7400,
        time_in_force=TimeInForce.GOOD_TILL_CANCELED,
        expiration_ts=datetime(2026, 9, 2, tzinfo=timezone(timedelta(hours=-4))),
        post_only=True,
        buy_max_cost=2_000_000,
    )
    with pytest.raises(ValueError, match="client_order_id"):
        request.to_wire()
    placed = request.with_client_order_id()
    assert placed.client_order_id and placed.with_client_order_id() is placed
    body = placed.to_wire()
    assert body == {
        "ticker": "KXHIGHNY-26SEP02-T82",
        "side": "no",
        "action": "buy",
        "count_fp": "2.50",
        "no_price_dollars": "0.7400",
        "client_order_id": placed.client_order_id,
        "time_in_force": "good_till_canceled",
        "expiration_ts": 1788321600,
        "post_only": True,
        "buy_max_cost": 200,
    }
    for bad in ({"count": 0}, {"price": 0}, {"price": 10_000}, {"buy_max_cost": 123}):
        kwargs = {"ticker": "T", "side": Side.YES, "action": Action.BUY, "count": 100,
                  "price": 5000} | bad  # fmt: skip
        with pytest.raises(ValueError):
            OrderRequest(**kwargs)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10_000), st.integers(-(10**9), 10**9))
def test_fixed_point_round_trip(price: int, size: int) -> None:
    body = json.dumps(
        {
            "market_ticker": "T",
            "price_dollars": format_price(price),
            "delta_fp": format_size(size),
            "side": "no",
        }
    )
    if not 0 <= price <= 10_000:
        return
    delta = decode(WsOrderbookDelta, body)
    assert (delta.price, delta.delta) == (price, size)


@given(st.decimals(min_value=-(10**6), max_value=10**6, places=6, allow_nan=False))
def test_parse_dollars_is_exact(value: Decimal) -> None:
    assert parse_dollars(str(value)) == int(value * 1_000_000)
