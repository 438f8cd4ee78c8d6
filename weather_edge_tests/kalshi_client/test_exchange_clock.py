"""The exchange's clock from its Date stamps, and the HTTP date headers it reads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from weather_edge.http_dates import parse_http_date, retry_after_seconds
from weather_edge.kalshi.clock import ExchangeClock, ExchangeClockError
from weather_edge.kalshi.config import KalshiConfig
from weather_edge.kalshi.rest import KalshiRestClient

from .conftest import START, simulator


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def stamp(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def test_http_dates_and_retry_after_forms() -> None:
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert parse_http_date("Wed, 01 Jul 2026 12:00:00 GMT") == now
    assert parse_http_date("Wed, 01 Jul 2026 14:00:00 +0200") == now
    assert parse_http_date("yesterday") is None
    assert retry_after_seconds("120") == 120.0 and retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds(stamp(now + timedelta(seconds=30)), now) == 30.0
    assert retry_after_seconds(stamp(now - timedelta(seconds=30)), now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_the_clock_runs_on_from_the_last_stamp_and_never_backwards() -> None:
    ticks = Ticks()
    clock = ExchangeClock(monotonic=ticks)
    with pytest.raises(ExchangeClockError, match="no response with a Date header"):
        clock.now()
    noon = datetime(2026, 8, 24, 12, 0, tzinfo=UTC)
    clock.observe(stamp(noon))
    assert clock.synced and clock.now() == noon
    ticks.value += 2.5
    assert clock.now() == noon + timedelta(seconds=2.5)  # runs at wall speed between stamps
    clock.observe(stamp(noon + timedelta(seconds=2)))  # truncated to the second: older
    assert clock.now() == noon + timedelta(seconds=2.5)
    clock.observe(stamp(noon + timedelta(hours=1)))  # a stepped simulator jumped ahead
    assert clock.now() == noon + timedelta(hours=1)
    clock.observe("not a date")
    clock.observe(None)
    assert clock.now() == noon + timedelta(hours=1)
    assert clock.skew(noon) == timedelta(hours=1)


def test_the_client_reads_the_simulated_time_from_every_answer(public_pem: bytes) -> None:
    """The simulator stamps Date with its own (August) time, not the wall's."""

    async def go() -> None:
        with simulator(public_pem) as sim:
            config = KalshiConfig.for_environment(
                "custom", rest_url=sim.rest_url, ws_url=sim.ws_url, tier="prime"
            )
            async with KalshiRestClient(config) as rest:
                status = await rest.get_exchange_status()
                assert status.exchange_active and status.trading_active
                seen = rest.exchange_clock.now()
                assert seen.date() == START.date()
                assert abs(seen - sim.clock.now()) < timedelta(seconds=5)
                sim.advance(3600)
                await rest.get_markets_page()
                assert rest.exchange_clock.now() - seen >= timedelta(hours=1)

    asyncio.run(go())
