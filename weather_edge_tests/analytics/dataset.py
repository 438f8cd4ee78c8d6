"""A small, realistic warehouse for the analytics tests, with the figures the marts must show.

Two cities, eight settled climate days ending the day before ``NOW`` plus one day 40 days
earlier (inside "cumulative", outside "last 30 days"). Each event has five brackets (two tails
and three 2 °F brackets around the forecast); every day has forecasts, a model distribution
with bracket probabilities at two snapshots (about 30 h and 8 h before the climate day ends),
quotes, trades, would-trade decisions in shadow mode (trades and no-trades with reasons),
shadow fills with taker fees, settlements on the CLI high, and scores for model, market and
blend. Everything is deterministic (a seeded generator).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from weather_edge.storage import Warehouse
from weather_edge.weather.cities import get_city
from weather_edge.weather.climate_day import climate_day_bounds

NOW = datetime(2025, 12, 20, 15, 0, tzinfo=UTC)
CITIES = ("NYC", "CHI")
MODEL = "gauss-v1"
SNAPSHOT_LEADS_H = (30.0, 8.0)
CONFIG_HASH = "cfg-0001"


def climate_days() -> list[date]:
    last = NOW.date() - timedelta(days=2)
    recent = [last - timedelta(days=i) for i in range(7, -1, -1)]
    return [last - timedelta(days=40), *recent]


def _normal_cdf(x: float, mu: float, sigma: float) -> float:
    return 0.5 * (1 + math.erf((x - mu) / (sigma * math.sqrt(2))))


def distribution(mu: float, sigma: float) -> dict[int, float]:
    """P(high = t) for integer t, mass outside ±6σ folded into the end points; sums to 1."""
    lo, hi = math.floor(mu - 6 * sigma), math.ceil(mu + 6 * sigma)
    probs = {
        t: _normal_cdf(t + 0.5, mu, sigma) - _normal_cdf(t - 0.5, mu, sigma)
        for t in range(lo, hi + 1)
    }
    probs[lo] += _normal_cdf(lo - 0.5, mu, sigma)
    probs[hi] += 1 - _normal_cdf(hi + 0.5, mu, sigma)
    total = sum(probs.values())
    return {t: p / total for t, p in probs.items()}


@dataclass(frozen=True)
class Bracket:
    ticker: str
    low: int | None  # wins when low <= high_f <= high (None = open)
    high: int | None

    def wins(self, high_f: int) -> bool:
        return (self.low is None or high_f >= self.low) and (
            self.high is None or high_f <= self.high
        )

    def probability(self, dist: dict[int, float]) -> float:
        return sum(p for t, p in dist.items() if self.wins(t))


def brackets(city: str, day: date, center: int) -> list[Bracket]:
    """Kalshi-style: `T` tails and `B` 2 °F brackets (B84.5 = 84 or 85)."""
    series = get_city(city).series_ticker
    event = f"{series}-{day.strftime('%y%b%d').upper()}"
    first = center - 3  # brackets [c-3, c-2], [c-1, c], [c+1, c+2]
    out = [Bracket(f"{event}-T{first}", None, first - 1)]
    out += [Bracket(f"{event}-B{lo + 0.5}", lo, lo + 1) for lo in range(first, first + 6, 2)]
    out.append(Bracket(f"{event}-T{first + 5}", first + 6, None))
    return out


def taker_fee_micros(price_cc: int, count_cq: int) -> int:
    """0.07 × C × P × (1 − P), rounded up to the cent (Kalshi's general taker schedule)."""
    raw = 7 * count_cq * price_cc * (10_000 - price_cc)  # in 1e-2 × 1e-2 × 1e-8 dollars
    cents = -(-raw // (100 * 100 * 10_000 * 100))  # ceil to whole cents
    return cents * 10_000


@dataclass
class Dataset:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Expected figures, computed here independently of the SQL.
    realized_pnl_micros: dict[tuple[date, str], int] = field(default_factory=dict)
    fees_micros: dict[tuple[date, str], int] = field(default_factory=dict)
    no_trade_reasons: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, **row: Any) -> None:
        self.rows.setdefault(table, []).append(row)


def build_dataset() -> Dataset:
    rng = random.Random(20251220)
    data = Dataset()
    for city_code in CITIES:
        city = get_city(city_code)
        base = 44.0 if city_code == "NYC" else 36.0
        for day in climate_days():
            _, day_end = climate_day_bounds(city, day)
            truth = round(base + rng.gauss(0, 5))
            forecast = truth + rng.gauss(0.5, 2.5)
            center = round(forecast)
            event = brackets(city_code, day, center)
            high = truth
            for b in event:
                data.add(
                    "markets",
                    ticker=b.ticker,
                    event_ticker=b.ticker.rsplit("-", 1)[0],
                    series_ticker=city.series_ticker,
                    city=city_code,
                    climate_day=day,
                    strike_type="between"
                    if b.low is not None and b.high is not None
                    else ("less" if b.low is None else "greater"),
                    floor_strike=b.low,
                    cap_strike=b.high,
                    wins_low_f=b.low,
                    wins_high_f=b.high,
                    status="settled",
                    close_time=day_end,
                    result="yes" if b.wins(high) else "no",
                    updated_at=day_end + timedelta(hours=10),
                )
                data.add(
                    "settlements",
                    market_ticker=b.ticker,
                    city=city_code,
                    climate_day=day,
                    market_result="yes" if b.wins(high) else "no",
                    cli_high_f=high,
                    expected_result="yes" if b.wins(high) else "no",
                    agrees=True,
                    settled_at=day_end + timedelta(hours=10),
                    later_cli_high_f=None,
                )
            for lead in SNAPSHOT_LEADS_H:
                snapshot = day_end - timedelta(hours=lead)
                sigma = 3.4 if lead > 12 else 2.0
                mu = forecast if lead > 12 else (forecast + truth) / 2
                data.add(
                    "forecasts",
                    city=city_code,
                    climate_day=day,
                    source="open-meteo",
                    issued_at=snapshot - timedelta(hours=1),
                    forecast_high_f=round(mu, 1),
                    sigma_f=sigma,
                    lead_hours=lead + 1,
                    suspect=False,
                    retrieved_at=snapshot - timedelta(minutes=50),
                )
                dist = distribution(mu, sigma)
                data.add(
                    "predictions",
                    city=city_code,
                    climate_day=day,
                    snapshot_at=snapshot,
                    model_version=MODEL,
                    variant="base",
                    distribution_json=json.dumps({str(t): p for t, p in dist.items()}),
                    median_f=round(mu),
                    inputs_hash=f"h-{city_code}-{day}-{lead}",
                )
                _add_snapshot_rows(data, rng, city_code, day, snapshot, lead, event, dist, high)
            _add_scores(data, rng, city_code, day)
    return data


def _add_snapshot_rows(
    data: Dataset,
    rng: random.Random,
    city: str,
    day: date,
    snapshot: datetime,
    lead: float,
    event: list[Bracket],
    dist: dict[int, float],
    high: int,
) -> None:
    for i, b in enumerate(event):
        p = b.probability(dist)
        data.add(
            "bracket_predictions",
            market_ticker=b.ticker,
            snapshot_at=snapshot,
            model_version=MODEL,
            variant="base",
            city=city,
            climate_day=day,
            probability=p,
        )
        # The market: the model's probability nudged, a 2-4 ¢ spread, never crossed.
        mid = min(max(p + rng.gauss(0, 0.06), 0.03), 0.97)
        half = rng.choice((100, 150, 200))
        bid_cc = max(100, round(mid * 10_000) - half)
        ask_cc = min(9_900, round(mid * 10_000) + half)
        data.add(
            "quotes",
            market_ticker=b.ticker,
            source_id=f"q-{b.ticker}-{lead}",
            ts=snapshot - timedelta(seconds=5),
            received_at=snapshot - timedelta(seconds=4),
            yes_bid_cc=bid_cc,
            yes_bid_size_cq=rng.randrange(100, 50_000),
            yes_ask_cc=ask_cc,
            yes_ask_size_cq=rng.randrange(100, 50_000),
            source="ws",
        )
        data.add(
            "trades",
            trade_id=f"t-{b.ticker}-{lead}",
            market_ticker=b.ticker,
            ts=snapshot - timedelta(minutes=3),
            yes_price_cc=ask_cc,
            no_price_cc=10_000 - ask_cc,
            count_cq=rng.randrange(100, 2_000),
            taker_side="yes",
            source="ws",
        )
        _add_decision(data, city, day, snapshot, lead, i, b, p, bid_cc, ask_cc, high)


def _add_decision(
    data: Dataset,
    city: str,
    day: date,
    snapshot: datetime,
    lead: float,
    i: int,
    b: Bracket,
    p: float,
    bid_cc: int,
    ask_cc: int,
    high: int,
) -> None:
    decision_id = f"d-{b.ticker}-{lead}"
    edge_yes = p - ask_cc / 10_000
    edge_no = (1 - p) - (10_000 - bid_cc) / 10_000
    side, price_cc, edge = (
        ("yes", ask_cc, edge_yes) if edge_yes >= edge_no else ("no", 10_000 - bid_cc, edge_no)
    )
    count_cq = 1_000
    fee = taker_fee_micros(price_cc, count_cq)
    ev_micros = round(edge * 1_000_000) - fee * 100 // count_cq
    would_trade = ev_micros > 5_000 and i != 0
    if would_trade:
        reason = "edge above threshold"
    elif i == 0 and ev_micros > 5_000:
        reason = "tail bracket: liquidity below minimum"
    else:
        reason = "expected value after fees below threshold"
    if not would_trade:
        data.no_trade_reasons[reason] = data.no_trade_reasons.get(reason, 0) + 1
    data.add(
        "decisions",
        decision_id=decision_id,
        evaluated_at=snapshot,
        market_ticker=b.ticker,
        city=city,
        climate_day=day,
        mode="shadow",
        would_trade=would_trade,
        side=side if would_trade else None,
        action="buy" if would_trade else None,
        liquidity="taker" if would_trade else None,
        price_cc=price_cc if would_trade else None,
        count_cq=count_cq if would_trade else None,
        probability=p,
        ev_per_contract_micros=ev_micros,
        reason=reason,
        model_version=MODEL,
        config_hash=CONFIG_HASH,
        inputs_json=json.dumps({"p": p, "bid_cc": bid_cc, "ask_cc": ask_cc}),
    )
    if not would_trade:
        return
    data.add(
        "fills",
        fill_id=f"f-{decision_id}",
        client_order_id=f"c-{decision_id}",
        order_id=None,
        market_ticker=b.ticker,
        side=side,
        action="buy",
        price_cc=price_cc,
        count_cq=count_cq,
        fee_micros=fee,
        is_taker=True,
        mode="shadow",
        ts=snapshot + timedelta(seconds=1),
    )
    won = b.wins(high) == (side == "yes")
    pnl = (10_000 * count_cq if won else 0) - price_cc * count_cq - fee
    key = (day, city)
    data.realized_pnl_micros[key] = data.realized_pnl_micros.get(key, 0) + pnl
    data.fees_micros[key] = data.fees_micros.get(key, 0) + fee


def _add_scores(data: Dataset, rng: random.Random, city: str, day: date) -> None:
    for subject, skill in (("model", 1.0), ("market", 0.85), ("blend", 0.8)):
        for lead in SNAPSHOT_LEADS_H:
            scale = skill * (1.0 if lead > 12 else 0.6)
            values = {
                "brier": min(0.9, 0.12 * scale + rng.uniform(-0.03, 0.03)),
                "log_loss": 0.4 * scale + rng.uniform(-0.05, 0.05),
                "crps": 1.9 * scale + rng.uniform(-0.3, 0.3),
                "rps": 0.08 * scale + rng.uniform(-0.02, 0.02),
                "mae": 2.4 * scale + rng.uniform(-0.4, 0.4),
                "pit": rng.random(),
            }
            for metric, value in values.items():
                data.add(
                    "scores",
                    city=city,
                    climate_day=day,
                    subject=subject,
                    subject_key=f"{subject}@{int(lead)}h",
                    metric=metric,
                    value=value,
                    lead_hours=lead,
                )


def seed(warehouse: Warehouse, dataset: Dataset | None = None) -> Dataset:
    """Write the dataset into a migrated warehouse; returns it (with its expected figures)."""
    data = dataset or build_dataset()
    for table, rows in data.rows.items():
        warehouse.upsert(table, rows)
    return data
