"""The live order manager: decided orders onto the exchange, safely.

Used only in live mode (the Dagster layer wires it into an op). What it guarantees:

* **Nothing before the checks.** :meth:`LiveOrderManager.start` (and :meth:`from_env`) first
  requires live mode, the explicit ``live_confirmation`` and the key variables
  (``KALSHI_API_KEY_ID`` / ``KALSHI_PRIVATE_KEY_PATH``), naming whatever is missing; then it
  reconciles with the exchange. No order is sent by a manager that has not started.
* **Idempotent orders.** Each order's ``client_order_id`` is derived from its decision and
  leg; it is written to a local SQLite store *before* the request leaves, so a crash at any
  point leaves a ``pending`` row that reconciliation settles. Kalshi answers 409 to a
  repeated id, which the REST client resolves to the existing order: never a duplicate.
* **Command outcomes.** *acknowledged* updates the order, *failed* closes it, *unknown*
  (a timeout after sending, a 5xx) leaves it pending for reconciliation, never a resend.
* **Crash-only start.** Starting fresh and recovering are the same routine: pending orders
  are looked up by ``client_order_id``, open orders refreshed, fills ingested, and the
  exchange's resting orders and positions compared with what the store implies. Any order
  or position the store cannot explain fails closed (:class:`ReconciliationError`).
* **Maker first.** Orders rest ``post_only`` for the volume-weighted timeout; what remains
  then is cancelled (and the cancel confirmed) and sent as an immediate-or-cancel taker
  order at the decision's taker limit. Partial fills are tracked per order.
* **Limits against live positions.** Positions are synced from the exchange; each order is
  cut to what every limit still allows (resting buys count against the limits).
* **Daily-loss kill switch.** Today's P&L (fills of the UTC day, today's net positions at
  the best bids) at or below ``-max_daily_loss`` trips a persisted switch: resting orders are
  cancelled and no order is placed until someone calls :meth:`reset_kill_switch`.
* **Clean shutdown.** :meth:`shutdown` cancels every resting order of ours and lists the
  exchange's resting orders until none of ours remain (:class:`ShutdownError` otherwise).

Fills come from the private WebSocket ``fill`` channel when one is attached
(:meth:`attach_websocket`), with REST polling of ``/portfolio/fills`` as the fallback.
No secret is ever logged: only key *variable names* appear in messages.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sqlite3
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.book import Side, book_from_levels
from weather_edge.kalshi.config import KalshiConfig
from weather_edge.kalshi.errors import KalshiError, NotFoundError
from weather_edge.kalshi.fees import Liquidity
from weather_edge.kalshi.models import Action as WireAction
from weather_edge.kalshi.models import Fill, Order, OrderRequest, TimeInForce, WsFill
from weather_edge.kalshi.models import Side as WireSide
from weather_edge.kalshi.rest import CommandOutcome, KalshiRestClient
from weather_edge.kalshi.ws import KalshiWebSocket, WsMessage
from weather_edge.money import ONE_DOLLAR_CC, format_dollars
from weather_edge.trading.config import LiveTradingNotAllowed, TradingParams
from weather_edge.trading.decisions import ONE_CONTRACT_CQ, Decision, order_fee
from weather_edge.trading.inputs import MarketSpec
from weather_edge.trading.orders import (
    FILL_COLUMNS,
    ORDER_COLUMNS,
    FillRecord,
    OrderIntent,
    OrderRecord,
    OrderStatus,
    client_order_id_for,
)
from weather_edge.trading.risk import (
    KillSwitch,
    Mark,
    Portfolio,
    Reason,
    RiskState,
    limit_room,
    liquidation_mark,
)

log = logging.getLogger(__name__)

LIVE = "live"
FILL_CHANNEL = "fill"
_EXCHANGE_STATUS = {
    "resting": OrderStatus.RESTING,
    "executed": OrderStatus.EXECUTED,
    "canceled": OrderStatus.CANCELED,
}


class ClockSource(StrEnum):
    """Where an execution reads "now": the wall clock (production), or the exchange's
    ``Date`` stamps (an exchange on a simulated clock, such as the demo's simulator)."""

    WALL = "wall"
    EXCHANGE = "exchange"


class ExecutionError(RuntimeError):
    """The order manager cannot go on safely."""


class NotStartedError(ExecutionError):
    """An order was asked of a manager that has not started (and reconciled)."""


class ReconciliationError(ExecutionError):
    """The exchange holds orders or positions the local store cannot explain."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("reconciliation failed, trading stays halted: " + "; ".join(problems))
        self.problems = problems


class ShutdownError(ExecutionError):
    """Resting orders survived the shutdown's cancels."""


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _each(decisions: Iterable[Decision] | AsyncIterable[Decision]) -> AsyncIterator[Decision]:
    if isinstance(decisions, AsyncIterable):
        async for decision in decisions:
            yield decision
    else:
        for decision in decisions:
            yield decision


# --------------------------------------------------------------------------- the local store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    decision_id TEXT,
    order_id TEXT,
    market_ticker TEXT NOT NULL,
    side TEXT NOT NULL,
    action TEXT NOT NULL,
    liquidity TEXT NOT NULL,
    price_cc INTEGER NOT NULL,
    count_cq INTEGER NOT NULL,
    filled_cq INTEGER NOT NULL,
    fees_micros INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT,
    fallback_limit_cc INTEGER,
    fallback_count_cq INTEGER
);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY,
    client_order_id TEXT,
    order_id TEXT,
    market_ticker TEXT NOT NULL,
    side TEXT NOT NULL,
    action TEXT NOT NULL,
    price_cc INTEGER NOT NULL,
    count_cq INTEGER NOT NULL,
    fee_micros INTEGER NOT NULL,
    is_taker INTEGER NOT NULL,
    ts TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS baseline (
    market_ticker TEXT PRIMARY KEY,
    position_cq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    started_at TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    params_json TEXT NOT NULL
);
"""

_ORDER_COLUMNS = (
    *(c for c in ORDER_COLUMNS if c != "mode"),
    "liquidity",
    "fees_micros",
    "expires_at",
    "fallback_limit_cc",
    "fallback_count_cq",
)
_TIME_COLUMNS = frozenset({"created_at", "updated_at", "expires_at", "ts"})
_FILL_COLUMNS = tuple(c for c in FILL_COLUMNS if c != "mode")


class OrderStore:
    """Durable state of the live manager (SQLite, one transaction per write, synchronous).

    SQLite's journal makes every committed write survive a SIGKILL, which is what lets an
    order be recorded *before* it is sent.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- orders

    def put(self, order: OrderRecord) -> None:
        self._insert("INSERT OR REPLACE", "orders", _ORDER_COLUMNS, order)

    def _insert(self, verb: str, table: str, columns: tuple[str, ...], record: object) -> int:
        values = [_to_sql(getattr(record, column)) for column in columns]
        marks = ", ".join("?" for _ in columns)
        cursor = self._db.execute(
            f"{verb} INTO {table} ({', '.join(columns)}) VALUES ({marks})", values
        )
        return cursor.rowcount

    def _orders(self, where: str = "", params: tuple[Any, ...] = ()) -> list[OrderRecord]:
        rows = self._db.execute(
            f"SELECT {', '.join(_ORDER_COLUMNS)} FROM orders {where} ORDER BY created_at", params
        ).fetchall()
        return [_order_from_row(_from_sql(_ORDER_COLUMNS, row)) for row in rows]

    def get(self, client_order_id: str) -> OrderRecord | None:
        found = self._orders("WHERE client_order_id = ?", (client_order_id,))
        return found[0] if found else None

    def by_order_id(self, order_id: str) -> OrderRecord | None:
        found = self._orders("WHERE order_id = ?", (order_id,))
        return found[0] if found else None

    def open_orders(self) -> list[OrderRecord]:
        return self._orders("WHERE status IN ('pending', 'resting')")

    def orders(self) -> list[OrderRecord]:
        return self._orders()

    # -- fills

    def add_fill(self, fill: FillRecord) -> bool:
        """Record a fill once; False if it was already known."""
        return self._insert("INSERT OR IGNORE", "fills", _FILL_COLUMNS, fill) == 1

    def filled_cq(self, client_order_id: str) -> int:
        """Contracts (cq) of the recorded fills of one order."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(count_cq), 0) FROM fills WHERE client_order_id = ?",
            (client_order_id,),
        ).fetchone()
        return int(row[0])

    def fills(self, since: dt.datetime | None = None) -> list[FillRecord]:
        where, params = ("WHERE ts >= ?", (_iso(since),)) if since else ("", ())
        rows = self._db.execute(
            f"SELECT {', '.join(_FILL_COLUMNS)} FROM fills {where} ORDER BY ts", params
        ).fetchall()
        return [_fill_from_row(_from_sql(_FILL_COLUMNS, row)) for row in rows]

    # -- the positions held before this manager's first order, and small settings

    def baseline(self) -> dict[str, int] | None:
        if self.meta("baseline_at") is None:
            return None
        rows = self._db.execute("SELECT market_ticker, position_cq FROM baseline").fetchall()
        return {str(t): int(p) for t, p in rows}

    def set_baseline(self, positions: Mapping[str, int], at: dt.datetime) -> None:
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM baseline")
        self._db.executemany(
            "INSERT INTO baseline (market_ticker, position_cq) VALUES (?, ?)",
            sorted(positions.items()),
        )
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('baseline_at', ?)", (at.isoformat(),)
        )
        self._db.execute("COMMIT")

    def record_session(self, snapshot: Mapping[str, Any], at: dt.datetime) -> None:
        """Keep the parameters (and their hash) a trading session ran with."""
        self._db.execute(
            "INSERT INTO sessions (started_at, config_hash, params_json) VALUES (?, ?, ?)",
            (at.isoformat(), str(snapshot["config_hash"]), json.dumps(snapshot, sort_keys=True)),
        )

    def sessions(self) -> list[tuple[str, str]]:
        """(started_at, config_hash) of every session, oldest first."""
        rows = self._db.execute("SELECT started_at, config_hash FROM sessions ORDER BY rowid")
        return [(str(a), str(h)) for a, h in rows.fetchall()]

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None


def _to_sql(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    return value


def _from_sql(columns: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    fields = dict(zip(columns, row, strict=True))
    for name in _TIME_COLUMNS.intersection(fields):
        fields[name] = _time(fields[name])
    return fields


def _order_from_row(row: dict[str, Any]) -> OrderRecord:
    return OrderRecord(**row | {"status": OrderStatus(row["status"]), "mode": LIVE})


def _fill_from_row(row: dict[str, Any]) -> FillRecord:
    return FillRecord(**row | {"is_taker": bool(row["is_taker"]), "mode": LIVE})


# --------------------------------------------------------------------------- the manager


@dataclass
class ReconcileReport:
    """What a start (or a periodic pass) found and settled."""

    adopted: list[str] = field(default_factory=list)  # pending orders found on the exchange
    failed: list[str] = field(default_factory=list)  # pending orders that never arrived
    refreshed: int = 0
    fills_ingested: int = 0
    positions: dict[str, int] = field(default_factory=dict)


@dataclass
class ExecutionSummary:
    """What one :meth:`LiveOrderManager.execute` run did."""

    submitted: int = 0
    skipped: int = 0
    orders: dict[str, str] = field(default_factory=dict)  # client_order_id -> final status
    filled_cq: int = 0
    halted: bool = False


class LiveOrderManager:
    """Places decided orders on the exchange. See the module docstring for the guarantees."""

    def __init__(
        self,
        params: TradingParams,
        rest: KalshiRestClient,
        specs: Mapping[str, MarketSpec],
        state_dir: str | Path,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        fill_poll_interval_s: float = 30.0,
        reconcile_interval_s: float = 60.0,
    ) -> None:
        self.params = params
        self.rest = rest
        self.specs = dict(specs)
        self.state_dir = Path(state_dir)
        self.environ = environ
        self.clock = clock
        self.fill_poll_interval_s = fill_poll_interval_s
        self.reconcile_interval_s = reconcile_interval_s
        self._last_reconcile: dt.datetime | None = None
        self.store = OrderStore(self.state_dir / "orders.sqlite")
        self.kill_switch = KillSwitch(self.state_dir / "kill_switch.json")
        self.risk = RiskState()
        self.started = False
        self._ws_fills = False
        self._last_fill_poll: dt.datetime | None = None
        self._exposure: dict[str, int] = {}
        self.foreign_fills: set[str] = set()

    @classmethod
    def from_env(
        cls,
        params: TradingParams,
        specs: Mapping[str, MarketSpec],
        state_dir: str | Path,
        *,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> LiveOrderManager:
        """A manager on the configured host with the configured key. Checks live readiness
        first, so a missing key or confirmation fails before any connection is made."""
        params.require_live(environ)
        config = KalshiConfig.from_env(environ)
        signer = KalshiSigner.from_env(environ)
        rest = KalshiRestClient(config, signer=signer)
        return cls(params, rest, specs, state_dir, environ=environ, **kwargs)

    def close(self) -> None:
        self.store.close()

    # ------------------------------------------------------------------ start and reconcile

    async def use_exchange_clock(self) -> dt.timedelta:
        """Read "now" from the exchange's ``Date`` stamps from here on (market hours, order
        timeouts, staleness, the daily-loss day); returns how far it is ahead of the wall."""
        await self.rest.get_exchange_status()
        exchange = self.rest.exchange_clock
        if not exchange.synced:
            raise ExecutionError("the exchange's answers carry no Date header to read its time")
        self.clock = exchange.now
        skew = exchange.skew()
        log.info(
            "execution on the exchange's clock: %s (%+.0f s from the wall)",
            exchange.now(),
            skew.total_seconds(),
        )
        return skew

    async def start(self) -> ReconcileReport:
        """Check live readiness, reconcile with the exchange, then allow orders."""
        self.params.require_live(self.environ)
        if self.rest.signer is None:
            raise LiveTradingNotAllowed(
                "live trading refused before any order; missing: a request signer "
                "(KALSHI_API_KEY_ID / KALSHI_PRIVATE_KEY_PATH)"
            )
        report = await self.reconcile()
        self._load_kill_switch()
        self.store.record_session(self.params.snapshot(), self.clock())
        self.started = True
        log.info(
            "live order manager started: %d adopted, %d failed, %d fills ingested",
            len(report.adopted),
            len(report.failed),
            report.fills_ingested,
        )
        return report

    async def reconcile(self) -> ReconcileReport:
        """Settle every unknown, refresh open orders and compare with the exchange.

        Raises :class:`ReconciliationError` (and stops the manager) on a resting order or a
        position the store cannot explain.
        """
        report = ReconcileReport()
        problems: list[str] = []
        for order in self.store.open_orders():
            found = await self._lookup(order)
            if found is None:
                if order.status is OrderStatus.PENDING:
                    self._set_status(order, OrderStatus.FAILED)
                    report.failed.append(order.client_order_id)
                else:
                    problems.append(f"order {order.client_order_id} is unknown to the exchange")
                continue
            if order.status is OrderStatus.PENDING:
                report.adopted.append(order.client_order_id)
            self._adopt(order, found)
            report.refreshed += 1
        report.fills_ingested = await self._poll_fills(force=True)
        ours = {o.order_id for o in self.store.orders() if o.order_id}
        async for resting in self.rest.iter_orders(status="resting"):
            if resting.order_id in ours:
                continue
            late = self.store.get(resting.client_order_id) if resting.client_order_id else None
            if late is not None:  # given up as failed, yet it did arrive: take it back
                self._adopt(late, resting)
                report.adopted.append(late.client_order_id)
            else:
                problems.append(
                    f"resting order {resting.order_id} ({resting.ticker}) was not placed by "
                    "this manager"
                )
        exchange_positions = await self._exchange_positions()
        report.positions = exchange_positions
        baseline = self.store.baseline()
        if baseline is None:
            self.store.set_baseline(self._minus_own_fills(exchange_positions), self.clock())
        else:
            settled = await self._settled_tickers()
            expected = self._expected_positions(baseline)
            for ticker in sorted(set(expected) | set(exchange_positions)):
                if ticker in settled:
                    continue
                want, have = expected.get(ticker, 0), exchange_positions.get(ticker, 0)
                if want != have:
                    problems.append(
                        f"position in {ticker} is {have} cq on the exchange, {want} cq expected"
                    )
        if problems:
            self.started = False
            raise ReconciliationError(problems)
        self._sync_risk(exchange_positions)
        self._last_reconcile = self.clock()
        return report

    async def _lookup(self, order: OrderRecord) -> Order | None:
        if order.order_id:
            try:
                return await self.rest.get_order(order.order_id)
            except NotFoundError:
                return None
        return await self.rest.find_order_by_client_id(
            order.client_order_id, ticker=order.market_ticker
        )

    async def _exchange_positions(self) -> dict[str, int]:
        positions: dict[str, int] = {}
        self._exposure = {}
        async for position in self.rest.iter_market_positions():
            if position.position:
                positions[position.ticker] = int(position.position)
                self._exposure[position.ticker] = int(position.market_exposure)
        return positions

    async def _settled_tickers(self) -> set[str]:
        return {s.ticker async for s in self.rest.iter_settlements()}

    def _own_fills_portfolio(self, since: dt.datetime | None = None) -> Portfolio:
        ledger = Portfolio()
        for fill in self.store.fills(since):
            self._book(ledger, fill)
        return ledger

    def _book(self, ledger: Portfolio, fill: FillRecord) -> None:
        ledger.apply_fill(
            self._spec(fill.market_ticker),
            fill.side,
            fill.action,
            fill.price_cc,
            fill.count_cq,
            fill.fee_micros,
        )

    def _minus_own_fills(self, positions: Mapping[str, int]) -> dict[str, int]:
        own = self._own_fills_portfolio().positions
        tickers = set(positions) | set(own)
        out = {t: positions.get(t, 0) - own.get(t, 0) for t in tickers}
        return {t: p for t, p in out.items() if p}

    def _expected_positions(self, baseline: Mapping[str, int]) -> dict[str, int]:
        own = self._own_fills_portfolio().positions
        out = {t: baseline.get(t, 0) + own.get(t, 0) for t in set(baseline) | set(own)}
        return {t: p for t, p in out.items() if p}

    def _sync_risk(self, positions: Mapping[str, int]) -> None:
        portfolio = Portfolio()
        for ticker, position in positions.items():
            portfolio.set_position(self._spec(ticker), position, self._exposure.get(ticker, 0))
        for order in self.store.open_orders():
            self._reserve(portfolio, order)
        self.risk.portfolio = portfolio

    def _reserve(self, portfolio: Portfolio, order: OrderRecord) -> None:
        remaining = order.count_cq - order.filled_cq
        if order.action != "buy" or order.status.done or remaining <= 0:
            portfolio.release(order.client_order_id)
            return
        portfolio.reserve(
            order.client_order_id, self._spec(order.market_ticker), remaining, order.price_cc
        )

    def _spec(self, ticker: str) -> MarketSpec:
        spec = self.specs.get(ticker)
        return spec if spec is not None else MarketSpec.placeholder(ticker)

    def _load_kill_switch(self) -> None:
        self.risk.halted = self.kill_switch.halted
        self.risk.halt_reason = self.kill_switch.reason

    # ------------------------------------------------------------------ placing orders

    async def submit(self, decision: Decision) -> OrderRecord | None:
        """Place a would-trade (maker first). Returns the order (an existing one if this
        decision was already placed), or None when nothing may be sent: a refusal, the kill
        switch, no room under the limits, or another order still working in that market
        (one working order per market: later decisions do not stack orders)."""
        self._require_started()
        if not decision.would_trade:
            return None
        assert decision.side and decision.action and decision.liquidity
        assert decision.price_cc is not None and decision.count_cq is not None
        legs: tuple[Liquidity, ...] = ("maker", "taker")
        for leg in legs:
            known = self.store.get(client_order_id_for(decision.decision_id, leg))
            if known is not None:
                return known  # this decision already has its order: never a second one
        working = [o for o in self.store.open_orders() if o.market_ticker == decision.market_ticker]
        if working:
            log.info(
                "%s: order %s is still working; decision %s not placed",
                decision.market_ticker,
                working[0].client_order_id,
                decision.decision_id,
            )
            return None
        now = self.clock()
        maker = decision.liquidity == "maker"
        timeout = self.params.maker_timeout_s(decision.recent_volume_cq)
        taker = decision.taker
        intent = OrderIntent(
            self._spec(decision.market_ticker),
            decision.side,
            decision.action,
            decision.price_cc,
            decision.count_cq,
            decision.liquidity,
        )
        return await self._place(
            intent,
            decision_id=decision.decision_id,
            expires_at=now + dt.timedelta(seconds=timeout) if maker else None,
            fallback_limit_cc=taker.limit_cc if maker and taker else None,
            fallback_count_cq=taker.count_cq if maker and taker else None,
        )

    async def _place(
        self,
        intent: OrderIntent,
        *,
        decision_id: str,
        expires_at: dt.datetime | None = None,
        fallback_limit_cc: int | None = None,
        fallback_count_cq: int | None = None,
    ) -> OrderRecord | None:
        if self._halted():
            return None
        allowed, binding = self.allowed_count(intent)
        if allowed <= 0:
            log.info("%s: no order, %s leaves no room", intent.spec.ticker, binding)
            return None
        order = OrderRecord.new(
            client_order_id_for(decision_id, intent.liquidity),
            replace(intent, count_cq=allowed),
            mode=LIVE,
            now=self.clock(),
            decision_id=decision_id,
            expires_at=expires_at,
            fallback_limit_cc=fallback_limit_cc,
            fallback_count_cq=fallback_count_cq,
        )
        self.store.put(order)  # durable before the request leaves
        self._reserve(self.risk.portfolio, order)
        maker = intent.liquidity == "maker"
        request = OrderRequest(
            ticker=order.market_ticker,
            side=WireSide(order.side),
            action=WireAction(order.action),
            count=allowed,
            price=order.price_cc,
            client_order_id=order.client_order_id,
            post_only=True if maker else None,
            time_in_force=(
                TimeInForce.GOOD_TILL_CANCELED if maker else TimeInForce.IMMEDIATE_OR_CANCEL
            ),
        )
        result = await self.rest.create_order(request)
        if result.outcome is CommandOutcome.ACKNOWLEDGED:
            if result.order is not None:
                self._adopt(order, result.order)
        elif result.outcome is CommandOutcome.FAILED:
            log.warning("order %s failed: %s", order.client_order_id, result.error)
            self._set_status(order, OrderStatus.FAILED)
        else:
            log.warning(
                "order %s outcome unknown (%s): left pending for reconciliation",
                order.client_order_id,
                result.error,
            )
        return order

    def allowed_count(self, intent: OrderIntent) -> tuple[int, str | None]:
        """The intent's count cut to what the limits allow against the live positions,
        and the limit that cut it (None if none did)."""
        spec, count_cq, increment = intent.spec, intent.count_cq, self.params.increment_cq
        if intent.action == "sell":
            held = self.risk.portfolio.position(spec.ticker)
            available = held if intent.side == "yes" else -held
            return max(min(count_cq, available), 0), "position"
        fee1 = order_fee(spec.fees, intent.liquidity, intent.price_cc, ONE_CONTRACT_CQ)
        unit = intent.price_cc * ONE_CONTRACT_CQ + fee1
        room = limit_room(self.params, self.risk.portfolio, spec, unit, self.risk.daily_pnl_micros)
        binding, cap = room.binding
        allowed = min(count_cq, cap) // increment * increment
        return allowed, (binding.value if binding and cap < count_cq else None)

    # ------------------------------------------------------------------ the loop

    async def poll(self) -> None:
        """One pass: reconcile (every ``reconcile_interval_s``), settle unknowns, take in
        fills, refresh orders, convert expired makers, check the daily loss. Call it every
        second or so."""
        self._require_started()
        last = self._last_reconcile
        if last is None or (self.clock() - last).total_seconds() >= self.reconcile_interval_s:
            await self.reconcile()  # on a timer too: a mismatch stops the manager
        await self._resolve_pending()
        if await self._poll_fills():
            self._sync_risk(await self._exchange_positions())
        await self._refresh_open()
        await self._convert_expired()
        await self.check_daily_loss()

    async def _resolve_pending(self) -> None:
        for order in self.store.open_orders():
            if order.status is OrderStatus.PENDING:
                found = await self._lookup(order)
                if found is not None:
                    self._adopt(order, found)
                elif self.clock() - order.created_at > dt.timedelta(seconds=30):
                    # long enough for any in-flight request to have landed
                    self._set_status(order, OrderStatus.FAILED)

    async def _refresh_open(self) -> None:
        for order in self.store.open_orders():
            if order.status is OrderStatus.RESTING and order.order_id:
                try:
                    self._adopt(order, await self.rest.get_order(order.order_id))
                except KalshiError as exc:
                    log.warning("cannot refresh order %s: %s", order.client_order_id, exc)

    async def _convert_expired(self) -> None:
        now = self.clock()
        for order in self.store.open_orders():
            if (
                order.status is not OrderStatus.RESTING
                or order.liquidity != "maker"
                or order.expires_at is None
                or order.expires_at > now
                or not order.order_id
            ):
                continue
            result = await self.rest.cancel_order(order.order_id)
            if not result.ok or result.order is None:
                log.warning("cancel of %s not confirmed: %s", order.client_order_id, result.error)
                continue
            self._adopt(order, result.order)
            if order.status is not OrderStatus.CANCELED:
                continue  # it executed meanwhile
            left = result.reduced_by or 0
            if left <= 0 or order.fallback_limit_cc is None or not order.decision_id:
                continue
            count = min(left, order.fallback_count_cq or left)
            intent = OrderIntent(
                self._spec(order.market_ticker),
                order.side,
                order.action,
                order.fallback_limit_cc,
                count,
                "taker",
            )
            await self._place(intent, decision_id=order.decision_id)

    # ------------------------------------------------------------------ fills

    async def _poll_fills(self, *, force: bool = False) -> int:
        """Take in the account's fills from REST (always on ``force``; otherwise only when
        no WebSocket feeds them, or every ``fill_poll_interval_s`` as a safety net)."""
        now = self.clock()
        recent = self._last_fill_poll is not None and (
            (now - self._last_fill_poll).total_seconds() < self.fill_poll_interval_s
        )
        if not force and self._ws_fills and recent:
            return 0
        self._last_fill_poll = now
        new = 0
        async for fill in self.rest.iter_fills():
            if self._ingest(self._from_rest_fill(fill)):
                new += 1
        return new

    def _from_rest_fill(self, fill: Fill) -> FillRecord:
        side: Side = "yes" if fill.side == WireSide.YES else "no"
        own = fill.yes_price if side == "yes" else fill.no_price
        other = fill.no_price if side == "yes" else fill.yes_price
        price = int(own) if own is not None else ONE_DOLLAR_CC - int(other or 0)
        return FillRecord(
            fill_id=f"{fill.trade_id or fill.fill_id}:{fill.order_id}",
            market_ticker=fill.ticker,
            side=side,
            action="buy" if fill.action == WireAction.BUY else "sell",
            price_cc=price,
            count_cq=int(fill.count),
            fee_micros=int(fill.fee_cost),
            is_taker=bool(fill.is_taker),
            mode=LIVE,
            ts=fill.created_time or fill.ts or self.clock(),
            client_order_id=fill.client_order_id or None,
            order_id=fill.order_id or None,
        )

    @staticmethod
    def _as_rest_fill(fill: WsFill) -> Fill:
        """A private-channel fill in the shape of a ``/portfolio/fills`` one."""
        return Fill(
            trade_id=fill.trade_id,
            order_id=fill.order_id,
            market_ticker=fill.market_ticker,
            side=fill.side,
            action=fill.action,
            count=fill.count,
            yes_price=fill.yes_price,
            is_taker=fill.is_taker,
            fee_cost=fill.fee_cost,
            client_order_id=fill.client_order_id,
            ts=fill.ts,
        )

    def _ingest(self, fill: FillRecord) -> bool:
        order = self.store.by_order_id(fill.order_id) if fill.order_id else None
        if order is None and fill.client_order_id:
            order = self.store.get(fill.client_order_id)
        if order is None:
            # not ours: it is in the baseline, or it makes the positions disagree (and the
            # next reconciliation fail closed); it never enters our ledger
            self.foreign_fills.add(fill.fill_id)
            return False
        if fill.client_order_id is None:
            fill = replace(fill, client_order_id=order.client_order_id)
        if not self.store.add_fill(fill):
            return False
        if not order.status.done:
            # the recorded fills, not a running sum: the exchange's fill count (taken by
            # _adopt) may already include this fill, and adding it again would close an
            # order that still rests
            recorded = self.store.filled_cq(order.client_order_id)
            order.filled_cq = min(order.count_cq, max(order.filled_cq, recorded))
            order.fees_micros += fill.fee_micros
            if order.filled_cq >= order.count_cq:
                order.status = OrderStatus.EXECUTED
            order.updated_at = self.clock()
            self.store.put(order)
            self._reserve(self.risk.portfolio, order)
        return True

    async def attach_websocket(self, ws: KalshiWebSocket) -> int:
        """Track fills from the private ``fill`` channel of an authenticated connection."""
        ws.add_handler(self._on_ws_event)
        subscription = await ws.subscribe(FILL_CHANNEL)
        self._ws_fills = True
        return subscription

    async def _on_ws_event(self, event: object) -> None:
        if isinstance(event, WsMessage) and event.type == FILL_CHANNEL:
            body = event.body
            if not isinstance(body, WsFill):
                return
            fill = self._from_rest_fill(self._as_rest_fill(body))
            if self._ingest(fill):
                self._book(self.risk.portfolio, fill)

    # ------------------------------------------------------------------ the kill switch

    async def daily_pnl_micros(self) -> int:
        """Today's (UTC) P&L: cash of today's fills plus today's net positions at the bids."""
        now = self.clock()
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        ledger = self._own_fills_portfolio(start)
        marks: dict[str, Mark] = {}
        for ticker in ledger.positions:
            try:
                book = await self.rest.get_orderbook(ticker)
            except KalshiError as exc:
                log.warning("no mark for %s (%s): valued at cost", ticker, exc)
                continue
            marks[ticker] = liquidation_mark(
                book_from_levels(ticker, list(book.yes_bids), list(book.no_bids))
            )
        return ledger.pnl_micros(marks)

    async def check_daily_loss(self) -> bool:
        """Trip the kill switch (and cancel what rests) if today's loss reached the limit."""
        pnl = await self.daily_pnl_micros()
        self.risk.daily_pnl_micros = pnl
        limit = self.params.limits.max_daily_loss_micros
        if -pnl >= limit and not self.kill_switch.halted:
            reason = f"daily loss {format_dollars(-pnl)} reached the limit {format_dollars(limit)}"
            log.error("kill switch: %s", reason)
            self.kill_switch.trip(reason, at=self.clock())
            await self.cancel_all()
        self._load_kill_switch()
        return self.risk.halted

    def reset_kill_switch(self, *, by: str) -> None:
        """The manual reset after a halt."""
        self.kill_switch.reset(by=by, at=self.clock())
        self._load_kill_switch()

    def _halted(self) -> bool:
        self._load_kill_switch()
        if self.risk.halted:
            log.warning("%s: no order while halted (%s)", Reason.KILL_SWITCH, self.risk.halt_reason)
        return self.risk.halted

    async def execute(
        self,
        decisions: Iterable[Decision] | AsyncIterable[Decision],
        *,
        duration_s: float,
        poll_interval_s: float = 1.0,
    ) -> ExecutionSummary:
        """The whole run of an execution op: start (reconcile), place the would-trades, poll
        until nothing of ours is working or ``duration_s`` has passed, then shut down (every
        resting order cancelled and verified gone). Reconciliation failures propagate."""
        await self.start()
        summary = ExecutionSummary()
        placed: list[str] = []
        try:
            async for decision in _each(decisions):
                order = await self.submit(decision)
                if order is None:
                    summary.skipped += decision.would_trade
                    continue
                summary.submitted += 1
                placed.append(decision.decision_id)
            deadline = asyncio.get_running_loop().time() + duration_s
            while self.store.open_orders() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(poll_interval_s)
                await self.poll()
        finally:
            await self.shutdown()
        # an order can finish between two polls (an IOC taker at once): take in its fills
        await self._poll_fills(force=True)
        mine = {
            o
            for d in placed
            for o in (client_order_id_for(d, "maker"), client_order_id_for(d, "taker"))
        }
        for order in self.store.orders():
            if order.client_order_id in mine:
                summary.orders[order.client_order_id] = order.status.value
                summary.filled_cq += order.filled_cq
        summary.halted = self.risk.halted
        return summary

    # ------------------------------------------------------------------ cancel and shutdown

    async def cancel_all(self) -> int:
        """Cancel every resting order of ours; returns how many cancels were confirmed."""
        confirmed = 0
        for order in self.store.open_orders():
            if not order.order_id:
                found = await self._lookup(order)
                if found is None:
                    continue
                self._adopt(order, found)
            if order.status is not OrderStatus.RESTING or not order.order_id:
                continue
            result = await self.rest.cancel_order(order.order_id)
            if result.ok and result.order is not None:
                self._adopt(order, result.order)
                confirmed += 1
            elif isinstance(result.error, NotFoundError):
                self._adopt(order, await self.rest.get_order(order.order_id))
        return confirmed

    async def shutdown(self, *, attempts: int = 5) -> None:
        """Cancel every resting order of ours and verify on the exchange that none is left."""
        for attempt in range(attempts):
            await self.cancel_all()
            ours = {o.order_id for o in self.store.orders() if o.order_id}
            left = [o async for o in self.rest.iter_orders(status="resting") if o.order_id in ours]
            if not left:
                self.started = False
                return
            for order in left:
                known = self.store.by_order_id(order.order_id)
                if known is not None:
                    self._adopt(known, order)
            await asyncio.sleep(0.1 * (attempt + 1))
        raise ShutdownError(f"resting orders survived {attempts} rounds of cancels")

    # ------------------------------------------------------------------ bookkeeping

    def _adopt(self, order: OrderRecord, exchange_order: Order) -> None:
        """Take the exchange's word for an order's id, status and fill count."""
        order.order_id = exchange_order.order_id or order.order_id
        order.status = _EXCHANGE_STATUS.get(exchange_order.status, order.status)
        order.filled_cq = max(order.filled_cq, int(exchange_order.fill_count))
        order.updated_at = self.clock()
        self.store.put(order)
        self._reserve(self.risk.portfolio, order)

    def _set_status(self, order: OrderRecord, status: OrderStatus) -> None:
        order.status = status
        order.updated_at = self.clock()
        self.store.put(order)
        self._reserve(self.risk.portfolio, order)

    def _require_started(self) -> None:
        if not self.started:
            raise NotStartedError("the live order manager has not started (and reconciled)")

    # ------------------------------------------------------------------ warehouse rows

    def order_rows(self) -> list[dict[str, Any]]:
        return [order.to_row() for order in self.store.orders()]

    def fill_rows(self) -> list[dict[str, Any]]:
        return [fill.to_row() for fill in self.store.fills()]
