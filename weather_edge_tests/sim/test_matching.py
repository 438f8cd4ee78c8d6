"""The matching engine: priority, YES/NO crossing, order types, amendments and fees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weather_edge.kalshi.fees import FeeSchedule, maker_fee, taker_fee
from weather_edge.sim.matching import (
    Action,
    IdFactory,
    MatchingEngine,
    Order,
    OrderRejected,
    OrderStatus,
    SelfTradePrevention,
    SeriesFees,
    Side,
    TimeInForce,
    book_price_of,
)

NOW = datetime(2026, 8, 23, 15, 0, tzinfo=UTC)
C = 100  # one contract in centi-contracts
CENT = 100  # one cent in centi-cents
QUADRATIC = SeriesFees(FeeSchedule("quadratic"))


def engine(fees: SeriesFees = QUADRATIC) -> MatchingEngine:
    return MatchingEngine("KXHIGHNY-26AUG24-B84.5", fees, IdFactory(0))


_ids = iter(range(1, 10**9))


def order(
    account: str,
    side: str,
    action: str,
    cents: int,
    contracts: float,
    **kw: object,
) -> Order:
    """An order with its YES price in cents (``side`` price for buys, like Kalshi's body)."""
    s, a = Side(side), Action(action)
    own = cents * CENT
    yes_price = own if s is Side.YES else 10_000 - own
    return Order(
        order_id=f"o{next(_ids)}",
        account=account,
        ticker="KXHIGHNY-26AUG24-B84.5",
        side=s,
        action=a,
        book_price=book_price_of(s, a, yes_price),
        initial_count=round(contracts * C),
        created_time=NOW,
        **kw,  # type: ignore[arg-type]
    )


def test_buy_and_sell_map_onto_the_two_bid_books() -> None:
    book = engine()
    book.submit(order("a", "yes", "buy", 40, 1), NOW)  # YES bid 0.40
    book.submit(order("a", "no", "buy", 30, 2), NOW)  # NO bid 0.30
    sell_yes = order("b", "yes", "sell", 80, 3)  # selling YES at 0.80 = a NO bid at 0.20
    sell_no = order("b", "no", "sell", 90, 4)  # selling NO at 0.90 = a YES bid at 0.10
    book.submit(sell_yes, NOW)
    book.submit(sell_no, NOW)
    assert book.levels(Side.YES) == [(1000, 4 * C), (4000, 1 * C)]
    assert book.levels(Side.NO) == [(2000, 3 * C), (3000, 2 * C)]
    assert (sell_yes.yes_price, sell_yes.no_price) == (8000, 2000)
    assert (sell_no.yes_price, sell_no.no_price) == (1000, 9000)


def test_yes_bid_crosses_no_bids_at_or_above_one_minus_its_price() -> None:
    book = engine()
    book.submit(order("maker", "no", "buy", 55, 10), NOW)  # a YES ask at 0.45
    miss = book.submit(order("taker", "yes", "buy", 44, 1), NOW)
    assert miss.trades == [] and miss.order is not None and miss.order.is_resting
    hit = book.submit(order("taker2", "yes", "buy", 60, 2), NOW)
    # trades at the resting order's price: YES 0.45 / NO 0.55, not the taker's 0.60
    assert [(t.yes_price, t.count, t.taker_side) for t in hit.trades] == [(4500, 2 * C, Side.YES)]
    assert hit.order is not None and hit.order.status is OrderStatus.EXECUTED
    assert hit.order.taker_fill_cost == 4500 * 2 * C


def test_price_then_time_priority() -> None:
    book = engine()
    first = order("a", "no", "buy", 50, 1)
    second = order("b", "no", "buy", 50, 1)
    better = order("c", "no", "buy", 52, 1)
    for o in (first, second, better):
        book.submit(o, NOW)
    result = book.submit(order("t", "yes", "buy", 50, 2.5), NOW)
    makers = [f.order_id for f in result.fills if not f.is_taker]
    assert makers == [better.order_id, first.order_id, second.order_id]
    assert [f.count for f in result.fills if not f.is_taker] == [C, C, C // 2]
    assert second.remaining == C // 2 and second.is_resting
    assert first.status is OrderStatus.EXECUTED


def test_partial_fill_rests_the_remainder_of_a_good_till_canceled_order() -> None:
    book = engine()
    book.submit(order("m", "yes", "buy", 30, 4), NOW)
    taker = order("t", "no", "buy", 75, 10)  # crosses YES bids >= 0.25
    result = book.submit(taker, NOW)
    assert sum(t.count for t in result.trades) == 4 * C
    assert taker.is_resting and taker.remaining == 6 * C and taker.filled == 4 * C
    assert book.levels(Side.NO) == [(7500, 6 * C)]
    assert book.levels(Side.YES) == []
    deltas = [(d.side, d.price, d.delta) for d in result.deltas]
    assert deltas == [(Side.YES, 3000, -4 * C), (Side.NO, 7500, 6 * C)]


def test_fractional_sizes_trade_exactly() -> None:
    book = engine()
    book.submit(order("m", "yes", "buy", 64, 22.81), NOW)
    result = book.submit(order("t", "yes", "sell", 60, 0.37), NOW)
    assert [t.count for t in result.trades] == [37]
    assert book.levels(Side.YES) == [(6400, 2281 - 37)]


def test_post_only_is_rejected_when_it_would_cross() -> None:
    book = engine()
    book.submit(order("m", "no", "buy", 55, 1), NOW)
    with pytest.raises(OrderRejected) as info:
        book.submit(order("t", "yes", "buy", 45, 1, post_only=True), NOW)
    assert info.value.details == "post only cross"
    assert book.levels(Side.YES) == []
    ok = book.submit(order("t", "yes", "buy", 44, 1, post_only=True), NOW)
    assert ok.order is not None and ok.order.is_resting


def test_immediate_or_cancel_keeps_what_filled_and_drops_the_rest() -> None:
    book = engine()
    book.submit(order("m", "no", "buy", 40, 3), NOW)
    ioc = order("t", "yes", "buy", 60, 5, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL)
    result = book.submit(ioc, NOW)
    assert ioc.filled == 3 * C and ioc.remaining == 0 and ioc.status is OrderStatus.CANCELED
    assert book.levels(Side.YES) == [] and book.levels(Side.NO) == []
    assert [d.side for d in result.deltas] == [Side.NO]  # nothing rested
    idle = order("t", "yes", "buy", 60, 1, time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL)
    assert book.submit(idle, NOW).fills == [] and idle.status is OrderStatus.CANCELED


def test_fill_or_kill_is_all_or_nothing() -> None:
    book = engine()
    book.submit(order("m", "no", "buy", 40, 3), NOW)
    book.submit(order("m2", "no", "buy", 38, 1), NOW)  # a YES ask at 0.62: beyond the limit
    too_big = order("t", "yes", "buy", 60, 4, time_in_force=TimeInForce.FILL_OR_KILL)
    result = book.submit(too_big, NOW)
    assert result.fills == [] and result.deltas == []
    assert too_big.status is OrderStatus.CANCELED and too_big.filled == 0
    assert book.levels(Side.NO) == [(3800, C), (4000, 3 * C)]
    exact = order("t", "yes", "buy", 62, 4, time_in_force=TimeInForce.FILL_OR_KILL)
    book.submit(exact, NOW)
    assert exact.status is OrderStatus.EXECUTED and exact.filled == 4 * C


def test_cancel_decrease_and_amend() -> None:
    book = engine()
    a = order("a", "yes", "buy", 40, 5)
    b = order("b", "yes", "buy", 40, 5)
    book.submit(a, NOW)
    book.submit(b, NOW)
    # a decrease keeps time priority
    dec = book.decrease(a.order_id, 2 * C, NOW)
    assert dec.reduced_by == 3 * C and [d.delta for d in dec.deltas] == [-3 * C]
    assert book.levels(Side.YES) == [(4000, 7 * C)]
    first = book.submit(order("t", "no", "buy", 60, 1), NOW)
    assert [f.order_id for f in first.fills if not f.is_taker] == [a.order_id]
    # an amend to a new price loses it, and its count includes what already filled
    book.amend(a.order_id, 4100, 3 * C, NOW)
    assert a.remaining == 2 * C and a.initial_count == 3 * C
    book.amend(a.order_id, 4000, 3 * C, NOW)
    second = book.submit(order("t", "no", "buy", 60, 1), NOW)
    assert [f.order_id for f in second.fills if not f.is_taker] == [b.order_id]
    # an amend that crosses trades at once, as a taker
    book.submit(order("c", "no", "buy", 55, 1), NOW)
    crossing = book.amend(b.order_id, 4500, b.initial_count, NOW)
    assert next((f.order_id, f.is_taker) for f in crossing.fills) == (b.order_id, True)
    # cancel takes the rest off the book
    cancel = book.cancel(a.order_id, NOW)
    assert cancel.reduced_by == 2 * C and a.status is OrderStatus.CANCELED
    with pytest.raises(OrderRejected) as info:
        book.cancel(a.order_id, NOW)
    assert info.value.status == 404


def test_the_taker_pays_the_taker_fee_and_the_maker_nothing_on_quadratic() -> None:
    book = engine()
    book.submit(order("m", "no", "buy", 50, 10), NOW)
    result = book.submit(order("t", "yes", "buy", 50, 10), NOW)
    taker, maker = result.fills
    assert taker.is_taker and not maker.is_taker
    assert taker.fee == taker_fee(QUADRATIC.schedule, 5000, 10 * C) == 180_000  # $0.18
    assert maker.fee == 0


def test_maker_fees_on_quadratic_with_maker_fees_series() -> None:
    schedule = FeeSchedule("quadratic_with_maker_fees")
    book = engine(SeriesFees(schedule))
    book.submit(order("m", "no", "buy", 50, 10), NOW)
    taker, maker = book.submit(order("t", "yes", "buy", 50, 10), NOW).fills
    assert maker.fee == maker_fee(schedule, 5000, 10 * C) == 50_000  # ceil(0.04375) = $0.05
    assert taker.fee == 180_000


def test_fees_accumulate_per_order_so_small_fills_cost_like_one() -> None:
    book = engine()
    for _ in range(10):
        book.submit(order("m", "no", "buy", 50, 1), NOW)
    taker = order("t", "yes", "buy", 50, 10)
    result = book.submit(taker, NOW)
    assert len(result.trades) == 10
    assert taker.taker_fees == sum(f.fee for f in result.fills if f.is_taker) == 180_000


def test_self_trade_prevention() -> None:
    book = engine()
    resting = order("me", "no", "buy", 50, 1)
    book.submit(resting, NOW)
    taker = order("me", "yes", "buy", 50, 1)
    book.submit(taker, NOW)  # default taker_at_cross: the incoming order is canceled
    assert taker.status is OrderStatus.CANCELED and resting.is_resting
    maker_mode = order("me", "yes", "buy", 50, 1, self_trade_prevention=SelfTradePrevention.MAKER)
    result = book.submit(maker_mode, NOW)
    assert resting.status is OrderStatus.CANCELED and result.canceled == [resting]
    assert maker_mode.is_resting


def test_buy_max_cost_caps_the_taker_spend() -> None:
    book = engine()
    book.submit(order("m", "no", "buy", 60, 10), NOW)  # YES ask 0.40
    capped = order("t", "yes", "buy", 40, 10, buy_max_cost=1_000_000)  # $1.00
    book.submit(capped, NOW)
    assert capped.filled == 250 and capped.status is OrderStatus.CANCELED  # 2.5 x 0.40


def test_off_grid_prices_are_refused() -> None:
    book = engine()
    bad = order("a", "yes", "buy", 40, 1)
    bad.book_price = 4050
    with pytest.raises(OrderRejected):
        book.submit(bad, NOW)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.sampled_from(["yes", "no"]),
            st.sampled_from(["buy", "sell"]),
            st.integers(1, 99),
            st.integers(1, 500),
            st.sampled_from(list(TimeInForce)),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_book_invariants(ops: list[tuple[str, str, str, int, int, TimeInForce, bool]]) -> None:
    """Whatever arrives: the book never stays crossed, deltas rebuild it, trades pair up."""
    book = engine()
    rebuilt: dict[tuple[Side, int], int] = {}
    orders = []
    for i, (account, side, action, cents, cq, tif, cancel_one) in enumerate(ops):
        o = order(account, side, action, cents, cq / C, time_in_force=tif)
        now = NOW + timedelta(seconds=i)
        results = [book.submit(o, now)]
        orders.append(o)
        if cancel_one and book.resting_orders():
            results.append(book.cancel(book.resting_orders()[0].order_id, now))
        for result in results:
            for d in result.deltas:
                rebuilt[(d.side, d.price)] = rebuilt.get((d.side, d.price), 0) + d.delta
            assert len(result.fills) == 2 * len(result.trades)
            for trade in result.trades:
                pair = [f for f in result.fills if f.trade_id == trade.trade_id]
                assert {f.is_taker for f in pair} == {True, False}
                assert {f.book_side for f in pair} == {Side.YES, Side.NO}
        yes, no = book.best_bid(Side.YES), book.best_bid(Side.NO)
        assert yes is None or no is None or yes + no < 10_000
    for side in Side:
        live = {p: s for (sd, p), s in rebuilt.items() if sd is side and s}
        assert live == dict(book.levels(side))
    for o in orders:
        assert o.filled + o.remaining <= o.initial_count
        assert o.is_resting == (book.resting(o.order_id) is not None)
