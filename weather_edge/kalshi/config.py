"""Where the Kalshi client connects and how hard it may push: hosts, rate tier, retries.

Hosts are configuration. The only literal URLs in the package are the two published
environments below; everything else (the simulator, a proxy) is a ``custom`` pair of URLs.

Environment variables read by :meth:`KalshiConfig.from_env`:

* ``KALSHI_ENV``: ``production`` | ``demo`` | ``custom`` (default ``demo``: never trade real
  money by accident);
* ``KALSHI_REST_URL`` / ``KALSHI_WS_URL``: override (and, for ``custom``, define) the hosts;
* ``KALSHI_RATE_TIER``: ``basic`` | ``advanced`` | ``premier`` | ``prime`` (default ``basic``);
* ``KALSHI_API_KEY_ID`` / ``KALSHI_PRIVATE_KEY_PATH``: the credentials (see ``auth.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeVar
from urllib.parse import urlsplit

from weather_edge.kalshi.errors import KalshiConfigError

ENV_ENVIRONMENT = "KALSHI_ENV"
ENV_REST_URL = "KALSHI_REST_URL"
ENV_WS_URL = "KALSHI_WS_URL"
ENV_RATE_TIER = "KALSHI_RATE_TIER"
ENV_KEY_ID = "KALSHI_API_KEY_ID"
ENV_KEY_PATH = "KALSHI_PRIVATE_KEY_PATH"

WS_SIGNED_PATH = "/trade-api/ws/v2"


E = TypeVar("E", bound=StrEnum)


def _choice(kind: type[E], value: object, what: str) -> E:
    """``value`` as a member of ``kind`` (case-insensitive), or a clear configuration error."""
    try:
        return kind(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise KalshiConfigError(f"unknown Kalshi {what} {value!r} ({choices})") from None


class KalshiEnvironment(StrEnum):
    PRODUCTION = "production"
    DEMO = "demo"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class KalshiHosts:
    """A REST base URL (ending ``/trade-api/v2``) and the WebSocket URL that go together."""

    rest_url: str
    ws_url: str

    def __post_init__(self) -> None:
        for name, url, schemes in (
            ("rest_url", self.rest_url, ("http", "https")),
            ("ws_url", self.ws_url, ("ws", "wss")),
        ):
            parts = urlsplit(url)
            if parts.scheme not in schemes or not parts.netloc:
                raise KalshiConfigError(f"{name} must be a {'/'.join(schemes)} URL, got {url!r}")
        object.__setattr__(self, "rest_url", self.rest_url.rstrip("/"))

    @property
    def rest_path_prefix(self) -> str:
        """The path every REST request starts with, e.g. ``/trade-api/v2`` (it is signed)."""
        return urlsplit(self.rest_url).path

    @property
    def ws_path(self) -> str:
        """The path the WebSocket handshake signs (``/trade-api/ws/v2`` on Kalshi's hosts)."""
        return urlsplit(self.ws_url).path or WS_SIGNED_PATH


PRODUCTION_HOSTS = KalshiHosts(
    rest_url="https://external-api.kalshi.com/trade-api/v2",
    ws_url="wss://external-api-ws.kalshi.com/trade-api/ws/v2",
)
DEMO_HOSTS = KalshiHosts(
    rest_url="https://external-api.demo.kalshi.co/trade-api/v2",
    ws_url="wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
)
PUBLISHED_HOSTS: Mapping[KalshiEnvironment, KalshiHosts] = {
    KalshiEnvironment.PRODUCTION: PRODUCTION_HOSTS,
    KalshiEnvironment.DEMO: DEMO_HOSTS,
}


def hosts_for(
    environment: KalshiEnvironment | str,
    *,
    rest_url: str | None = None,
    ws_url: str | None = None,
) -> KalshiHosts:
    """Hosts of a published environment, with optional overrides; ``custom`` needs both URLs."""
    env = _choice(KalshiEnvironment, environment, "environment")
    if env is KalshiEnvironment.CUSTOM:
        if not rest_url or not ws_url:
            raise KalshiConfigError("a custom Kalshi environment needs both a REST and a WS URL")
        return KalshiHosts(rest_url=rest_url, ws_url=ws_url)
    base = PUBLISHED_HOSTS[env]
    return KalshiHosts(rest_url=rest_url or base.rest_url, ws_url=ws_url or base.ws_url)


class RateTier(StrEnum):
    BASIC = "basic"
    ADVANCED = "advanced"
    PREMIER = "premier"
    PRIME = "prime"


@dataclass(frozen=True, slots=True)
class TierLimits:
    reads_per_second: float
    writes_per_second: float


TIER_LIMITS: Mapping[RateTier, TierLimits] = {
    RateTier.BASIC: TierLimits(20, 10),
    RateTier.ADVANCED: TierLimits(30, 30),
    RateTier.PREMIER: TierLimits(100, 100),
    RateTier.PRIME: TierLimits(400, 400),
}


def rate_tier(value: RateTier | str) -> RateTier:
    return _choice(RateTier, value, "rate tier")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Jittered exponential backoff for idempotent requests (GET, DELETE by id) only."""

    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 30.0  # a longer Retry-After is not waited out: the error is raised
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise KalshiConfigError("max_attempts must be at least 1")


@dataclass(frozen=True, slots=True)
class KalshiConfig:
    """Everything the REST and WebSocket clients need except the key itself."""

    hosts: KalshiHosts = DEMO_HOSTS
    environment: KalshiEnvironment = KalshiEnvironment.DEMO
    tier: RateTier = RateTier.BASIC
    rate_headroom: float = 0.9  # fraction of the tier's limits the client lets itself use
    timeout: float = 10.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    key_id: str | None = None
    private_key_path: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tier", rate_tier(self.tier))
        object.__setattr__(
            self, "environment", _choice(KalshiEnvironment, self.environment, "environment")
        )

    @classmethod
    def for_environment(
        cls,
        environment: KalshiEnvironment | str,
        *,
        rest_url: str | None = None,
        ws_url: str | None = None,
        **kwargs: object,
    ) -> KalshiConfig:
        hosts = hosts_for(environment, rest_url=rest_url, ws_url=ws_url)
        env = _choice(KalshiEnvironment, environment, "environment")
        return replace(cls(hosts=hosts, environment=env), **kwargs)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KalshiConfig:
        env = os.environ if environ is None else environ
        environment = env.get(ENV_ENVIRONMENT) or KalshiEnvironment.DEMO.value
        return cls.for_environment(
            environment,
            rest_url=env.get(ENV_REST_URL) or None,
            ws_url=env.get(ENV_WS_URL) or None,
            tier=rate_tier(env.get(ENV_RATE_TIER) or RateTier.BASIC.value),
            key_id=env.get(ENV_KEY_ID) or None,
            private_key_path=env.get(ENV_KEY_PATH) or None,
        )

    @property
    def limits(self) -> TierLimits:
        return TIER_LIMITS[self.tier]
