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
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from weather_edge.settings import Settings, load_settings

Echo = Callable[[str], None]
DEMO_KEY_ID = "weather-edge-demo"
FIRST_DAY = date(2026, 8, 24)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
STEP = timedelta(minutes=5)  # simulated time per clock step
WEATHER_POLL = timedelta(hours=2)  # how often the poller asks the (simulated) NWS


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

    def render(self) -> str:
        from weather_edge.money import format_dollars

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
        return "\n".join(lines)


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


async def _stream_days(
    settings: Settings,
    sim: Any,
    key_path: Path,
    days: list[date],
    cities: list[str],
    until: datetime,
    echo: Echo,
) -> Any:
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
    while sim.clock.now() < until:
        await asyncio.to_thread(sim.advance, STEP)
        now = sim.clock.now()
        if now - last_poll >= WEATHER_POLL:
            await asyncio.to_thread(_poll_weather, settings, sim, days, cities)
            last_poll = now
        if now - last_report >= timedelta(hours=6):
            h = streamer.health
            echo(
                f"  simulated {now:%Y-%m-%d %H:%M}Z: {h.quotes_written:,} quotes, "
                f"{streamer.processor.stats.trades:,} trades, {len(streamer.subscribed)} markets"
            )
            last_report = now
        await asyncio.sleep(0)
    await asyncio.sleep(1.0)
    streamer.stop()
    return await run


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


def _summarize(settings: Settings, summary: DemoSummary) -> None:
    from weather_edge.storage import open_warehouse

    wh = open_warehouse(settings.warehouse_url)
    summary.markets = wh.count("markets")
    summary.quotes = wh.count("quotes")
    summary.evaluations = wh.count("decisions")
    summary.would_trades = int(wh.scalar("SELECT COUNT(*) FROM decisions WHERE would_trade") or 0)
    summary.shadow_fills = int(wh.scalar("SELECT COUNT(*) FROM fills WHERE mode = 'shadow'") or 0)
    pnl = wh.scalar(  # per-day totals; the per-trade rows add up to the same
        "SELECT SUM(value) FROM scores WHERE subject = 'trading' "
        "AND metric = 'realized_pnl_micros'"
    )
    summary.shadow_pnl_micros = int(pnl or 0)
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
    echo: Echo = print,
) -> DemoSummary:
    import dagster as dg

    from weather_edge.sim.server import SimulatorConfig, run_simulator
    from weather_edge.weather.cities import city_codes, get_city
    from weather_edge.weather.climate_day import climate_day_bounds

    started = time.monotonic()
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
        with _environment(env):
            echo("[2/4] streaming the exchange and polling the weather as the days pass")
            health = asyncio.run(
                _stream_days(settings, sim, key_path, demo_days, codes, until, echo)
            )
            echo(
                f"  stream: {health.messages:,} messages, {health.reconnects} reconnects, "
                f"{health.seq_gaps} seq gaps"
            )
            from weather_edge.definitions import build_definitions

            defs = build_definitions(settings)
            with dg.DagsterInstance.ephemeral() as instance:
                echo("[3/4] materializing every partition (day x city) of the graph")
                summary.failed_checks = _materialize_partitions(
                    defs, instance, demo_days, codes, echo
                )
                echo("[4/4] calibration report and dbt marts")
                if not _materialize_unpartitioned(defs, instance):
                    summary.failed_checks.append("unpartitioned assets")
    _summarize(settings, summary)
    summary.seconds = time.monotonic() - started
    return summary
