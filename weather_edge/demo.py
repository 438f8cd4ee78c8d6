"""`weather-edge demo`: the whole platform on one machine, no keys, no network.

1. A local exchange (the simulator) lists every registry city's markets like Kalshi does,
   with synthetic liquidity and simulated weather behind NWS-shaped endpoints; its clock is
   driven by the demo, so days pass in seconds.
2. The real quote streamer follows it over WebSocket into the journal and tables, while the
   weather poller stores each forecast issue and observation as the simulated day unfolds.
3. After the last day settles, Dagster materializes every partition (day x city) of the
   graph: catalog, quotes, forecasts, observations, reports, predictions, would-trade
   decisions, shadow fills, settlements, scores, with their checks; then the calibration
   report and the dbt marts.
4. It prints a summary: markets, evaluations, would-trades, shadow P&L, Brier of model vs
   market, and the report's path.

With ``live=True`` (``weather-edge demo --live``) the same run also trades: at mid-morning
of each climate day (15:00 UTC) the predictions are refreshed with what is known then and
the ``live_execution`` job runs in live mode against the simulator, placing real orders
through the execution op while the stream goes on (on a slower clock while orders work).
The op reads "now" from the exchange's ``Date`` stamps (``clock: exchange``), since the
simulated day is not the wall clock's. Its orders and fills are stored with mode ``live``
and scored beside the shadow ones.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time as walltime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from weather_edge.money import format_dollars, format_size
from weather_edge.settings import Settings, load_settings

Echo = Callable[[str], None]
DEMO_KEY_ID = "weather-edge-demo"
FIRST_DAY = date(2026, 8, 24)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
STEP = timedelta(minutes=5)  # simulated time per clock step
WEATHER_POLL = timedelta(hours=2)  # how often the poller asks the (simulated) NWS
LIVE_AT = time(15, 0)  # UTC: mid-morning standard time in every registry city
# while live orders work the clock slows to ~100x real time, so a maker order's timeout
# (a minute or two simulated) spans a second or more of polling, not one jump
LIVE_STEP = timedelta(seconds=30)
LIVE_STEP_PAUSE_S = 0.25
LIVE_DURATION_S = 20.0  # wall seconds a live run's orders may work


@dataclass
class DemoSummary:
    days: list[date]
    cities: list[str]
    markets: int = 0
    quotes: int = 0
    evaluations: int = 0
    would_trades: int = 0
    shadow_pnl_micros: int = 0
    shadow_fills: int = 0
    brier: dict[str, float] = field(default_factory=dict)
    report: str = ""
    failed_checks: list[str] = field(default_factory=list)
    seconds: float = 0.0
    live: LiveSummary | None = None

    def render(self) -> str:
        brier = ", ".join(f"{k} {v:.3f}" for k, v in sorted(self.brier.items())) or "n/a"
        lines = [
            "demo summary",
            f"  climate days      {', '.join(str(d) for d in self.days)}",
            f"  cities            {', '.join(self.cities)}",
            f"  markets           {self.markets}",
            f"  quotes stored     {self.quotes:,}",
            f"  evaluations       {self.evaluations:,}",
            f"  would-trades      {self.would_trades:,}",
            f"  shadow fills      {self.shadow_fills:,}",
            f"  shadow P&L        {format_dollars(self.shadow_pnl_micros)}",
            f"  Brier             {brier}",
            f"  failed checks     {', '.join(self.failed_checks) or 'none'}",
            f"  report            {self.report or 'n/a'}",
        ]
        if self.live is not None:
            lines[-2:-2] = self.live.lines()
        return "\n".join(lines)


@dataclass
class LiveRunOutcome:
    """One ``live_execution`` run of the demo, as its op reported it."""

    climate_day: date
    at: datetime
    success: bool
    markets: int = 0
    would_trade: int = 0
    orders_submitted: int = 0
    filled_cq: int = 0
    halted: bool = False
    error: str = ""

    def line(self) -> str:
        if not self.success:
            return f"  live run {self.at:%Y-%m-%d %H:%M}Z FAILED: {self.error}"
        return (
            f"  live run {self.at:%Y-%m-%d %H:%M}Z for {self.climate_day}: {self.markets} markets, "
            f"{self.would_trade} would-trades, {self.orders_submitted} orders, "
            f"{format_size(self.filled_cq)} contracts filled"
            + (", kill switch tripped" if self.halted else "")
        )


@dataclass
class LiveSummary:
    """What the live runs left on the exchange and in the warehouse."""

    runs: list[LiveRunOutcome] = field(default_factory=list)
    orders: int = 0
    orders_by_status: dict[str, int] = field(default_factory=dict)
    fills: int = 0
    filled_cq: int = 0
    fees_micros: int = 0
    pnl_micros: int | None = None
    resting_left: int = 0

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(self.orders_by_status.items()))
        failed = sum(not r.success for r in self.runs)
        pnl = "n/a" if self.pnl_micros is None else format_dollars(self.pnl_micros)
        return [
            f"  live runs         {len(self.runs)}" + (f" ({failed} failed)" if failed else ""),
            f"  live orders       {self.orders:,} ({statuses or 'none'})",
            f"  live fills        {self.fills:,}: {format_size(self.filled_cq)} contracts, "
            f"fees {format_dollars(self.fees_micros)}",
            f"  live P&L          {pnl}",
            f"  resting left      {self.resting_left}",
        ]


def write_demo_key(folder: Path) -> tuple[Path, bytes]:
    """A throwaway RSA key for the simulator, readable by its owner only."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = folder / "demo-kalshi-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(path, 0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, public


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _poll_weather(settings: Settings, sim: Any, days: list[date], cities: list[str]) -> None:
    """Store what the simulated NWS says now: forecast issues and observations."""
    from weather_edge.storage import open_warehouse
    from weather_edge.weather import store
    from weather_edge.weather.cities import get_city
    from weather_edge.weather.climate_day import climate_day_bounds

    now = sim.clock.now()
    warehouse = open_warehouse(settings.warehouse_url)
    with store.WeatherClients.connect(
        nws_url=sim.nws_url,
        iem_url=sim.nws_url,
        open_meteo_url=sim.nws_url,
        user_agent="weather-edge-demo",
        models=(),
    ) as clients:
        for day in days:
            for code in cities:
                city = get_city(code)
                start = datetime.combine(day, datetime.min.time(), tzinfo=city.standard_tz)
                if now < start - timedelta(hours=36):
                    continue
                # the simulator serves NWS shapes only (no Open-Meteo)
                if now < climate_day_bounds(city, day)[1]:
                    warehouse.upsert("forecasts", store.fetch_nws_forecast(clients, city, day, now))
                store.refresh_observations(clients, warehouse, city, day, now)


LiveLauncher = Callable[[date, datetime], LiveRunOutcome]


def _refresh_predictions(settings: Settings, day: date, cities: list[str], now: datetime) -> int:
    """What the predictions asset would store if it ran at ``now`` (the simulated time)."""
    from weather_edge.forecasting.live import refresh_predictions
    from weather_edge.storage import open_warehouse

    warehouse = open_warehouse(settings.warehouse_url)
    return sum(len(refresh_predictions(warehouse, c, day, now).brackets) for c in cities)


def live_run_config(day: date, cities: list[str]) -> dict[str, Any]:
    """The ``live_execution`` run config of one demo climate day: live mode, explicitly
    confirmed (``--live`` is the consent), on the exchange's clock."""
    from weather_edge.trading.config import LIVE_CONFIRMATION_PHRASE

    config = {
        "mode": "live",
        "live_confirmation": LIVE_CONFIRMATION_PHRASE,
        "clock": "exchange",
        "cities": cities,
        "climate_days": [day.isoformat()],
        "duration_s": LIVE_DURATION_S,
        "poll_interval_s": 0.25,
    }
    return {"ops": {"execute_live_orders": {"config": config}}, **QUIET}


def _live_launcher(defs: Any, instance: Any, cities: list[str]) -> LiveLauncher:
    from weather_edge.defs.trading import MODE_TAG

    job = defs.resolve_job_def("live_execution")

    def launch(day: date, at: datetime) -> LiveRunOutcome:
        result = job.execute_in_process(
            run_config=live_run_config(day, cities),
            instance=instance,
            tags={MODE_TAG: "live"},
            raise_on_error=False,
        )
        if not result.success:
            errors = [
                e.event_specific_data.error.message.strip()
                for e in result.all_events
                if e.is_step_failure and e.event_specific_data and e.event_specific_data.error
            ]
            return LiveRunOutcome(day, at, False, error="; ".join(errors) or "run failed")
        out = result.output_for_node("execute_live_orders")
        return LiveRunOutcome(
            day,
            at,
            True,
            markets=out["markets"],
            would_trade=out["would_trade"],
            orders_submitted=out["orders_submitted"],
            filled_cq=out["filled_cq"],
            halted=out["halted"],
        )

    return launch


async def _stream_days(
    settings: Settings,
    sim: Any,
    key_path: Path,
    days: list[date],
    cities: list[str],
    until: datetime,
    echo: Echo,
    live: LiveLauncher | None = None,
) -> tuple[Any, list[LiveRunOutcome]]:
    from weather_edge.ingest.streamer import QuoteStreamer, StreamOptions
    from weather_edge.kalshi.auth import KalshiSigner
    from weather_edge.kalshi.config import KalshiConfig

    config = KalshiConfig.for_environment("custom", rest_url=sim.rest_url, ws_url=sim.ws_url)
    streamer = QuoteStreamer(
        settings,
        config,
        KalshiSigner.from_file(DEMO_KEY_ID, key_path),
        StreamOptions(
            duration_s=None,
            cities=tuple(cities),
            catalog_refresh_s=1.0,
            stale_after_s=600.0,
            apply_interval_s=0.5,
        ),
    )
    run = asyncio.create_task(streamer.run())
    await asyncio.sleep(1.0)
    last_poll = datetime.min.replace(tzinfo=UTC)
    last_report = sim.clock.now()
    trade_at = [(datetime.combine(d, LIVE_AT, tzinfo=UTC), d) for d in days] if live else []
    working: asyncio.Future[LiveRunOutcome] | None = None
    outcomes: list[LiveRunOutcome] = []
    while sim.clock.now() < until:
        await asyncio.to_thread(sim.advance, LIVE_STEP if working else STEP)
        if working:
            await asyncio.sleep(LIVE_STEP_PAUSE_S)
        now = sim.clock.now()
        if now - last_poll >= WEATHER_POLL:
            await asyncio.to_thread(_poll_weather, settings, sim, days, cities)
            last_poll = now
        if working is not None and working.done():
            outcomes.append(working.result())
            echo(outcomes[-1].line())
            working = None
        if live is not None and working is None and trade_at and now >= trade_at[0][0]:
            _, day = trade_at.pop(0)
            await asyncio.to_thread(_refresh_predictions, settings, day, cities, now)
            working = asyncio.ensure_future(asyncio.to_thread(live, day, now))
        if now - last_report >= timedelta(hours=6):
            stats = streamer.processor.stats  # live counts (the health snapshot lags)
            echo(
                f"  simulated {now:%Y-%m-%d %H:%M}Z: {stats.quotes:,} quotes, "
                f"{stats.trades:,} trades, {len(streamer.subscribed)} markets"
            )
            last_report = now
        await asyncio.sleep(0)
    if working is not None:
        outcomes.append(await working)
        echo(outcomes[-1].line())
    await asyncio.sleep(1.0)
    streamer.stop()
    return await run, outcomes


def _materialize_partitions(
    defs: Any, instance: Any, days: list[date], cities: list[str], echo: Echo
) -> list[str]:
    import dagster as dg

    graph = defs.resolve_asset_graph()
    job = defs.resolve_implicit_global_asset_job_def()
    keys = [
        k
        for k in graph.get_all_asset_keys()
        if graph.get(k).is_materializable
        and isinstance(graph.get(k).partitions_def, dg.MultiPartitionsDefinition)
    ]
    failed: list[str] = []
    total, done = len(days) * len(cities), 0
    for day in days:
        for city in cities:
            key = dg.MultiPartitionKey({"day": day.isoformat(), "city": city})
            result = job.execute_in_process(
                run_config=QUIET,
                instance=instance,
                partition_key=key,
                asset_selection=keys,
                raise_on_error=False,
            )
            done += 1
            failed += [
                f"{c.asset_key.to_user_string()}:{c.check_name}@{city}/{day}"
                for c in result.get_asset_check_evaluations()
                if not c.passed
            ]
            status = "ok" if result.success else "FAILED"
            echo(f"  [{done}/{total}] {day} {city}: {status}")
            if not result.success:
                failed.append(f"run {day} {city}")
    return failed


def _materialize_unpartitioned(defs: Any, instance: Any) -> bool:
    graph = defs.resolve_asset_graph()
    keys = [
        k
        for k in graph.get_all_asset_keys()
        if graph.get(k).is_materializable and graph.get(k).partitions_def is None
    ]
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        run_config=QUIET, instance=instance, asset_selection=keys, raise_on_error=False
    )
    return bool(result.success)


def _trading_pnl(warehouse: Any, mode: str) -> int | None:
    """Realized P&L of one mode's trading, from the scores' per-day totals."""
    pnl = warehouse.scalar(
        "SELECT SUM(value) FROM scores WHERE subject = 'trading' AND subject_key = ? "
        "AND metric = 'realized_pnl_micros'",
        (mode,),
    )
    return None if pnl is None else int(pnl)


def _summarize_live(settings: Settings, live: LiveSummary, resting_left: int) -> None:
    from weather_edge.storage import open_warehouse

    wh = open_warehouse(settings.warehouse_url)
    live.orders_by_status = {
        str(status): int(n)
        for status, n in wh.query(
            "SELECT status, COUNT(*) FROM orders WHERE mode = 'live' GROUP BY status"
        )
    }
    live.orders = sum(live.orders_by_status.values())
    fills, filled, fees = wh.query(
        "SELECT COUNT(*), COALESCE(SUM(count_cq), 0), COALESCE(SUM(fee_micros), 0) "
        "FROM fills WHERE mode = 'live'"
    )[0]
    live.fills, live.filled_cq, live.fees_micros = int(fills), int(filled), int(fees)
    live.pnl_micros = _trading_pnl(wh, "live")
    live.resting_left = resting_left


def _summarize(settings: Settings, summary: DemoSummary) -> None:
    from weather_edge.storage import open_warehouse

    wh = open_warehouse(settings.warehouse_url)
    summary.markets = wh.count("markets")
    summary.quotes = wh.count("quotes")
    summary.evaluations = wh.count("decisions")
    summary.would_trades = int(wh.scalar("SELECT COUNT(*) FROM decisions WHERE would_trade") or 0)
    summary.shadow_fills = int(wh.scalar("SELECT COUNT(*) FROM fills WHERE mode = 'shadow'") or 0)
    summary.shadow_pnl_micros = int(_trading_pnl(wh, "shadow") or 0)
    for subject, value in wh.query(
        "SELECT subject, AVG(value) FROM scores WHERE metric = 'brier' GROUP BY subject"
    ):
        summary.brier[str(subject)] = float(value)
    reports = (
        sorted(settings.reports_dir.glob("**/*.html")) if settings.reports_dir.exists() else []
    )
    summary.report = str(reports[-1]) if reports else ""


def run_demo(
    data_dir: Path | None,
    *,
    days: int = 2,
    cities: tuple[str, ...] = (),
    seed: int = 7,
    live: bool = False,
    echo: Echo = print,
) -> DemoSummary:
    import dagster as dg

    from weather_edge.sim.server import SimulatorConfig, run_simulator
    from weather_edge.weather.cities import city_codes, get_city
    from weather_edge.weather.climate_day import climate_day_bounds

    started = walltime.monotonic()
    base = load_settings(data_dir)
    root = base.data_dir / "demo"
    if root.exists():
        shutil.rmtree(root)  # a demo always starts from an empty platform
    root.mkdir(parents=True)
    settings = Settings(data_dir=root, warehouse_url=f"duckdb:///{root / 'warehouse.duckdb'}")
    codes = [get_city(c).code for c in cities] if cities else city_codes()
    demo_days = [FIRST_DAY + timedelta(days=i) for i in range(days)]
    key_path, public_pem = write_demo_key(root)
    listing = datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, 13, 30, tzinfo=UTC)
    start = listing - timedelta(days=1)
    last_end = max(climate_day_bounds(get_city(c), demo_days[-1])[1] for c in codes)
    until = last_end + timedelta(hours=8)  # past determination (7 h) and settlement
    echo(
        f"[1/4] simulator: {len(codes)} cities, climate days {demo_days[0]}..{demo_days[-1]}, "
        f"data in {root}"
    )
    sim_config = SimulatorConfig(
        seed=seed,
        cities=tuple(codes),
        start=start,
        clock_speed=0,
        rate_limit=None,
        step_seconds=150.0,
        keys=((DEMO_KEY_ID, public_pem.decode()),),
    )
    summary = DemoSummary(days=demo_days, cities=codes)
    with run_simulator(sim_config) as sim:
        env = {
            "KALSHI_ENV": "custom",
            "KALSHI_REST_URL": sim.rest_url,
            "KALSHI_WS_URL": sim.ws_url,
            "KALSHI_API_KEY_ID": DEMO_KEY_ID,
            "KALSHI_PRIVATE_KEY_PATH": str(key_path),
            "WEATHER_EDGE_NWS_URL": sim.nws_url or "",
            "WEATHER_EDGE_HOME": str(root),
            "WEATHER_EDGE_WAREHOUSE_URL": settings.warehouse_url,
            "WEATHER_EDGE_OPEN_METEO_MODELS": "",
            "DAGSTER_HOME": str(root / "dagster"),
        }
        (root / "dagster").mkdir()
        with _environment(env), dg.DagsterInstance.ephemeral() as instance:
            from weather_edge.definitions import build_definitions

            defs = build_definitions(settings)
            launcher = _live_launcher(defs, instance, codes) if live else None
            echo(
                "[2/4] streaming the exchange and polling the weather as the days pass"
                + (f"; trading live at {LIVE_AT:%H:%M}Z each day" if live else "")
            )
            health, runs = asyncio.run(
                _stream_days(settings, sim, key_path, demo_days, codes, until, echo, launcher)
            )
            echo(
                f"  stream: {health.messages:,} messages, {health.reconnects} reconnects, "
                f"{health.seq_gaps} seq gaps"
            )
            if live:
                summary.live = LiveSummary(runs=runs)
                summary.failed_checks += [
                    f"live run {r.at:%Y-%m-%d}" for r in runs if not r.success
                ]
            echo("[3/4] materializing every partition (day x city) of the graph")
            summary.failed_checks += _materialize_partitions(defs, instance, demo_days, codes, echo)
            echo("[4/4] calibration report and dbt marts")
            if not _materialize_unpartitioned(defs, instance):
                summary.failed_checks.append("unpartitioned assets")
        if summary.live is not None:
            with sim.exchange.lock:
                resting = len(sim.exchange.account(DEMO_KEY_ID).open_orders)
            _summarize_live(settings, summary.live, resting)
    _summarize(settings, summary)
    summary.seconds = walltime.monotonic() - started
    return summary
