"""The ledger's netting and exact P&L, and the persisted kill switch."""

from __future__ import annotations

from pathlib import Path

from weather_edge.trading.risk import KillSwitch, Mark, Portfolio

from .conftest import make_spec

CENT = 10_000


def test_sell_and_opposite_buy_net_exactly() -> None:
    spec = make_spec()
    book = Portfolio()
    book.apply_fill(spec, "yes", "buy", 4000, 1000, 20 * CENT)  # 10 YES at 40, $0.20 fee
    book.apply_fill(spec, "no", "buy", 3000, 500, 0)  # 5 NO at 30: 5 pairs pay $5
    assert book.position(spec.ticker) == 500
    assert book.cash_micros == -(400 + 20 + 150) * CENT + 500 * CENT
    book.apply_fill(spec, "yes", "sell", 6000, 500, 0)  # the other 5 at 60
    assert book.position(spec.ticker) == 0
    # bought 10 at 40 (-$4.20 with fees), sold 5 at 70 (via NO at 30) and 5 at 60
    assert book.cash_micros == (-420 + 350 + 300) * CENT
    assert book.exposure_micros == 0 and book.city_cq == {"NYC": 0}


def test_pnl_marks_and_settlement() -> None:
    spec = make_spec()
    book = Portfolio()
    book.apply_fill(spec, "no", "buy", 3333, 300, 0)  # 3 NO at 33.33¢
    assert book.position(spec.ticker) == -300
    assert book.pnl_micros({spec.ticker: Mark(6000, 3500)}) == 300 * 3500 - 300 * 3333
    assert book.pnl_micros({}) == 0  # unmarked: valued at cost
    assert book.settle(spec.ticker, "no") == 3 * 100 * CENT
    assert book.cash_micros == 300 * CENT - 300 * 3333


def test_kill_switch_persists_until_manual_reset(tmp_path: Path) -> None:
    path = tmp_path / "state" / "kill_switch.json"
    switch = KillSwitch(path)
    assert not switch.halted
    switch.trip("daily loss $120 > $100")
    assert KillSwitch(path).halted  # a restart sees it
    assert KillSwitch(path).reason == "daily loss $120 > $100"
    KillSwitch(path).reset(by="ops")
    assert not KillSwitch(path).halted
    path.write_text("{not json")
    assert KillSwitch(path).halted  # unreadable state fails closed
