"""What the trading layer reads from and writes to the warehouse.

Reads: the catalogued markets with their series' fee terms (:class:`ListedMarket`), the
``bracket_predictions`` rows known by a given time (never later: no look-ahead), the recorded
books (``quotes``) and trade tape (``trades``) of a climate day x city, recent volume, and
decisions back as :class:`~weather_edge.trading.decisions.Decision`. Writes: ``decisions``,
``orders``, ``fills`` and ``series`` rows, idempotently (every key is deterministic).

A partition is the markets of one city's climate day (``markets.city``/``climate_day``).
Plain SQL with ``?`` parameters, so the same text runs on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from weather_edge.kalshi.fees import FeeSchedule, FeeScheduleError
from weather_edge.storage.warehouse import Rows, Warehouse
from weather_edge.trading.decisions import DECISION_COLUMNS, Decision
from weather_edge.trading.inputs import FAR_FUTURE, MarketSpec
from weather_edge.trading.risk import Mark

NOT_YET_OPEN = frozenset({"initialized", "inactive", "unopened", "unknown"})
"""Statuses of a market that has not traded yet: it was not open at any earlier time either."""

QUOTE_COLUMNS = (
    "market_ticker",
    "ts",
    "received_at",
    "yes_bid_cc",
    "yes_bid_size_cq",
    "yes_ask_cc",
    "yes_ask_size_cq",
)
TRADE_COLUMNS = ("trade_id", "market_ticker", "ts", "yes_price_cc", "count_cq", "taker_side")
PREDICTION_COLUMNS = (
    "market_ticker",
    "snapshot_at",
    "model_version",
    "variant",
    "city",
    "climate_day",
    "probability",
)
_MARKET_COLUMNS = (
    "ticker",
    "event_ticker",
    "series_ticker",
    "city",
    "climate_day",
    "status",
    "open_time",
    "close_time",
    "result",
    "rules_ok",
    "rules_problem",
    "updated_at",
)
_RULES_UNCHECKED = "rules_primary was never checked against the city registry"
_OPEN = "active"


@dataclass(frozen=True, slots=True)
class ListedMarket:
    """A catalogued market: its spec as the catalog last saw it (at ``as_of``), plus what a
    replay needs to know its status at an earlier instant (``open_time``) and its result.

    ``fee_terms_known`` is False when the ``series`` table has no row for the market's
    series: the spec then carries Kalshi's standard ``quadratic`` schedule, and callers
    report it (the live run always fetches the terms from the exchange instead).
    """

    spec: MarketSpec
    open_time: dt.datetime | None = None
    result: str | None = None
    fee_terms_known: bool = True
    as_of: dt.datetime | None = None
    _was_open: MarketSpec | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = self.spec
        if not (spec.is_open or spec.status in NOT_YET_OPEN or spec.close_time == FAR_FUTURE):
            object.__setattr__(self, "_was_open", replace(spec, status=_OPEN))

    def spec_at(self, at: dt.datetime) -> MarketSpec:
        """The spec as of ``at``. From ``as_of`` on, the catalog's status is the truth;
        before it, a market closed or settled since was open between its ``open_time`` and
        its ``close_time`` (when the catalog knows its close time)."""
        was_open = self._was_open
        if was_open is None or (self.as_of is not None and at >= self.as_of):
            return self.spec
        if (self.open_time is None or self.open_time <= at) and at < was_open.close_time:
            return was_open
        return self.spec

    @property
    def settled_mark(self) -> Mark | None:
        """What a contract is worth at settlement, once the result is known."""
        return Mark.settled(self.result) if self.result in ("yes", "no") else None


def _select(
    warehouse: Warehouse, columns: Sequence[str], sql: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    names = [c.rsplit(".", 1)[-1] for c in columns]
    rows = warehouse.query(f"SELECT {', '.join(columns)} {sql}", params)
    return [dict(zip(names, row, strict=True)) for row in rows]


def _in(column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``column IN (?, ...)`` for a non-empty ``values``, else no condition."""
    if not values:
        return "", []
    return f" AND {column} IN ({', '.join('?' for _ in values)})", list(values)


def _scope(
    alias: str, cities: Sequence[str], climate_days: Sequence[dt.date]
) -> tuple[str, list[Any]]:
    city_sql, city_params = _in(f"{alias}.city", cities)
    day_sql, day_params = _in(f"{alias}.climate_day", climate_days)
    return "WHERE 1 = 1" + city_sql + day_sql, city_params + day_params


def listed_markets(
    warehouse: Warehouse,
    *,
    cities: Sequence[str] = (),
    climate_days: Sequence[dt.date] = (),
) -> dict[str, ListedMarket]:
    """The catalogued markets of ``cities`` x ``climate_days`` (empty: all), by ticker.

    Fee terms come from the ``series`` table. A series whose fee type is not understood
    makes its markets untradeable (the engine refuses them as a rules problem, naming it).
    """
    where, params = _scope("m", cities, climate_days)
    columns = [f"m.{c}" for c in _MARKET_COLUMNS] + ["s.fee_type", "s.fee_multiplier"]
    rows = _select(
        warehouse,
        columns,
        f"FROM markets m LEFT JOIN series s ON s.series_ticker = m.series_ticker {where} "
        "ORDER BY m.ticker",
        params,
    )
    out: dict[str, ListedMarket] = {}
    for row in rows:
        rules_ok = bool(row["rules_ok"])
        problem = None
        if not rules_ok:
            problem = _RULES_UNCHECKED if row["rules_ok"] is None else row["rules_problem"]
        schedule, known = FeeSchedule("quadratic"), row["fee_type"] is not None
        if known:
            terms = row | {"ticker": row["series_ticker"]}
            try:
                schedule = FeeSchedule.from_series(terms)
            except FeeScheduleError as exc:
                rules_ok, problem = False, f"fee terms not understood: {exc}"
        spec = MarketSpec(
            ticker=row["ticker"],
            event_ticker=row["event_ticker"],
            series_ticker=row["series_ticker"],
            city=row["city"],
            climate_day=row["climate_day"],
            close_time=row["close_time"] or FAR_FUTURE,
            fees=schedule,
            rules_ok=rules_ok,
            rules_problem=problem,
            status=row["status"],
        )
        out[spec.ticker] = ListedMarket(
            spec, row["open_time"], row["result"], known, as_of=row["updated_at"]
        )
    return out


def prediction_rows(
    warehouse: Warehouse,
    *,
    cities: Sequence[str] = (),
    climate_days: Sequence[dt.date] = (),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    variant: str | None = None,
    model_version: str | None = None,
) -> list[dict[str, Any]]:
    """``bracket_predictions`` rows with ``since < snapshot_at <= until`` (either bound
    optional), oldest first; ties in time ordered by model version and variant."""
    where, params = _scope("p", cities, climate_days)
    for sql, value in (
        (" AND p.snapshot_at > ?", since),
        (" AND p.snapshot_at <= ?", until),
        (" AND p.variant = ?", variant),
        (" AND p.model_version = ?", model_version),
    ):
        if value is not None:
            where += sql
            params.append(value)
    return _select(
        warehouse,
        [f"p.{c}" for c in PREDICTION_COLUMNS],
        f"FROM bracket_predictions p {where} ORDER BY p.snapshot_at, p.model_version, p.variant",
        params,
    )


def _partition_rows(
    warehouse: Warehouse,
    table: str,
    columns: Sequence[str],
    order: str,
    city: str,
    climate_day: dt.date,
) -> list[dict[str, Any]]:
    return _select(
        warehouse,
        [f"x.{c}" for c in columns],
        f"FROM {table} x JOIN markets m ON m.ticker = x.market_ticker "
        f"WHERE m.city = ? AND m.climate_day = ? ORDER BY {order}",
        (city, climate_day),
    )


def partition_quotes(warehouse: Warehouse, city: str, climate_day: dt.date) -> list[dict[str, Any]]:
    """The partition's recorded tops of book, in the order they happened."""
    order = "x.ts, x.received_at, x.source_id"
    return _partition_rows(warehouse, "quotes", QUOTE_COLUMNS, order, city, climate_day)


def partition_trades(warehouse: Warehouse, city: str, climate_day: dt.date) -> list[dict[str, Any]]:
    """The partition's trade tape, in time order."""
    order = "x.ts, x.trade_id"
    return _partition_rows(warehouse, "trades", TRADE_COLUMNS, order, city, climate_day)


def recent_volume(
    warehouse: Warehouse, tickers: Sequence[str], since: dt.datetime
) -> dict[str, int]:
    """Contracts (cq) traded per market since ``since``."""
    if not tickers:
        return {}
    in_sql, params = _in("market_ticker", tickers)
    rows = warehouse.query(
        f"SELECT market_ticker, SUM(count_cq) FROM trades WHERE ts >= ?{in_sql} "
        "GROUP BY market_ticker",
        [since, *params],
    )
    return {str(t): int(v) for t, v in rows}


def partition_decisions(
    warehouse: Warehouse,
    city: str,
    climate_day: dt.date,
    *,
    mode: str,
    config_hash: str,
    would_trade_only: bool = False,
) -> list[Decision]:
    """The partition's decisions of one mode and parameter set, in evaluation order."""
    sql = (
        "FROM decisions WHERE city = ? AND climate_day = ? AND mode = ? AND config_hash = ?"
        + (" AND would_trade" if would_trade_only else "")
        + " ORDER BY evaluated_at, market_ticker, decision_id"
    )
    rows = _select(warehouse, DECISION_COLUMNS, sql, (city, climate_day, mode, config_hash))
    return [Decision.from_row(row) for row in rows]


def decision_hashes(
    warehouse: Warehouse, city: str, climate_day: dt.date, *, mode: str
) -> dict[str, int]:
    """How many decisions each parameter set (``config_hash``) has in the partition."""
    rows = warehouse.query(
        "SELECT config_hash, COUNT(*) FROM decisions WHERE city = ? AND climate_day = ? "
        "AND mode = ? GROUP BY config_hash",
        (city, climate_day, mode),
    )
    return {str(h): int(n) for h, n in rows}


def write_decisions(warehouse: Warehouse, decisions: Iterable[Decision]) -> int:
    """Insert decisions; one already stored (same ``decision_id``) is skipped. Returns how
    many were new."""
    return warehouse.upsert("decisions", [d.to_row() for d in decisions])


def write_orders(warehouse: Warehouse, rows: Rows) -> int:
    """Insert or refresh orders (status and filled count move on as fills arrive)."""
    return warehouse.upsert("orders", rows, update=True)


def write_fills(warehouse: Warehouse, rows: Rows) -> int:
    """Insert fills; a fill already stored is skipped. Returns how many were new."""
    return warehouse.upsert("fills", rows)


def write_series(warehouse: Warehouse, rows: Rows) -> int:
    """Insert or refresh series rows (fee terms)."""
    return warehouse.upsert("series", rows, update=True)
