"""Readers for recorded Kalshi market data (``shared/data/kalshi/<SERIES>/``), exact and in UTC.

Three recordings, three readers; every timestamp comes back timezone-aware UTC, every price
as ``int`` centi-cents (``*_cc``) and every size as ``int`` centi-contracts (``*_cq``):

* :func:`read_ticks` -- ``ticks/market_data_<EVENT>.csv.gz``, every top-of-book change of
  every market of one event (Dec 2025). The recorder wrote naive local times of a machine on
  US Pacific time (markets first appear at 07:01 = 10:01 ET when Kalshi lists the next day,
  the last changes come just before 21:00 = midnight ET) and prices in whole cents, with 0
  for an empty bid side and 100 for the matching ask.
* :func:`read_orderbook_summaries` -- ``orderbook_summary_YYYYMM.csv``, best bid/ask, sizes
  and depth of every market at each capture (Aug-Sep 2026), fixed-point dollar strings.
* :func:`read_raw_orderbooks` -- ``raw_orderbooks/<cycle>.jsonl``, the raw REST order-book
  responses (top 20 levels per side) of the same captures, as :class:`RawOrderbookCapture`.

Captures join to summaries on ``(market_ticker, fetched_at)``. :func:`shared_series_dir`
finds the recordings beside a source checkout (or via ``WEATHER_EDGE_SHARED_DATA``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import polars as pl

from weather_edge.kalshi.book import Level, OrderBook, book_from_levels, parse_rest_orderbook
from weather_edge.kalshi.errors import KalshiError
from weather_edge.kalshi.tickers import infer_event_brackets
from weather_edge.money import ONE_CENT_CC, PRICE_SCALE, SIZE_SCALE, parse_price, parse_size
from weather_edge.weather.cities import ensure_utc

RECORDER_TZ = "America/Los_Angeles"  # the tick recorder's wall clock
SHARED_DATA_ENV = "WEATHER_EDGE_SHARED_DATA"
_EVENT_OF_TICKER = r"^(.+)-[^-]+$"


def shared_series_dir(series: str = "KXHIGHNY") -> Path:
    """``<shared data>/kalshi/<series>``: from ``$WEATHER_EDGE_SHARED_DATA``, else the
    ``shared/data`` directory beside the repository of a source checkout."""
    override = os.environ.get(SHARED_DATA_ENV)
    root = Path(override) if override else Path(__file__).resolve().parents[3] / "shared" / "data"
    path = root / "kalshi" / series
    if not path.is_dir():
        raise FileNotFoundError(
            f"no recordings for {series} at {path}; set {SHARED_DATA_ENV} to the shared data dir"
        )
    return path


def _files(path: str | Path, pattern: str) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob(pattern))
        if not files:
            raise FileNotFoundError(f"no {pattern} files in {path}")
        return files
    if not path.is_file():
        raise FileNotFoundError(path)
    return [path]


# --- tick logs -----------------------------------------------------------------------------

TICK_SCHEMA = pl.Schema(
    {
        "ts_utc": pl.Datetime("us", "UTC"),
        "market_ticker": pl.String(),
        "event_ticker": pl.String(),
        "yes_bid_cc": pl.Int64(),
        "no_bid_cc": pl.Int64(),
        "yes_ask_cc": pl.Int64(),
        "no_ask_cc": pl.Int64(),
    }
)


def read_ticks(path: str | Path) -> pl.DataFrame:
    """Top-of-book changes from one tick log or a directory of them, in time order.

    Columns (:data:`TICK_SCHEMA`): ``ts_utc`` (the recorder's naive US/Pacific time made
    aware and converted to UTC), ``market_ticker``, ``event_ticker``, ``yes_bid_cc``,
    ``no_bid_cc``, ``yes_ask_cc`` (= 1 - best NO bid), ``no_ask_cc`` (= 1 - best YES bid).
    An empty side is null (the log writes bid 0 / ask 100). Raises ``ValueError`` if the
    log's implied asks disagree with its bids.
    """
    frames = []
    for file in _files(path, "market_data_*.csv.gz"):
        raw = pl.read_csv(
            file,
            schema_overrides={
                "timestamp": pl.String,
                "market_ticker": pl.String,
                "best_yes_bid": pl.Int64,
                "best_no_bid": pl.Int64,
                "implied_no_ask": pl.Int64,
                "implied_yes_ask": pl.Int64,
            },
        )
        bad = raw.filter(
            (pl.col("implied_yes_ask") != 100 - pl.col("best_no_bid"))
            | (pl.col("implied_no_ask") != 100 - pl.col("best_yes_bid"))
        )
        if bad.height:
            raise ValueError(f"{file}: implied asks disagree with bids, e.g. {bad.row(0)}")
        frames.append(raw)
    ticks = pl.concat(frames)

    def cents(column: str, empty: int) -> pl.Expr:
        value = pl.col(column)
        return pl.when(value == empty).then(None).otherwise(value * ONE_CENT_CC)

    return ticks.select(
        pl.col("timestamp")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us")
        .dt.replace_time_zone(RECORDER_TZ)  # raises on a DST-ambiguous wall time
        .dt.convert_time_zone("UTC")
        .alias("ts_utc"),
        pl.col("market_ticker"),
        pl.col("market_ticker").str.extract(_EVENT_OF_TICKER).alias("event_ticker"),
        cents("best_yes_bid", 0).alias("yes_bid_cc"),
        cents("best_no_bid", 0).alias("no_bid_cc"),
        cents("implied_yes_ask", 100).alias("yes_ask_cc"),
        cents("implied_no_ask", 100).alias("no_ask_cc"),
    ).sort("ts_utc", maintain_order=True)


def with_brackets(frame: pl.DataFrame, ticker_column: str = "market_ticker") -> pl.DataFrame:
    """Add ``bracket_kind``, ``bracket_low_f`` and ``bracket_high_f`` (inclusive, null = open)
    for each market, inferred from the event's tickers (see ``infer_event_brackets``)."""
    brackets = infer_event_brackets(frame[ticker_column].unique().to_list())
    ticker = pl.col(ticker_column)
    return frame.with_columns(
        ticker.replace_strict(
            {t: b.kind.value for t, b in brackets.items()}, return_dtype=pl.String
        ).alias("bracket_kind"),
        ticker.replace_strict(
            {t: b.low_f for t, b in brackets.items()}, return_dtype=pl.Int64
        ).alias("bracket_low_f"),
        ticker.replace_strict(
            {t: b.high_f for t, b in brackets.items()}, return_dtype=pl.Int64
        ).alias("bracket_high_f"),
    )


def with_yes_mid(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``yes_mid_probability`` (float, for models): the YES bid/ask midpoint as a
    probability, null when either side is empty (a one-sided book has no honest mid)."""
    return frame.with_columns(
        ((pl.col("yes_bid_cc") + pl.col("yes_ask_cc")) / (2 * PRICE_SCALE)).alias(
            "yes_mid_probability"
        )
    )


# --- order-book summaries ------------------------------------------------------------------

_SUMMARY_PRICES = {  # source column -> our column, exact fixed-point
    "best_yes_bid": "yes_bid_cc",
    "best_yes_ask": "yes_ask_cc",
    "best_no_bid": "no_bid_cc",
    "best_no_ask": "no_ask_cc",
}
_SUMMARY_SIZES = {
    "best_yes_bid_size": "yes_bid_cq",
    "best_yes_ask_size": "yes_ask_cq",
    "best_no_bid_size": "no_bid_cq",
    "best_no_ask_size": "no_ask_cq",
}
# Derived columns the recorder computed with binary floats ("970.2799999999999"): rounded
# half-even to the grid they came from.
_SUMMARY_ROUNDED_PRICES = {
    "yes_spread": "yes_spread_cc",
    "yes_midpoint": "yes_mid_cc",
    "no_spread": "no_spread_cc",
    "no_midpoint": "no_mid_cc",
    "max_spread_dollars": "max_spread_cc",
}
_SUMMARY_ROUNDED_SIZES = {
    "yes_bid_depth": "yes_bid_depth_cq",
    "yes_ask_depth": "yes_ask_depth_cq",
    "no_bid_depth": "no_bid_depth_cq",
    "no_ask_depth": "no_ask_depth_cq",
}


def _rounded(text: str, scale: int) -> int:
    return int((Decimal(text) * scale).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _int_column(
    values: Iterable[str | None], convert: Callable[[str], int], name: str
) -> pl.Series:
    return pl.Series(
        name, [None if v is None or v == "" else convert(v) for v in values], dtype=pl.Int64
    )


def read_orderbook_summaries(path: str | Path) -> pl.DataFrame:
    """Order-book summaries from one ``orderbook_summary_*.csv`` or a directory of them.

    Columns: ``fetched_at`` / ``evaluated_at`` / ``close_time`` (UTC), ``market_ticker``,
    ``event_ticker``, ``market_status``, ``orderbook_status``, ``orderbook_reason``,
    ``eligible`` (bool), ``staleness_seconds``, ``max_staleness_seconds``; exact best prices
    ``yes_bid_cc``, ``yes_ask_cc``, ``no_bid_cc``, ``no_ask_cc`` and their sizes ``*_cq``
    (null when that side is empty); and, rounded to the grid because the recorder computed
    them with floats, ``yes_spread_cc``, ``yes_mid_cc``, ``no_spread_cc``, ``no_mid_cc``,
    ``max_spread_cc`` and the depths ``yes_bid_depth_cq``... (total size of the captured
    levels on that side of the book).
    """
    raw = pl.concat(
        [pl.read_csv(f, infer_schema_length=0) for f in _files(path, "orderbook_summary_*.csv")]
    )

    def utc(column: str) -> pl.Expr:
        return pl.col(column).str.to_datetime(time_unit="us", time_zone="UTC")

    columns: list[pl.Series | pl.Expr] = [
        utc("fetched_at").alias("fetched_at"),
        utc("evaluated_at").alias("evaluated_at"),
        pl.col("ticker").alias("market_ticker"),
        pl.col("event_ticker"),
        utc("close_time").alias("close_time"),
        pl.col("market_status"),
        pl.col("orderbook_status"),
        pl.col("orderbook_reason"),
        (pl.col("eligible") == "True").alias("eligible"),
        pl.col("staleness_seconds").cast(pl.Float64),
        pl.col("max_staleness_seconds").cast(pl.Float64),
    ]
    conversions: list[tuple[dict[str, str], Callable[[str], int]]] = [
        (_SUMMARY_PRICES, parse_price),
        (_SUMMARY_SIZES, parse_size),
        (_SUMMARY_ROUNDED_PRICES, lambda t: _rounded(t, PRICE_SCALE)),
        (_SUMMARY_ROUNDED_SIZES, lambda t: _rounded(t, SIZE_SCALE)),
    ]
    for mapping, convert in conversions:
        for source, name in mapping.items():
            columns.append(_int_column(raw[source].to_list(), convert, name))
    return raw.select(columns).sort("fetched_at", "market_ticker", maintain_order=True)


# --- raw REST order books ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawOrderbookCapture:
    """One recorded ``GET /markets/{ticker}/orderbook`` response.

    ``yes_levels`` / ``no_levels`` are ``(price_cc, size_cq)`` bids in the order captured
    (ascending, best bid last); ``depth`` is how many levels per side were requested.
    """

    cycle_id: str
    fetched_at: dt.datetime
    event_ticker: str
    market_ticker: str
    depth: int
    yes_levels: tuple[Level, ...]
    no_levels: tuple[Level, ...]

    def book(self) -> OrderBook:
        return book_from_levels(self.market_ticker, self.yes_levels, self.no_levels)


def read_raw_orderbooks(path: str | Path) -> list[RawOrderbookCapture]:
    """Captures from one ``raw_orderbooks/*.jsonl`` file or the directory, in time order."""
    captures: list[RawOrderbookCapture] = []
    for file in _files(path, "*.jsonl"):
        with file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    yes, no = parse_rest_orderbook(record["payload"])
                    captures.append(
                        RawOrderbookCapture(
                            cycle_id=str(record["cycle_id"]),
                            fetched_at=ensure_utc(dt.datetime.fromisoformat(record["fetched_at"])),
                            event_ticker=str(record["event_ticker"]),
                            market_ticker=str(record["ticker"]),
                            depth=int(record["depth"]),
                            yes_levels=tuple(yes),
                            no_levels=tuple(no),
                        )
                    )
                except (KeyError, TypeError, ValueError, KalshiError) as exc:
                    raise ValueError(f"{file}:{number}: not an order-book capture: {exc}") from exc
    captures.sort(key=lambda c: c.fetched_at)
    return captures
