"""The shared retrying HTTP helper, against a real server on a loopback socket."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from weather_edge.weather.http import (
    HttpSettings,
    HttpStatusError,
    HttpTransportError,
    ResponseShapeError,
    RetryingHttp,
)
from weather_edge_tests.weather.loopback import RequestLog, serve


class Flaky:
    """Fails ``failures`` times with ``status`` (and ``Retry-After``), then answers."""

    def __init__(self, failures: int, status: int, retry_after: str | None = None) -> None:
        self.failures = failures
        self.status = status
        self.retry_after = retry_after

    async def handle(self, request: Request) -> Response:
        if self.failures > 0:
            self.failures -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return PlainTextResponse("busy", self.status, headers=headers)
        return JSONResponse({"ok": True, "q": request.query_params.get("q")})


async def slow(request: Request) -> Response:
    await asyncio.sleep(1.0)
    return PlainTextResponse("late")


def _app(**routes: Any) -> RequestLog:
    # Starlette takes a callable object for a raw ASGI app: hand it the bound method.
    endpoints = {name: getattr(e, "handle", e) for name, e in routes.items()}
    return RequestLog(Starlette(routes=[Route(f"/{n}", e) for n, e in endpoints.items()]))


@pytest.fixture
def delays() -> list[float]:
    return []


@pytest.fixture
def settings() -> HttpSettings:
    return HttpSettings(user_agent="weather_edge-tests (ops@example.org)", max_attempts=4)


@pytest.fixture
def server() -> Iterator[tuple[str, RequestLog]]:
    app = _app(
        ok=Flaky(0, 200),
        twice503=Flaky(2, 503),
        after429=Flaky(1, 429, retry_after="7"),
        longwait=Flaky(1, 503, retry_after="3600"),
        always500=Flaky(99, 500),
        missing=Flaky(99, 404),
        slow=slow,
        text=lambda request: PlainTextResponse("not json"),
    )
    with serve(app) as url:
        yield url, app


def _client(url: str, settings: HttpSettings, delays: list[float]) -> RetryingHttp:
    return RetryingHttp(url, settings, sleep=delays.append, rng=random.Random(1))


def test_user_agent_and_params_reach_the_server(server, settings, delays) -> None:  # type: ignore[no-untyped-def]
    url, log = server
    with _client(url, settings, delays) as http:
        assert http.get_json("/ok", {"q": "x y"}) == {"ok": True, "q": "x y"}
    path, query, headers = log.requests[-1]
    assert (path, query) == ("/ok", "q=x+y")
    assert headers["user-agent"] == "weather_edge-tests (ops@example.org)"
    assert delays == []


def test_retries_5xx_with_jittered_backoff(server, settings, delays) -> None:  # type: ignore[no-untyped-def]
    url, log = server
    with _client(url, settings, delays) as http:
        assert http.get_json("/twice503") == {"ok": True, "q": None}
        assert http.retries == 2
    assert log.paths() == ["/twice503"] * 3
    # equal jitter: attempt n waits between half and all of base * 2**(n-1)
    assert 0.25 <= delays[0] <= 0.5 and 0.5 <= delays[1] <= 1.0


def test_honours_retry_after(server, settings, delays) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    with _client(url, settings, delays) as http:
        http.get_json("/after429")
    assert delays == [7.0]


def test_gives_up_after_max_attempts(server, settings, delays) -> None:  # type: ignore[no-untyped-def]
    url, log = server
    with _client(url, settings, delays) as http, pytest.raises(HttpStatusError) as info:
        http.get("/always500")
    assert info.value.status == 500
    assert log.paths().count("/always500") == settings.max_attempts
    assert len(delays) == settings.max_attempts - 1


def test_does_not_retry_a_client_error(server, settings, delays) -> None:  # type: ignore[no-untyped-def]
    url, log = server
    with _client(url, settings, delays) as http, pytest.raises(HttpStatusError) as info:
        http.get("/missing")
    assert info.value.status == 404
    assert log.paths() == ["/missing"] and delays == []


def test_does_not_wait_out_a_very_long_retry_after(server, settings, delays) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    with _client(url, settings, delays) as http, pytest.raises(HttpStatusError):
        http.get("/longwait")
    assert delays == []


def test_read_timeout_is_a_transport_error(server, delays) -> None:  # type: ignore[no-untyped-def]
    url, log = server
    fast = HttpSettings(user_agent="t", timeout_s=0.2, max_attempts=2)
    with _client(url, fast, delays) as http, pytest.raises(HttpTransportError):
        http.get("/slow")
    assert log.paths() == ["/slow", "/slow"] and len(delays) == 1


def test_connection_refused_is_retried_then_raised(settings, delays) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with _client(f"http://127.0.0.1:{port}", settings, delays) as http:
        with pytest.raises(HttpTransportError):
            http.get("/ok")
        assert http.retries == settings.max_attempts - 1


def test_non_json_is_a_shape_error(server, settings, delays) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    with _client(url, settings, delays) as http, pytest.raises(ResponseShapeError):
        http.get_json("/text")


def test_user_agent_comes_from_the_environment() -> None:
    settings = HttpSettings.from_env({"WEATHER_EDGE_USER_AGENT": "desk (a@b.c)"})
    assert settings.user_agent == "desk (a@b.c)"
    with pytest.raises(ValueError, match="User-Agent"):
        HttpSettings(user_agent=" ")
