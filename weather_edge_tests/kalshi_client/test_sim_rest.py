"""The REST client against the local simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.errors import (
    BadRequestError,
    KalshiAPIError,
    NotFoundError,
    UnauthorizedError,
)
from weather_edge.kalshi.models import Action, Market, OrderRequest, Side
from weather_edge.kalshi.rest import CommandOutcome, KalshiRestClient
from weather_edge.sim.faults import FaultConfig
from weather_edge.sim.server import Simulator
from weather_edge_tests.kalshi_client.conftest import (
    DAY,
    KEY_ID,
    SERIES,
    RecordingSigner,
    exchange_levels,
    key_markers,
    sim_client,
    simulator,
    taker_order,
)

T = TypeVar("T")


@pytest.fixture(scope="module")
def sim(public_pem: bytes) -> Iterator[Simulator]:
    with simulator(public_pem) as running:
        yield running


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _markets(client: KalshiRestClient) -> list[Market]:
    return [m async for m in client.iter_markets(series_ticker=SERIES, status="open")]


def _liquid(markets: list[Market]) -> Market:
    """A market with a YES bid of at least 3 cents and a YES ask: bids of 1 or 2 cents rest."""
    return next(m for m in markets if (m.yes_bid or 0) >= 300 and (m.yes_ask or 10_000) < 10_000)


def test_market_data_endpoints(sim: Simulator, signer: KalshiSigner) -> None:
    async def go() -> None:
        async with sim_client(sim, signer) as client:
            series = await client.get_series(SERIES)
            assert series.ticker == SERIES and series.fee_type == "quadratic"
            events = [e async for e in client.iter_events(series_ticker=SERIES, limit=1)]
            assert [e.event_ticker for e in events] == [f"{SERIES}-26AUG24"]
            nested = await client.get_events_page(series_ticker=SERIES, with_nested_markets=True)
            assert len(nested.items[0].markets or []) == 6 and nested.cursor is None
            detail = await client.get_event(events[0].event_ticker)
            assert len(detail.markets) == 6 and detail.event.series_ticker == SERIES
            # cursor pagination: pages of 2 give the same six markets as one page
            paged = [m.ticker async for m in client.iter_markets(series_ticker=SERIES, limit=2)]
            first = await client.get_markets_page(series_ticker=SERIES, limit=2)
            assert len(paged) == 6 and len(first.items) == 2 and first.cursor
            assert sorted(paged) == sorted(sim.exchange.markets)
            picked = await client.get_markets_page(tickers=paged[:2])
            assert sorted(m.ticker for m in picked.items) == sorted(paged[:2])
            market = await client.get_market(paged[0])
            state = sim.exchange.market(paged[0])
            assert market.close_time == state.close_time and market.close_time.tzinfo is not None
            assert market.rules_primary and market.strike_type
            assert market.floor_strike is not None or market.cap_strike is not None
            # every book equals the exchange's, exactly, and depth keeps the best levels
            for ticker in paged:
                book = await client.get_orderbook(ticker)
                yes, no = exchange_levels(sim, ticker)
                assert (book.yes_bids[::-1], book.no_bids[::-1]) == (yes, no)
                top = await client.get_orderbook(ticker, depth=1)
                assert top.yes_bids == yes[:1] and top.no_bids == no[:1]
            with pytest.raises(NotFoundError) as missing:
                await client.get_market("KXHIGHNY-26AUG24-B00.5")
            assert missing.value.status == 404 and missing.value.code == "not_found"

    _run(go())


def test_trades_and_candlesticks(sim: Simulator, signer: KalshiSigner) -> None:
    sim.advance(600)
    tickers = [t for t in sim.exchange.markets if sim.exchange.trades(t)]
    assert tickers, "the agents should have traded"

    async def go() -> None:
        async with sim_client(sim, None) as client:  # public data needs no key
            ticker = tickers[0]
            trades = [t async for t in client.iter_trades(ticker=ticker, limit=3)]
            expected = sim.exchange.trades(ticker)
            assert [t.trade_id for t in trades] == [t.trade_id for t in expected]
            assert [(t.count, t.yes_price) for t in trades] == [
                (t.count, t.yes_price) for t in expected
            ]
            assert all(t.no_price == 10_000 - (t.yes_price or 0) for t in trades)
            now = sim.clock.now()
            candles = await client.get_candlesticks(
                SERIES, ticker, start_ts=now - timedelta(hours=1), end_ts=now, period_interval=1
            )
            assert candles and all(c.end_period_ts.tzinfo is not None for c in candles)
            traded = [c for c in candles if c.volume]
            assert sum(c.volume for c in traded) == sum(t.count for t in expected)
            assert all(c.price.high is not None and c.price.low <= c.price.high for c in traded)  # type: ignore[operator]

    _run(go())


def test_order_lifecycle_and_portfolio(sim: Simulator, signer: KalshiSigner) -> None:
    async def go() -> None:
        async with sim_client(sim, signer) as client:
            balance = await client.get_balance()
            assert balance.balance == 1_000_000 * 10_000  # 10,000 dollars in micro-dollars
            markets = await _markets(client)
            target = _liquid(markets)
            # a resting bid far below the market
            rest = OrderRequest(target.ticker, Side.YES, Action.BUY, count=250, price=100)
            placed = await client.create_order(rest)
            assert placed.outcome is CommandOutcome.ACKNOWLEDGED and placed.order is not None
            assert placed.client_order_id and placed.order.client_order_id == placed.client_order_id
            assert placed.order.status == "resting" and placed.order.remaining_count == 250
            order_id = placed.order_id
            assert order_id is not None
            fetched = await client.get_order(order_id)
            assert fetched.yes_price == 100 and fetched.initial_count == 250
            listed = [o.order_id async for o in client.iter_orders(ticker=target.ticker)]
            assert order_id in listed
            amended = await client.amend_order(
                order_id,
                ticker=target.ticker,
                side=Side.YES,
                action="buy",
                price=200,
                count=300,
                updated_client_order_id="amended-1",
            )
            assert amended.ok and amended.order is not None and amended.old_order is not None
            assert (amended.order.yes_price, amended.order.remaining_count) == (200, 300)
            new_id = amended.order_id
            assert new_id is not None
            decreased = await client.decrease_order(new_id, reduce_by=100)
            assert decreased.ok and decreased.order is not None
            assert decreased.order.remaining_count == 200
            canceled = await client.cancel_order(new_id)
            assert canceled.ok and canceled.reduced_by == 200
            assert canceled.order is not None and canceled.order.status == "canceled"
            again = await client.cancel_order(new_id)  # nothing left to cancel
            assert again.outcome is CommandOutcome.FAILED
            assert isinstance(again.error, KalshiAPIError) and again.error.status in (400, 404)
            missing = await client.cancel_order("no-such-order")
            assert missing.outcome is CommandOutcome.FAILED
            assert isinstance(missing.error, NotFoundError)

            # a taker order that crosses the agents' NO bids: fills, fees, positions
            taken = await client.create_order(taker_order(target))
            assert taken.ok and taken.order is not None and taken.order.fill_count > 0
            fills = [f async for f in client.iter_fills(ticker=target.ticker)]
            assert fills and all(f.order_id == taken.order_id for f in fills)
            assert sum(f.count for f in fills) == taken.order.fill_count
            assert sum(f.fee_cost for f in fills) == taken.order.taker_fees > 0
            page = await client.get_positions_page(ticker=target.ticker)
            (position,) = page.market_positions
            assert position.position == taken.order.fill_count
            assert page.event_positions[0].event_ticker == target.event_ticker
            every = [p.ticker async for p in client.iter_market_positions()]
            assert target.ticker in every

            # a batch: 21 orders go out as two calls; a bad one fails alone
            good = [
                OrderRequest(m.ticker, Side.NO, Action.BUY, count=100, price=100)
                for m in markets
                for _ in range(4)
            ][:20]
            assert len(good) == 20
            bad = OrderRequest("KXHIGHNY-26AUG24-B00.5", Side.NO, Action.BUY, 100, 100)
            results = await client.batch_create_orders([*good, bad])
            assert [r.outcome for r in results] == [CommandOutcome.ACKNOWLEDGED] * 20 + [
                CommandOutcome.FAILED
            ]
            assert all(r.client_order_id for r in results)
            assert results[-1].error is not None and results[0].order is not None

    _run(go())


def test_resubmission_409_is_resolved_to_the_existing_order(
    sim: Simulator, signer: KalshiSigner
) -> None:
    async def go() -> None:
        async with sim_client(sim, signer) as client:
            target = _liquid(await _markets(client))
            request = OrderRequest(
                target.ticker, Side.NO, Action.BUY, count=100, price=100, client_order_id="dup-1"
            )
            first = await client.create_order(request)
            second = await client.create_order(request)
            assert first.ok and not first.already_placed
            assert second.outcome is CommandOutcome.ACKNOWLEDGED and second.already_placed
            assert second.order_id == first.order_id and second.client_order_id == "dup-1"
            orders = [o async for o in client.iter_orders(ticker=target.ticker)]
            assert sum(o.client_order_id == "dup-1" for o in orders) == 1  # never doubled

    _run(go())


def test_bad_requests_and_bad_keys(sim: Simulator, signer: KalshiSigner) -> None:
    async def go() -> None:
        async with sim_client(sim, signer) as client:
            target = _liquid(await _markets(client))
            silly = OrderRequest(target.ticker, Side.YES, Action.BUY, count=100, price=4050)
            result = await client.create_order(silly)  # off the one-cent grid
            assert result.outcome is CommandOutcome.FAILED
            assert isinstance(result.error, BadRequestError) and result.error.message
        stranger = KalshiSigner("unknown-key", rsa.generate_private_key(65537, 2048))
        async with sim_client(sim, stranger) as client:
            with pytest.raises(UnauthorizedError) as denied:
                await client.get_balance()
            assert denied.value.status == 401
        async with sim_client(sim, None) as client:
            with pytest.raises(UnauthorizedError):
                await client.get_balance()

    _run(go())


def test_settlement_reaches_the_portfolio(public_pem: bytes, signer: KalshiSigner) -> None:
    with simulator(public_pem, seed=5) as sim:

        async def buy() -> str:
            async with sim_client(sim, signer) as client:
                target = _liquid(await _markets(client))
                assert (await client.create_order(taker_order(target, 200))).ok
                return target.ticker

        ticker = _run(buy())
        market = sim.exchange.market(ticker)
        sim.advance(market.close_time - sim.clock.now() + timedelta(hours=8))

        async def check() -> None:
            async with sim_client(sim, signer) as client:
                settlements = [s async for s in client.iter_settlements(ticker=ticker)]
                assert len(settlements) == 1
                (settled,) = settlements
                assert settled.market_result in ("yes", "no")
                assert settled.settled_time is not None and settled.settled_time.tzinfo
                won = settled.market_result == "yes"
                assert settled.revenue == (settled.yes_count * 10_000 if won else 0)
                market_now = await client.get_market(ticker)
                assert market_now.result == settled.market_result
                assert market_now.status in ("determined", "finalized")
                events = await client.get_events_page(series_ticker=SERIES, status="settled")
                assert [e.event_ticker for e in events.items] == [f"{SERIES}-26AUG24"]

        _run(check())
    assert DAY.day == 24


def test_idempotent_requests_are_retried_through_injected_faults(
    public_pem: bytes, signer: KalshiSigner
) -> None:
    faults = FaultConfig(seed=0, rest_500_rate=0.3, rest_429_rate=0.03)
    with simulator(public_pem, faults=faults) as sim:

        async def go() -> tuple[int, int]:
            async with sim_client(sim, signer) as client:
                for _ in range(25):
                    await client.get_balance()
                tickers = [m.ticker async for m in client.iter_markets(limit=2)]
                assert len(tickers) == 6
                return client.requests, client.retries

        requests, retries = _run(go())
        injected = sim.faults.injected
        assert any(f == "500-before" for _, _, f in injected)
        assert any(f == "429-before" for _, _, f in injected)
        assert retries == len(injected) and requests == 28 + retries


def test_writes_are_never_retried_and_unknown_is_reconciled(
    public_pem: bytes, signer: KalshiSigner
) -> None:
    faults = FaultConfig(seed=1, rest_500_after_rate=1.0)
    with simulator(public_pem, faults=faults) as sim:

        async def go() -> None:
            async with sim_client(sim, signer) as client:
                target = _liquid(await _markets(client))
                request = OrderRequest(
                    target.ticker, Side.NO, Action.BUY, count=100, price=100, client_order_id="u-1"
                )
                sent = client.requests
                result = await client.create_order(request)
                assert client.requests == sent + 1  # sent exactly once
                # processed, then answered 500: the client cannot know, so it says so
                assert result.outcome is CommandOutcome.UNKNOWN and result.order is None
                # reconciliation (not a blind resend) finds the order
                found = await client.find_order_by_client_id("u-1", ticker=target.ticker)
                assert found is not None and found.status == "resting"

        _run(go())
        assert sum(1 for m, _, f in sim.faults.injected if m == "POST") == 1

    faults = FaultConfig(seed=1, rest_500_rate=1.0)
    with simulator(public_pem, faults=faults) as sim:

        async def lost() -> None:
            async with sim_client(sim, signer) as client:
                request = OrderRequest(
                    sorted(sim.exchange.markets)[0], Side.NO, Action.BUY, 100, 100, "u-2"
                )
                result = await client.create_order(request)
                assert result.outcome is CommandOutcome.UNKNOWN

        _run(lost())
        assert [m for m, _, _ in sim.faults.injected] == ["POST"]  # one attempt, no retry
        assert not any(
            o.client_order_id == "u-2" for o in sim.exchange.account(KEY_ID).orders.values()
        )


def test_client_rate_limiter_keeps_under_the_server_limit(
    public_pem: bytes, signer: KalshiSigner
) -> None:
    with simulator(public_pem, rate_limit=20.0) as sim:

        async def burst(tier: str) -> tuple[int, float]:
            async with sim_client(sim, signer, tier=tier) as client:
                start = time.monotonic()
                await asyncio.gather(*(client.get_balance() for _ in range(40)))
                return client.retries, time.monotonic() - start

        retries, elapsed = _run(burst("basic"))  # 90 % of 20 reads/s: never refused
        assert retries == 0 and 1.0 < elapsed < 3.0
        time.sleep(1.1)  # let the server's bucket refill
        retries, _ = _run(burst("prime"))  # 400/s: the server pushes back, GETs retry
        assert retries > 0


def test_no_key_material_or_signature_in_logs(
    public_pem: bytes,
    private_key: rsa.RSAPrivateKey,
    private_pem: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recording = RecordingSigner(KEY_ID, private_key)
    caplog.set_level(logging.DEBUG)
    faults = FaultConfig(seed=2, rest_500_rate=0.3)
    with simulator(public_pem, faults=faults) as sim:

        async def go() -> list[Any]:
            seen: list[Any] = []
            async with sim_client(sim, recording) as client:
                await client.get_balance()
                target = _liquid(await _markets(client))
                request = OrderRequest(target.ticker, Side.NO, Action.BUY, 100, 100)
                seen.append(await client.create_order(request))
                seen.append(await client.create_order(request.with_client_order_id()))
                seen.append(repr(client))
                try:
                    await client.get_market("nope")
                except KalshiAPIError as exc:
                    seen += [str(exc), repr(exc)]
            return seen

        seen = _run(go())
    assert len(recording.signatures) >= 4
    text = caplog.text + "\n".join(map(repr, seen)) + "\n".join(map(str, seen))
    assert "retrying" in caplog.text  # the log did speak, just not of secrets
    for secret in [*recording.signatures, *key_markers(private_key, private_pem)]:
        assert secret not in text
