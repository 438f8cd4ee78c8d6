"""Exchange timestamps in the journal processor: every form Kalshi sends reads as the same
instant, and an unreadable ``ts`` keeps the message at its receive time (quote or trade)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from weather_edge.ingest.processor import JournalProcessor, exchange_ts_ns, parse_exchange_ts
from weather_edge.storage.journal import JournalRecord

INSTANT = datetime(2026, 8, 24, 15, 0, 7, tzinfo=UTC)
INSTANT_NS = 1_787_583_607 * 10**9
RECEIVED = datetime(2026, 8, 24, 15, 0, 9, 250_000, tzinfo=UTC)
TICKER = "KXHIGHNY-26AUG24-B80.5"


@pytest.mark.parametrize(
    "ts",
    [
        1_787_583_607,
        "1787583607",
        1_787_583_607_000,
        "1787583607000",
        1_787_583_607.0,
        "2026-08-24T15:00:07Z",
        "2026-08-24T15:00:07+00:00",
        "2026-08-24T11:00:07-04:00",
    ],
)
def test_every_form_of_ts_is_the_same_instant(ts: Any) -> None:
    assert INSTANT.timestamp() * 10**9 == INSTANT_NS
    assert exchange_ts_ns(ts, fallback_ns=0) == INSTANT_NS
    assert parse_exchange_ts(ts, RECEIVED) == INSTANT


@pytest.mark.parametrize("ts", [None, "", "yesterday", True])
def test_an_unreadable_ts_falls_back_to_the_receive_time(ts: Any) -> None:
    assert parse_exchange_ts(ts, RECEIVED) == RECEIVED


def record(seq: int, message: dict[str, Any]) -> JournalRecord:
    raw = json.dumps({"sid": 2, "seq": seq, **message}).encode()
    received_ns = int(RECEIVED.timestamp() * 10**6) * 1000
    return JournalRecord("seg-test.wej", seq * 100, seq * 100 + 100, received_ns, 1, 2, seq, raw)


def trade(trade_id: str, ts: Any) -> dict[str, Any]:
    return {
        "type": "trade",
        "msg": {
            "trade_id": trade_id,
            "market_ticker": TICKER,
            "yes_price_dollars": "0.4200",
            "no_price_dollars": "0.5800",
            "count_fp": "3.00",
            "taker_side": "yes",
            "ts": ts,
        },
    }


def test_a_trade_with_a_bad_ts_is_kept_at_its_receive_time(warehouse: Any) -> None:
    processor = JournalProcessor(warehouse)
    processor.process_all(
        [record(1, trade("t-good", "2026-08-24T15:00:07Z")), record(2, trade("t-bad", "soon"))]
    )
    stored = dict(warehouse.query("SELECT trade_id, ts FROM trades"))
    assert stored["t-good"] == INSTANT
    assert stored["t-bad"] == RECEIVED
    assert processor.stats.malformed == 0 and processor.stats.trades == 2
