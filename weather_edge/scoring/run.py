"""Scoring partitions end to end: load them from the warehouse, score, replace their scores.

:func:`score_partitions` is what the ``scored_snapshots`` asset runs for one partition or a
backfill range alike; :func:`backfill_scores` is ``weather-edge backfill --from --to``: it
settles and scores a date range for the chosen cities in batches, reporting progress.

A partition's rows in ``scores`` are replaced in one transaction (deleted, then written), so a
re-run never leaves a stale score behind and the table always holds a whole scoring pass.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from weather_edge.scoring import settlement
from weather_edge.scoring.frames import (
    Partition,
    day_range,
    load_partitions,
    normalize,
    partition_frame,
)
from weather_edge.scoring.snapshots import (
    BRACKETS_SCHEMA,
    PREDICTIONS_SCHEMA,
    QUOTES_SCHEMA,
    SCORE_SCHEMA,
    SUBJECTS,
    score_snapshots,
)
from weather_edge.scoring.trades import (
    DECISIONS_SCHEMA,
    FILLS_SCHEMA,
    ORDERS_SCHEMA,
    score_trades,
)
from weather_edge.settings import Settings
from weather_edge.storage import Warehouse, open_warehouse
from weather_edge.weather.cities import city_codes

DEFAULT_BATCH = 64  # partitions loaded and scored together (memory stays bounded)
_DELETE_CHUNK = 500


@dataclass(frozen=True)
class ScoringInputs:
    """Everything scoring reads for a set of partitions."""

    parts: pl.DataFrame
    brackets: pl.DataFrame
    predictions: pl.DataFrame
    quotes: pl.DataFrame
    decisions: pl.DataFrame
    orders: pl.DataFrame
    fills: pl.DataFrame


def load_scoring_inputs(warehouse: Warehouse, partitions: Sequence[Partition]) -> ScoringInputs:
    """The partitions' markets with their settlements, predictions, quotes, would-trade
    decisions, their orders and the fills of their markets."""

    def read(select: str, alias: str, schema: dict[str, Any], condition: str = "") -> pl.DataFrame:
        return load_partitions(warehouse, select, alias, partitions, schema, condition)

    brackets = read(
        "SELECT m.ticker AS market_ticker, m.city, m.climate_day, m.wins_low_f, m.wins_high_f, "
        "s.market_result, s.expected_result, s.cli_high_f "
        "FROM markets m LEFT JOIN settlements s ON s.market_ticker = m.ticker",
        "m",
        BRACKETS_SCHEMA,
    )
    predictions = read(
        "SELECT city, climate_day, snapshot_at, model_version, variant, distribution_json "
        "FROM predictions p",
        "p",
        PREDICTIONS_SCHEMA,
    )
    quotes = pl.DataFrame(schema=QUOTES_SCHEMA)
    if predictions.height:  # the market is scored at the predictions' snapshot times
        quotes = read(
            "SELECT q.market_ticker, q.ts, q.yes_bid_cc, q.yes_ask_cc, m.city, m.climate_day "
            "FROM quotes q JOIN markets m ON m.ticker = q.market_ticker",
            "m",
            QUOTES_SCHEMA,
        )
    decisions = read(
        "SELECT decision_id, evaluated_at, market_ticker, city, climate_day, mode, side, "
        "count_cq, ev_per_contract_micros FROM decisions d",
        "d",
        DECISIONS_SCHEMA,
        condition="d.would_trade",
    )
    orders = read(
        "SELECT o.client_order_id, o.decision_id, d.city, d.climate_day "
        "FROM orders o JOIN decisions d ON d.decision_id = o.decision_id",
        "d",
        ORDERS_SCHEMA,
        condition="d.would_trade",
    )
    fills = read(
        "SELECT f.fill_id, f.client_order_id, f.market_ticker, f.side, f.action, f.price_cc, "
        "f.count_cq, f.fee_micros, m.city, m.climate_day "
        "FROM fills f JOIN markets m ON m.ticker = f.market_ticker",
        "m",
        FILLS_SCHEMA,
    )
    parts = partition_frame(partitions)
    return ScoringInputs(parts, brackets, predictions, quotes, decisions, orders, fills)


# --- scoring and writing -------------------------------------------------------------------


@dataclass
class ScoreSummary:
    """What a scoring pass did (Dagster metadata, CLI progress)."""

    partitions: int = 0
    rows_written: int = 0
    snapshots: Counter[str] = field(default_factory=Counter)  # distributions scored per subject
    would_trades: int = 0
    notes: Counter[str] = field(default_factory=Counter)
    settled_markets: int = 0

    def add(self, other: ScoreSummary) -> None:
        self.partitions += other.partitions
        self.rows_written += other.rows_written
        self.snapshots.update(other.snapshots)
        self.would_trades += other.would_trades
        self.notes.update(other.notes)
        self.settled_markets += other.settled_markets

    def metadata(self) -> dict[str, Any]:
        return {
            "partitions": self.partitions,
            "score_rows": self.rows_written,
            **{f"{s}_snapshots": int(self.snapshots.get(s, 0)) for s in SUBJECTS},
            "would_trades": self.would_trades,
            "skipped": "\n".join(f"{k}: {v}" for k, v in sorted(self.notes.items())) or "none",
        }


def score_inputs(inputs: ScoringInputs) -> tuple[pl.DataFrame, ScoreSummary]:
    """Pure scoring: the ``scores`` rows of the inputs' partitions and what was scored."""
    snaps = score_snapshots(inputs.parts, inputs.brackets, inputs.predictions, inputs.quotes)
    results = inputs.brackets.select("market_ticker", "market_result")
    trades = score_trades(inputs.parts, inputs.decisions, inputs.orders, inputs.fills, results)
    rows = pl.concat([snaps.rows, trades], how="vertical").cast(SCORE_SCHEMA)
    summary = ScoreSummary(
        partitions=inputs.parts.height,
        snapshots=Counter(snaps.counts),
        would_trades=inputs.decisions.height,
        notes=snaps.notes,
    )
    return rows, summary


def replace_scores(
    warehouse: Warehouse, partitions: Sequence[Partition], rows: pl.DataFrame
) -> int:
    """Delete the partitions' scores and write ``rows``, in one transaction."""
    by_city: dict[str, list[dt.date]] = {}
    for day, city in partitions:
        by_city.setdefault(city, []).append(day)
    with warehouse.session() as s:
        for city, days in sorted(by_city.items()):
            for i in range(0, len(days), _DELETE_CHUNK):
                chunk = days[i : i + _DELETE_CHUNK]
                marks = ", ".join("?" for _ in chunk)
                s.execute(
                    f"DELETE FROM scores WHERE city = ? AND climate_day IN ({marks})",
                    (city, *chunk),
                )
        return warehouse.upsert("scores", rows, session=s)


def _batches(partitions: Sequence[Partition], size: int) -> Iterable[list[Partition]]:
    for i in range(0, len(partitions), size):
        yield list(partitions[i : i + size])


def score_partitions(
    warehouse: Warehouse,
    partitions: Iterable[Partition],
    *,
    batch_size: int = DEFAULT_BATCH,
) -> ScoreSummary:
    """Score ``partitions`` (one, or a backfill range) and replace their ``scores`` rows."""
    total = ScoreSummary()
    for batch in _batches(normalize(partitions), batch_size):
        rows, summary = score_inputs(load_scoring_inputs(warehouse, batch))
        summary.rows_written = replace_scores(warehouse, batch, rows)
        total.add(summary)
    return total


# --- the backfill command --------------------------------------------------------------------


@dataclass(frozen=True)
class BackfillProgress:
    """Where a backfill is, after each batch."""

    done: int
    total: int
    through: dt.date
    rows_written: int
    settled_markets: int
    elapsed_s: float

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    def line(self) -> str:
        eta = self.elapsed_s / self.fraction - self.elapsed_s if self.done else float("nan")
        return (
            f"{self.done}/{self.total} partitions ({self.fraction:.0%}) through {self.through}: "
            f"{self.settled_markets} markets settled, {self.rows_written} score rows, "
            f"{self.elapsed_s:.1f} s elapsed, ~{eta:.0f} s to go"
        )


Progress = Callable[[BackfillProgress], None]


def backfill_scores(
    warehouse: Warehouse,
    start: dt.date,
    end: dt.date,
    cities: Sequence[str] | None = None,
    progress: Progress | None = None,
    *,
    settle: bool = True,
    batch_size: int = DEFAULT_BATCH,
) -> ScoreSummary:
    """Settle (unless ``settle=False``) and score every climate day from ``start`` to ``end``
    (inclusive) for ``cities`` (default: the whole registry), batch by batch in date order,
    calling ``progress`` after each batch. Idempotent: re-running rewrites the same rows."""
    partitions = normalize(
        (day, city) for day in day_range(start, end) for city in (cities or city_codes())
    )
    started = time.monotonic()
    total = ScoreSummary()
    for batch in _batches(partitions, batch_size):
        if settle:
            total.settled_markets += settlement.settle(warehouse, batch).written
        total.add(score_partitions(warehouse, batch, batch_size=batch_size))
        if progress is not None:
            progress(
                BackfillProgress(
                    done=total.partitions,
                    total=len(partitions),
                    through=batch[-1][0],
                    rows_written=total.rows_written,
                    settled_markets=total.settled_markets,
                    elapsed_s=time.monotonic() - started,
                )
            )
    return total


def run_backfill(
    settings: Settings,
    start: dt.date,
    end: dt.date,
    cities: Sequence[str] | None = None,
    echo: Callable[[str], Any] = print,
) -> ScoreSummary:
    """``weather-edge backfill --from --to``: settle and score the range, one progress line
    per batch, and a closing line with the totals."""
    warehouse = open_warehouse(settings.warehouse_url)
    try:
        warehouse.migrate()
        summary = backfill_scores(warehouse, start, end, cities, progress=lambda p: echo(p.line()))
    finally:
        warehouse.close()
    echo(
        f"backfill {start}..{end}: {summary.partitions} partitions, "
        f"{summary.settled_markets} settlement rows, {summary.rows_written} score rows"
    )
    return summary
