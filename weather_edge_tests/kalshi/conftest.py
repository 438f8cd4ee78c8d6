"""The recorded KXHIGHNY data the Kalshi tests read by path (never copied into the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

from weather_edge.kalshi.recordings import RawOrderbookCapture, read_raw_orderbooks


@pytest.fixture(scope="session")
def kxhighny(shared_data: Path) -> Path:
    return shared_data / "kalshi" / "KXHIGHNY"


@pytest.fixture(scope="session")
def captures(kxhighny: Path) -> list[RawOrderbookCapture]:
    return read_raw_orderbooks(kxhighny / "raw_orderbooks")


def _captured_at_1746z(captures: list[RawOrderbookCapture], ticker: str) -> RawOrderbookCapture:
    return next(
        c for c in captures if c.market_ticker == ticker and c.cycle_id == "20260901T174625Z"
    )


@pytest.fixture(scope="session")
def t75(captures: list[RawOrderbookCapture]) -> RawOrderbookCapture:
    """KXHIGHNY-26SEP02-T75 on 2026-09-01 at 17:46:25Z: YES 0.65 bid, NO 0.33 x 57.44 bid."""
    return _captured_at_1746z(captures, "KXHIGHNY-26SEP02-T75")


@pytest.fixture(scope="session")
def t82(captures: list[RawOrderbookCapture]) -> RawOrderbookCapture:
    """KXHIGHNY-26SEP02-T82 at the same instant: no YES bids at all, NO 0.99 bid."""
    return _captured_at_1746z(captures, "KXHIGHNY-26SEP02-T82")
