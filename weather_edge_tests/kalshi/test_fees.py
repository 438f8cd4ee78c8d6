"""Fees against hand-computed values; maker/taker classification against a real captured book."""

from __future__ import annotations

from decimal import Decimal

import pytest

from weather_edge.kalshi.fees import (
    FeeSchedule,
    FeeScheduleError,
    classify_liquidity,
    fee,
    maker_fee,
    taker_fee,
)
from weather_edge.kalshi.recordings import RawOrderbookCapture

QUADRATIC = FeeSchedule("quadratic", Decimal(1))
WITH_MAKER = FeeSchedule("quadratic_with_maker_fees", Decimal(1))

# (contracts, price in dollars, exact fee, fee rounded up to the cent): 0.07 * C * P * (1 - P)
TAKER_TABLE = [
    ("1", "0.50", "0.0175", "0.02"),  # the documented maximum per contract
    ("1", "0.01", "0.000693", "0.01"),  # a tiny fee still costs a whole cent
    ("1", "0.99", "0.000693", "0.01"),  # symmetric in P and 1 - P
    ("100", "0.50", "1.75", "1.75"),  # already a whole cent: no rounding up
    ("10", "0.50", "0.175", "0.18"),  # Kalshi's own example
    ("100", "0.25", "1.3125", "1.32"),
    ("100", "0.10", "0.63", "0.63"),
    ("100", "0.05", "0.3325", "0.34"),
    ("0.50", "0.50", "0.00875", "0.01"),  # fractional contracts
    ("12.34", "0.37", "0.20135178", "0.21"),
    ("11813.60", "0.55", "204.670620", "204.68"),  # a real fractional book size
    ("0", "0.50", "0", "0.00"),
]


def _cc(dollars: str) -> int:
    return int(Decimal(dollars) * 10_000)


def _cq(contracts: str) -> int:
    return int(Decimal(contracts) * 100)


def _micros(dollars: str) -> int:
    return int(Decimal(dollars) * 1_000_000)


@pytest.mark.parametrize(("contracts", "price", "exact", "rounded"), TAKER_TABLE)
def test_taker_fee_is_the_quadratic_rounded_up_to_a_cent(
    contracts: str, price: str, exact: str, rounded: str
) -> None:
    # The table's exact column is the formula by hand; the fee is its ceiling to the cent.
    exact_fee = Decimal("0.07") * Decimal(contracts) * Decimal(price) * (1 - Decimal(price))
    assert exact_fee == Decimal(exact)
    assert taker_fee(QUADRATIC, _cc(price), _cq(contracts)) == _micros(rounded)
    assert taker_fee(WITH_MAKER, _cc(price), _cq(contracts)) == _micros(rounded)


def test_the_series_multiplier_scales_the_fee_before_rounding() -> None:
    half = FeeSchedule("quadratic", Decimal("0.5"))
    assert taker_fee(half, 5_000, 10_000) == _micros("0.88")  # 0.875 -> 0.88
    assert taker_fee(half, 5_000, 100) == _micros("0.01")  # 0.00875 -> 0.01


@pytest.mark.parametrize(
    ("contracts", "price", "rounded"),
    [
        ("1", "0.50", "0.01"),
        ("10", "0.50", "0.05"),
        ("100", "0.50", "0.44"),
        ("100", "0.10", "0.16"),
    ],
)
def test_maker_fee_only_on_series_with_maker_fees(contracts: str, price: str, rounded: str) -> None:
    # 0.0175 * C * P * (1 - P), rounded up to the cent like the taker fee (100 @ 50c: 0.4375).
    assert maker_fee(WITH_MAKER, _cc(price), _cq(contracts)) == _micros(rounded)
    assert maker_fee(QUADRATIC, _cc(price), _cq(contracts)) == 0
    assert maker_fee(FeeSchedule("flat", Decimal("0.02")), _cc(price), _cq(contracts)) == 0


def test_flat_fee_is_our_reading_a_fixed_amount_per_contract() -> None:
    flat = FeeSchedule("flat", Decimal("0.02"))
    assert taker_fee(flat, 5_000, 300) == _micros("0.06")
    assert taker_fee(flat, 100, 300) == _micros("0.06")  # independent of the price
    assert taker_fee(flat, 5_000, 150) == _micros("0.03")


def test_fee_picks_maker_or_taker() -> None:
    assert fee(WITH_MAKER, "taker", 5_000, 10_000) == _micros("1.75")
    assert fee(WITH_MAKER, "maker", 5_000, 10_000) == _micros("0.44")
    with pytest.raises(ValueError, match="liquidity"):
        fee(WITH_MAKER, "both", 5_000, 100)  # type: ignore[arg-type]


def test_out_of_range_fills_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        taker_fee(QUADRATIC, 10_001, 100)
    with pytest.raises(ValueError, match="negative"):
        taker_fee(QUADRATIC, 5_000, -100)


def test_schedule_from_series_json() -> None:
    response = {"series": {"ticker": "KXHIGHNY", "fee_type": "quadratic", "fee_multiplier": 1}}
    assert FeeSchedule.from_series(response) == QUADRATIC
    half = FeeSchedule.from_series({"fee_type": "quadratic_with_maker_fees", "fee_multiplier": 0.5})
    assert half.multiplier == Decimal("0.5")  # exactly, not the float nearest 0.5
    assert FeeSchedule.from_series(
        {"fee_type": "flat", "fee_multiplier": 0.1}
    ).multiplier == Decimal("0.1")


@pytest.mark.parametrize(
    "series",
    [
        {"fee_type": "quadratic"},  # no multiplier: never assume one
        {"fee_multiplier": 1},
        {"fee_type": "quadratic_with_combo_maker_fees", "fee_multiplier": 1},
        {"fee_type": "quadratic", "fee_multiplier": "lots"},
        {"fee_type": "quadratic", "fee_multiplier": -1},
        {"fee_type": "quadratic", "fee_multiplier": True},
    ],
)
def test_schedule_refuses_what_it_does_not_understand(series: dict[str, object]) -> None:
    with pytest.raises(FeeScheduleError):
        FeeSchedule.from_series(series)


def test_classify_liquidity_on_a_real_book(t75: RawOrderbookCapture) -> None:
    book = t75.book()  # best YES bid 0.65, best NO bid 0.33
    assert (book.yes_bid_cc, book.yes_ask_cc) == (6_500, 6_700)
    assert classify_liquidity("yes", "buy", 6_700, book) == "taker"  # at the ask
    assert classify_liquidity("yes", "buy", 9_900, book) == "taker"  # through it
    assert classify_liquidity("yes", "buy", 6_600, book) == "maker"  # inside the spread
    assert classify_liquidity("yes", "sell", 6_500, book) == "taker"
    assert classify_liquidity("yes", "sell", 6_600, book) == "maker"
    assert classify_liquidity("no", "buy", 3_500, book) == "taker"  # NO ask = 1 - 0.65
    assert classify_liquidity("no", "buy", 3_400, book) == "maker"
    assert classify_liquidity("no", "sell", 3_300, book) == "taker"
    assert classify_liquidity("no", "sell", 3_400, book) == "maker"
    assert classify_liquidity("yes", "buy", 6_700, book.top()) == "taker"  # a TopOfBook works too


def test_nothing_crosses_an_empty_side(t82: RawOrderbookCapture) -> None:
    # No YES bids: selling YES or buying NO can only rest.
    book = t82.book()
    assert book.yes_bid_cc is None
    assert classify_liquidity("yes", "sell", 100, book) == "maker"
    assert classify_liquidity("no", "buy", 9_900, book) == "maker"
    assert classify_liquidity("yes", "buy", 100, book) == "taker"  # the YES ask is 0.01
