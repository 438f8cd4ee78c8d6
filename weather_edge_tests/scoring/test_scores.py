"""The hand-built day settled and scored end to end on both backends; every score is compared
with a value computed by hand here (the formulas of ``forecasting/scores.py``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from weather_edge.forecasting.baselines import market_distribution
from weather_edge.forecasting.distribution import Range
from weather_edge.scoring import score_partitions, settle
from weather_edge.scoring.snapshots import spread_rows
from weather_edge.storage import Warehouse
from weather_edge_tests.scoring import day as D

PART = [(D.DAY, D.CITY)]
Scores = dict[tuple[str, str, str], tuple[float, float | None]]
EPS = 1e-6
EARLY, LATE = "2025-12-17T23:00:00Z", "2025-12-18T21:00:00Z"
ORDER = ("T84", "B84.5", "B86.5", "T87")
OUTCOME = (0, 1, 0, 0)  # the CLI high, 85 °F, is in B84.5
Y = 85


def crps_by_hand(pmf: dict[int, float], y: int) -> float:
    """sum over integers t of (F(t) - 1{t >= y})^2."""
    total, cdf = 0.0, 0.0
    for t in range(min(*pmf, y) - 1, max(*pmf, y) + 2):
        cdf += pmf.get(t, 0.0)
        total += (cdf - (1.0 if t >= y else 0.0)) ** 2
    return total


def log_loss_by_hand(p: float, o: int) -> float:
    p = min(max(p, EPS), 1 - EPS)
    return -math.log(p) if o else -math.log(1 - p)


def rps_by_hand(p: list[float]) -> float:
    cum_p = [sum(p[: i + 1]) for i in range(3)]
    cum_o = [sum(OUTCOME[: i + 1]) for i in range(3)]
    return sum((a - b) ** 2 for a, b in zip(cum_p, cum_o, strict=True)) / 3


def market_pmf(p: list[float]) -> dict[int, float]:
    """Each bracket's probability spread uniformly; the tails over 4 integers."""
    spans = (range(80, 84), range(84, 86), range(86, 88), range(88, 92))
    return {t: q / len(span) for q, span in zip(p, spans, strict=True) for t in span}


def mid(bid: int | None, ask: int | None) -> float:
    return ((bid or 0) + (10_000 if ask is None else ask)) / 20_000


def cdf_at(pmf: dict[int, float], t: int) -> float:
    return sum(v for k, v in pmf.items() if k <= t)


@pytest.fixture
def scored(warehouse: Warehouse) -> Scores:
    """(subject, subject_key, metric) -> (value, lead_hours), after settling and scoring."""
    D.full_day().seed(warehouse)
    settle(warehouse, PART)
    summary = score_partitions(warehouse, PART)
    assert summary.rows_written == 97
    assert dict(summary.snapshots) == {"model": 2, "market": 2, "blend": 2}
    rows = warehouse.query("SELECT subject, subject_key, metric, value, lead_hours FROM scores")
    return {(s, k, m): (v, lead) for s, k, m, v, lead in rows}


def check_snapshot(
    scored: Scores,
    subject: str,
    key: str,
    lead: float,
    p: list[float],
    pmf: dict[int, float],
) -> None:
    """Every score of one distribution and its four brackets, against the hand values."""
    for suffix, q, o in zip(ORDER, p, OUTCOME, strict=True):
        bracket_key = f"{key}#{D.EVENT}-{suffix}"
        assert scored[subject, bracket_key, "brier"] == pytest.approx(((q - o) ** 2, lead))
        assert scored[subject, bracket_key, "log_loss"] == pytest.approx(
            (log_loss_by_hand(q, o), lead)
        )
    median = min(t for t in pmf if cdf_at(pmf, t) >= 0.5)
    assert scored[subject, key, "rps"] == pytest.approx((rps_by_hand(p), lead))
    assert scored[subject, key, "crps"] == pytest.approx((crps_by_hand(pmf, Y), lead))
    assert scored[subject, key, "mae"] == (abs(median - Y), lead)
    assert scored[subject, key, "median_error"] == (median - Y, lead)
    pit, _ = scored[subject, key, "pit"]
    assert cdf_at(pmf, Y - 1) - 1e-9 <= pit <= cdf_at(pmf, Y) + 1e-9


def test_model_snapshots_scored_by_hand(scored: Scores) -> None:
    # P(84)=0.5, P(85)=0.3, P(86)=0.2: brackets 0, 0.8, 0.2, 0.
    check_snapshot(
        scored, "model", f"m1/model@{EARLY}", 30.0, [0, 0.8, 0.2, 0], {84: 0.5, 85: 0.3, 86: 0.2}
    )
    # The numbers written out once, for the eye: Brier 0.04 on both middle brackets, RPS
    # (0 + 0.2^2 + 0) / 3, CRPS 0.5^2 + 0.2^2 = 0.29, log loss -ln 0.8, median 84.
    key = f"m1/model@{EARLY}"
    assert scored["model", f"{key}#{D.EVENT}-B84.5", "brier"][0] == pytest.approx(0.04)
    assert scored["model", key, "rps"][0] == pytest.approx(0.04 / 3)
    assert scored["model", key, "crps"][0] == pytest.approx(0.29)
    assert scored["model", f"{key}#{D.EVENT}-B86.5", "log_loss"][0] == pytest.approx(-math.log(0.8))
    assert scored["model", key, "mae"][0] == 1.0
    assert 0.5 <= scored["model", key, "pit"][0] <= 0.8
    # The late snapshot, stored as {"85": 1.0}: perfect, and its PIT anywhere in [0, 1].
    check_snapshot(scored, "model", f"m1/model@{LATE}", 8.0, [0, 1, 0, 0], {85: 1.0})
    assert scored["model", f"m1/model@{LATE}", "crps"][0] == 0.0


def test_market_implied_from_the_mids_at_the_snapshot(scored: Scores) -> None:
    for key, lead, book in ((EARLY, 30.0, D.QUOTES_EARLY), (LATE, 8.0, D.QUOTES_LATE)):
        mids = [mid(b, a) for b, a in book]  # the quotes just before, never the one after
        p = [m / sum(mids) for m in mids]
        check_snapshot(scored, "market", f"mid@{key}", lead, p, market_pmf(p))
    early = [m / 1.04 for m in (0.04, 0.60, 0.30, 0.10)]
    assert scored["market", f"mid@{EARLY}#{D.EVENT}-B84.5", "brier"][0] == pytest.approx(
        (early[1] - 1) ** 2
    )


def test_blend_is_half_model_half_market(scored: Scores) -> None:
    model: dict[str, tuple[list[float], dict[int, float]]] = {
        EARLY: ([0, 0.8, 0.2, 0], {84: 0.5, 85: 0.3, 86: 0.2}),
        LATE: ([0, 1, 0, 0], {85: 1.0}),
    }
    for key, lead, book in ((EARLY, 30.0, D.QUOTES_EARLY), (LATE, 8.0, D.QUOTES_LATE)):
        mids = [mid(b, a) for b, a in book]
        market = [m / sum(mids) for m in mids]
        p_model, pmf_model = model[key]
        p = [(a + b) / 2 for a, b in zip(p_model, market, strict=True)]
        spread = market_pmf(market)
        pmf = {t: (pmf_model.get(t, 0) + spread.get(t, 0)) / 2 for t in {*pmf_model, *spread}}
        check_snapshot(scored, "blend", f"m1/model+mid@{key}", lead, p, pmf)


def test_would_trades_realized_pnl_against_ev(scored: Scores) -> None:
    d1, d2 = f"shadow/d1-{D.DAY}", f"shadow/d2-{D.DAY}"
    # d1: 6 of 10 YES at 62¢ filled, B84.5 won: 600 cq x (10,000 - 6,200) cc - $0.10 fee.
    realized_d1 = 600 * (10_000 - 6_200) - 100_000
    # d2: 5 NO at 90¢ filled as maker, T87 lost so NO won: 500 x (10,000 - 9,000), no fee.
    realized_d2 = 500 * (10_000 - 9_000)
    expected = {
        (d1, "ev_micros"): 150_000 * 1000 / 100,
        (d1, "ev_filled_micros"): 150_000 * 600 / 100,
        (d1, "fill_rate"): 0.6,
        (d1, "fees_micros"): 100_000,
        (d1, "realized_pnl_micros"): realized_d1,
        (d1, "pnl_minus_ev_micros"): realized_d1 - 900_000,
        (d2, "ev_micros"): 50_000 * 500 / 100,
        (d2, "ev_filled_micros"): 250_000,
        (d2, "fill_rate"): 1.0,
        (d2, "fees_micros"): 0,
        (d2, "realized_pnl_micros"): realized_d2,
        (d2, "pnl_minus_ev_micros"): realized_d2 - 250_000,
    }
    got = {(k, m): v for (s, k, m), (v, _) in scored.items() if s == "trade"}
    assert got == expected  # exact: micro-dollars are integers
    assert scored["trade", d1, "fill_rate"][1] == 30.0  # decided 30 h before the day ended
    totals = {m: v for (s, k, m), (v, _) in scored.items() if s == "trading" and k == "shadow"}
    assert totals == {
        "would_trades": 2,
        "fill_rate": pytest.approx(1100 / 1500),
        "ev_micros": 1_750_000,
        "ev_filled_micros": 1_150_000,
        "fees_micros": 100_000,
        "realized_pnl_micros": realized_d1 + realized_d2,
        "pnl_minus_ev_micros": realized_d1 + realized_d2 - 1_150_000,
    }
    assert not any(k.endswith(f"d3-{D.DAY}") for (_, k, _) in scored)  # a no-trade


def test_rescoring_replaces_the_partition(warehouse: Warehouse) -> None:
    D.full_day().seed(warehouse)
    settle(warehouse, PART)
    first = score_partitions(warehouse, PART).rows_written
    before = warehouse.query_frame("SELECT * FROM scores").sort("subject", "subject_key", "metric")
    assert score_partitions(warehouse, PART).rows_written == first  # same rows again
    again = warehouse.query_frame("SELECT * FROM scores").sort("subject", "subject_key", "metric")
    assert again.equals(before)  # the PIT draws are reproducible too
    warehouse.execute("DELETE FROM predictions WHERE snapshot_at = ?", (D.SNAP_LATE,))
    score_partitions(warehouse, PART)
    keys = {k for (k,) in warehouse.query("SELECT subject_key FROM scores")}
    assert not any(LATE in k for k in keys if not k.startswith("mid@"))
    assert any(EARLY in k for k in keys)


def test_an_unsettled_day_scores_only_what_is_known(warehouse: Warehouse) -> None:
    d = D.full_day()
    for row in d.rows["lifecycle_events"]:
        row["result"] = None
    d.rows.pop("climate_reports")
    d.seed(warehouse)
    settle(warehouse, PART)
    summary = score_partitions(warehouse, PART)
    assert summary.notes == {"events not settled yet": 1}
    metrics = {(s, m) for s, m in warehouse.query("SELECT DISTINCT subject, metric FROM scores")}
    assert {s for s, _ in metrics} == {"trade", "trading"}
    assert ("trade", "realized_pnl_micros") not in metrics  # not settled: no P&L yet
    assert ("trade", "ev_micros") in metrics and ("trade", "fill_rate") in metrics


def test_market_spread_matches_the_forecasting_baseline() -> None:
    brackets = [Range(None, 83), Range(84, 85), Range(86, 87), Range(88, None)]
    low = np.array([np.nan, 84, 86, 88])
    high = np.array([83, 85, 87, np.nan])
    rows = spread_rows(low, high, 70, 30)
    for i in range(4):
        unit = np.eye(4)[i]
        expected = market_distribution(brackets, unit).on_grid(70, 99)
        np.testing.assert_allclose(rows[i], expected, atol=1e-12)
