"""REST client policy in isolation (an in-process httpx transport, no sleeping).

The same behaviours run against the simulator over real sockets in ``test_sim_rest.py``;
here the edge cases are pinned down deterministically.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest

from weather_edge.kalshi.auth import (
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiSigner,
    verify_signature,
)
from weather_edge.kalshi.config import (
    DEMO_HOSTS,
    PRODUCTION_HOSTS,
    KalshiConfig,
    KalshiEnvironment,
    RetryPolicy,
    hosts_for,
)
from weather_edge.kalshi.errors import (
    BadRequestError,
    KalshiConfigError,
    KalshiTransportError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from weather_edge.kalshi.models import Action, Order, OrderRequest, Side
from weather_edge.kalshi.ratelimit import RateLimiter
from weather_edge.kalshi.rest import (
    CommandOutcome,
    KalshiRestClient,
    OrderCommandResult,
    backoff_delay,
)

T = TypeVar("T")
Responder = Callable[[httpx.Request], httpx.Response]
ORDER = {
    "order_id": "o-1",
    "client_order_id": "c-1",
    "ticker": "T",
    "side": "yes",
    "action": "buy",
    "status": "resting",
    "yes_price_dollars": "0.4000",
    "no_price_dollars": "0.6000",
}


class Recorder:
    def __init__(self, *answers: Responder | httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.now = 0.0  # a fake clock, moved only by sleep()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def client(self, signer: KalshiSigner | None = None, attempts: int = 4) -> KalshiRestClient:
        config = KalshiConfig(
            hosts=hosts_for(
                "custom",
                rest_url="http://exchange.test/trade-api/v2",
                ws_url="ws://exchange.test/trade-api/ws/v2",
            ),
            environment=KalshiEnvironment.CUSTOM,
            retry=RetryPolicy(max_attempts=attempts, base_delay=0.1, max_delay=1.0),
        )
        return KalshiRestClient(
            config,
            signer=signer,
            limiter=RateLimiter("prime", clock=lambda: self.now, sleep=self.sleep),
            transport=httpx.MockTransport(self),
            rng=random.Random(7),
            sleep=self.sleep,
        )


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _error(status: int, code: str = "x", headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": f"status {status}", "details": "d"}}
    return httpx.Response(status, json=body, headers=headers)


def test_hosts_are_configuration() -> None:
    assert KalshiConfig.from_env({}).hosts == DEMO_HOSTS
    config = KalshiConfig.from_env({"KALSHI_ENV": "production", "KALSHI_RATE_TIER": "premier"})
    assert config.hosts == PRODUCTION_HOSTS and config.limits.writes_per_second == 100
    custom = KalshiConfig.from_env(
        {
            "KALSHI_ENV": "custom",
            "KALSHI_REST_URL": "http://127.0.0.1:9/trade-api/v2/",
            "KALSHI_WS_URL": "ws://127.0.0.1:9/trade-api/ws/v2",
        }
    )
    assert custom.hosts.rest_url == "http://127.0.0.1:9/trade-api/v2"
    assert custom.hosts.rest_path_prefix == "/trade-api/v2"
    assert custom.hosts.ws_path == "/trade-api/ws/v2"
    with pytest.raises(KalshiConfigError):
        KalshiConfig.from_env({"KALSHI_ENV": "custom"})
    with pytest.raises(KalshiConfigError):
        KalshiConfig.from_env({"KALSHI_ENV": "staging"})
    with pytest.raises(KalshiConfigError):
        hosts_for("custom", rest_url="ftp://x/trade-api/v2", ws_url="ws://x/")


def test_signed_path_includes_prefix_and_omits_query(signer: KalshiSigner) -> None:
    rec = Recorder(httpx.Response(200, json={"markets": [], "cursor": ""}))

    async def go() -> None:
        async with rec.client(signer) as client:
            await client.get_markets_page(series_ticker="KXHIGHNY", status="open", limit=5)

    _run(go())
    request = rec.requests[0]
    assert request.url.path == "/trade-api/v2/markets"
    assert request.url.params["series_ticker"] == "KXHIGHNY"
    ts = int(request.headers[HEADER_TIMESTAMP])
    assert verify_signature(
        signer.public_key(), ts, "GET", "/trade-api/v2/markets", request.headers[HEADER_SIGNATURE]
    )


def test_get_retries_5xx_and_honours_retry_after() -> None:
    rec = Recorder(
        _error(500),
        _error(429, headers={"Retry-After": "2"}),
        _error(503),
        httpx.Response(200, json={"balance": 100}),
    )

    async def go() -> int:
        async with rec.client() as client:
            return (await client.get_balance()).balance

    assert _run(go()) == 1_000_000
    assert len(rec.requests) == 4
    assert rec.sleeps[1] == 2.0  # Retry-After, not the backoff (and the limiter was paused too)
    assert 0.05 <= rec.sleeps[0] <= 0.1 and 0.2 <= rec.sleeps[2] <= 0.4  # jittered, growing


def test_gives_up_after_max_attempts_and_on_4xx() -> None:
    rec = Recorder(_error(500, "internal"))

    async def go() -> None:
        async with rec.client(attempts=3) as client:
            await client.get_market("T")

    with pytest.raises(ServerError) as info:
        _run(go())
    assert (info.value.status, info.value.code) == (500, "internal")
    assert info.value.path == "/trade-api/v2/markets/T"
    assert len(rec.requests) == 3

    rec = Recorder(_error(404, "not_found"))
    with pytest.raises(NotFoundError):
        _run(go())
    assert len(rec.requests) == 1  # a 404 is an answer, not a fault

    rec = Recorder(_error(429, headers={"Retry-After": "600"}))
    with pytest.raises(RateLimitedError) as limited:
        _run(go())
    assert limited.value.retry_after == 600 and len(rec.requests) == 1  # too long to wait


def test_post_is_never_retried() -> None:
    rec = Recorder(_error(500))
    request = OrderRequest("T", Side.YES, Action.BUY, count=100, price=4000)

    async def go() -> OrderCommandResult:
        async with rec.client() as client:
            return await client.create_order(request)

    result = _run(go())
    assert len(rec.requests) == 1 and rec.sleeps == []
    assert result.outcome is CommandOutcome.UNKNOWN  # a 500 on a write: may have happened
    assert result.client_order_id  # generated and sent
    assert result.client_order_id.encode() in rec.requests[0].content

    rec = Recorder(_error(400, "invalid_price"))
    result = _run(go())
    assert result.outcome is CommandOutcome.FAILED
    assert isinstance(result.error, BadRequestError) and result.error.code == "invalid_price"

    rec = Recorder(httpx.Response(201, json={"order": ORDER}))
    result = _run(go())
    assert result.ok and result.order is not None and result.order.yes_price == 4000


def test_transport_errors_are_classified() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    request = OrderRequest("T", Side.YES, Action.BUY, count=100, price=4000)

    async def create(rec: Recorder) -> OrderCommandResult:
        async with rec.client() as client:
            return await client.create_order(request)

    refused = _run(create(Recorder(refuse)))
    assert refused.outcome is CommandOutcome.FAILED  # never left: safe to send again
    dropped = _run(create(Recorder(drop)))
    assert dropped.outcome is CommandOutcome.UNKNOWN  # may have been placed: reconcile
    assert isinstance(dropped.error, KalshiTransportError) and dropped.error.sent

    rec = Recorder(drop, drop, httpx.Response(200, json={"order": ORDER}))

    async def get() -> Order:
        async with rec.client() as client:
            return await client.get_order("o-1")

    assert _run(get()).order_id == "o-1"  # a GET is retried through network errors
    assert len(rec.requests) == 3


def test_cancel_is_retried_and_409_is_resolved() -> None:
    rec = Recorder(
        _error(502),
        httpx.Response(
            200, json={"order": ORDER | {"status": "canceled"}, "reduced_by_fp": "1.00"}
        ),
    )

    async def cancel() -> OrderCommandResult:
        async with rec.client() as client:
            return await client.cancel_order("o-1")

    result = _run(cancel())
    assert result.ok and result.reduced_by == 100 and len(rec.requests) == 2

    other = ORDER | {"order_id": "o-0", "client_order_id": "someone-else"}
    rec = Recorder(
        _error(409, "order_already_exists"),
        httpx.Response(200, json={"orders": [other], "cursor": "p2"}),
        httpx.Response(200, json={"orders": [ORDER], "cursor": ""}),
    )
    request = OrderRequest("T", Side.YES, Action.BUY, 100, 4000, client_order_id="c-1")

    async def create() -> OrderCommandResult:
        async with rec.client() as client:
            return await client.create_order(request)

    result = _run(create())
    assert result.outcome is CommandOutcome.ACKNOWLEDGED and result.already_placed
    assert result.order_id == "o-1"
    assert [r.method for r in rec.requests] == ["POST", "GET", "GET"]
    assert rec.requests[2].url.params["cursor"] == "p2"


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    delays = [backoff_delay(policy, attempt, rng) for attempt in range(10)]
    assert all(d <= 4.0 for d in delays) and delays[-1] >= 2.0
