"""Support for the live tests: a throwaway key, the simulator, markets, decisions, a clock.

Also runnable as ``python -m weather_edge_tests.trading.live_support CHILD_ARGS_JSON``: the
child process of the crash test, which places one decision and kills itself with SIGKILL
after the exchange received the order but before the manager saw the acknowledgement.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.book import OrderBook, book_from_levels
from weather_edge.kalshi.config import KalshiConfig
from weather_edge.kalshi.fees import FeeSchedule
from weather_edge.kalshi.rest import KalshiRestClient
from weather_edge.trading.config import LIVE_CONFIRMATION_PHRASE, TradingParams
from weather_edge.trading.decisions import Decision, DecisionEngine
from weather_edge.trading.execution import LiveOrderManager
from weather_edge.trading.inputs import BracketForecast, MarketSpec
from weather_edge_tests.conftest import KEY_ID
from weather_edge_tests.kalshi_client.conftest import SERIES, START


def live_params(**overrides: Any) -> TradingParams:
    base: dict[str, Any] = {
        "mode": "live",
        "live_confirmation": LIVE_CONFIRMATION_PHRASE,
        "aggressiveness": 0.5,
        "limits": {"max_dollars_per_trade": 5},
        "maker": {"base_s": 60, "volume_weight": 0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = base[key] | value
        else:
            base[key] = value
    return TradingParams.load(base)


def key_env(key_path: Path) -> dict[str, str]:
    return {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(key_path)}


def rest_client(
    rest_url: str, ws_url: str, signer: KalshiSigner | None, **kwargs: Any
) -> KalshiRestClient:
    config = KalshiConfig.for_environment("custom", rest_url=rest_url, ws_url=ws_url, tier="prime")
    return KalshiRestClient(config, signer=signer, **kwargs)


class Clock:
    """A clock the test moves by hand (the simulator's clock is manual too)."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@dataclass
class Market:
    spec: MarketSpec
    book: OrderBook


async def load_markets(client: KalshiRestClient) -> dict[str, Market]:
    series = await client.get_series(SERIES)
    fees = FeeSchedule(series.fee_type, series.fee_multiplier)  # type: ignore[arg-type]
    out = {}
    async for market in client.iter_markets(series_ticker=SERIES):
        raw = await client.get_orderbook(market.ticker)
        book = book_from_levels(market.ticker, list(raw.yes_bids), list(raw.no_bids))
        out[market.ticker] = Market(MarketSpec.from_market(market, fees), book)
    return out


def liquid(markets: Mapping[str, Market], skip: int = 0) -> Market:
    """A market with a two-sided book of a few cents' spread, near the middle."""
    found = [
        m
        for m in markets.values()
        if m.book.yes_bid_cc
        and m.book.no_bid_cc
        and 1000 < m.book.yes_bid_cc < 9000
        and (m.book.yes_spread_cc or 0) >= 200
    ]
    found.sort(key=lambda m: m.spec.ticker)
    return found[skip]


def buy_yes_decision(
    params: TradingParams, market: Market, *, edge: float = 0.15, now: dt.datetime = START
) -> Decision:
    """A would-trade buying YES: the model sits ``edge`` above the ask."""
    ask = market.book.yes_ask_cc
    assert ask is not None
    p = min(ask / 10_000 + edge, 0.99)
    forecast = BracketForecast(market.spec.ticker, p, 0.02, "test-model", now)
    decision = DecisionEngine(params).evaluate(
        market.spec, market.book, forecast, now=now, book_at=now
    )
    assert decision.would_trade, decision.inputs_json
    return decision


# --------------------------------------------------------------------------- the crash child


class DieAfterOrderPost(httpx.AsyncBaseTransport):
    """Forwards requests; once the exchange has answered an order POST, SIGKILLs the process
    before the answer reaches the caller: sent, accepted, never acknowledged."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/portfolio/orders"):
            os.kill(os.getpid(), signal.SIGKILL)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _child(args: dict[str, Any]) -> None:
    signer = KalshiSigner.from_file(KEY_ID, args["key_path"])
    client = rest_client(args["rest_url"], args["ws_url"], signer, transport=DieAfterOrderPost())
    markets = await load_markets(client)
    specs = {t: m.spec for t, m in markets.items()}
    params = TradingParams.load(args["params"])
    manager = LiveOrderManager(
        params, client, specs, args["state_dir"], environ=key_env(Path(args["key_path"]))
    )
    await manager.start()
    await manager.submit(Decision.from_row(args["decision"]))
    print("the child survived its own order", file=sys.stderr)
    sys.exit(3)


if __name__ == "__main__":
    asyncio.run(_child(json.loads(sys.argv[1])))
