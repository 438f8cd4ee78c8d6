"""Readers of the recorded KXHIGHNY data: UTC timestamps, exact integer prices and sizes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from weather_edge.kalshi.recordings import (
    TICK_SCHEMA,
    RawOrderbookCapture,
    read_orderbook_summaries,
    read_ticks,
    shared_series_dir,
    with_brackets,
    with_yes_mid,
)

NEW_YORK = ZoneInfo("America/New_York")


def test_tick_log_pacific_wall_clock_becomes_utc(kxhighny: Path) -> None:
    ticks = read_ticks(kxhighny / "ticks" / "market_data_KXHIGHNY-25DEC06.csv.gz")
    assert ticks.schema == TICK_SCHEMA
    first = ticks.row(0, named=True)
    # The log's first line reads 2025-12-05T07:01:30.534544, Pacific standard time (UTC-8).
    assert first["ts_utc"] == dt.datetime(2025, 12, 5, 15, 1, 30, 534544, tzinfo=dt.UTC)
    assert first["ts_utc"].astimezone(NEW_YORK).time().isoformat() == "10:01:30.534544"
    assert first["event_ticker"] == "KXHIGHNY-25DEC06"


def test_each_event_first_appears_when_kalshi_lists_it(kxhighny: Path) -> None:
    ticks = read_ticks(kxhighny / "ticks")
    first = ticks.group_by("event_ticker").agg(pl.col("ts_utc").min()).sort("event_ticker")
    # Kalshi lists the next day's markets at 10:00 ET; the 25DEC05 log started mid-day.
    late = [e for e, ts in first.iter_rows() if ts.astimezone(NEW_YORK).hour != 10]
    assert late == ["KXHIGHNY-25DEC05"]


def test_tick_prices_become_centi_cents_and_empty_sides_null(kxhighny: Path) -> None:
    ticks = read_ticks(kxhighny / "ticks" / "market_data_KXHIGHNY-25DEC05.csv.gz")
    # First line: KXHIGHNY-25DEC05-T37,1,96,99,4 (cents)
    assert ticks.row(0, named=True) | {"ts_utc": None} == {
        "ts_utc": None,
        "market_ticker": "KXHIGHNY-25DEC05-T37",
        "event_ticker": "KXHIGHNY-25DEC05",
        "yes_bid_cc": 100,
        "no_bid_cc": 9_600,
        "yes_ask_cc": 400,
        "no_ask_cc": 9_900,
    }
    # The last lines, after the close, are 0,0,100,100: both sides empty.
    last = ticks.tail(5)
    assert last.select(pl.exclude("ts_utc", "market_ticker", "event_ticker")).null_count().row(
        0
    ) == (
        5,
        5,
        5,
        5,
    )
    assert ticks["ts_utc"].is_sorted()


def test_ticks_with_brackets_and_mids(kxhighny: Path) -> None:
    ticks = with_yes_mid(
        with_brackets(read_ticks(kxhighny / "ticks" / "market_data_KXHIGHNY-25DEC05.csv.gz"))
    )
    row = ticks.row(1, named=True)  # KXHIGHNY-25DEC05-B32.5,45,54,55,46
    assert (row["bracket_kind"], row["bracket_low_f"], row["bracket_high_f"]) == ("between", 32, 33)
    assert row["yes_mid_probability"] == pytest.approx(0.455)
    t37 = ticks.filter(pl.col("market_ticker") == "KXHIGHNY-25DEC05-T37").row(0, named=True)
    assert (t37["bracket_kind"], t37["bracket_low_f"], t37["bracket_high_f"]) == (
        "greater",
        38,
        None,
    )
    assert ticks.filter(pl.col("yes_bid_cc").is_null())["yes_mid_probability"].null_count() > 0


def test_orderbook_summaries_are_exact(kxhighny: Path) -> None:
    summaries = read_orderbook_summaries(kxhighny)
    assert summaries.height == 2028
    assert summaries.schema["fetched_at"] == pl.Datetime("us", "UTC")
    t82 = summaries.filter(
        (pl.col("market_ticker") == "KXHIGHNY-26SEP02-T82")
        & (pl.col("fetched_at") == dt.datetime(2026, 9, 1, 17, 46, 25, 566929, tzinfo=dt.UTC))
    ).row(0, named=True)
    # ,,0.01,509.0,,,0.99,509.0: no YES bids, so no YES bid and no NO ask.
    assert (t82["yes_bid_cc"], t82["yes_ask_cc"], t82["no_bid_cc"], t82["no_ask_cc"]) == (
        None,
        100,
        9_900,
        None,
    )
    assert (t82["yes_ask_cq"], t82["no_bid_cq"]) == (50_900, 50_900)
    b77 = summaries.filter(
        (pl.col("market_ticker") == "KXHIGHNY-26SEP02-B77.5")
        & (pl.col("fetched_at") == t82["fetched_at"])
    ).row(0, named=True)
    assert b77["yes_ask_depth_cq"] == 97_028  # recorded as the float sum 970.2799999999999
    assert b77["yes_mid_cc"] == 950  # 0.095
    assert t82["close_time"] == dt.datetime(2026, 9, 3, 5, tzinfo=dt.UTC)


def test_raw_orderbooks_are_typed_captures(captures: list[RawOrderbookCapture]) -> None:
    assert len(captures) == 66
    assert [c.fetched_at for c in captures] == sorted(c.fetched_at for c in captures)
    first = captures[0]
    assert first.fetched_at.utcoffset() == dt.timedelta(0)
    assert (first.cycle_id, first.depth, first.event_ticker) == (
        "20260901T174625Z",
        20,
        first.market_ticker.rsplit("-", 1)[0],
    )
    assert all(c.no_levels for c in captures)


def test_missing_recordings_say_where_they_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEATHER_EDGE_SHARED_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="WEATHER_EDGE_SHARED_DATA"):
        shared_series_dir("KXHIGHNY")
    with pytest.raises(FileNotFoundError):
        read_ticks(tmp_path)
