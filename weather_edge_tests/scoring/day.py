"""A small hand-built climate day (NYC, 18 Dec 2025) whose every score is known by hand.

Four markets tile the integers: ``T84`` (83 or below), ``B84.5`` (84-85), ``B86.5`` (86-87),
``T87`` (88 or above). The final CLI, issued before expiration, says 85 °F, so ``B84.5``
settles YES; a correction to 81 °F issued after expiration is recorded, not applied.

Two model snapshots: 30 h before the day ends, P(84)=0.5, P(85)=0.3, P(86)=0.2 (stored as
``{"lo", "pmf"}``); 8 h before, a point mass on 85 (stored in the ``{"85": 1.0}`` shape).
Quotes give the market mids at each snapshot (a later quote must not count). Two shadow
would-trades with fills (one linked through its order row, one through the deterministic
client order id), and one no-trade.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from weather_edge.storage import Warehouse
from weather_edge.trading.orders import FILL_COLUMNS, client_order_id_for

DAY = dt.date(2025, 12, 18)
CITY = "NYC"
EVENT = "KXHIGHNY-25DEC18"
DAY_END = dt.datetime(2025, 12, 19, 5, 0, tzinfo=dt.UTC)  # midnight EST
EXPIRATION = dt.datetime(2025, 12, 19, 15, 0, tzinfo=dt.UTC)
SNAP_EARLY = DAY_END - dt.timedelta(hours=30)
SNAP_LATE = DAY_END - dt.timedelta(hours=8)
MODEL, VARIANT = "m1", "model"
CLI_HIGH = 85

# ticker -> (wins_low_f, wins_high_f, strike_type)
BRACKETS: dict[str, tuple[int | None, int | None, str]] = {
    f"{EVENT}-T84": (None, 83, "less"),
    f"{EVENT}-B84.5": (84, 85, "between"),
    f"{EVENT}-B86.5": (86, 87, "between"),
    f"{EVENT}-T87": (88, None, "greater"),
}
TICKERS = list(BRACKETS)
# (bid_cc, ask_cc) per market at each snapshot; the mids sum to 1.04 early, 1.00 late.
QUOTES_EARLY = [(300, 500), (5800, 6200), (2800, 3200), (900, 1100)]
QUOTES_LATE = [(100, 300), (8800, 9200), (500, 900), (None, 200)]


def ts(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


@dataclass
class Day:
    """Rows per table of one hand-built day (mutable, so a test can craft a variant)."""

    day: dt.date = DAY
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, **row: Any) -> None:
        self.rows.setdefault(table, []).append(row)

    def seed(self, warehouse: Warehouse) -> None:
        for table, rows in self.rows.items():
            warehouse.upsert(table, rows, update=True)


def event_ticker(day: dt.date) -> str:
    return f"KXHIGHNY-{day.strftime('%y%b%d').upper()}"


def markets(d: Day, results: dict[str, str] | None = None, lifecycle: bool = True) -> None:
    """The four markets; ``results`` (default: by the CLI high) as determined messages."""
    event = event_ticker(d.day)
    expiration = EXPIRATION + (d.day - DAY)
    for ticker, (low, high, strike) in BRACKETS.items():
        ticker = ticker.replace(EVENT, event)
        wins = (low is None or low <= CLI_HIGH) and (high is None or high >= CLI_HIGH)
        result = (results or {}).get(ticker, "yes" if wins else "no")
        d.add(
            "markets",
            ticker=ticker,
            event_ticker=event,
            series_ticker="KXHIGHNY",
            city=CITY,
            climate_day=d.day,
            strike_type=strike,
            floor_strike=low if strike == "between" else (low - 1 if low else None),
            cap_strike=high if strike == "between" else (high + 1 if high else None),
            wins_low_f=low,
            wins_high_f=high,
            status="determined" if lifecycle else "finalized",
            close_time=expiration - dt.timedelta(hours=10),
            expiration_time=expiration,
            result=None if lifecycle else result,
            updated_at=expiration,
        )
        if lifecycle:
            d.add(
                "lifecycle_events",
                market_ticker=ticker,
                event_type="determined",
                ts=expiration + dt.timedelta(minutes=5),
                result=result,
                settlement_value_cc=10_000 if result == "yes" else 0,
                payload="{}",
            )


def reports(d: Day, final: int = CLI_HIGH, later: int | None = 81) -> None:
    """A preliminary report, the final one before expiration and, optionally, a correction
    issued after expiration."""
    nxt = d.day + dt.timedelta(days=1)
    for product, issued, high, prelim, correction in (
        ("p-prelim", ts(d.day, 22), final - 1, True, False),
        ("p-final", ts(nxt, 11), final, False, False),
        *((("p-correction", ts(nxt, 20), later, False, True),) if later is not None else ()),
    ):
        d.add(
            "climate_reports",
            city=CITY,
            climate_day=d.day,
            product_id=f"{product}-{d.day}",
            issued_at=issued,
            high_f=high,
            high_time_local="2:51 PM",
            low_f=high - 10,
            preliminary=prelim,
            correction=correction,
            source="nws_api",
        )


def predictions(d: Day) -> None:
    shift = d.day - DAY
    for snapshot, distribution, median in (
        (SNAP_EARLY + shift, {"lo": 84, "pmf": [0.5, 0.3, 0.2]}, 84),
        (SNAP_LATE + shift, {"85": 1.0}, 85),
    ):
        d.add(
            "predictions",
            city=CITY,
            climate_day=d.day,
            snapshot_at=snapshot,
            model_version=MODEL,
            variant=VARIANT,
            distribution_json=json.dumps(distribution),
            median_f=median,
            inputs_hash=f"h-{snapshot.isoformat()}",
        )


def bracket_predictions(d: Day) -> None:
    """The model's bracket probabilities at both snapshots (what the predictions asset writes)."""
    shift = d.day - DAY
    event = event_ticker(d.day)
    for snapshot, probs in (
        (SNAP_EARLY + shift, (0, 0.8, 0.2, 0)),
        (SNAP_LATE + shift, (0, 1, 0, 0)),
    ):
        for ticker, p in zip(TICKERS, probs, strict=True):
            d.add(
                "bracket_predictions",
                market_ticker=ticker.replace(EVENT, event),
                snapshot_at=snapshot,
                model_version=MODEL,
                variant=VARIANT,
                city=CITY,
                climate_day=d.day,
                probability=float(p),
            )


def forecasts(d: Day) -> None:
    shift = d.day - DAY
    for snapshot, high in ((SNAP_EARLY + shift, 84.4), (SNAP_LATE + shift, 85.2)):
        issued = snapshot - dt.timedelta(hours=1)
        d.add(
            "forecasts",
            city=CITY,
            climate_day=d.day,
            source="open_meteo",
            issued_at=issued,
            forecast_high_f=high,
            sigma_f=2.0,
            lead_hours=(DAY_END + shift - issued).total_seconds() / 3600,
            suspect=False,
            retrieved_at=issued + dt.timedelta(minutes=5),
        )


def quotes(d: Day) -> None:
    shift = d.day - DAY
    event = event_ticker(d.day)
    for snapshot, book in ((SNAP_EARLY + shift, QUOTES_EARLY), (SNAP_LATE + shift, QUOTES_LATE)):
        for ticker, (bid, ask) in zip(TICKERS, book, strict=True):
            ticker = ticker.replace(EVENT, event)
            for label, at, prices in (
                ("old", snapshot - dt.timedelta(hours=2), (1000, 9000)),  # superseded
                ("now", snapshot - dt.timedelta(seconds=30), (bid, ask)),
                ("after", snapshot + dt.timedelta(seconds=1), (4000, 4100)),  # look-ahead
            ):
                d.add(
                    "quotes",
                    market_ticker=ticker,
                    source_id=f"{label}-{ticker}-{snapshot.isoformat()}",
                    ts=at,
                    received_at=at,
                    yes_bid_cc=prices[0],
                    yes_bid_size_cq=10_000,
                    yes_ask_cc=prices[1],
                    yes_ask_size_cq=10_000,
                    source="ws",
                )


def decision(
    d: Day,
    decision_id: str,
    ticker: str,
    would_trade: bool,
    side: str | None,
    price_cc: int | None,
    count_cq: int | None,
    ev_micros: int,
) -> None:
    d.add(
        "decisions",
        decision_id=decision_id,
        evaluated_at=SNAP_EARLY + (d.day - DAY),
        market_ticker=ticker,
        city=CITY,
        climate_day=d.day,
        mode="shadow",
        would_trade=would_trade,
        side=side,
        action="buy" if would_trade else None,
        liquidity="taker" if would_trade else None,
        price_cc=price_cc,
        count_cq=count_cq,
        probability=0.8,
        ev_per_contract_micros=ev_micros,
        reason="edge above threshold" if would_trade else "expected value below threshold",
        model_version=MODEL,
        config_hash="cfg",
        inputs_json="{}",
    )


def trades(d: Day) -> None:
    """d1: buy 10 YES of B84.5 at 62¢ (EV $0.15 each), 6 filled as taker, fee 10¢ (order row).
    d2: buy 5 NO of T87 at 90¢ (EV $0.05 each), all filled as maker, no fee (no order row).
    d3: a no-trade."""
    event = event_ticker(d.day)
    at = SNAP_EARLY + (d.day - DAY) + dt.timedelta(seconds=1)
    decision(d, f"d1-{d.day}", f"{event}-B84.5", True, "yes", 6200, 1000, 150_000)
    decision(d, f"d2-{d.day}", f"{event}-T87", True, "no", 9000, 500, 50_000)
    decision(d, f"d3-{d.day}", f"{event}-T84", False, None, None, None, -20_000)
    d.add(
        "orders",
        client_order_id=f"coid-d1-{d.day}",
        order_id=None,
        decision_id=f"d1-{d.day}",
        market_ticker=f"{event}-B84.5",
        side="yes",
        action="buy",
        price_cc=6200,
        count_cq=1000,
        filled_cq=600,
        status="canceled",
        mode="shadow",
        created_at=at,
        updated_at=at,
    )
    for fill_id, coid, ticker, side, price, count, fee, taker in (
        (f"f1-{d.day}", f"coid-d1-{d.day}", f"{event}-B84.5", "yes", 6200, 600, 100_000, True),
        (
            f"f2-{d.day}",
            client_order_id_for(f"d2-{d.day}", "maker"),
            f"{event}-T87",
            "no",
            9000,
            500,
            0,
            False,
        ),
    ):
        values = (fill_id, coid, None, ticker, side, "buy", price, count, fee, taker, "shadow", at)
        d.add("fills", **dict(zip(FILL_COLUMNS, values, strict=True)))


def full_day(day: dt.date = DAY, **settlement: Any) -> Day:
    d = Day(day)
    markets(d, **settlement)
    reports(d)
    predictions(d)
    bracket_predictions(d)
    forecasts(d)
    quotes(d)
    trades(d)
    return d
