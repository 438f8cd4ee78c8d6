"""Token buckets by tier, on a fake clock (no real sleeping)."""

from __future__ import annotations

import asyncio

import pytest

from weather_edge.kalshi.config import TIER_LIMITS, RateTier
from weather_edge.kalshi.ratelimit import RateLimiter, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_tier_table() -> None:
    assert {t: (v.reads_per_second, v.writes_per_second) for t, v in TIER_LIMITS.items()} == {
        RateTier.BASIC: (20, 10),
        RateTier.ADVANCED: (30, 30),
        RateTier.PREMIER: (100, 100),
        RateTier.PRIME: (400, 400),
    }


@pytest.mark.parametrize("tier", list(RateTier))
def test_limiter_sustains_the_tier_rate(tier: RateTier) -> None:
    clock = FakeClock()
    limiter = RateLimiter(tier, clock=clock, sleep=clock.sleep)
    limits = TIER_LIMITS[tier]

    async def burst() -> None:
        start = clock.now
        for _ in range(int(limits.reads_per_second * 3)):
            await limiter.acquire("GET")
        # one second of burst, then exactly the rate: 3 s worth takes 2 s
        assert clock.now - start == pytest.approx(2.0)
        start = clock.now
        for _ in range(int(limits.writes_per_second)):
            await limiter.acquire("POST")
        assert clock.now == start  # the write bucket is separate and still full
        await limiter.acquire("DELETE")
        assert clock.now - start == pytest.approx(1 / limits.writes_per_second)

    asyncio.run(burst())
    assert limiter.stats.reads == limits.reads_per_second * 3


def test_bucket_refills_and_try_acquire() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)
    assert all(bucket.try_acquire() for _ in range(10))
    assert not bucket.try_acquire()
    assert bucket.delay() == pytest.approx(0.1)
    clock.now += 0.25
    assert bucket.try_acquire() and bucket.try_acquire()
    assert not bucket.try_acquire()
    clock.now += 100
    assert bucket.tokens == 10  # never more than the capacity


def test_pause_holds_every_request() -> None:
    clock = FakeClock()
    limiter = RateLimiter("basic", clock=clock, sleep=clock.sleep)
    limiter.pause(2.5)

    async def go() -> None:
        await limiter.acquire("GET")
        await limiter.acquire("POST")

    asyncio.run(go())
    assert clock.now == pytest.approx(1002.5)


def test_concurrent_waiters_are_served_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(5, capacity=1, clock=clock, sleep=clock.sleep)

    async def go() -> list[float]:
        done: list[float] = []

        async def one() -> None:
            await bucket.acquire()
            done.append(clock.now)

        await asyncio.gather(*(one() for _ in range(6)))
        return done

    stamps = asyncio.run(go())
    assert stamps == pytest.approx([1000.0 + 0.2 * i for i in range(6)])
    with pytest.raises(ValueError):
        asyncio.run(bucket.acquire(2))
