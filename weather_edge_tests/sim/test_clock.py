"""The simulated clock: manual steps and acceleration, always aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from weather_edge.sim.clock import SimClock

START = datetime(2026, 8, 23, 15, 0, tzinfo=UTC)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_manual_clock_moves_only_when_told() -> None:
    clock = SimClock.manual(START)
    assert clock.is_manual and clock.now() == START
    assert clock.advance(90) == START + timedelta(seconds=90)
    assert clock.advance(timedelta(hours=1)) == START + timedelta(hours=1, seconds=90)
    assert clock.now().tzinfo is UTC
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(START)


def test_accelerated_clock_runs_speed_times_faster() -> None:
    mono = FakeMonotonic()
    clock = SimClock(START.astimezone(timezone(timedelta(hours=-4))), speed=60, monotonic=mono)
    assert clock.now() == START and clock.now().tzinfo is UTC
    mono.now += 1.5
    assert clock.now() == START + timedelta(seconds=90)
    clock.advance(600)  # a jump on top of the running clock
    mono.now += 1
    assert clock.now() == START + timedelta(seconds=90 + 600 + 60)
    clock.set_speed(0)
    frozen = clock.now()
    mono.now += 10
    assert clock.now() == frozen and clock.real_seconds(60) == float("inf")


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError):
        SimClock.manual(datetime(2026, 8, 23, 15, 0))
