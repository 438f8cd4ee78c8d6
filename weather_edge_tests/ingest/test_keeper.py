"""The keeper policy: one ingestion run at a time, restarted with backoff after failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from weather_edge.ingest.keeper import FinishedRun, KeeperCursor, backoff_seconds, decide

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_requests_a_run_when_none_is_active() -> None:
    decision = decide(NOW, None, None, KeeperCursor())
    assert decision.request
    assert decision.run_key
    again = decide(NOW, None, None, decision.cursor)
    assert again.run_key != decision.run_key  # a fresh key per request


def test_skips_while_a_run_is_active() -> None:
    decision = decide(NOW, "run-1", None, KeeperCursor())
    assert not decision.request
    assert "run-1" in decision.reason


def test_backs_off_exponentially_after_consecutive_failures_and_resets_on_success() -> None:
    cursor = KeeperCursor()
    ended = NOW - timedelta(seconds=10)
    first = decide(NOW, None, FinishedRun("a", False, ended), cursor)
    assert not first.request and "1 failed" in first.reason
    assert decide(ended + timedelta(seconds=31), None, FinishedRun("a", False, ended),
                  first.cursor).request
    second = decide(NOW, None, FinishedRun("b", False, ended), first.cursor)
    assert second.cursor.consecutive_failures == 2
    assert not decide(ended + timedelta(seconds=59), None, FinishedRun("b", False, ended),
                      second.cursor).request
    # the same finished run is not counted twice on later evaluations
    assert decide(NOW, None, FinishedRun("b", False, ended),
                  second.cursor).cursor.consecutive_failures == 2
    ok = decide(NOW, None, FinishedRun("c", True, ended), second.cursor)
    assert ok.request and ok.cursor.consecutive_failures == 0


def test_backoff_is_capped() -> None:
    assert backoff_seconds(0) == 0
    assert backoff_seconds(1) == 30
    assert backoff_seconds(20) == 900


def test_cursor_round_trips_through_text() -> None:
    cursor = KeeperCursor(2, "run-9", 7)
    assert KeeperCursor.loads(cursor.dumps()) == cursor
    assert KeeperCursor.loads(None) == KeeperCursor()
