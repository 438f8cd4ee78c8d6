"""Order books: real captures against the recorder's summaries, WS frames, integrity, depth."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weather_edge.kalshi.book import (
    BookIntegrityError,
    BookStore,
    OrderBook,
    SequenceGapError,
    TopOfBook,
    book_from_levels,
    decode_book_message,
    parse_rest_orderbook,
)
from weather_edge.kalshi.errors import KalshiProtocolError
from weather_edge.kalshi.recordings import (
    RawOrderbookCapture,
    read_orderbook_summaries,
)
from weather_edge.money import format_price, format_size


def test_real_captures_match_the_recorded_summaries(
    kxhighny: Path, captures: list[RawOrderbookCapture]
) -> None:
    summaries = read_orderbook_summaries(kxhighny)
    by_key = {(r["market_ticker"], r["fetched_at"]): r for r in summaries.iter_rows(named=True)}
    assert len(captures) == 66
    for capture in captures:
        row = by_key[(capture.market_ticker, capture.fetched_at)]  # every capture has its row
        book = capture.book()
        top = book.top()
        where = f"{capture.market_ticker} at {capture.fetched_at}"
        assert (top.yes_bid_cc, top.yes_ask_cc) == (row["yes_bid_cc"], row["yes_ask_cc"]), where
        assert (top.no_bid_cc, top.no_ask_cc) == (row["no_bid_cc"], row["no_ask_cc"]), where
        assert (top.yes_bid_cq or None, top.no_bid_cq or None) == (
            row["yes_bid_cq"],
            row["no_bid_cq"],
        ), where
        assert (top.yes_ask_cq or None) == row["yes_ask_cq"], where
        assert top.yes_spread_cc == row["yes_spread_cc"], where
        assert book.depth("yes") == row["yes_bid_depth_cq"], where
        assert book.depth("no") == row["no_bid_depth_cq"], where
        assert not top.crossed


def test_rest_payload_lists_the_best_bid_last(t75: RawOrderbookCapture) -> None:
    assert t75.no_levels[-1] == (3_300, 5_744)  # ["0.3300", "57.44"], the best NO bid
    assert [p for p, _ in t75.no_levels] == sorted(p for p, _ in t75.no_levels)
    book = t75.book()
    assert book.no_bid_cc == 3_300
    assert book.levels("no")[0] == (3_300, 5_744)


def test_rest_payload_with_an_empty_side() -> None:
    yes, no = parse_rest_orderbook(
        {"orderbook_fp": {"yes_dollars": None, "no_dollars": [["0.9900", "509.00"]]}}
    )
    assert (yes, no) == ([], [(9_900, 50_900)])
    assert parse_rest_orderbook({"no_dollars": [["0.99", "1.5"]]}) == ([], [(9_900, 150)])


@pytest.mark.parametrize(
    "levels",
    [
        [["0.5000", "0.00"]],
        [["0.5000", "-1.00"]],
        [["1.0000", "1.00"]],
        [["0.5", "1"], ["0.50", "2"]],
    ],
)
def test_rest_payload_refuses_levels_that_cannot_be_a_book(levels: list[list[str]]) -> None:
    with pytest.raises(KalshiProtocolError):
        parse_rest_orderbook({"yes_dollars": levels})


def _snapshot_frame(
    sid: int, seq: int, capture: RawOrderbookCapture, *, drop_yes: bool = False
) -> str:
    msg: dict[str, object] = {"market_ticker": capture.market_ticker, "market_id": "m-1"}
    if not drop_yes:
        msg["yes_dollars_fp"] = [[format_price(p), format_size(s)] for p, s in capture.yes_levels]
    msg["no_dollars_fp"] = [[format_price(p), format_size(s)] for p, s in capture.no_levels]
    return json.dumps({"type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": msg})


def _delta_frame(sid: int, seq: int, ticker: str, side: str, price: str, delta: str) -> str:
    msg = {
        "market_ticker": ticker,
        "market_id": "m-1",
        "price_dollars": price,
        "delta_fp": delta,
        "side": side,
        "ts": "2026-09-01T17:46:26.000000Z",
    }
    return json.dumps({"type": "orderbook_delta", "sid": sid, "seq": seq, "msg": msg})


def test_ws_snapshot_and_deltas_drive_the_book(t75: RawOrderbookCapture) -> None:
    store = BookStore()
    top = store.on_message(_snapshot_frame(7, 1, t75))
    assert top == t75.book().top()
    ticker = t75.market_ticker
    # A bid below the best changes nothing at the top.
    assert store.on_message(_delta_frame(7, 2, ticker, "yes", "0.4000", "10.00")) is None
    # A new best NO bid moves the YES ask to 1 - 0.34.
    top = store.on_message(_delta_frame(7, 3, ticker, "no", "0.3400", "2.50"))
    assert top is not None and (top.yes_ask_cc, top.yes_ask_cq) == (6_600, 250)
    # Taking it all away restores the captured top.
    top = store.on_message(_delta_frame(7, 4, ticker, "no", "0.34", "-2.50"))
    assert top == t75.book().top()
    assert store.books[ticker].size_at("yes", 4_000) == 1_000
    assert store.last_message is not None and store.last_message.seq == 4


def test_ws_snapshot_may_omit_an_empty_side(t75: RawOrderbookCapture) -> None:
    top = BookStore().on_message(_snapshot_frame(1, 1, t75, drop_yes=True))
    assert top is not None
    assert (top.yes_bid_cc, top.no_ask_cc, top.no_bid_cc) == (None, None, 3_300)


def test_other_ws_messages_are_not_book_messages() -> None:
    ticker = {"type": "ticker", "sid": 3, "msg": {"market_ticker": "X", "price_dollars": "0.5"}}
    assert decode_book_message(json.dumps(ticker)) is None
    assert decode_book_message(b'{"id": 1, "type": "subscribed", "msg": {"sid": 1}}') is None
    assert BookStore().on_message(json.dumps(ticker)) is None


@pytest.mark.parametrize(
    "frame",
    [
        b'{"type": "orderbook_delta", "sid": 1, "msg": {"market_ticker": "X"}}',
        b'{"type": "orderbook_delta", "sid": 1, "msg": {"market_ticker": "X", '
        b'"price_dollars": "0.5", "delta_fp": "1.00", "side": "maybe"}}',
        b"not json",
    ],
)
def test_broken_book_messages_are_protocol_errors(frame: bytes) -> None:
    with pytest.raises(KalshiProtocolError):
        decode_book_message(frame)


def test_a_level_going_negative_makes_the_book_stale_until_a_snapshot() -> None:
    book = book_from_levels("KXHIGHNY-26SEP02-B77.5", [(900, 5_300)], [(9_000, 1_900)])
    with pytest.raises(BookIntegrityError, match=r"would go to -1\.00"):
        book.apply_delta("yes", 900, -5_400)
    assert book.needs_resync
    assert book.size_at("yes", 900) == 5_300  # untouched: the caller must resnapshot
    with pytest.raises(BookIntegrityError, match="stale"):
        book.apply_delta("yes", 900, -100)
    book.apply_snapshot([(900, 5_200)], [(9_000, 1_900)])
    assert not book.needs_resync
    assert book.apply_delta("yes", 900, -5_200) is True
    assert book.yes_bid_cc is None


def test_crossed_and_locked_books_are_flagged() -> None:
    normal = book_from_levels("X", [(4_500, 100)], [(5_300, 100)])  # YES 0.45 / 0.47
    assert not normal.crossed and normal.yes_spread_cc == 200
    assert normal.yes_mid_cc == Fraction(4_600)
    locked = book_from_levels("X", [(4_700, 100)], [(5_300, 100)])  # YES bid = YES ask
    assert locked.crossed and locked.yes_spread_cc == 0
    normal.apply_delta("yes", 4_900, 100)  # a YES bid above the 0.47 ask
    assert normal.crossed and normal.top().crossed and normal.yes_spread_cc == -200
    assert not book_from_levels("X", [(4_700, 100)], []).crossed  # one side: nothing to cross


def test_sequence_gap_marks_the_subscription_stale(
    t75: RawOrderbookCapture, t82: RawOrderbookCapture
) -> None:
    store = BookStore()
    store.on_message(_snapshot_frame(1, 1, t75))
    store.on_message(_snapshot_frame(1, 2, t82))
    store.on_message(_delta_frame(1, 3, t75.market_ticker, "yes", "0.6600", "1.00"))
    with pytest.raises(SequenceGapError) as gap:
        store.on_message(_delta_frame(1, 5, t75.market_ticker, "yes", "0.6600", "1.00"))
    assert (gap.value.expected, gap.value.got) == (4, 5)
    assert gap.value.stale_markets == (t75.market_ticker, t82.market_ticker)
    assert store.stale_markets() == [t75.market_ticker, t82.market_ticker]
    assert store.books[t75.market_ticker].size_at("yes", 6_600) == 100  # seq 5 was not applied
    # Deltas to a stale book are dropped; its snapshot makes it trustworthy again.
    assert store.on_message(_delta_frame(1, 6, t75.market_ticker, "yes", "0.6600", "1")) is None
    assert store.on_message(_snapshot_frame(1, 7, t75)) == t75.book().top()
    assert store.stale_markets() == [t82.market_ticker]


def test_a_delta_before_any_snapshot_is_refused() -> None:
    with pytest.raises(BookIntegrityError, match="before any snapshot"):
        BookStore().on_message(_delta_frame(1, 1, "KXHIGHNY-26SEP02-T75", "yes", "0.5", "1.00"))


def test_depth_to_walks_the_real_book(t75: RawOrderbookCapture) -> None:
    book = t75.book()
    # Buying 80 YES lifts the NO bids: 57.44 at 1 - 0.33, then 22.56 of the 49 at 1 - 0.32.
    fill = book.depth_to("yes", "buy", 8_000)
    assert fill.levels == ((6_700, 5_744), (6_800, 2_256))
    assert fill.complete and fill.filled_cq == 8_000
    assert fill.notional_micros == 6_700 * 5_744 + 6_800 * 2_256  # $53.8256
    assert fill.average_price_cc == Fraction(53_825_600, 8_000)
    assert fill.worst_price_cc == 6_800
    # Selling YES hits the YES bids at their own prices, best first.
    sell = book.depth_to("yes", "sell", 100)
    assert sell.levels[0][0] == book.yes_bid_cc
    # Asking for more than the whole side fills what there is.
    everything = book.depth_to("no", "sell", 10**12)
    assert not everything.complete and everything.filled_cq == book.depth("no")
    assert book.depth_to("no", "buy", 0).average_price_cc is None


def test_top_of_book_is_an_immutable_value() -> None:
    top = book_from_levels("X", [(4_500, 100)], [(5_300, 250)]).top()
    assert top == TopOfBook("X", 4_500, 100, 5_300, 250)
    assert hash(top) == hash(TopOfBook("X", 4_500, 100, 5_300, 250))
    with pytest.raises(dataclasses.FrozenInstanceError):
        top.yes_bid_cc = 1  # type: ignore[misc]
    assert (top.yes_ask_cc, top.yes_ask_cq, top.no_ask_cc, top.no_ask_cq) == (
        4_700,
        250,
        5_500,
        100,
    )
    assert top.yes_mid_probability == pytest.approx(0.46)


# --- property: any delta sequence equals the book rebuilt from the final snapshot ----------

# Mostly a few prices near each other, so deltas often land on, empty and replace the best
# level; sometimes any price, fractional sizes included.
_prices = st.sampled_from([4_400, 4_500, 4_600, 4_700, 5_300, 5_400]) | st.integers(1, 9_999)
_sizes = st.integers(min_value=1, max_value=50_000)
_sides = st.sampled_from(["yes", "no"])
_levels = st.dictionaries(_prices, _sizes, max_size=6)


@settings(max_examples=400, deadline=None)
@given(
    initial_yes=_levels,
    initial_no=_levels,
    steps=st.lists(
        st.tuples(_sides, _prices, st.integers(min_value=-60_000, max_value=50_000)),
        max_size=60,
    ),
)
def test_any_delta_sequence_equals_the_book_rebuilt_from_the_final_snapshot(
    initial_yes: dict[int, int],
    initial_no: dict[int, int],
    steps: list[tuple[str, int, int]],
) -> None:
    book = book_from_levels("KXHIGHNY-26SEP02-B77.5", initial_yes.items(), initial_no.items())
    store = BookStore()
    ticker = book.market_ticker
    snapshot = {
        "type": "orderbook_snapshot",
        "sid": 9,
        "seq": 1,
        "msg": {
            "market_ticker": ticker,
            "yes_dollars_fp": [[format_price(p), format_size(s)] for p, s in initial_yes.items()],
            "no_dollars_fp": [[format_price(p), format_size(s)] for p, s in initial_no.items()],
        },
    }
    store.on_message(json.dumps(snapshot))
    truth = {"yes": dict(initial_yes), "no": dict(initial_no)}
    for seq, (side, price, wanted) in enumerate(steps, start=2):
        delta = max(wanted, -truth[side].get(price, 0))  # the exchange never goes below zero
        before = book.top()
        changed = book.apply_delta(side, price, delta)
        via_ws = store.on_message(
            _delta_frame(9, seq, ticker, side, format_price(price), format_size(delta))
        )
        truth[side][price] = truth[side].get(price, 0) + delta
        if not truth[side][price]:
            del truth[side][price]
        assert changed == (book.top() != before)
        assert (
            book.top() == book_from_levels(ticker, truth["yes"].items(), truth["no"].items()).top()
        )
        assert (via_ws is not None) == changed
        assert via_ws is None or via_ws == book.top()
    rebuilt = book_from_levels(ticker, truth["yes"].items(), truth["no"].items())
    for candidate in (book, store.books[ticker]):
        assert candidate.levels("yes") == rebuilt.levels("yes")
        assert candidate.levels("no") == rebuilt.levels("no")
        assert candidate.top() == rebuilt.top()


def test_apply_snapshot_reports_whether_the_top_changed() -> None:
    book = OrderBook("X")
    assert book.apply_snapshot([(4_500, 100)], []) is True
    assert book.apply_snapshot([(4_500, 100), (4_000, 7)], []) is False  # only deeper levels
    assert book.apply_snapshot([(4_500, 101)], []) is True  # the best size changed


def test_a_frame_broken_after_its_type_tag_is_a_protocol_error() -> None:
    from weather_edge.kalshi.book import decode_book_message
    from weather_edge.kalshi.errors import KalshiProtocolError

    broken = b'{"type":"trade","sid":2,"msg":{"trade_id":"t1","market_ticker" "X"}}'
    with pytest.raises(KalshiProtocolError):
        decode_book_message(broken)
