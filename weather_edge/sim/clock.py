"""The simulator's clock: timezone-aware UTC, accelerated or stepped by hand.

* ``SimClock(start, speed=60)``: simulated time runs ``speed`` times faster than the wall
  clock from ``start`` on (``speed=1`` follows real time from ``start``);
* ``SimClock(start, speed=0)``: a manual clock that only moves when ``advance``/``set`` say so,
  which is what tests use.

Either kind can be moved forward by hand (``advance`` shifts the accelerated clock too).
Everything the exchange stamps (orders, fills, lifecycle, candles) reads this clock; request
signatures are checked against the real wall clock, since clients sign with it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from weather_edge.weather.cities import ensure_utc

Monotonic = Callable[[], float]


class SimClock:
    """A thread-safe simulated clock. ``now()`` is aware UTC truncated to the millisecond."""

    def __init__(
        self, start: datetime, speed: float = 1.0, *, monotonic: Monotonic = time.monotonic
    ) -> None:
        if speed < 0:
            raise ValueError(f"a clock speed cannot be negative: {speed}")
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._anchor = _truncate_ms(ensure_utc(start))
        self._anchor_mono = monotonic()
        self._speed = float(speed)

    @classmethod
    def manual(cls, start: datetime) -> SimClock:
        return cls(start, speed=0.0)

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def is_manual(self) -> bool:
        return self._speed == 0.0

    def now(self) -> datetime:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> datetime:
        if self._speed == 0.0:
            return self._anchor
        elapsed = (self._monotonic() - self._anchor_mono) * self._speed
        return _truncate_ms(self._anchor + timedelta(seconds=elapsed))

    def advance(self, delta: timedelta | float) -> datetime:
        """Move the clock forward by ``delta`` (a timedelta or seconds); returns the new time."""
        step = delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        if step < timedelta(0):
            raise ValueError("the simulated clock never goes backwards")
        with self._lock:
            self._rebase(self._now_locked() + step)
            return self._anchor

    def set(self, instant: datetime) -> datetime:
        """Jump to ``instant`` (not earlier than now)."""
        target = _truncate_ms(ensure_utc(instant))
        with self._lock:
            if target < self._now_locked():
                raise ValueError(f"the simulated clock never goes backwards (to {target})")
            self._rebase(target)
            return self._anchor

    def set_speed(self, speed: float) -> None:
        if speed < 0:
            raise ValueError(f"a clock speed cannot be negative: {speed}")
        with self._lock:
            self._rebase(self._now_locked())
            self._speed = float(speed)

    def real_seconds(self, sim_seconds: float) -> float:
        """How long (real seconds) ``sim_seconds`` of simulated time take; inf when manual."""
        return float("inf") if self._speed == 0.0 else sim_seconds / self._speed

    def _rebase(self, instant: datetime) -> None:
        self._anchor = _truncate_ms(instant)
        self._anchor_mono = self._monotonic()

    def __repr__(self) -> str:
        kind = "manual" if self.is_manual else f"x{self._speed:g}"
        return f"SimClock({self.now().isoformat()}, {kind})"


def _truncate_ms(instant: datetime) -> datetime:
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def wall_clock_start() -> datetime:
    """The current wall-clock instant truncated to the second (the default start)."""
    return datetime.now(UTC).replace(microsecond=0)
