"""Fixtures of the Kalshi client tests: a throwaway RSA key (never a real one), and the
local simulator the client is run against over real loopback sockets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.config import KalshiConfig, RetryPolicy
from weather_edge.kalshi.models import Action, Market, OrderRequest, Side, TimeInForce
from weather_edge.kalshi.rest import KalshiRestClient
from weather_edge.kalshi.secrets_scan import key_fingerprints
from weather_edge.sim.matching import Side as SimSide
from weather_edge.sim.server import Simulator, SimulatorConfig, run_simulator
from weather_edge_tests.conftest import KEY_ID


@pytest.fixture(scope="session")
def signer(private_key: rsa.RSAPrivateKey) -> KalshiSigner:
    return KalshiSigner(KEY_ID, private_key)


class RecordingSigner(KalshiSigner):
    """A signer that remembers its signatures, to prove they never reach a log."""

    __slots__ = ("signatures",)
    signatures: list[str]

    def __init__(self, key_id: str, private_key: rsa.RSAPrivateKey) -> None:
        super().__init__(key_id, private_key)
        self.signatures = []

    def sign(self, timestamp_ms: int, method: str, path: str) -> str:
        signature = super().sign(timestamp_ms, method, path)
        self.signatures.append(signature)
        return signature


def key_markers(private_key: rsa.RSAPrivateKey, private_pem: bytes) -> list[str]:
    """Strings that would betray the private key if they appeared anywhere."""
    return key_fingerprints(private_key, private_pem)


# --- the simulator ---------------------------------------------------------------------------

DAY = date(2026, 8, 24)  # the climate day listed by the simulator in these tests
START = datetime(2026, 8, 24, 12, 0, tzinfo=UTC)  # its markets are open at this instant
SERIES = "KXHIGHNY"


@contextmanager
def simulator(public_pem: bytes, **options: Any) -> Iterator[Simulator]:
    """A simulator listing New York's markets of ``DAY``, with ``KEY_ID`` registered.

    The clock is manual (``sim.advance``): between advances nothing moves, so what the
    client holds can be compared with the exchange's own state.
    """
    settings: dict[str, Any] = {
        "seed": 11,
        "cities": ("NYC",),
        "days": (DAY,),
        "start": START,
        "clock_speed": 0,
        "rate_limit": None,
    } | options
    with run_simulator(SimulatorConfig(**settings)) as sim:
        sim.register_key(KEY_ID, public_pem)
        sim.advance(120)  # let the agents quote
        yield sim


def sim_config(sim: Simulator, **options: Any) -> KalshiConfig:
    retry = options.pop("retry", RetryPolicy(max_attempts=6, base_delay=0.02, max_delay=0.2))
    return KalshiConfig.for_environment(
        "custom", rest_url=sim.rest_url, ws_url=sim.ws_url, retry=retry, **options
    )


def sim_client(sim: Simulator, signer: KalshiSigner | None, **options: Any) -> KalshiRestClient:
    tier = options.pop("tier", "prime")
    return KalshiRestClient(sim_config(sim, tier=tier, **options), signer=signer)


def exchange_levels(sim: Simulator, ticker: str) -> tuple[list[tuple[int, int]], ...]:
    """The simulator's authoritative book, best bid first (like ``BookKeeper.levels``)."""
    book = sim.exchange.book(ticker)
    return list(reversed(book[SimSide.YES])), list(reversed(book[SimSide.NO]))


def taker_order(market: Market, count: int = 100) -> OrderRequest:
    """Buy YES at the market's ask, immediate-or-cancel: it trades with the agents' NO bids."""
    assert market.yes_ask is not None and market.yes_ask < 10_000, "no ask to take"
    return OrderRequest(
        market.ticker,
        Side.YES,
        Action.BUY,
        count=count,
        price=market.yes_ask,
        time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL,
    )
