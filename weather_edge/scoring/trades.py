"""Every would-trade scored: realized P&L after fees against the EV expected at decision time,
and how much of it the (shadow or live) fills actually got.

Money is exact: a fill's P&L is ``signed_cq x (payout_cc - price_cc) - fee_micros`` in integer
micro-dollars (``price_cc`` is the price of the fill's side, a buy adds contracts and a sell
removes them, the winning side pays $1 = 10,000 cc per contract). A fill belongs to the
decision of its order (``orders.decision_id``; without an order row, the decision whose
deterministic ``client_order_id`` it carries). P&L is realized only once the market settled
(Kalshi's ``market_result``); before that only the EV and the fill rate are scored.

Rows for ``scores`` (values are float, exact for any realistic amount of micro-dollars):

* subject ``trade``, key ``<mode>/<decision_id>``: ``ev_micros`` (EV per contract x size asked),
  ``ev_filled_micros`` (x size filled), ``fill_rate``, ``fees_micros``, and once settled
  ``realized_pnl_micros`` and ``pnl_minus_ev_micros`` (realized - EV of what filled);
* subject ``trading``, key ``<mode>``: the partition's totals of the same and
  ``would_trades``; its ``fill_rate`` is filled over asked size.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from weather_edge.kalshi.fees import Liquidity
from weather_edge.money import ONE_DOLLAR_CC, SIZE_SCALE
from weather_edge.scoring.frames import UTC_TIME, lead_hours
from weather_edge.scoring.snapshots import RESULTS, SCORE_SCHEMA, empty_scores
from weather_edge.trading.orders import client_order_id_for

DECISIONS_SCHEMA: dict[str, Any] = {
    "decision_id": pl.String,
    "evaluated_at": UTC_TIME,
    "market_ticker": pl.String,
    "city": pl.String,
    "climate_day": pl.Date,
    "mode": pl.String,
    "side": pl.String,
    "count_cq": pl.Int64,
    "ev_per_contract_micros": pl.Int64,
}
ORDERS_SCHEMA: dict[str, Any] = {"client_order_id": pl.String, "decision_id": pl.String}
FILLS_SCHEMA: dict[str, Any] = {
    "fill_id": pl.String,
    "client_order_id": pl.String,
    "market_ticker": pl.String,
    "side": pl.String,
    "action": pl.String,
    "price_cc": pl.Int64,
    "count_cq": pl.Int64,
    "fee_micros": pl.Int64,
}
RESULTS_SCHEMA: dict[str, Any] = {"market_ticker": pl.String, "market_result": pl.String}
LEGS: tuple[Liquidity, ...] = ("maker", "taker")
TRADE_METRICS = (
    "ev_micros",
    "ev_filled_micros",
    "fill_rate",
    "fees_micros",
    "realized_pnl_micros",
    "pnl_minus_ev_micros",
)


def decision_links(
    decisions: pl.DataFrame, orders: pl.DataFrame, fills: pl.DataFrame
) -> pl.DataFrame:
    """client_order_id -> decision_id: the stored orders, and for fills without an order row
    the deterministic ids of the decisions on their markets."""
    stored = orders.filter(pl.col("decision_id").is_not_null()).unique(
        subset="client_order_id", keep="first"
    )
    loose = fills.join(stored, on="client_order_id", how="anti")
    if loose.height == 0:
        return stored
    ids = decisions.join(loose.select("market_ticker").unique(), on="market_ticker", how="semi")[
        "decision_id"
    ].to_list()
    derived = pl.DataFrame(
        {
            "client_order_id": [client_order_id_for(d, leg) for d in ids for leg in LEGS],
            "decision_id": [d for d in ids for _ in LEGS],
        },
        schema=ORDERS_SCHEMA,
    )
    return pl.concat([stored, derived]).unique(subset="client_order_id", keep="first")


def fill_pnl(fills: pl.DataFrame, results: pl.DataFrame) -> pl.DataFrame:
    """Each fill with its size and, where its market settled, its exact P&L (micro-dollars)."""
    signed = (
        pl.when(pl.col("action") == "sell").then(-pl.col("count_cq")).otherwise(pl.col("count_cq"))
    )
    payout = pl.when(pl.col("market_result") == pl.col("side")).then(ONE_DOLLAR_CC).otherwise(0)
    pnl = signed * (payout - pl.col("price_cc")) - pl.col("fee_micros")
    return fills.join(results, on="market_ticker", how="left").with_columns(
        pnl_micros=pl.when(pl.col("market_result").is_in(RESULTS)).then(pnl)
    )


def score_trades(
    parts: pl.DataFrame,
    decisions: pl.DataFrame,
    orders: pl.DataFrame,
    fills: pl.DataFrame,
    results: pl.DataFrame,
) -> pl.DataFrame:
    """``scores`` rows for the would-trades of ``parts`` (``decisions`` hold only rows with
    ``would_trade``; ``results`` is each market's ``market_result``)."""
    if decisions.height == 0:
        return empty_scores()
    linked = fill_pnl(
        fills.join(decision_links(decisions, orders, fills), on="client_order_id"), results
    )
    per_decision = linked.group_by("decision_id").agg(
        filled_cq=pl.col("count_cq").abs().sum(),
        fees_micros=pl.col("fee_micros").sum(),
        pnl_micros=pl.col("pnl_micros").sum(),
    )
    settled = pl.col("market_result").is_in(RESULTS)
    ev = pl.col("ev_per_contract_micros").cast(pl.Float64)
    asked = pl.col("count_cq").cast(pl.Float64)
    frame = (
        decisions.join(per_decision, on="decision_id", how="left")
        .join(results, on="market_ticker", how="left")
        .join(parts.select("city", "climate_day", "day_end"), on=["city", "climate_day"])
        .with_columns(pl.col("filled_cq", "fees_micros").fill_null(0))
        .with_columns(
            subject_key=pl.concat_str("mode", pl.lit("/"), "decision_id"),
            ev_micros=ev * asked / SIZE_SCALE,
            ev_filled_micros=ev * pl.col("filled_cq") / SIZE_SCALE,
            fill_rate=pl.when(asked > 0).then(pl.col("filled_cq") / asked),
            realized_pnl_micros=pl.when(settled).then(pl.col("pnl_micros").fill_null(0)),
            lead_hours=lead_hours("evaluated_at"),
        )
        .with_columns(
            pnl_minus_ev_micros=pl.col("realized_pnl_micros") - pl.col("ev_filled_micros"),
        )
    )
    per_trade = _long(frame, "trade", "subject_key", "lead_hours")
    totals = (
        frame.group_by("city", "climate_day", "mode")
        .agg(
            would_trades=pl.len(),
            fill_rate=pl.col("filled_cq").sum() / asked.sum(),
            ev_micros=pl.col("ev_micros").sum(),
            ev_filled_micros=pl.col("ev_filled_micros").sum(),
            fees_micros=pl.col("fees_micros").sum(),
            realized_pnl_micros=pl.when(settled.any()).then(pl.col("realized_pnl_micros").sum()),
            pnl_minus_ev_micros=pl.when(settled.any()).then(pl.col("pnl_minus_ev_micros").sum()),
        )
        .with_columns(lead_hours=pl.lit(None, dtype=pl.Float64))
    )
    return pl.concat(
        [per_trade, _long(totals, "trading", "mode", "lead_hours", extra=("would_trades",))]
    )


def _long(
    frame: pl.DataFrame, subject: str, key: str, lead: str, extra: tuple[str, ...] = ()
) -> pl.DataFrame:
    """Wide metric columns -> ``scores`` rows (NULL values are not scores)."""
    metrics = [*extra, *TRADE_METRICS]
    return (
        frame.select(
            "city",
            "climate_day",
            pl.col(key).alias("subject_key"),
            pl.col(lead).alias("lead_hours"),
            *(pl.col(m).cast(pl.Float64) for m in metrics),
        )
        .unpivot(
            on=metrics,
            index=["city", "climate_day", "subject_key", "lead_hours"],
            variable_name="metric",
        )
        .filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
        .select(
            "city",
            "climate_day",
            pl.lit(subject).alias("subject"),
            "subject_key",
            "metric",
            "value",
            "lead_hours",
        )
        .cast(SCORE_SCHEMA)
    )
