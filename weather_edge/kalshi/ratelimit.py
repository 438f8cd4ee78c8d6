"""Client-side token buckets so the exchange never has to tell us to slow down.

Kalshi limits reads and writes separately, per tier (requests per second):
Basic 20/10, Advanced 30/30, Premier 100/100, Prime 400/400. A bucket holds at most one
second's worth of requests (the burst) and refills continuously. Waiters are served in
arrival order. ``headroom`` runs a little under the tier (the REST client uses
``KalshiConfig.rate_headroom``, 0.9): at exactly the server's rate, network jitter alone
makes some requests arrive early. When the server does answer 429 with ``Retry-After``,
the limiter is paused for that long, so every request (not only the one refused) backs off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from weather_edge.kalshi.config import TIER_LIMITS, RateTier, rate_tier

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_EPSILON = 1e-9


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` banked (default: one second's worth)."""

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a token bucket needs a positive rate")
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else max(rate, 1.0))
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._stamp = clock()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()
        self.acquired = 0
        self.waits = 0
        self.waited_seconds = 0.0

    def _refill(self) -> float:
        now = self._clock()
        if now > self._stamp:
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
        return now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def delay(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens would be available (0 if now)."""
        now = self._refill()
        pause = max(0.0, self._paused_until - now)
        missing = cost - self._tokens
        if missing <= _EPSILON:  # float dust after a refill is not worth a sleep
            missing = 0.0
        return max(pause, missing / self.rate)

    def try_acquire(self, cost: float = 1.0) -> bool:
        if self._lock.locked() or self.delay(cost) > 0:
            return False
        self._tokens = max(0.0, self._tokens - cost)
        self.acquired += 1
        return True

    async def acquire(self, cost: float = 1.0) -> float:
        """Wait for ``cost`` tokens and take them; returns the seconds waited."""
        if cost > self.capacity:
            raise ValueError(f"cost {cost} exceeds the bucket capacity {self.capacity}")
        waited = 0.0
        async with self._lock:
            while (wait := self.delay(cost)) > 0:
                await self._sleep(wait)
                waited += wait
            self._tokens = max(0.0, self._tokens - cost)
        self.acquired += 1
        if waited:
            self.waits += 1
            self.waited_seconds += waited
        return waited

    def pause(self, seconds: float) -> None:
        """Hand out no tokens for ``seconds`` (the server's ``Retry-After``)."""
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


@dataclass(frozen=True, slots=True)
class LimiterStats:
    reads: int
    writes: int
    waits: int
    waited_seconds: float


class RateLimiter:
    """A read bucket and a write bucket, sized by the account's rate tier."""

    def __init__(
        self,
        tier: RateTier | str = RateTier.BASIC,
        *,
        headroom: float = 1.0,
        reads_per_second: float | None = None,
        writes_per_second: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not 0 < headroom <= 1:
            raise ValueError(f"headroom is a fraction of the tier's limits, got {headroom}")
        self.tier = rate_tier(tier)
        limits = TIER_LIMITS[self.tier]
        reads = reads_per_second or limits.reads_per_second * headroom
        writes = writes_per_second or limits.writes_per_second * headroom
        self.read = TokenBucket(reads, clock=clock, sleep=sleep)
        self.write = TokenBucket(writes, clock=clock, sleep=sleep)

    def bucket(self, method: str) -> TokenBucket:
        return self.read if method.upper() in READ_METHODS else self.write

    async def acquire(self, method: str, cost: float = 1.0) -> float:
        return await self.bucket(method).acquire(cost)

    def pause(self, seconds: float) -> None:
        self.read.pause(seconds)
        self.write.pause(seconds)

    @property
    def stats(self) -> LimiterStats:
        return LimiterStats(
            reads=self.read.acquired,
            writes=self.write.acquired,
            waits=self.read.waits + self.write.waits,
            waited_seconds=self.read.waited_seconds + self.write.waited_seconds,
        )
