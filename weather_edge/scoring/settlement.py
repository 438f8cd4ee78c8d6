"""Settlements: what Kalshi decided for each market, and the CLI value behind it.

The rule (``shared/design/kalshi-api.md``): a daily-high market settles on the maximum of the
climate day in the NWS Daily Climate Report *as of the market's expiration*. Revisions
published after expiration are ignored (a Miami CLI corrected from 84 to 81 °F after
expiration settled on 84). So per market:

* ``market_result`` — Kalshi's result: the latest ``determined``/``settled`` lifecycle message
  with a yes/no result, else ``markets.result`` (as the REST catalog last saw it);
* ``cli_high_f`` — the high of the last *final* (non-preliminary) CLI product issued at or
  before the cutoff: the market's ``expiration_time``, else (unknown expiration) the time the
  result was determined, else no cutoff (the latest final report);
* ``later_cli_high_f`` — the high of the last final product issued *after* the cutoff, when it
  differs from ``cli_high_f``: recorded, never applied;
* ``expected_result`` — what ``cli_high_f`` implies under the bracket rule
  (:meth:`weather_edge.kalshi.tickers.Bracket.wins`: ``wins_low_f <= high <= wins_high_f``,
  an open end is ``NULL``); ``agrees`` — ``market_result = expected_result`` (NULL while
  either is unknown).

A disagreement is never resolved here: both values are stored and the settlements asset
check fails showing them (:func:`settlement_verdict`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from weather_edge.kalshi.tickers import Bracket, BracketKind
from weather_edge.scoring.frames import UTC_TIME, Partition, load_partitions
from weather_edge.storage import Warehouse

RESULT_EVENTS = ("determined", "settled")
RESULTS = ("yes", "no")
SETTLEMENT_COLUMNS = (
    "market_ticker",
    "city",
    "climate_day",
    "market_result",
    "cli_high_f",
    "expected_result",
    "agrees",
    "settled_at",
    "later_cli_high_f",
)

MARKETS_SCHEMA: dict[str, Any] = {
    "market_ticker": pl.String,
    "event_ticker": pl.String,
    "city": pl.String,
    "climate_day": pl.Date,
    "wins_low_f": pl.Int64,
    "wins_high_f": pl.Int64,
    "status": pl.String,
    "result": pl.String,
    "expiration_time": UTC_TIME,
}
LIFECYCLE_SCHEMA: dict[str, Any] = {
    "market_ticker": pl.String,
    "event_type": pl.String,
    "ts": UTC_TIME,
    "result": pl.String,
}
REPORTS_SCHEMA: dict[str, Any] = {
    "city": pl.String,
    "climate_day": pl.Date,
    "product_id": pl.String,
    "issued_at": UTC_TIME,
    "high_f": pl.Int64,
    "preliminary": pl.Boolean,
    "correction": pl.Boolean,
}
STORED_SCHEMA: dict[str, Any] = {
    "market_ticker": pl.String,
    "city": pl.String,
    "climate_day": pl.Date,
    "market_result": pl.String,
    "cli_high_f": pl.Int64,
    "expected_result": pl.String,
    "agrees": pl.Boolean,
    "later_cli_high_f": pl.Int64,
    "wins_low_f": pl.Int64,
    "wins_high_f": pl.Int64,
}


def wins(high: pl.Expr, low_f: str = "wins_low_f", high_f: str = "wins_high_f") -> pl.Expr:
    """``Bracket.wins`` as an expression: ``low <= high <= high`` with NULL bounds open."""
    return (pl.col(low_f).is_null() | (high >= pl.col(low_f))) & (
        pl.col(high_f).is_null() | (high <= pl.col(high_f))
    )


def _yes_no(flag: pl.Expr) -> pl.Expr:
    return pl.when(flag).then(pl.lit("yes")).otherwise(pl.lit("no"))


def _kalshi_results(lifecycle: pl.DataFrame) -> pl.DataFrame:
    """Per market: the latest lifecycle result, when it was determined and when settled."""
    rows = lifecycle.filter(pl.col("event_type").is_in(RESULT_EVENTS)).sort("ts")
    decided = rows.filter(pl.col("result").is_in(RESULTS))
    return (
        rows.group_by("market_ticker")
        .agg(
            determined_at=pl.col("ts").filter(pl.col("event_type") == "determined").min(),
            settled_ts=pl.col("ts").filter(pl.col("event_type") == "settled").max(),
            last_decision_ts=pl.col("ts").max(),
        )
        .join(
            decided.group_by("market_ticker").agg(lifecycle_result=pl.col("result").last()),
            on="market_ticker",
            how="left",
        )
        .with_columns(settled_at=pl.coalesce("settled_ts", "last_decision_ts"))
        .select("market_ticker", "lifecycle_result", "determined_at", "settled_at")
    )


def _cli_values(markets: pl.DataFrame, reports: pl.DataFrame) -> pl.DataFrame:
    """Per market: the final CLI high as of its cutoff, and the latest one issued after."""
    finals = reports.filter(
        ~pl.col("preliminary") & pl.col("high_f").is_not_null() & pl.col("issued_at").is_not_null()
    ).sort("issued_at", "correction", "product_id")
    paired = markets.select("market_ticker", "city", "climate_day", "cutoff").join(
        finals, on=["city", "climate_day"], how="inner"
    )
    in_time = pl.col("cutoff").is_null() | (pl.col("issued_at") <= pl.col("cutoff"))
    return paired.group_by("market_ticker").agg(
        cli_high_f=pl.col("high_f").filter(in_time).last(),
        cli_product_id=pl.col("product_id").filter(in_time).last(),
        cli_issued_at=pl.col("issued_at").filter(in_time).last(),
        later_high_f=pl.col("high_f").filter(~in_time).last(),
        later_product_id=pl.col("product_id").filter(~in_time).last(),
    )


def build_settlements(
    markets: pl.DataFrame, lifecycle: pl.DataFrame, reports: pl.DataFrame
) -> pl.DataFrame:
    """Settlement rows (``SETTLEMENT_COLUMNS``) plus what explains them (bracket, cutoff, the
    CLI product used and the later one) for every market with a result or a CLI value."""
    frame = markets.join(_kalshi_results(lifecycle), on="market_ticker", how="left").with_columns(
        market_result=pl.coalesce(
            "lifecycle_result",
            pl.when(pl.col("result").is_in(RESULTS)).then(pl.col("result")),
        ),
        cutoff=pl.coalesce("expiration_time", "determined_at", "settled_at"),
    )
    frame = frame.join(_cli_values(frame, reports), on="market_ticker", how="left")
    later = pl.col("later_high_f")
    expected = pl.when(pl.col("cli_high_f").is_not_null()).then(_yes_no(wins(pl.col("cli_high_f"))))
    return (
        frame.with_columns(
            expected_result=expected,
            later_cli_high_f=pl.when(
                later.is_not_null()
                & (pl.col("cli_high_f").is_null() | (later != pl.col("cli_high_f")))
            ).then(later),
        )
        .with_columns(agrees=pl.col("market_result") == pl.col("expected_result"))
        .filter(pl.col("market_result").is_not_null() | pl.col("cli_high_f").is_not_null())
        .sort("city", "climate_day", "market_ticker")
    )


@dataclass(frozen=True)
class SettlementBatch:
    """What one settlement pass found and wrote."""

    frame: pl.DataFrame  # build_settlements() output
    markets: int
    written: int

    @property
    def disagreements(self) -> pl.DataFrame:
        return self.frame.filter(pl.col("agrees") == False)  # noqa: E712 - NULL stays out

    def metadata(self) -> dict[str, Any]:
        f = self.frame
        return {
            "markets": self.markets,
            "settled": int(f["market_result"].is_not_null().sum()),
            "with_cli_value": int(f["cli_high_f"].is_not_null().sum()),
            "disagreements": self.disagreements.height,
            "later_corrections": int(f["later_cli_high_f"].is_not_null().sum()),
            "rows_written": self.written,
        }


def load_settlement_inputs(
    warehouse: Warehouse, partitions: Sequence[Partition]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The partitions' markets, their result lifecycle messages and the CLI reports."""
    markets = load_partitions(
        warehouse,
        "SELECT m.ticker AS market_ticker, m.event_ticker, m.city, m.climate_day, m.wins_low_f, "
        "m.wins_high_f, m.status, m.result, m.expiration_time FROM markets m",
        "m",
        partitions,
        MARKETS_SCHEMA,
    )
    lifecycle = load_partitions(
        warehouse,
        "SELECT l.market_ticker, l.event_type, l.ts, l.result, m.city, m.climate_day "
        "FROM lifecycle_events l JOIN markets m ON m.ticker = l.market_ticker",
        "m",
        partitions,
        LIFECYCLE_SCHEMA,
        condition="l.event_type IN ('determined', 'settled')",
    )
    reports = load_partitions(
        warehouse,
        "SELECT city, climate_day, product_id, issued_at, high_f, preliminary, correction "
        "FROM climate_reports r",
        "r",
        partitions,
        REPORTS_SCHEMA,
    )
    return markets, lifecycle, reports


def settle(warehouse: Warehouse, partitions: Sequence[Partition]) -> SettlementBatch:
    """Build and upsert the settlements of ``partitions`` (idempotent: a re-run updates)."""
    markets, lifecycle, reports = load_settlement_inputs(warehouse, partitions)
    frame = build_settlements(markets, lifecycle, reports)
    written = warehouse.upsert("settlements", frame.select(SETTLEMENT_COLUMNS), update=True)
    return SettlementBatch(frame=frame, markets=markets.height, written=written)


# --- the agreement check -------------------------------------------------------------------


@dataclass(frozen=True)
class SettlementVerdict:
    """The settlement check's outcome: ``severity`` is "ERROR" for a disagreement (or an
    event without exactly one YES), "WARN" for settled markets with no CLI value to verify."""

    passed: bool
    severity: str
    metadata: dict[str, Any] = field(default_factory=dict)


def load_stored_settlements(warehouse: Warehouse, partitions: Sequence[Partition]) -> pl.DataFrame:
    """Every market of ``partitions`` with its bracket and stored settlement (NULLs before)."""
    return load_partitions(
        warehouse,
        "SELECT m.ticker AS market_ticker, m.city, m.climate_day, s.market_result, "
        "s.cli_high_f, s.expected_result, s.agrees, s.later_cli_high_f, m.wins_low_f, "
        "m.wins_high_f FROM markets m LEFT JOIN settlements s ON s.market_ticker = m.ticker",
        "m",
        partitions,
        STORED_SCHEMA,
    )


def _bracket_label(low: int | None, high: int | None) -> str:
    kind = BracketKind.LESS if low is None else BracketKind.GREATER
    return Bracket(BracketKind.BETWEEN if None not in (low, high) else kind, low, high).label


def describe_disagreement(row: dict[str, Any]) -> str:
    """Both values, side by side, in one line."""
    bracket = _bracket_label(row["wins_low_f"], row["wins_high_f"])
    return (
        f"{row['market_ticker']} ({bracket}): Kalshi result {row['market_result']!r}, "
        f"CLI high {row['cli_high_f']} °F implies {row['implied_result']!r}"
    )


def settlement_verdict(stored: pl.DataFrame) -> SettlementVerdict:
    """Do Kalshi's results and the CLI values agree under the bracket rule? Recomputed from
    the stored values and brackets (the stored ``agrees`` flag is not trusted)."""
    frame = stored.with_columns(
        implied_result=pl.when(pl.col("cli_high_f").is_not_null()).then(
            _yes_no(wins(pl.col("cli_high_f")))
        )
    )
    settled = frame.filter(pl.col("market_result").is_in(RESULTS))
    both = settled.filter(pl.col("implied_result").is_not_null())
    disagree = both.filter(pl.col("market_result") != pl.col("implied_result"))
    unverified = settled.filter(pl.col("implied_result").is_null())
    yes_counts = (
        frame.group_by("city", "climate_day")
        .agg(
            yes=(pl.col("market_result") == "yes").sum(),
            settled=pl.col("market_result").is_in(RESULTS).sum(),
            markets=pl.len(),
        )
        .filter(
            (pl.col("yes") > 1) | ((pl.col("yes") == 0) & (pl.col("settled") == pl.col("markets")))
        )
        .sort("city", "climate_day")
    )
    problems = [describe_disagreement(r) for r in disagree.sort("market_ticker").to_dicts()]
    problems += [
        f"{r['city']} {r['climate_day']}: {r['yes']} of {r['settled']} settled markets "
        "resolved YES (exactly one must)"
        for r in yes_counts.to_dicts()
    ]
    corrections = frame.filter(pl.col("later_cli_high_f").is_not_null()).sort("market_ticker")
    metadata: dict[str, Any] = {
        "settled_markets": settled.height,
        "verified": both.height,
        "disagreements": disagree.height,
        "unverified": unverified.height,
        "problems": "\n".join(problems) or "none",
        "unverified_markets": ", ".join(sorted(unverified["market_ticker"].to_list())) or "none",
        "later_corrections": "\n".join(
            f"{r['market_ticker']}: settled on {r['cli_high_f']} °F, later CLI "
            f"{r['later_cli_high_f']} °F (recorded, not applied)"
            for r in corrections.to_dicts()
        )
        or "none",
    }
    if problems:
        return SettlementVerdict(False, "ERROR", metadata)
    if unverified.height:
        return SettlementVerdict(False, "WARN", metadata)
    return SettlementVerdict(True, "ERROR", metadata)


def check_settlements(warehouse: Warehouse, partitions: Sequence[Partition]) -> SettlementVerdict:
    return settlement_verdict(load_stored_settlements(warehouse, partitions))
