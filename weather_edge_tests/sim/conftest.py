"""Fixtures for the simulator tests: an RSA key, request signing, a running simulator."""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from websockets.sync.client import ClientConnection, connect

from weather_edge.sim.clock import SimClock
from weather_edge.sim.exchange import Exchange, ExchangeSettings
from weather_edge.sim.server import Simulator, SimulatorConfig, run_simulator

# 15:00 UTC on 23 Aug 2026: KXHIGHNY-26AUG23 trades (its climate day is under way) and
# KXHIGHNY-26AUG24 opened at 10:00 ET that morning.
START = datetime(2026, 8, 23, 15, 0, tzinfo=UTC)
KEY_ID = "test-key"


@dataclass(frozen=True)
class Signer:
    """Signs like a Kalshi client: RSA-PSS/SHA-256 over ``ts_ms + METHOD + path``."""

    key_id: str
    key: rsa.RSAPrivateKey

    @property
    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def headers(self, method: str, path: str, *, timestamp_ms: int | None = None) -> dict[str, str]:
        ts = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
        message = f"{ts}{method.upper()}{path.split('?', 1)[0]}".encode()
        signature = self.key.sign(
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )
        return {
            "KALSHI-ACCESS-KEY": self.key_id,
            "KALSHI-ACCESS-TIMESTAMP": ts,
            "KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode(),
        }


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def signer(rsa_key: rsa.RSAPrivateKey) -> Signer:
    return Signer(KEY_ID, rsa_key)


def quiet_config(**overrides: object) -> SimulatorConfig:
    """One city, a manual clock, no agents, no rate limit: a predictable exchange."""
    values: dict[str, object] = {
        "seed": 11,
        "cities": ("NYC",),
        "start": START,
        "clock_speed": 0.0,
        "agents": False,
        "rate_limit": None,
    }
    values.update(overrides)
    return SimulatorConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_sim(signer: Signer) -> Iterator[Callable[..., Simulator]]:
    """Start simulators (stopped at the end of the test) with the test key registered."""
    with contextlib.ExitStack() as stack:

        def make(**overrides: object) -> Simulator:
            sim = stack.enter_context(run_simulator(quiet_config(**overrides)))
            sim.register_key(signer.key_id, signer.public_pem)
            return sim

        yield make


@pytest.fixture
def exchange() -> Exchange:
    """An exchange on a manual clock, NYC only, no agents."""
    return Exchange(SimClock.manual(START), ExchangeSettings(seed=11, cities=("NYC",)))


class Api:
    """A small signed REST client for the tests (httpx, real loopback socket)."""

    def __init__(self, sim: Simulator, signer: Signer | None) -> None:
        self.prefix = "/trade-api/v2"
        self.signer = signer
        self.http = httpx.Client(base_url=sim.rest_url.removesuffix(self.prefix), timeout=10)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        full = self.prefix + path
        headers = self.signer.headers(method, full) if self.signer else {}
        return self.http.request(method, full, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.request("POST", path, json=body)

    def delete(self, path: str, body: Any = None) -> httpx.Response:
        return self.request("DELETE", path, content=None if body is None else json.dumps(body))


def ws_connect(sim: Simulator, signer: Signer | None = None) -> ClientConnection:
    headers = signer.headers("GET", "/trade-api/ws/v2") if signer else {}
    return connect(sim.ws_url, additional_headers=headers, open_timeout=5)


def recv(ws: ClientConnection, timeout: float = 3.0) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))  # type: ignore[no-any-return]


def command(ws: ClientConnection, cmd_id: int, cmd: str, **params: Any) -> None:
    message: dict[str, Any] = {"id": cmd_id, "cmd": cmd}
    if params:
        message["params"] = params
    ws.send(json.dumps(message))
