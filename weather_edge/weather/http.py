"""Shared HTTP plumbing for the weather clients (NWS, IEM, Open-Meteo).

* one ``User-Agent`` for every source: api.weather.gov refuses requests without one and asks
  for a contact in it (``WEATHER_EDGE_USER_AGENT`` sets it);
* connect and read timeouts;
* retries with jittered exponential backoff on 429/5xx and transport errors, honouring
  ``Retry-After`` (seconds or an HTTP date). Every weather request is a GET, so all are safe
  to repeat; a ``Retry-After`` longer than ``max_retry_after_s`` is not waited out.

Hosts are configuration: each client takes its base URL, so the same code runs against the
real services and the local simulator.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

import httpx

from weather_edge.http_dates import retry_after_seconds

log = logging.getLogger(__name__)

ENV_USER_AGENT = "WEATHER_EDGE_USER_AGENT"
DEFAULT_USER_AGENT = "weather_edge/0.1 (research; set WEATHER_EDGE_USER_AGENT to add a contact)"

Params = Mapping[str, str | int | float | Sequence[str] | Sequence[int]]
Sleep = Callable[[float], None]


class WeatherHttpError(Exception):
    """A weather source could not be read."""


class HttpStatusError(WeatherHttpError):
    def __init__(self, url: str, status: int, body: str) -> None:
        super().__init__(f"HTTP {status} from {url}: {body[:300]}")
        self.url = url
        self.status = status


class HttpTransportError(WeatherHttpError):
    """Connection refused, reset or timed out, after every retry."""


class ResponseShapeError(WeatherHttpError):
    """The source answered, but not in the shape it documents."""


@dataclass(frozen=True, slots=True)
class HttpSettings:
    user_agent: str = DEFAULT_USER_AGENT
    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    max_attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0
    max_retry_after_s: float = 120.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not self.user_agent.strip():
            raise ValueError("a User-Agent is required (api.weather.gov refuses requests without)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> HttpSettings:
        env = os.environ if environ is None else environ
        return cls(user_agent=env.get(ENV_USER_AGENT) or DEFAULT_USER_AGENT)


class Closing:
    """Context-manager plumbing for the clients: ``with Client(...) as c:`` closes it."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RetryingHttp(Closing):
    """A synchronous httpx client with the retry policy above, for one base URL."""

    def __init__(
        self,
        base_url: str,
        settings: HttpSettings | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings or HttpSettings.from_env()
        self.base_url = base_url.rstrip("/")
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.retries = 0  # how many requests were repeated, for logs and tests
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"User-Agent": self.settings.user_agent, **(headers or {})},
            timeout=httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s),
            follow_redirects=True,  # api.weather.gov redirects over-precise /points URLs
        )

    def close(self) -> None:
        self._client.close()

    def backoff(self, attempt: int) -> float:
        """Equal jitter: half of the capped exponential delay is fixed, half random."""
        cap = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (attempt - 1))
        return cap / 2 + self._rng.random() * cap / 2

    def get(
        self, url: str, params: Params | None = None, *, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """GET ``url`` (relative to the base URL, or absolute); the 2xx response or an error."""
        limit = self.settings.max_attempts
        for attempt in range(1, limit + 1):
            try:
                response = self._client.get(url, params=params, headers=headers)
            except httpx.TransportError as exc:
                if attempt == limit:
                    raise HttpTransportError(f"GET {url}: {exc!r}") from exc
                delay, reason = self.backoff(attempt), repr(exc)
            else:
                if response.is_success:
                    return response
                error = HttpStatusError(str(response.url), response.status_code, response.text)
                if response.status_code not in self.settings.retry_statuses or attempt == limit:
                    raise error
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is not None and wait > self.settings.max_retry_after_s:
                    raise error
                delay = self.backoff(attempt) if wait is None else wait
                reason = f"HTTP {response.status_code}"
            self.retries += 1
            log.info("retrying GET %s in %.2fs after %s", url, delay, reason)
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(
        self, url: str, params: Params | None = None, *, headers: Mapping[str, str] | None = None
    ) -> Any:
        response = self.get(url, params, headers=headers)
        try:
            return response.json()
        except ValueError as exc:
            raise ResponseShapeError(f"GET {url}: not JSON: {response.text[:200]!r}") from exc

    def get_text(
        self, url: str, params: Params | None = None, *, headers: Mapping[str, str] | None = None
    ) -> str:
        return self.get(url, params, headers=headers).text


def env_url(environ: Mapping[str, str] | None, name: str, default: str) -> str:
    """A base URL from the environment variable ``name``, else ``default``."""
    env = os.environ if environ is None else environ
    return (env.get(name) or default).rstrip("/")


class SingleHostClient(Closing):
    """A client of one service; subclasses name its default URL and environment variable."""

    DEFAULT_URL: ClassVar[str]
    URL_ENV: ClassVar[str]
    HEADERS: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        base_url: str | None = None,
        settings: HttpSettings | None = None,
        *,
        http: RetryingHttp | None = None,
    ) -> None:
        self.http = http or RetryingHttp(
            base_url or self.DEFAULT_URL, settings, headers=self.HEADERS
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Base URL from ``URL_ENV`` (else the public host), User-Agent from the environment."""
        return cls(env_url(environ, cls.URL_ENV, cls.DEFAULT_URL), HttpSettings.from_env(environ))

    def close(self) -> None:
        self.http.close()


def shape(condition: bool, what: str) -> None:
    """Refuse a payload that does not have the documented shape."""
    if not condition:
        raise ResponseShapeError(what)


def parse_instant(text: object, what: str) -> datetime:
    """An ISO 8601 timestamp that carries its offset -> aware UTC. Naive text is refused."""
    shape(isinstance(text, str), f"{what}: expected an ISO 8601 string, got {text!r}")
    assert isinstance(text, str)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ResponseShapeError(f"{what}: not an ISO 8601 time: {text!r}") from exc
    shape(moment.utcoffset() is not None, f"{what}: {text!r} has no UTC offset")
    return moment.astimezone(UTC)


def json_object(value: Any, what: str) -> dict[str, Any]:
    shape(isinstance(value, dict), f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def json_list(value: Any, what: str) -> list[Any]:
    shape(isinstance(value, list), f"{what}: expected a JSON array, got {type(value).__name__}")
    return value


def json_str(value: Any, what: str) -> str:
    shape(isinstance(value, str) and bool(value), f"{what}: expected a string, got {value!r}")
    return value


def json_number(value: Any, what: str) -> float:
    """A JSON number (booleans refused) as float."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    shape(ok, f"{what}: expected a number, got {value!r}")
    return float(value)
