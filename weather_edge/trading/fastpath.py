"""Deciding on book changes: one code path for the stream, the replay and the live run.

Every decision the platform records is made the same way: a market's book changed, so that
market is evaluated by :class:`~weather_edge.trading.decisions.DecisionEngine` with the
latest prediction known at that instant, and the decision (trade or refusal, with its
reason) is recorded. Only where the books come from changes (NautilusTrader's principle):

* :class:`FastPath` is the hook inside the quote streamer, called on each top-of-book change
  ``(ticker, TopOfBook, received_ns)``. Predictions come from a :class:`ForecastCache`
  refreshed from ``bracket_predictions`` every ``refresh_s``; decisions are buffered by a
  :class:`DecisionRecorder` and written in batches. It never raises into the streamer.
* :func:`decide_recorded` replays a partition's recorded books (``quotes``) and trade tape
  (``trades``) in time order: each market is evaluated at each of its book changes with the
  prediction as of that instant (:class:`ForecastTimeline`: never a later one). The would-
  trades go to a :class:`~weather_edge.trading.paper.PaperExchange` as they are made, so the
  positions they build count against the limits of later decisions (the ``would_trade_
  decisions`` asset).
* :func:`fill_decisions` replays the same recorded events with stored decisions: the same
  paper exchange, the same order of events, hence the same shadow fills (``shadow_fills``;
  :func:`decide_partition` reports the fills it assumed, so the two can be compared).
* :func:`run_live` decides on the exchange's current books and places the would-trades
  through :class:`~weather_edge.trading.execution.LiveOrderManager` (the execution op).

Order of events within one instant: the books, then the trades, then the would-trades
decided at that instant (sorted by market and id), so a paper order is only ever filled by
what printed after it was sent.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from weather_edge.kalshi.book import OrderBook, TopOfBook, book_from_levels
from weather_edge.kalshi.errors import NotFoundError
from weather_edge.kalshi.fees import FeeSchedule
from weather_edge.storage.warehouse import Warehouse
from weather_edge.trading import warehouse_io as wio
from weather_edge.trading.config import TradingMode, TradingParams
from weather_edge.trading.decisions import Decision, DecisionEngine, DecisionRecorder
from weather_edge.trading.execution import ClockSource, ExecutionSummary, LiveOrderManager
from weather_edge.trading.inputs import BracketForecast, ForecastCache, MarketSpec
from weather_edge.trading.paper import SHADOW, PaperExchange, TradePrint, recorded_events
from weather_edge.trading.risk import Mark, RiskState

log = logging.getLogger(__name__)

DEFAULT_UNCERTAINTY = 0.05
"""σ of a bracket probability when its row carries none (``bracket_predictions`` has none)."""
RECENT_VOLUME_WINDOW = dt.timedelta(hours=1)
"""How far back traded volume counts as recent (it lengthens the maker timeout)."""
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

ForecastLookup = Callable[[str, dt.datetime], BracketForecast | None]
"""``(market_ticker, at) -> the forecast to use``."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def ns_to_datetime(ns: int) -> dt.datetime:
    """Unix nanoseconds -> aware UTC datetime (exact to the microsecond)."""
    return _EPOCH + dt.timedelta(microseconds=ns // 1_000)


def current_climate_days(now: dt.datetime) -> list[dt.date]:
    """Climate days that can have open markets around ``now`` (US cities list a day ahead)."""
    today = now.astimezone(dt.UTC).date()
    return [today + dt.timedelta(days=k) for k in (-1, 0, 1, 2)]


def forecast_from_row(
    row: Mapping[str, Any], default_uncertainty: float = DEFAULT_UNCERTAINTY
) -> BracketForecast:
    """A ``bracket_predictions`` row as the engine's forecast."""
    return BracketForecast(
        market_ticker=str(row["market_ticker"]),
        probability=float(row["probability"]),
        uncertainty=float(row.get("uncertainty") or default_uncertainty),
        model_version=str(row["model_version"]),
        snapshot_at=row["snapshot_at"],
    )


class ForecastTimeline:
    """Every forecast of each market by snapshot time: the one in force at any instant."""

    __slots__ = ("_forecasts", "_times")

    def __init__(self, forecasts: Iterable[BracketForecast] = ()) -> None:
        self._times: dict[str, list[dt.datetime]] = {}
        self._forecasts: dict[str, list[BracketForecast]] = {}
        for forecast in forecasts:
            self.add(forecast)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> ForecastTimeline:
        return cls(forecast_from_row(row) for row in rows)

    def add(self, forecast: BracketForecast) -> None:
        """Keep ``forecast``; among equal snapshot times the one added last is in force."""
        times = self._times.setdefault(forecast.market_ticker, [])
        index = bisect.bisect_right(times, forecast.snapshot_at)
        times.insert(index, forecast.snapshot_at)
        self._forecasts.setdefault(forecast.market_ticker, []).insert(index, forecast)

    def at(self, market_ticker: str, when: dt.datetime) -> BracketForecast | None:
        """The latest forecast with ``snapshot_at <= when`` (never a later one)."""
        times = self._times.get(market_ticker)
        index = bisect.bisect_right(times, when) if times else 0
        return self._forecasts[market_ticker][index - 1] if index else None

    def __len__(self) -> int:
        return sum(len(v) for v in self._times.values())


class RecentVolume:
    """Traded contracts per market over a sliding window of the tape."""

    __slots__ = ("_sums", "_tape", "window")

    def __init__(self, window: dt.timedelta = RECENT_VOLUME_WINDOW) -> None:
        self.window = window
        self._tape: dict[str, deque[tuple[dt.datetime, int]]] = {}
        self._sums: dict[str, int] = {}

    def add(self, market_ticker: str, ts: dt.datetime, count_cq: int) -> None:
        self._tape.setdefault(market_ticker, deque()).append((ts, count_cq))
        self._sums[market_ticker] = self._sums.get(market_ticker, 0) + count_cq

    def at(self, market_ticker: str, now: dt.datetime) -> int:
        """Contracts (cq) traded in ``(now - window, now]`` (trades seen so far)."""
        tape = self._tape.get(market_ticker)
        if not tape:
            return 0
        start = now - self.window
        while tape and tape[0][0] <= start:
            self._sums[market_ticker] -= tape.popleft()[1]
        return self._sums[market_ticker]


def book_of(top: TopOfBook) -> OrderBook:
    """A one-level book from a top of book (what a quote row or a top change holds)."""
    yes = [(top.yes_bid_cc, top.yes_bid_cq)] if top.yes_bid_cc is not None else []
    no = [(top.no_bid_cc, top.no_bid_cq)] if top.no_bid_cc is not None else []
    return book_from_levels(top.market_ticker, yes, no)


class BookChangeEvaluator:
    """Evaluates the market whose book changed and records the decision."""

    def __init__(
        self,
        engine: DecisionEngine,
        markets: Mapping[str, wio.ListedMarket],
        forecast_at: ForecastLookup,
        *,
        recorder: DecisionRecorder | None = None,
        risk: RiskState | None = None,
        volume: RecentVolume | None = None,
    ) -> None:
        self.engine = engine
        self.markets = markets
        self.forecast_at = forecast_at
        self.recorder = recorder if recorder is not None else DecisionRecorder()
        self.risk = risk if risk is not None else RiskState()
        self.volume = volume if volume is not None else RecentVolume()
        self.reasons: Counter[str] = Counter()
        self.unknown_markets: set[str] = set()

    @property
    def evaluations(self) -> int:
        return sum(self.reasons.values())

    def evaluate(
        self, book: OrderBook, now: dt.datetime, book_at: dt.datetime | None = None
    ) -> Decision | None:
        """Decide for ``book``'s market at ``now`` (None for a market not in the catalog)."""
        ticker = book.market_ticker
        listed = self.markets.get(ticker)
        if listed is None:
            self.unknown_markets.add(ticker)
            return None
        decision = self.engine.evaluate(
            listed.spec_at(now),
            book,
            self.forecast_at(ticker, now),
            now=now,
            book_at=book_at or now,
            risk=self.risk,
            recent_volume_cq=self.volume.at(ticker, now),
        )
        self.recorder.record(decision)
        self.reasons[decision.reason.value] += 1
        return decision

    def on_trade(self, trade: TradePrint) -> None:
        self.volume.add(trade.market_ticker, trade.ts, trade.count_cq)


# --------------------------------------------------------------------------- the stream's hook


UNKNOWN_REFRESH_S = 1.0  # an unknown market reloads the catalog at most this often


@dataclass
class FastPathStats:
    evaluated: int = 0
    would_trade: int = 0
    skipped_backlog: int = 0  # changes older than ``backlog_s`` (a catch-up after a restart)
    unknown_market: int = 0
    errors: int = 0
    refreshes: int = 0


class FastPath:
    """The streamer's per-change decision: ``fast_path(ticker, top, received_ns)``.

    The market is evaluated at the wall-clock instant of the call, on the book as it stood
    when it was received (so a lagging stream shows as ``book_stale``), with the cached
    prediction. Changes older than ``backlog_s`` (what a restarted streamer re-applies from
    its journal) are counted, not evaluated. Markets and predictions are reloaded from the
    warehouse every ``refresh_s`` (predictions up to the present only). Nothing here raises
    into the caller: a failure is logged and counted in :attr:`stats`.
    """

    def __init__(
        self,
        params: TradingParams,
        warehouse: Warehouse,
        *,
        cities: Sequence[str] = (),
        variant: str | None = None,
        model_version: str | None = None,
        refresh_s: float = 60.0,
        backlog_s: float = 60.0,
        clock: Callable[[], dt.datetime] = _utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        flush_every: int = 5_000,
    ) -> None:
        self.params = params
        self.warehouse = warehouse
        self.cities = tuple(cities) or params.enabled_cities
        self.variant = variant
        self.model_version = model_version
        self.refresh_s = refresh_s
        self.backlog = dt.timedelta(seconds=backlog_s)
        self.clock = clock
        self.monotonic = monotonic
        self.cache = ForecastCache()
        self.recorder = DecisionRecorder(warehouse, flush_every=flush_every)
        self.evaluator = BookChangeEvaluator(
            DecisionEngine(params),
            {},
            lambda ticker, _at: self.cache.get(ticker),
            recorder=self.recorder,
        )
        self.stats = FastPathStats()
        self._refreshed_at = float("-inf")
        self._lookback = dt.timedelta(
            seconds=max(86_400.0, 2 * params.staleness.max_prediction_age_s)
        )

    def __call__(
        self, ticker: str, top: TopOfBook, received_ns: int, book: OrderBook | None = None
    ) -> Decision | None:
        """Evaluate ``ticker`` after a top-of-book change; ``book`` (the full depth), when
        the caller has it, replaces the one-level book built from ``top``."""
        try:
            if self.monotonic() - self._refreshed_at >= self.refresh_s:
                self.refresh()
            now = self.clock()
            received = ns_to_datetime(received_ns)
            if now - received > self.backlog:
                self.stats.skipped_backlog += 1
                return None
            decision = self.evaluator.evaluate(book or book_of(top), now, received)
            if decision is None and self.monotonic() - self._refreshed_at >= UNKNOWN_REFRESH_S:
                self.refresh()  # a market catalogued since the last refresh
                decision = self.evaluator.evaluate(book or book_of(top), now, received)
        except Exception:
            self.stats.errors += 1
            log.exception("fast path: evaluating %s failed", ticker)
            return None
        if decision is None:
            self.stats.unknown_market += 1
            return None
        self.stats.evaluated += 1
        self.stats.would_trade += decision.would_trade
        return decision

    def on_trade(self, ticker: str, ts: dt.datetime, count_cq: int) -> None:
        """A trade printed (keeps the recent volume behind the maker timeout)."""
        self.evaluator.volume.add(ticker, ts, count_cq)

    def refresh(self) -> None:
        """Reload the catalogued markets and the predictions of the last day or so."""
        self._refreshed_at = self.monotonic()  # a failing refresh is retried next period
        now = self.clock()
        days = current_climate_days(now)
        self.evaluator.markets = wio.listed_markets(
            self.warehouse, cities=self.cities, climate_days=days
        )
        rows = wio.prediction_rows(
            self.warehouse,
            cities=self.cities,
            climate_days=days,
            since=now - self._lookback,
            until=now,
            variant=self.variant,
            model_version=self.model_version,
        )
        for row in rows:
            self.cache.put(forecast_from_row(row))
        self.stats.refreshes += 1

    def flush(self) -> int:
        """Write the buffered decisions (call it whenever the stream flushes its rows)."""
        try:
            return self.recorder.flush()
        except Exception:
            self.stats.errors += 1
            log.exception("fast path: writing %d decisions failed", len(self.recorder.rows))
            return 0


# --------------------------------------------------------------------------- shadow replay


class ShadowSession:
    """A partition's recorded books and tape replayed through a paper exchange."""

    def __init__(
        self, params: TradingParams, markets: Mapping[str, wio.ListedMarket], *, session_id: str
    ) -> None:
        self.params = params
        self.markets = markets
        self.paper = PaperExchange(params, session_id=session_id, mode=SHADOW)
        self.requested_cq: dict[str, int] = {}  # decision_id -> contracts it asked for
        self.quotes = 0
        self.trades = 0

    def run(
        self,
        quote_rows: Iterable[Mapping[str, Any]],
        trade_rows: Iterable[Mapping[str, Any]],
        *,
        evaluator: BookChangeEvaluator | None = None,
        decisions: Iterable[Decision] = (),
    ) -> ShadowSession:
        """Replay in time order. With ``evaluator``, each book change is decided as it comes
        (risk sees the paper positions); ``decisions`` are stored ones, placed at their
        ``evaluated_at``. Would-trades of an instant are placed after its books and trades."""
        stored: dict[dt.datetime, list[Decision]] = {}
        for decision in decisions:
            if decision.would_trade:
                stored.setdefault(decision.evaluated_at, []).append(decision)
        waiting = iter(sorted(stored))
        upcoming = next(waiting, None)
        for at, group in groupby(recorded_events(quote_rows, trade_rows), key=itemgetter(0)):
            while upcoming is not None and upcoming < at:
                self._place(upcoming, stored[upcoming])
                upcoming = next(waiting, None)
            decided: list[Decision] = []
            if upcoming == at:
                decided.extend(stored[at])
                upcoming = next(waiting, None)
            for _, event in group:
                self.paper.advance(at)
                if isinstance(event, OrderBook):
                    self.paper.on_book(event, at)
                    self.quotes += 1
                    if evaluator is not None:
                        # at the books' bids: a result known today was not known then
                        pnl = self.paper.pnl_micros() if self.paper.fills else 0
                        evaluator.risk.daily_pnl_micros = pnl
                        made = evaluator.evaluate(event, at)
                        if made is not None and made.would_trade:
                            decided.append(made)
                else:
                    self.paper.on_trade(event)
                    self.trades += 1
                    if evaluator is not None:
                        evaluator.on_trade(event)
            self._place(at, decided)
        while upcoming is not None:
            self._place(upcoming, stored[upcoming])
            upcoming = next(waiting, None)
        return self

    def _place(self, at: dt.datetime, decisions: list[Decision]) -> None:
        self.paper.advance(at)
        unique = {d.decision_id: d for d in decisions}
        for decision in sorted(unique.values(), key=lambda d: (d.market_ticker, d.decision_id)):
            listed = self.markets.get(decision.market_ticker)
            if listed is None:
                continue
            order = self.paper.submit(decision, listed.spec_at(at), at)
            if order is not None and decision.count_cq:
                self.requested_cq.setdefault(decision.decision_id, decision.count_cq)

    def marks(self) -> dict[str, Mark]:
        """Settled markets at their payout, the others at their last recorded best bids."""
        marks = self.paper.marks()
        for ticker, listed in self.markets.items():
            settled = listed.settled_mark
            if settled is not None:
                marks[ticker] = settled
        return marks

    def pnl_micros(self) -> int:
        return self.paper.pnl_micros(self.marks())

    def summary(self) -> dict[str, Any]:
        """Orders, fills, fill rate (contracts filled / contracts the placed decisions asked
        for) and the exact P&L (micro-dollars) at :meth:`marks`."""
        filled = sum(order.filled_cq for order in self.paper.orders.values())
        requested = sum(self.requested_cq.values())
        return {
            "quotes_replayed": self.quotes,
            "trades_replayed": self.trades,
            "decisions_placed": len(self.requested_cq),
            "orders": len(self.paper.orders),
            "fills": len(self.paper.fills),
            "requested_cq": requested,
            "filled_cq": filled,
            "fill_rate": round(filled / requested, 4) if requested else None,
            "fees_micros": self.paper.portfolio.fees_micros,
            "pnl_micros": self.pnl_micros(),
            "settled_markets": sum(m.settled_mark is not None for m in self.markets.values()),
            "positions_cq": dict(self.paper.portfolio.positions),
        }


def session_id_for(city: str, climate_day: dt.date, config_hash: str) -> str:
    return f"shadow:{city}:{climate_day.isoformat()}:{config_hash}"


def decide_recorded(
    params: TradingParams,
    markets: Mapping[str, wio.ListedMarket],
    forecasts: ForecastTimeline,
    quote_rows: Sequence[Mapping[str, Any]],
    trade_rows: Sequence[Mapping[str, Any]],
    *,
    session_id: str,
    recorder: DecisionRecorder | None = None,
) -> tuple[BookChangeEvaluator, ShadowSession]:
    """Every book change of the recording decided in shadow mode (the decisions end up in
    ``recorder``); the session holds the paper fills those decisions would have had."""
    session = ShadowSession(params, markets, session_id=session_id)
    evaluator = BookChangeEvaluator(
        DecisionEngine(params, mode=TradingMode.SHADOW),
        markets,
        forecasts.at,
        recorder=recorder,
        risk=RiskState(portfolio=session.paper.portfolio),
    )
    session.run(quote_rows, trade_rows, evaluator=evaluator)
    return evaluator, session


def fill_decisions(
    params: TradingParams,
    markets: Mapping[str, wio.ListedMarket],
    quote_rows: Sequence[Mapping[str, Any]],
    trade_rows: Sequence[Mapping[str, Any]],
    decisions: Iterable[Decision],
    *,
    session_id: str,
) -> ShadowSession:
    """The paper fills of stored would-trades against the recorded book and tape."""
    session = ShadowSession(params, markets, session_id=session_id)
    return session.run(quote_rows, trade_rows, decisions=decisions)


class ShadowInputsMissing(RuntimeError):
    """Shadow fills were asked for a parameter set that has no decisions in the partition."""


def _partition_inputs(
    warehouse: Warehouse, city: str, climate_day: dt.date
) -> tuple[dict[str, wio.ListedMarket], list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        wio.listed_markets(warehouse, cities=[city], climate_days=[climate_day]),
        wio.partition_quotes(warehouse, city, climate_day),
        wio.partition_trades(warehouse, city, climate_day),
    )


def decide_partition(
    warehouse: Warehouse,
    params: TradingParams,
    city: str,
    climate_day: dt.date,
    *,
    variant: str | None = None,
    model_version: str | None = None,
) -> dict[str, Any]:
    """Decide every recorded book change of one city's climate day and store the decisions
    (shadow mode; idempotent). Returns what happened, for the asset's metadata."""
    markets, quotes, trades = _partition_inputs(warehouse, city, climate_day)
    rows = wio.prediction_rows(
        warehouse,
        cities=[city],
        climate_days=[climate_day],
        variant=variant,
        model_version=model_version,
    )
    recorder = DecisionRecorder(warehouse)
    evaluator, session = decide_recorded(
        params,
        markets,
        ForecastTimeline.from_rows(rows),
        quotes,
        trades,
        session_id=session_id_for(city, climate_day, params.config_hash),
        recorder=recorder,
    )
    recorder.flush()
    paper = session.summary()
    return {
        "markets": len(markets),
        "quotes_replayed": session.quotes,
        "trades_replayed": session.trades,
        "predictions": len(rows),
        "evaluations": evaluator.evaluations,
        "decisions_written": recorder.written,
        "would_trade": evaluator.reasons.get("trade", 0),
        "reasons": dict(sorted(evaluator.reasons.items())),
        "unknown_markets": sorted(evaluator.unknown_markets),
        "fee_terms_assumed": sorted(t for t, m in markets.items() if not m.fee_terms_known),
        "paper_fills": paper["fills"],
        "paper_pnl_micros": paper["pnl_micros"],
    }


def fill_partition(
    warehouse: Warehouse, params: TradingParams, city: str, climate_day: dt.date
) -> dict[str, Any]:
    """Shadow-fill the partition's stored would-trades of ``params`` (same ``config_hash``)
    made on its recorded book changes (those of :func:`decide_partition`; decisions the
    stream's fast path recorded in between are not re-placed), and store the orders and
    fills (idempotent). Returns the session summary."""
    hashes = wio.decision_hashes(warehouse, city, climate_day, mode=SHADOW)
    if hashes and params.config_hash not in hashes:
        raise ShadowInputsMissing(
            f"no shadow decisions with config_hash {params.config_hash} for {city} "
            f"{climate_day} (the partition has {', '.join(sorted(hashes))}): materialize "
            "would_trade_decisions with the same trading parameters first"
        )
    markets, quotes, trades = _partition_inputs(warehouse, city, climate_day)
    changes = {(q["market_ticker"], q["ts"]) for q in quotes}
    decisions = [  # those made on the recorded books (not, say, by the stream's fast path)
        d
        for d in wio.partition_decisions(
            warehouse,
            city,
            climate_day,
            mode=SHADOW,
            config_hash=params.config_hash,
            would_trade_only=True,
        )
        if (d.market_ticker, d.evaluated_at) in changes
    ]
    session = fill_decisions(
        params,
        markets,
        quotes,
        trades,
        decisions,
        session_id=session_id_for(city, climate_day, params.config_hash),
    )
    summary = session.summary()
    summary["would_trade"] = len(decisions)
    summary["orders_written"] = wio.write_orders(warehouse, session.paper.order_rows())
    summary["fills_written"] = wio.write_fills(warehouse, session.paper.fill_rows())
    return summary


# --------------------------------------------------------------------------- the live run


@dataclass
class LiveRun:
    """What one live execution did (also written to the warehouse)."""

    decisions: list[Decision] = field(default_factory=list)
    summary: ExecutionSummary = field(default_factory=ExecutionSummary)
    markets: int = 0
    orders_written: int = 0
    fills_written: int = 0

    @property
    def would_trade(self) -> int:
        return sum(d.would_trade for d in self.decisions)


async def _exchange_fees(
    manager: LiveOrderManager, series: Iterable[str], now: dt.datetime
) -> tuple[dict[str, FeeSchedule], list[dict[str, Any]]]:
    fees: dict[str, FeeSchedule] = {}
    rows: list[dict[str, Any]] = []
    for ticker in sorted(set(series)):
        try:
            found = await manager.rest.get_series(ticker)
        except NotFoundError:
            continue  # its markets are refused below
        fees[ticker] = FeeSchedule(found.fee_type, found.fee_multiplier)  # type: ignore[arg-type]
        rows.append(
            {
                "series_ticker": ticker,
                "title": found.title,
                "fee_type": found.fee_type,
                "fee_multiplier": str(found.fee_multiplier),
                "updated_at": now,
            }
        )
    return fees, rows


def _live_spec(listed: wio.ListedMarket, fees: Mapping[str, FeeSchedule]) -> MarketSpec:
    spec = listed.spec
    schedule = fees.get(spec.series_ticker)
    if schedule is None:
        problem = f"series {spec.series_ticker} is unknown to the exchange (no fee terms)"
        return replace(spec, rules_ok=False, rules_problem=problem)
    return replace(spec, fees=schedule)


async def run_live(
    params: TradingParams,
    warehouse: Warehouse,
    *,
    state_dir: str | Path,
    environ: Mapping[str, str],
    cities: Sequence[str] = (),
    climate_days: Sequence[dt.date] = (),
    duration_s: float = 300.0,
    poll_interval_s: float = 1.0,
    variant: str | None = None,
    model_version: str | None = None,
    clock: ClockSource = ClockSource.WALL,
    **manager_options: Any,
) -> LiveRun:
    """Decide on the live books and place the would-trades; record everything.

    In order: live readiness (mode, confirmation, key variables in ``environ``; raises
    :class:`~weather_edge.trading.config.LiveTradingNotAllowed` naming what is missing,
    before any connection); the fee terms of each series from the exchange; the books of the
    open markets of ``cities`` x ``climate_days`` (empty: the enabled cities, the days around
    today, "now" being read from ``clock``); then :meth:`LiveOrderManager.execute`, which
    reconciles first (failing closed) and only then draws the decisions, evaluated against
    the reconciled positions. Decisions, orders and fills are written to the warehouse even
    when the run fails half-way.
    """
    manager = LiveOrderManager.from_env(params, {}, state_dir, environ=environ, **manager_options)
    result = LiveRun()
    try:
        if clock is ClockSource.EXCHANGE:
            await manager.use_exchange_clock()
        now = manager.clock()
        listed = wio.listed_markets(
            warehouse,
            cities=tuple(cities) or params.enabled_cities,
            climate_days=tuple(climate_days) or current_climate_days(now),
        )
        fees, series_rows = await _exchange_fees(
            manager, (m.spec.series_ticker for m in listed.values()), now
        )
        wio.write_series(warehouse, series_rows)
        specs = {t: _live_spec(m, fees) for t, m in listed.items() if m.spec.is_open}
        manager.specs.update(specs)
        result.markets = len(specs)
        rows = wio.prediction_rows(
            warehouse,
            cities=sorted({s.city for s in specs.values()}),
            climate_days=sorted({s.climate_day for s in specs.values()}),
            until=now,
            variant=variant,
            model_version=model_version,
        )
        forecasts = ForecastCache.from_rows(rows, default_uncertainty=DEFAULT_UNCERTAINTY)
        volume = wio.recent_volume(warehouse, sorted(specs), now - RECENT_VOLUME_WINDOW)
        engine = DecisionEngine(params)

        async def decide() -> AsyncIterator[Decision]:  # drawn by execute() after reconciling
            for ticker, spec in specs.items():
                # each book fetched just before its decision: fresh however many markets
                raw = await manager.rest.get_orderbook(ticker)
                book_at = manager.clock()
                decision = engine.evaluate(
                    spec,
                    book_from_levels(ticker, list(raw.yes_bids), list(raw.no_bids)),
                    forecasts.get(ticker),
                    now=manager.clock(),
                    book_at=book_at,
                    risk=manager.risk,
                    recent_volume_cq=volume.get(ticker, 0),
                )
                result.decisions.append(decision)
                yield decision

        result.summary = await manager.execute(
            decide(), duration_s=duration_s, poll_interval_s=poll_interval_s
        )
        return result
    finally:
        try:
            wio.write_decisions(warehouse, result.decisions)
            result.orders_written = wio.write_orders(warehouse, manager.order_rows())
            result.fills_written = wio.write_fills(warehouse, manager.fill_rows())
        finally:
            manager.close()
            await manager.rest.aclose()
