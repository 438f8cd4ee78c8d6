"""The live order manager against the local simulator (real sockets, real matching)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.ws import KalshiWebSocket
from weather_edge.sim.server import Simulator
from weather_edge.trading.config import LiveTradingNotAllowed
from weather_edge.trading.execution import (
    LiveOrderManager,
    NotStartedError,
    OrderStore,
    ReconciliationError,
)
from weather_edge.trading.orders import OrderIntent, OrderStatus, client_order_id_for
from weather_edge_tests.conftest import KEY_ID
from weather_edge_tests.kalshi_client.conftest import simulator

from .live_support import (
    Clock,
    Market,
    buy_yes_decision,
    key_env,
    liquid,
    live_params,
    load_markets,
    rest_client,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim(public_pem: bytes) -> Iterator[Simulator]:
    """New York's markets of one day, agents quoting, a manual clock that never moves by
    itself: nothing trades against our orders unless a test says so."""
    with simulator(public_pem) as running:
        yield running


def place_by_hand(
    sim: Simulator, account: str, ticker: str, side: str, action: str, price_cc: int, **extra: str
) -> None:
    """An order straight into the exchange (not through the manager): one contract."""
    body = {
        "ticker": ticker,
        "side": side,
        "action": action,
        "count_fp": "1.00",
        f"{side}_price_dollars": f"{price_cc / 10_000:.4f}",
    }
    sim.exchange.place_order(account, body | extra)


def sim_orders(sim: Simulator) -> list[Any]:
    with sim.exchange.lock:
        return list(sim.exchange.account(KEY_ID).orders.values())


def sim_resting(sim: Simulator) -> list[Any]:
    with sim.exchange.lock:
        return list(sim.exchange.account(KEY_ID).open_orders.values())


def sim_position(sim: Simulator, ticker: str) -> int:
    with sim.exchange.lock:
        held = sim.exchange.account(KEY_ID).positions.get(ticker)
        return held.position if held is not None else 0


class Live:
    """A started manager on the simulator, with the markets as they stood at the start."""

    def __init__(
        self, sim: Simulator, signer: KalshiSigner, key_file: Path, state_dir: Path, **params: Any
    ) -> None:
        self.sim = sim
        self.client = rest_client(sim.rest_url, sim.ws_url, signer)
        self.clock = Clock()
        self.params = live_params(**params)
        self.key_env = key_env(key_file)
        self.state_dir = state_dir

    async def __aenter__(self) -> Live:
        self.markets = await load_markets(self.client)
        self.manager = self.new_manager()
        await self.manager.start()
        return self

    def new_manager(self) -> LiveOrderManager:
        specs = {t: m.spec for t, m in self.markets.items()}
        return LiveOrderManager(
            self.params, self.client, specs, self.state_dir, environ=self.key_env, clock=self.clock
        )

    async def __aexit__(self, *exc: object) -> None:
        self.manager.close()
        await self.client.aclose()


@pytest.fixture
def make_live(
    sim: Simulator, signer: KalshiSigner, key_file: Path, tmp_path: Path
) -> Callable[..., Live]:
    """``make_live(**params)``: a manager to start with ``async with`` (state under tmp_path)."""
    return lambda **params: Live(sim, signer, key_file, tmp_path, **params)


def take_ask(market: Market, count_cq: int) -> OrderIntent:
    """Buy YES at the ask right away (not from a decision)."""
    return OrderIntent(market.spec, "yes", "buy", market.book.yes_ask_cc or 0, count_cq, "taker")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --------------------------------------------------------------------------- placing orders


def test_maker_first_then_taker_after_the_timeout(
    sim: Simulator, make_live: Callable[..., Live]
) -> None:
    async def go() -> None:
        async with make_live() as live:
            market = liquid(live.markets)
            decision = buy_yes_decision(live.params, market)
            assert decision.liquidity == "maker" and decision.taker is not None
            order = await live.manager.submit(decision)
            assert order is not None and order.status is OrderStatus.RESTING
            resting = sim_resting(sim)
            assert [o.client_order_id for o in resting] == [order.client_order_id]
            assert resting[0].post_only and resting[0].book_price == decision.price_cc
            assert order.client_order_id == client_order_id_for(decision.decision_id, "maker")
            assert await live.manager.submit(decision) is not None  # idempotent
            live.clock.advance(1)
            later = buy_yes_decision(live.params, market, now=live.clock.now)
            assert later.decision_id != decision.decision_id
            assert await live.manager.submit(later) is None  # one working order per market
            assert len(sim_orders(sim)) == 1
            live.clock.advance(58)  # the timeout is 60 s (volume weight 0)
            await live.manager.poll()
            assert len(sim_resting(sim)) == 1
            live.clock.advance(2)
            await live.manager.poll()
            assert sim_resting(sim) == []
            orders = {o.liquidity: o for o in live.manager.store.orders()}
            assert orders["maker"].status is OrderStatus.CANCELED
            taker = orders["taker"]
            assert taker.client_order_id == client_order_id_for(decision.decision_id, "taker")
            assert taker.price_cc == decision.taker.limit_cc
            assert taker.status is OrderStatus.EXECUTED
            assert taker.filled_cq == taker.count_cq == decision.taker.count_cq
            await live.manager.poll()  # fills and positions caught up
            fills = live.manager.store.fills()
            assert sum(f.count_cq for f in fills) == taker.count_cq
            assert all(f.is_taker and f.client_order_id == taker.client_order_id for f in fills)
            assert sim_position(sim, market.spec.ticker) == taker.count_cq
            assert live.manager.risk.portfolio.position(market.spec.ticker) == taker.count_cq
            rows = live.manager.order_rows()
            assert {r["mode"] for r in rows} == {"live"}
            assert [h for _, h in live.manager.store.sessions()] == [live.params.config_hash]

    run(go())


def test_partial_maker_fill_then_taker_for_the_rest(
    sim: Simulator, make_live: Callable[..., Live]
) -> None:
    async def go() -> None:
        async with make_live() as live:
            market = liquid(live.markets)
            decision = buy_yes_decision(live.params, market)
            order = await live.manager.submit(decision)
            assert order is not None and decision.count_cq is not None
            assert decision.price_cc is not None
            # someone sells YES into our bid: 2 contracts
            sim.exchange.register_account("other", unlimited=True)
            for _ in range(2):
                place_by_hand(
                    sim,
                    "other",
                    market.spec.ticker,
                    "yes",
                    "sell",
                    decision.price_cc,
                    time_in_force="immediate_or_cancel",
                )
            await live.manager.poll()
            maker = live.manager.store.get(order.client_order_id)
            assert maker is not None and maker.filled_cq == 200
            assert maker.status is OrderStatus.RESTING
            live.clock.advance(61)
            await live.manager.poll()
            taker = live.manager.store.get(client_order_id_for(decision.decision_id, "taker"))
            assert decision.taker is not None
            want = min(decision.count_cq - 200, decision.taker.count_cq)
            assert taker is not None and taker.count_cq == want
            await live.manager.poll()
            assert sim_position(sim, market.spec.ticker) == 200 + want

    run(go())


def test_limits_are_enforced_against_live_positions(
    sim: Simulator, make_live: Callable[..., Live]
) -> None:
    async def go() -> None:
        async with make_live(limits={"max_contracts_per_event": 3}) as live:
            loose = live_params(limits={"max_dollars_per_trade": 5})  # the engine's view
            first = buy_yes_decision(loose, liquid(live.markets))
            assert first.count_cq is not None and first.count_cq > 300
            order = await live.manager.submit(first)
            assert order is not None and order.count_cq == 300  # cut to the event limit
            second = buy_yes_decision(loose, liquid(live.markets, skip=1))
            assert await live.manager.submit(second) is None  # the resting buy fills the room
            assert len(sim_orders(sim)) == 1

    run(go())


# --------------------------------------------------------------------------- kill switch


def test_kill_switch_stops_orders_until_reset(
    sim: Simulator, make_live: Callable[..., Live]
) -> None:
    async def go() -> None:
        async with make_live(limits={"max_daily_loss": "0.05"}) as live:
            market = liquid(live.markets)
            resting = await live.manager.submit(buy_yes_decision(live.params, market))
            assert resting is not None
            # a taker buy at the ask is marked at the bid: the spread and the fee are lost
            taker = await live.manager._place(take_ask(market, 1000), decision_id="manual-1")
            assert taker is not None and taker.filled_cq == 1000
            await live.manager.poll()
            assert live.manager.kill_switch.halted
            assert live.manager.risk.daily_pnl_micros <= -50_000
            assert sim_resting(sim) == []  # tripping cancels what rests
            later = buy_yes_decision(live.params, liquid(live.markets, skip=1))
            assert await live.manager.submit(later) is None
            # a restart is still halted: the switch is persisted
            restarted = live.new_manager()
            await restarted.start()
            assert restarted.risk.halted
            assert await restarted.submit(later) is None
            placed = len(sim_orders(sim))
            restarted.reset_kill_switch(by="test")
            restarted.params = live_params(limits={"max_daily_loss": 1000})
            assert await restarted.submit(later) is not None
            assert len(sim_orders(sim)) == placed + 1
            await restarted.shutdown()
            restarted.close()

    run(go())


# --------------------------------------------------------------------------- start and stop


def test_shutdown_cancels_and_verifies(sim: Simulator, make_live: Callable[..., Live]) -> None:
    async def go() -> None:
        async with make_live() as live:
            for skip in (0, 1):
                decision = buy_yes_decision(live.params, liquid(live.markets, skip=skip))
                assert await live.manager.submit(decision) is not None
            assert len(sim_resting(sim)) == 2
            await live.manager.shutdown()
            assert sim_resting(sim) == []
            assert {o.status for o in live.manager.store.orders()} == {OrderStatus.CANCELED}
            assert not live.manager.started
            with pytest.raises(NotStartedError):
                await live.manager.submit(decision)

    run(go())


def test_start_fails_closed_on_foreign_orders_and_positions(
    sim: Simulator, make_live: Callable[..., Live]
) -> None:
    async def go() -> None:
        async with make_live() as live:
            market = liquid(live.markets)
            await live.manager.submit(buy_yes_decision(live.params, market))
            await live.manager.shutdown()
            # an order this manager did not place appears on the account
            place_by_hand(
                sim, KEY_ID, market.spec.ticker, "no", "buy", 100, client_order_id="by-hand"
            )
            manager = live.new_manager()
            with pytest.raises(ReconciliationError, match="not placed by this manager"):
                await manager.start()
            with pytest.raises(NotStartedError):
                await manager.submit(buy_yes_decision(live.params, market))
            # cancelled, but a position appears that no recorded fill explains
            for order in sim_resting(sim):
                sim.exchange.cancel_order(KEY_ID, order.order_id)
            ask = market.book.yes_ask_cc or 0
            place_by_hand(
                sim,
                KEY_ID,
                market.spec.ticker,
                "yes",
                "buy",
                ask,
                time_in_force="immediate_or_cancel",
            )
            with pytest.raises(ReconciliationError, match="position in"):
                await manager.start()
            assert not manager.started
            manager.close()

    run(go())


def test_live_without_keys_or_confirmation_fails_before_any_order(
    sim: Simulator, signer: KalshiSigner, key_file: Path, tmp_path: Path
) -> None:
    params = live_params()
    with pytest.raises(LiveTradingNotAllowed) as info:
        LiveOrderManager.from_env(params, {}, tmp_path, environ={})
    assert "KALSHI_API_KEY_ID" in str(info.value)
    assert "KALSHI_PRIVATE_KEY_PATH" in str(info.value)
    unconfirmed = live_params(live_confirmation="")
    with pytest.raises(LiveTradingNotAllowed, match="live_confirmation"):
        LiveOrderManager.from_env(unconfirmed, {}, tmp_path, environ=key_env(key_file))

    async def go() -> None:
        client = rest_client(sim.rest_url, sim.ws_url, signer)
        markets = await load_markets(client)
        decision = buy_yes_decision(params, liquid(markets))
        specs = {t: m.spec for t, m in markets.items()}
        for environ, bad in ((key_env(key_file), unconfirmed), ({}, params)):
            manager = LiveOrderManager(bad, client, specs, tmp_path / "s", environ=environ)
            with pytest.raises(LiveTradingNotAllowed):
                await manager.start()
            with pytest.raises(NotStartedError):
                await manager.submit(decision)
            manager.close()
        unsigned = rest_client(sim.rest_url, sim.ws_url, None)
        manager = LiveOrderManager(
            params, unsigned, specs, tmp_path / "u", environ=key_env(key_file)
        )
        with pytest.raises(LiveTradingNotAllowed, match="signer"):
            await manager.start()
        manager.close()
        await client.aclose()
        await unsigned.aclose()

    run(go())
    assert sim_orders(sim) == []


def test_crash_between_send_and_ack_is_reconciled_without_a_duplicate(
    sim: Simulator, signer: KalshiSigner, key_file: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    params = live_params()

    async def decide() -> Any:
        client = rest_client(sim.rest_url, sim.ws_url, signer)
        markets = await load_markets(client)
        await client.aclose()
        return buy_yes_decision(params, liquid(markets))

    decision = run(decide())
    row = decision.to_row()
    row["evaluated_at"] = row["evaluated_at"].isoformat()
    row["climate_day"] = row["climate_day"].isoformat()
    args = {
        "rest_url": sim.rest_url,
        "ws_url": sim.ws_url,
        "key_path": str(key_file),
        "state_dir": str(state),
        "params": json.loads(params.model_dump_json()),
        "decision": row,
    }
    child = subprocess.run(
        [sys.executable, "-m", "weather_edge_tests.trading.live_support", json.dumps(args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -9, child.stderr  # SIGKILL
    coid = client_order_id_for(decision.decision_id, "maker")
    store = OrderStore(state / "orders.sqlite")
    pending = store.get(coid)
    store.close()
    assert pending is not None and pending.status is OrderStatus.PENDING
    assert pending.order_id is None  # the acknowledgement never arrived
    assert [o.client_order_id for o in sim_orders(sim)] == [coid]  # but the exchange has it

    async def restart() -> None:
        client = rest_client(sim.rest_url, sim.ws_url, signer)
        markets = await load_markets(client)
        specs = {t: m.spec for t, m in markets.items()}
        manager = LiveOrderManager(params, client, specs, state, environ=key_env(key_file))
        report = await manager.start()
        assert report.adopted == [coid]
        adopted = manager.store.get(coid)
        assert adopted is not None and adopted.status is OrderStatus.RESTING
        assert adopted.order_id == sim_orders(sim)[0].order_id
        posts_before = client.requests
        again = await manager.submit(decision)
        assert again is not None and again.client_order_id == coid
        assert client.requests == posts_before  # not even a request
        assert len(sim_orders(sim)) == 1
        await manager.shutdown()
        manager.close()
        await client.aclose()

    run(restart())


def test_fills_arrive_over_the_private_websocket(
    sim: Simulator, make_live: Callable[..., Live]
) -> None:
    async def go() -> None:
        async with make_live() as live:
            ws = KalshiWebSocket(sim.ws_url, signer=live.client.signer)
            runner = asyncio.create_task(ws.run())
            await ws.wait_connected(10)
            await live.manager.attach_websocket(ws)
            market = liquid(live.markets)
            order = await live.manager._place(take_ask(market, 300), decision_id="ws-1")
            assert order is not None
            for _ in range(200):
                if live.manager.store.fills():
                    break
                await asyncio.sleep(0.02)
            fills = live.manager.store.fills()
            assert sum(f.count_cq for f in fills) == 300
            assert fills[0].client_order_id == order.client_order_id
            assert fills[0].price_cc == market.book.yes_ask_cc
            assert live.manager.risk.portfolio.position(market.spec.ticker) == 300
            await ws.close()
            await runner

    run(go())


def test_execute_runs_a_whole_op_on_the_real_clock(
    sim: Simulator, signer: KalshiSigner, key_file: Path, tmp_path: Path
) -> None:
    params = live_params(maker={"base_s": 0.3})  # 0.3 s x 1.0 at aggressiveness 0.5

    async def go() -> None:
        client = rest_client(sim.rest_url, sim.ws_url, signer)
        markets = await load_markets(client)
        decisions = [buy_yes_decision(params, liquid(markets, skip=i)) for i in (0, 1)]
        specs = {t: m.spec for t, m in markets.items()}
        manager = LiveOrderManager(params, client, specs, tmp_path, environ=key_env(key_file))
        summary = await manager.execute(decisions, duration_s=10, poll_interval_s=0.1)
        assert summary.submitted == 2 and not summary.halted
        statuses = sorted(summary.orders.values())
        assert statuses == ["canceled", "canceled", "executed", "executed"]  # maker -> taker
        assert summary.filled_cq == sum(d.taker.count_cq for d in decisions if d.taker)
        assert sim_resting(sim) == [] and not manager.started
        # every fill is recorded, also those of orders that finished between two polls
        assert sum(f["count_cq"] for f in manager.fill_rows()) == summary.filled_cq
        manager.close()
        await client.aclose()

    run(go())


def test_reconciliation_on_a_timer_stops_the_manager(
    sim: Simulator, make_live: Callable[..., Live]
) -> None:
    async def go() -> None:
        async with make_live() as live:
            market = liquid(live.markets)
            await live.manager.poll()  # nothing to reconcile yet
            place_by_hand(sim, KEY_ID, market.spec.ticker, "no", "buy", 100)
            await live.manager.poll()  # within the interval: not looked at yet
            live.clock.advance(60)
            with pytest.raises(ReconciliationError, match="not placed by this manager"):
                await live.manager.poll()
            assert not live.manager.started
            with pytest.raises(NotStartedError):
                await live.manager.submit(buy_yes_decision(live.params, market))

    run(go())
