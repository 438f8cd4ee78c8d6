"""The exchange's clock, read off the ``Date`` header of its HTTP responses.

Every HTTP server stamps its answers with ``Date`` (RFC 9110, one-second resolution).
Between answers the clock runs on at wall speed from the last stamp. It never runs
backwards: a stamp older than the running estimate (the header truncates to the second)
leaves the estimate where it is.

What it is for: an execution against an exchange whose time is not the wall clock's, such
as the local simulator on an accelerated or stepped clock (the demo trades on a simulated
August day). Against Kalshi itself the wall clock is right and stays the default; the
difference between the two is also the clock skew worth watching.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from weather_edge.http_dates import parse_http_date


class ExchangeClockError(RuntimeError):
    """The exchange's time is not known yet (no response carried a ``Date`` header)."""


class ExchangeClock:
    """Thread-safe estimate of the exchange's time from the ``Date`` stamps it sends."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._anchor: datetime | None = None
        self._anchor_mono = 0.0
        self.observations = 0

    @property
    def synced(self) -> bool:
        return self._anchor is not None

    def observe(self, date_header: str | None) -> None:
        """Take one response's ``Date`` header (ignored when missing or malformed)."""
        stamp = parse_http_date(date_header) if date_header else None
        if stamp is None:
            return
        with self._lock:
            self.observations += 1
            if self._anchor is not None and stamp <= self._estimate():
                return
            self._anchor, self._anchor_mono = stamp, self._monotonic()

    def now(self) -> datetime:
        """The exchange's time now; :class:`ExchangeClockError` before any stamp."""
        with self._lock:
            if self._anchor is None:
                raise ExchangeClockError(
                    "the exchange's time is unknown: no response with a Date header yet"
                )
            return self._estimate()

    def _estimate(self) -> datetime:
        assert self._anchor is not None
        return self._anchor + timedelta(seconds=self._monotonic() - self._anchor_mono)

    def skew(self, wall: datetime | None = None) -> timedelta:
        """How far the exchange's time is ahead of the wall clock (negative: behind)."""
        return self.now() - (wall or datetime.now(UTC))
