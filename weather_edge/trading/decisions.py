"""The decision engine: fee-aware EV, Kelly sizing under limits, and a reason for every no.

For one market at one instant it prices every way in:

* **buy YES / buy NO** as a *maker* (one tick better than the best bid of that side, never
  crossing: when the spread is a single tick it joins the best bid) and as a *taker* (the
  ask, walking the real depth for the size);
* **sell** a held position as a maker (one tick inside the ask) and as a taker (hitting bids).

EV per contract is ``P(win) x $1 - price - fee`` (a sale: ``price - fee - P(win)``), in
integer micro-dollars. Confidence is the probability that the EV is positive given the
forecast's uncertainty σ: ``Φ(edge / σ)``. The chosen way is the one of highest EV; it trades
when its confidence reaches the threshold and its EV the minimum. The size is Kelly's
``(q - c) / (1 - c)`` of the bankroll, scaled by the Kelly fraction and by an uncertainty
penalty ``edge² / (edge² + σ²)``, then capped by every limit; the decision records which cap
bound. Orders go maker first: the decision carries the taker price (the worst level whose
marginal EV still clears the minimum) that the execution falls back to after its timeout.

Every evaluation, trade or not, becomes a :class:`Decision` with its inputs (a book
snapshot, the forecast, the candidates, the sizing), the model version, the config hash and
a :class:`Reason`; ``to_row()`` is a ``decisions`` table row whose ``decision_id`` is a hash
of all of it, so re-evaluating the same inputs is idempotent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from weather_edge.kalshi.book import Action, OrderBook, Side, TopOfBook
from weather_edge.kalshi.fees import FeeSchedule, Liquidity, maker_fee, taker_fee
from weather_edge.money import MONEY_SCALE, ONE_DOLLAR_CC, SIZE_SCALE
from weather_edge.storage.warehouse import Warehouse
from weather_edge.trading.config import TradingMode, TradingParams
from weather_edge.trading.inputs import BracketForecast, ForecastCache, MarketSpec
from weather_edge.trading.orders import row_of
from weather_edge.trading.risk import UNLIMITED, Reason, RiskState, limit_room

ONE_CONTRACT_CQ = SIZE_SCALE
DECISION_COLUMNS = (
    "decision_id",
    "evaluated_at",
    "market_ticker",
    "city",
    "climate_day",
    "mode",
    "would_trade",
    "side",
    "action",
    "liquidity",
    "price_cc",
    "count_cq",
    "probability",
    "ev_per_contract_micros",
    "reason",
    "model_version",
    "config_hash",
    "inputs_json",
)
"""The columns of the warehouse ``decisions`` table (attributes of :class:`Decision`)."""
BOOK_LEVELS_RECORDED = 5
_SQRT2 = math.sqrt(2.0)
_json = msgspec.json.Encoder(enc_hook=int)  # Price/Size are int subclasses


class _FeeCache:
    """Fees by (schedule, liquidity, price, size): the exact ``Fraction`` maths of
    :mod:`weather_edge.kalshi.fees` runs once per distinct order shape."""

    __slots__ = ("_tables",)
    _LIMIT = 1 << 16

    def __init__(self) -> None:
        self._tables: dict[int, tuple[FeeSchedule, dict[tuple[str, int, int], int]]] = {}

    def __call__(
        self, schedule: FeeSchedule, liquidity: Liquidity, price_cc: int, size_cq: int
    ) -> int:
        entry = self._tables.get(id(schedule))
        if entry is None or entry[0] is not schedule:
            entry = self._tables[id(schedule)] = (schedule, {})
        table = entry[1]
        key = (liquidity, price_cc, size_cq)
        fee = table.get(key)
        if fee is None:
            if len(table) >= self._LIMIT:
                table.clear()
            of = taker_fee if liquidity == "taker" else maker_fee
            fee = table[key] = of(schedule, price_cc, size_cq)
        return fee


order_fee = _FeeCache()
"""``order_fee(schedule, liquidity, price_cc, size_cq)``: Kalshi's fee for one order's whole
quantity at one price, in micro-dollars (cached)."""


def win_probability(side: Side, p_yes: float) -> float:
    return p_yes if side == "yes" else 1.0 - p_yes


def ev_per_contract(
    side: Side, action: Action, price_cc: int, fee_micros: int, p_yes: float
) -> int:
    """EV of one contract in micro-dollars: buying pays ``price + fee`` for ``P(side)``;
    selling receives ``price - fee`` and gives up ``P(side)``. ``fee_micros`` is the fee of
    one contract."""
    win = round(win_probability(side, p_yes) * MONEY_SCALE)
    cost = price_cc * ONE_CONTRACT_CQ
    return win - cost - fee_micros if action == "buy" else cost - fee_micros - win


def confidence(ev_micros: int, uncertainty: float) -> float:
    """P(the true EV is positive) when the probability is uncertain by σ = ``uncertainty``."""
    edge = ev_micros / MONEY_SCALE
    if uncertainty <= 0.0:
        return 1.0 if edge > 0 else (0.5 if edge == 0 else 0.0)
    return 0.5 * (1.0 + math.erf(edge / (uncertainty * _SQRT2)))


def maker_price(action: Action, bid_cc: int, ask_cc: int, tick_cc: int) -> int:
    """Inside the spread without crossing: a buy one tick above the bid (joining the bid when
    the spread is one tick), a sale one tick below the ask (joining the ask)."""
    if action == "buy":
        return max(bid_cc, min(bid_cc + tick_cc, ask_cc - tick_cc))
    return min(ask_cc, max(ask_cc - tick_cc, bid_cc + tick_cc))


@dataclass(frozen=True, slots=True)
class Candidate:
    """One way into (or out of) a market, priced per contract before sizing."""

    side: Side
    action: Action
    liquidity: Liquidity
    price_cc: int
    ev_micros: int
    confidence: float

    def as_json(self) -> list[Any]:
        return [
            self.side,
            self.action,
            self.liquidity,
            self.price_cc,
            self.ev_micros,
            round(self.confidence, 6),
        ]


@dataclass(frozen=True, slots=True)
class TakerPlan:
    """What crossing now would do for the decided size: levels whose marginal EV clears the
    minimum, up to ``limit_cc`` (the worst of them), with the exact EV after fees."""

    limit_cc: int
    count_cq: int
    ev_total_micros: int

    @property
    def ev_per_contract_micros(self) -> int:
        return self.ev_total_micros * ONE_CONTRACT_CQ // self.count_cq


@dataclass(frozen=True, slots=True)
class Decision:
    """One evaluation of one market: a would-trade or a refusal, with everything behind it."""

    decision_id: str
    evaluated_at: dt.datetime
    market_ticker: str
    event_ticker: str
    city: str
    climate_day: dt.date
    mode: str
    reason: Reason
    config_hash: str
    inputs_json: str
    model_version: str | None = None
    probability: float | None = None
    side: Side | None = None
    action: Action | None = None
    liquidity: Liquidity | None = None
    price_cc: int | None = None
    count_cq: int | None = None
    ev_per_contract_micros: int | None = None
    taker: TakerPlan | None = None
    recent_volume_cq: int = 0
    detail: str | None = None

    @property
    def would_trade(self) -> bool:
        return self.reason is Reason.TRADE

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Decision:
        """Back from a ``decisions`` row (e.g. the would-trades an execution op reads);
        the taker plan and recent volume come from ``inputs_json``."""
        inputs = json.loads(row["inputs_json"])
        taker = inputs.get("taker")
        ticker = str(row["market_ticker"])
        return cls(
            decision_id=str(row["decision_id"]),
            evaluated_at=_as_datetime(row["evaluated_at"]),
            market_ticker=ticker,
            event_ticker=ticker.rsplit("-", 1)[0],
            city=str(row["city"]),
            climate_day=_as_date(row["climate_day"]),
            mode=str(row["mode"]),
            reason=Reason(row["reason"]),
            config_hash=str(row["config_hash"]),
            inputs_json=str(row["inputs_json"]),
            model_version=row.get("model_version"),
            probability=row.get("probability"),
            side=row.get("side"),
            action=row.get("action"),
            liquidity=row.get("liquidity"),
            price_cc=row.get("price_cc"),
            count_cq=row.get("count_cq"),
            ev_per_contract_micros=row.get("ev_per_contract_micros"),
            taker=TakerPlan(*taker) if taker else None,
            recent_volume_cq=int(inputs.get("recent_volume_cq", 0)),
            detail=inputs.get("detail"),
        )

    def to_row(self) -> dict[str, Any]:
        """A row of the ``decisions`` table."""
        return row_of(self, DECISION_COLUMNS)


def _as_datetime(value: dt.datetime | str) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def decision_id_for(
    market_ticker: str, evaluated_at: dt.datetime, mode: str, config_hash: str, inputs: bytes
) -> str:
    """Deterministic: the same market, instant, mode, parameters and inputs give the same id."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{market_ticker}|{evaluated_at.isoformat()}|{mode}|{config_hash}|".encode())
    digest.update(inputs)
    return digest.hexdigest()


@dataclass(slots=True)
class _Sizing:
    count_cq: int
    binding: str | None
    caps: dict[str, int] = field(default_factory=dict)


class DecisionEngine:
    """Evaluates markets against cached forecasts. Pure: no I/O, no clock of its own."""

    def __init__(self, params: TradingParams, *, mode: TradingMode | None = None) -> None:
        self.params = params
        self.mode = (mode or params.mode).value
        self.config_hash = params.config_hash
        self._threshold = params.confidence_threshold
        self._kelly = params.kelly_fraction
        self._min_ev = params.min_ev_micros
        self._bankroll = params.bankroll_micros
        self._increment = params.increment_cq
        self._min_top = params.min_top_cq
        self._max_spread = params.max_spread_cc
        self._max_book_age = dt.timedelta(seconds=params.staleness.max_book_age_s)
        self._max_forecast_age = dt.timedelta(seconds=params.staleness.max_prediction_age_s)
        self._min_to_close = dt.timedelta(seconds=params.min_time_to_close_s)
        self._cities = frozenset(params.enabled_cities)

    # ------------------------------------------------------------------ entry point

    def evaluate(
        self,
        spec: MarketSpec,
        book: OrderBook,
        forecast: BracketForecast | None,
        *,
        now: dt.datetime,
        book_at: dt.datetime,
        risk: RiskState | None = None,
        recent_volume_cq: int = 0,
    ) -> Decision:
        """Decide for one market. ``book_at`` is when the book was last known good."""
        risk = risk or RiskState()
        top = book.top()
        inputs: dict[str, Any] = {
            "book": {
                "yes": book.levels("yes")[:BOOK_LEVELS_RECORDED],
                "no": book.levels("no")[:BOOK_LEVELS_RECORDED],
                "age_ms": int((now - book_at) / dt.timedelta(milliseconds=1)),
                "resync": book.needs_resync,
            },
            "position_cq": risk.portfolio.position(spec.ticker),
            "recent_volume_cq": recent_volume_cq,
        }
        if forecast is not None:
            inputs["forecast"] = {
                "p": forecast.probability,
                "sigma": forecast.uncertainty,
                "model_version": forecast.model_version,
                "snapshot_at": forecast.snapshot_at.isoformat(),
            }
        refusal = self._gate(spec, book, top, forecast, now, book_at, risk)
        if refusal is not None:
            reason, detail = refusal
            return self._finish(spec, now, forecast, inputs, reason, detail=detail)
        assert forecast is not None
        return self._trade(spec, book, top, forecast, now, risk, inputs, recent_volume_cq)

    # ------------------------------------------------------------------ gates

    def _gate(
        self,
        spec: MarketSpec,
        book: OrderBook,
        top: TopOfBook,
        forecast: BracketForecast | None,
        now: dt.datetime,
        book_at: dt.datetime,
        risk: RiskState,
    ) -> tuple[Reason, str | None] | None:
        if spec.city not in self._cities:
            return Reason.CITY_DISABLED, f"{spec.city} is not among the enabled cities"
        if not spec.is_open:
            return Reason.MARKET_NOT_OPEN, f"market status {spec.status!r}"
        if not spec.rules_ok:
            return Reason.RULES_MISMATCH, spec.rules_problem or "rules do not match the registry"
        if spec.close_time - now < self._min_to_close:
            return Reason.CLOSES_SOON, f"closes at {spec.close_time.isoformat()}"
        if risk.halted:
            return Reason.KILL_SWITCH, risk.halt_reason
        if forecast is None:
            return Reason.NO_PREDICTION, None
        if now - forecast.snapshot_at > self._max_forecast_age:
            return Reason.PREDICTION_STALE, f"forecast of {forecast.snapshot_at.isoformat()}"
        if book.needs_resync:
            return Reason.BOOK_STALE, book.resync_reason
        if now - book_at > self._max_book_age:
            return Reason.BOOK_STALE, f"book last good at {book_at.isoformat()}"
        if top.crossed:
            return Reason.BOOK_CROSSED, None
        if top.yes_bid_cc is None or top.no_bid_cc is None:
            return Reason.BOOK_THIN, "one side of the book is empty"
        if min(top.yes_bid_cq, top.no_bid_cq) < self._min_top:
            return Reason.BOOK_THIN, "too little size at the top of the book"
        spread = top.yes_spread_cc
        if spread is not None and spread > self._max_spread:
            return Reason.BOOK_THIN, f"spread {spread} cc is wider than {self._max_spread} cc"
        return None

    # ------------------------------------------------------------------ candidates

    def candidates(
        self, spec: MarketSpec, top: TopOfBook, p_yes: float, sigma: float, held_cq: int
    ) -> list[Candidate]:
        """Every way in or out priced per contract (two-sided book assumed)."""
        assert top.yes_bid_cc is not None and top.no_bid_cc is not None
        out: list[Candidate] = []
        quotes = {
            "yes": (top.yes_bid_cc, ONE_DOLLAR_CC - top.no_bid_cc),
            "no": (top.no_bid_cc, ONE_DOLLAR_CC - top.yes_bid_cc),
        }
        intents: list[tuple[Side, Action]] = []
        if held_cq >= 0:
            intents.append(("yes", "buy"))
        if held_cq <= 0:
            intents.append(("no", "buy"))
        if held_cq > 0:
            intents.append(("yes", "sell"))
        if held_cq < 0:
            intents.append(("no", "sell"))
        for side, action in intents:
            bid, ask = quotes[side]
            maker_at = maker_price(action, bid, ask, spec.tick_cc)
            taker_at = ask if action == "buy" else bid
            options: tuple[tuple[Liquidity, int], ...] = (("maker", maker_at), ("taker", taker_at))
            for liquidity, price in options:
                fee = order_fee(spec.fees, liquidity, price, ONE_CONTRACT_CQ)
                ev = ev_per_contract(side, action, price, fee, p_yes)
                out.append(Candidate(side, action, liquidity, price, ev, confidence(ev, sigma)))
        return out

    # ------------------------------------------------------------------ trading

    def _trade(
        self,
        spec: MarketSpec,
        book: OrderBook,
        top: TopOfBook,
        forecast: BracketForecast,
        now: dt.datetime,
        risk: RiskState,
        inputs: dict[str, Any],
        recent_volume_cq: int,
    ) -> Decision:
        p_yes, sigma = forecast.probability, forecast.uncertainty
        held = risk.portfolio.position(spec.ticker)
        candidates = self.candidates(spec, top, p_yes, sigma, held)
        inputs["candidates"] = [c.as_json() for c in candidates]
        best = max(candidates, key=lambda c: (c.ev_micros, c.liquidity == "maker"))
        if best.ev_micros < self._min_ev:
            return self._finish(spec, now, forecast, inputs, Reason.EV_LOW)
        if best.confidence < self._threshold:
            return self._finish(spec, now, forecast, inputs, Reason.CONFIDENCE_LOW)
        if best.action == "sell":
            sizing = _Sizing(abs(held), None)
        else:
            sizing = self._size_buy(spec, best, p_yes, sigma, risk)
        inputs["sizing"] = {"count_cq": sizing.count_cq, "binding": sizing.binding}
        if sizing.caps:
            inputs["sizing"]["caps"] = sizing.caps
        if sizing.count_cq <= 0:
            reason = Reason(sizing.binding) if sizing.binding else Reason.SIZE_TOO_SMALL
            return self._finish(spec, now, forecast, inputs, reason)
        taker = self.taker_plan(spec, book, best.side, best.action, p_yes, sizing.count_cq)
        if taker is not None:
            inputs["taker"] = [taker.limit_cc, taker.count_cq, taker.ev_total_micros]
        count = sizing.count_cq
        if best.liquidity == "taker":
            if taker is None:
                return self._finish(spec, now, forecast, inputs, Reason.BOOK_THIN)
            count = taker.count_cq
            ev = taker.ev_per_contract_micros
        else:
            fee = order_fee(spec.fees, "maker", best.price_cc, count)
            win = win_probability(best.side, p_yes)
            total = round(win * count * ONE_DOLLAR_CC)
            cost = best.price_cc * count
            ev_total = (total - cost - fee) if best.action == "buy" else (cost - fee - total)
            ev = ev_total * ONE_CONTRACT_CQ // count
        return self._finish(
            spec,
            now,
            forecast,
            inputs,
            Reason.TRADE,
            best=best,
            count_cq=count,
            ev=ev,
            taker=taker,
            recent_volume_cq=recent_volume_cq,
        )

    def _size_buy(
        self, spec: MarketSpec, best: Candidate, p_yes: float, sigma: float, risk: RiskState
    ) -> _Sizing:
        liquidity: Liquidity = best.liquidity
        fee1 = order_fee(spec.fees, liquidity, best.price_cc, ONE_CONTRACT_CQ)
        unit = best.price_cc * ONE_CONTRACT_CQ + fee1  # micro-dollars per contract, all in
        cost_p = unit / MONEY_SCALE
        win = win_probability(best.side, p_yes)
        edge = best.ev_micros / MONEY_SCALE
        kelly_full = (win - cost_p) / (1.0 - cost_p) if cost_p < 1.0 else 0.0
        penalty = edge * edge / (edge * edge + sigma * sigma) if edge > 0 else 0.0
        stake = kelly_full * self._kelly * penalty * self._bankroll
        kelly_cq = max(int(stake * ONE_CONTRACT_CQ / unit), 0)
        room = limit_room(self.params, risk.portfolio, spec, unit, risk.daily_pnl_micros)
        caps: dict[str, int] = {"kelly": kelly_cq}
        caps.update({reason.value: cap for reason, cap in room.caps.items() if cap < UNLIMITED})
        binding = min(caps, key=lambda k: caps[k])
        count = caps[binding] // self._increment * self._increment
        max_trade = self.params.limits.max_trade_micros
        while count > 0 and (
            best.price_cc * count + order_fee(spec.fees, liquidity, best.price_cc, count)
            > max_trade
        ):
            count -= self._increment
            binding = Reason.LIMIT_TRADE.value
        return _Sizing(count, None if binding == "kelly" and count > 0 else _refusal(binding), caps)

    def taker_plan(
        self,
        spec: MarketSpec,
        book: OrderBook,
        side: Side,
        action: Action,
        p_yes: float,
        count_cq: int,
    ) -> TakerPlan | None:
        """Walk the real depth for ``count_cq``, keeping levels whose marginal EV per contract
        still reaches the minimum. None when not even the first level does."""
        kept: list[tuple[int, int]] = []
        depth = 0
        for price, qty in book.depth_to(side, action, count_cq).levels:
            fee1 = order_fee(spec.fees, "taker", price, ONE_CONTRACT_CQ)
            if ev_per_contract(side, action, price, fee1, p_yes) < self._min_ev:
                break
            kept.append((price, qty))
            depth += qty
        count = depth // self._increment * self._increment
        max_trade = self.params.limits.max_trade_micros
        while count > 0:
            levels = _first(kept, count)
            notional = sum(price * qty for price, qty in levels)
            fees = sum(order_fee(spec.fees, "taker", price, qty) for price, qty in levels)
            if action == "sell" or notional + fees <= max_trade:
                win = round(win_probability(side, p_yes) * count * ONE_DOLLAR_CC)
                ev_total = (win - notional - fees) if action == "buy" else (notional - fees - win)
                return TakerPlan(levels[-1][0], count, ev_total)
            count -= self._increment
        return None

    # ------------------------------------------------------------------ records

    def _finish(
        self,
        spec: MarketSpec,
        now: dt.datetime,
        forecast: BracketForecast | None,
        inputs: dict[str, Any],
        reason: Reason,
        *,
        detail: str | None = None,
        best: Candidate | None = None,
        count_cq: int | None = None,
        ev: int | None = None,
        taker: TakerPlan | None = None,
        recent_volume_cq: int = 0,
    ) -> Decision:
        if detail:
            inputs["detail"] = detail
        inputs["reason"] = reason.value
        encoded = _json.encode(inputs)
        return Decision(
            decision_id=decision_id_for(spec.ticker, now, self.mode, self.config_hash, encoded),
            evaluated_at=now,
            market_ticker=spec.ticker,
            event_ticker=spec.event_ticker,
            city=spec.city,
            climate_day=spec.climate_day,
            mode=self.mode,
            reason=reason,
            config_hash=self.config_hash,
            inputs_json=encoded.decode(),
            model_version=forecast.model_version if forecast else None,
            probability=forecast.probability if forecast else None,
            side=best.side if best else None,
            action=best.action if best else None,
            liquidity=best.liquidity if best else None,
            price_cc=best.price_cc if best else None,
            count_cq=count_cq,
            ev_per_contract_micros=ev if ev is not None else (best.ev_micros if best else None),
            taker=taker,
            recent_volume_cq=recent_volume_cq,
            detail=detail,
        )


def _first(levels: list[tuple[int, int]], count_cq: int) -> list[tuple[int, int]]:
    """The best levels holding ``count_cq`` in all (the last one cut to fit)."""
    out: list[tuple[int, int]] = []
    left = count_cq
    for price, qty in levels:
        take = min(qty, left)
        out.append((price, take))
        left -= take
        if not left:
            break
    return out


def _refusal(binding: str) -> str:
    return Reason.SIZE_TOO_SMALL.value if binding == "kelly" else binding


def decide_all(
    engine: DecisionEngine,
    markets: Iterable[tuple[MarketSpec, OrderBook, dt.datetime]],
    forecasts: ForecastCache,
    *,
    now: dt.datetime,
    risk: RiskState | None = None,
    recent_volume_cq: Mapping[str, int] | None = None,
) -> list[Decision]:
    """One decision per market (``(spec, book, book_at)``), refusals included: the body of
    a batch evaluation such as the ``would_trade_decisions`` asset."""
    volumes = recent_volume_cq or {}
    return [
        engine.evaluate(
            spec,
            book,
            forecasts.get(spec.ticker),
            now=now,
            book_at=book_at,
            risk=risk,
            recent_volume_cq=volumes.get(spec.ticker, 0),
        )
        for spec, book, book_at in markets
    ]


class DecisionRecorder:
    """Collects decision rows (cheap, in memory) and writes them to the warehouse in batches."""

    def __init__(self, warehouse: Warehouse | None = None, *, flush_every: int = 5_000) -> None:
        self.warehouse = warehouse
        self.flush_every = flush_every
        self.rows: list[dict[str, Any]] = []
        self.written = 0

    def record(self, decision: Decision) -> None:
        self.rows.append(decision.to_row())
        if self.warehouse is not None and len(self.rows) >= self.flush_every:
            self.flush()

    def flush(self) -> int:
        if self.warehouse is None or not self.rows:
            return 0
        rows, self.rows = self.rows, []
        written = self.warehouse.upsert("decisions", rows)
        self.written += written
        return written
