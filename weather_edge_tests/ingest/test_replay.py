"""Replaying the real KXHIGHNY recordings reproduces their best bid and ask at every instant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from weather_edge.ingest.replay import ReplayError, replay
from weather_edge.kalshi.recordings import read_orderbook_summaries, read_ticks


def quotes(warehouse: Any, source: str) -> pl.DataFrame:
    return warehouse.query_frame(
        "SELECT market_ticker, ts, yes_bid_cc, yes_ask_cc, yes_bid_size_cq, yes_ask_size_cq "
        "FROM quotes WHERE source = ? ORDER BY ts, source_id",
        [source],
    )


def test_tick_log_replay_matches_every_recorded_top_of_book(
    warehouse: Any, shared_data: Path
) -> None:
    tick_file = shared_data / "kalshi/KXHIGHNY/ticks/market_data_KXHIGHNY-25DEC05.csv.gz"
    [result] = replay(tick_file, warehouse)
    expected = read_ticks(tick_file)
    got = quotes(warehouse, "ticks")
    assert result.records == expected.height == got.height
    assert got["ts"].to_list() == expected["ts_utc"].to_list()
    assert got["market_ticker"].to_list() == expected["market_ticker"].to_list()
    assert got["yes_bid_cc"].to_list() == expected["yes_bid_cc"].to_list()
    assert got["yes_ask_cc"].to_list() == expected["yes_ask_cc"].to_list()
    # tick logs record prices only: sizes are unknown, never invented
    assert got["yes_bid_size_cq"].null_count() == got.height
    markets = warehouse.query_frame("SELECT ticker, wins_low_f, wins_high_f FROM markets")
    assert set(markets["ticker"]) == set(expected["market_ticker"])


def test_summary_replay_matches_prices_and_sizes(warehouse: Any, shared_data: Path) -> None:
    series = shared_data / "kalshi/KXHIGHNY"
    summary_file = series / "orderbook_summary_202609.csv"
    replay(summary_file, warehouse)
    expected = read_orderbook_summaries(summary_file).sort("fetched_at", maintain_order=True)
    got = quotes(warehouse, "summaries")
    assert got.height == expected.height
    joined = got.join(
        expected.rename({"fetched_at": "ts"}), on=["market_ticker", "ts"], how="inner"
    )
    assert joined.height == expected.height
    assert (joined["yes_bid_cc"] == joined["yes_bid_cc_right"]).all()
    assert (joined["yes_ask_cc"] == joined["yes_ask_cc_right"]).all()
    has_bid = joined.filter(pl.col("yes_bid_cc").is_not_null())
    assert (has_bid["yes_bid_size_cq"] == has_bid["yes_bid_cq"]).all()


def test_raw_order_books_replay_to_the_summaries_best_prices(
    warehouse: Any, shared_data: Path
) -> None:
    series = shared_data / "kalshi/KXHIGHNY"
    replay(series / "raw_orderbooks", warehouse)
    got = quotes(warehouse, "raw_orderbooks")
    summaries = read_orderbook_summaries(series).rename({"fetched_at": "ts"})
    joined = got.join(summaries, on=["market_ticker", "ts"], how="inner")
    assert joined.height == got.height > 50
    assert (joined["yes_bid_cc"].fill_null(-1) == joined["yes_bid_cc_right"].fill_null(-1)).all()
    assert (joined["yes_ask_cc"].fill_null(-1) == joined["yes_ask_cc_right"].fill_null(-1)).all()


def test_replaying_twice_adds_nothing(warehouse: Any, shared_data: Path) -> None:
    raw = shared_data / "kalshi/KXHIGHNY/raw_orderbooks"
    replay(raw, warehouse)
    before = warehouse.count("quotes"), warehouse.count("markets")
    replay(raw, warehouse)
    assert (warehouse.count("quotes"), warehouse.count("markets")) == before


def test_unknown_paths_are_explained(warehouse: Any, tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="does not exist"):
        replay(tmp_path / "nope", warehouse)
    with pytest.raises(ReplayError, match="no journal segments or recordings"):
        replay(tmp_path, warehouse)
