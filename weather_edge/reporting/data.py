"""What the calibration report shows, computed from the warehouse tables (no Dagster, no dbt).

Reads the raw tables so the report works before (or without) a dbt run, on DuckDB and
PostgreSQL alike; every frame gets a fixed schema, so an empty warehouse yields empty frames
of the right types. Money is summed in exact integer micro-dollars and shown in dollars.
P&L follows the same rules as the dbt mart ``mart_pnl``: a fill's ``price_cc`` is the price
of its side's contract, buys add to the position and sells subtract, a settled market pays
$1 per contract on the winning side, fees are subtracted, unsettled fills count only once
their market settles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from weather_edge.storage import Warehouse
from weather_edge.weather.cities import registry

PRICE_SCALE = 10_000
SIZE_SCALE = 100
MONEY_SCALE = 1_000_000
PROBABILITY_BINS = 10

LEAD_BUCKET_EDGES: tuple[tuple[float, str], ...] = (
    (0.0, "after_day"),
    (12.0, "00-12h"),
    (24.0, "12-24h"),
    (36.0, "24-36h"),
    (48.0, "36-48h"),
)
"""Upper bound (exclusive) -> bucket; at or beyond the last edge: "48h+". As the dbt macro."""
LEAD_BUCKETS = (*(name for _, name in LEAD_BUCKET_EDGES[1:]), "48h+")

Schema = Mapping[str, pl.DataType | type[pl.DataType]]

SCORES_SCHEMA: Schema = {
    "city": pl.String,
    "climate_day": pl.Date,
    "subject": pl.String,
    "subject_key": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
    "lead_hours": pl.Float64,
}
_BRACKETS: Schema = {
    "city": pl.String,
    "climate_day": pl.Date,
    "snapshot_at": pl.Datetime("us", "UTC"),
    "model_version": pl.String,
    "variant": pl.String,
    "probability": pl.Float64,
    "outcome": pl.String,
}
_FILLS: Schema = {
    "city": pl.String,
    "climate_day": pl.Date,
    "mode": pl.String,
    "side": pl.String,
    "action": pl.String,
    "price_cc": pl.Int64,
    "count_cq": pl.Int64,
    "fee_micros": pl.Int64,
    "market_result": pl.String,
}
_DECISIONS: Schema = {
    "city": pl.String,
    "climate_day": pl.Date,
    "mode": pl.String,
    "ev_per_contract_micros": pl.Int64,
    "count_cq": pl.Int64,
}


@dataclass(frozen=True)
class ReportData:
    scores: pl.DataFrame
    brackets: pl.DataFrame  # settled bracket probabilities with outcome (0/1) and lead_hours
    fills: pl.DataFrame
    decisions: pl.DataFrame

    def since(self, first_day: dt.date | None) -> ReportData:
        """The rows whose climate day is on or after ``first_day`` (all when None)."""
        if first_day is None:
            return self
        keep = pl.col("climate_day") >= first_day
        return ReportData(
            scores=self.scores.filter(keep),
            brackets=self.brackets.filter(keep),
            fills=self.fills.filter(keep),
            decisions=self.decisions.filter(keep),
        )


def _load(warehouse: Warehouse, sql: str, schema: Schema) -> pl.DataFrame:
    frame = warehouse.query_frame(sql)
    return frame.select(pl.col(name).cast(kind) for name, kind in schema.items())


def lead_bucket(hours: pl.Expr) -> pl.Expr:
    """Hours before the climate day ends -> the bucket label (as the dbt macro)."""
    expr: Any = pl.when(hours.is_null()).then(pl.lit("unknown"))
    for edge, name in LEAD_BUCKET_EDGES:
        expr = expr.when(hours < edge).then(pl.lit(name))
    return expr.otherwise(pl.lit("48h+"))


def _with_lead_hours(brackets: pl.DataFrame) -> pl.DataFrame:
    """Hours from the snapshot to the end of the climate day (midnight local standard time)."""
    offsets = pl.DataFrame(
        {
            "city": [c.code for c in registry().values()],
            "std_offset_h": [c.std_utc_offset_hours for c in registry().values()],
        },
        schema={"city": pl.String, "std_offset_h": pl.Int64},
    )
    day_end = (
        pl.col("climate_day").cast(pl.Datetime("us", "UTC"))
        + pl.duration(days=1)
        - pl.duration(hours=pl.col("std_offset_h"))
    )
    lead = (day_end - pl.col("snapshot_at")).dt.total_seconds() / 3600
    return (
        brackets.join(offsets, on="city", how="left")
        .with_columns(lead_hours=lead.cast(pl.Float64))
        .drop("std_offset_h")
    )


def load_report_data(warehouse: Warehouse) -> ReportData:
    scores = _load(
        warehouse,
        "SELECT city, climate_day, subject, subject_key, metric, value, lead_hours FROM scores",
        SCORES_SCHEMA,
    )
    brackets = _load(
        warehouse,
        "SELECT bp.city, bp.climate_day, bp.snapshot_at, bp.model_version, bp.variant, "
        "bp.probability, COALESCE(s.market_result, s.expected_result) AS outcome "
        "FROM bracket_predictions bp JOIN settlements s ON s.market_ticker = bp.market_ticker",
        _BRACKETS,
    )
    brackets = _with_lead_hours(
        brackets.filter(pl.col("outcome").is_in(["yes", "no"])).with_columns(
            outcome=(pl.col("outcome") == "yes").cast(pl.Int64),
            subject_key=pl.col("model_version") + "/" + pl.col("variant"),
        )
    )
    fills = _load(
        warehouse,
        "SELECT m.city, m.climate_day, f.mode, f.side, f.action, f.price_cc, f.count_cq, "
        "f.fee_micros, s.market_result FROM fills f JOIN markets m ON m.ticker = f.market_ticker "
        "LEFT JOIN settlements s ON s.market_ticker = f.market_ticker",
        _FILLS,
    )
    decisions = _load(
        warehouse,
        "SELECT city, climate_day, mode, ev_per_contract_micros, count_cq FROM decisions "
        "WHERE would_trade",
        _DECISIONS,
    )
    return ReportData(scores=scores, brackets=brackets, fills=fills, decisions=decisions)


# --- calibration --------------------------------------------------------------------------


def reliability(brackets: pl.DataFrame) -> pl.DataFrame:
    """Per model and probability bin: n, mean predicted probability, observed frequency."""
    bins = (pl.col("probability") * PROBABILITY_BINS).floor().cast(pl.Int64)
    return (
        brackets.with_columns(bin=bins.clip(0, PROBABILITY_BINS - 1))
        .group_by("subject_key", "bin")
        .agg(
            n=pl.len(),
            mean_predicted=pl.col("probability").mean(),
            observed_frequency=pl.col("outcome").cast(pl.Float64).mean(),
        )
        .sort("subject_key", "bin")
    )


def bracket_scores(brackets: pl.DataFrame) -> pl.DataFrame:
    """Brier and log loss (p clipped to [1e-6, 1 - 1e-6]) per settled bracket probability."""
    p = pl.col("probability").clip(1e-6, 1 - 1e-6)
    return brackets.with_columns(
        brier=(pl.col("probability") - pl.col("outcome")) ** 2,
        log_loss=pl.when(pl.col("outcome") == 1).then(-p.log()).otherwise(-(1 - p).log()),
    )


def mean_scores(scores: pl.DataFrame, *by: str) -> pl.DataFrame:
    """Mean value per ``by`` columns and metric (lead_bucket is derived when asked for)."""
    frame = scores.with_columns(lead_bucket=lead_bucket(pl.col("lead_hours")))
    return (
        frame.group_by(*by, "metric")
        .agg(n=pl.len(), mean=pl.col("value").mean())
        .sort(*by, "metric")
    )


# --- trading ------------------------------------------------------------------------------


def fill_pnl(fills: pl.DataFrame) -> pl.DataFrame:
    """Each fill with its signed quantity and its realized P&L in micro-dollars (null while
    its market is unsettled)."""
    signed = (
        pl.when(pl.col("action") == "sell").then(-pl.col("count_cq")).otherwise(pl.col("count_cq"))
    )
    settled = pl.col("market_result").is_in(["yes", "no"])
    payout = pl.when(pl.col("market_result") == pl.col("side")).then(PRICE_SCALE).otherwise(0)
    pnl = pl.col("signed_cq") * (payout - pl.col("price_cc")) - pl.col("fee_micros")
    return fills.with_columns(signed_cq=signed).with_columns(
        pnl_micros=pl.when(settled).then(pnl).otherwise(None).cast(pl.Int64)
    )


def daily_pnl(data: ReportData) -> pl.DataFrame:
    """Per mode and climate day: realized P&L, fees, predicted EV (micro-dollars), the
    cumulative P&L and its drawdown from the running peak (which starts at zero)."""
    realized = (
        fill_pnl(data.fills)
        .group_by("mode", "climate_day")
        .agg(
            realized_micros=pl.col("pnl_micros").sum(),
            fees_micros=pl.col("fee_micros").sum(),
            fills=pl.len(),
        )
    )
    predicted = (
        data.decisions.with_columns(
            ev=pl.col("ev_per_contract_micros").cast(pl.Float64) * pl.col("count_cq") / SIZE_SCALE
        )
        .group_by("mode", "climate_day")
        .agg(predicted_ev_micros=pl.col("ev").sum())
    )
    daily = (
        realized.join(predicted, on=["mode", "climate_day"], how="full", coalesce=True)
        .with_columns(
            pl.col("realized_micros", "fees_micros", "fills").fill_null(0),
            pl.col("predicted_ev_micros").fill_null(0.0),
        )
        .sort("mode", "climate_day")
    )
    cumulative = pl.col("realized_micros").cum_sum().over("mode")
    daily = daily.with_columns(
        cumulative_micros=cumulative,
        cumulative_ev_micros=pl.col("predicted_ev_micros").cum_sum().over("mode"),
    )
    peak = pl.max_horizontal(pl.col("cumulative_micros").cum_max().over("mode"), pl.lit(0))
    return daily.with_columns(drawdown_micros=peak - pl.col("cumulative_micros"))


def dollars(micros: float | int) -> float:
    return float(micros) / MONEY_SCALE
