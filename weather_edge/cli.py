"""The ``weather-edge`` command for people: demo, sim, stream, evaluate, bench, ..."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from weather_edge import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """weather_edge: data and shadow trading for Kalshi daily-high temperature markets."""


@main.command()
def version() -> None:
    """Print the installed version."""
    click.echo(f"weather-edge {__version__}")


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: $WEATHER_EDGE_HOME or ./data).",
)
def migrate(data_dir: Path | None) -> None:
    """Create or upgrade the warehouse schema (idempotent)."""
    from weather_edge.settings import load_settings
    from weather_edge.storage import open_warehouse

    settings = load_settings(data_dir)
    warehouse = open_warehouse(settings.warehouse_url)
    applied = warehouse.migrate()
    click.echo(
        f"warehouse {warehouse.dialect}: applied {applied or 'nothing new'}, "
        f"now at {warehouse.applied_migrations()}"
    )


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: $WEATHER_EDGE_HOME or ./data); the demo uses DIR/demo.",
)
@click.option("--days", type=click.IntRange(1, 7), default=2, show_default=True)
@click.option("--city", "cities", multiple=True, help="City code (repeatable; default: all).")
@click.option(
    "--live",
    is_flag=True,
    help="Also trade in live mode: the live_execution job places real orders on the "
    "simulator at mid-morning of each climate day.",
)
def demo(data_dir: Path | None, days: int, cities: tuple[str, ...], live: bool) -> None:
    """Run the whole platform end to end on the simulator (no keys, no network)."""
    from weather_edge.demo import run_demo

    summary = run_demo(data_dir, days=days, cities=cities, live=live, echo=click.echo)
    click.echo(summary.render())
    click.echo(f"demo finished in {summary.seconds:.0f} s")


DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: $WEATHER_EDGE_HOME or ./data).",
)


@main.command()
@DATA_DIR_OPTION
@click.option(
    "--duration", type=float, default=None, help="Seconds to run (default: until stopped)."
)
@click.option("--city", "cities", multiple=True, help="City code (repeatable; default: all).")
def stream(data_dir: Path | None, duration: float | None, cities: tuple[str, ...]) -> None:
    """Stream Kalshi quotes into the journal and tables (the service form; SIGTERM stops it).

    The exchange comes from KALSHI_ENV / KALSHI_REST_URL / KALSHI_WS_URL, the credentials
    from KALSHI_API_KEY_ID / KALSHI_PRIVATE_KEY_PATH.
    """
    import asyncio
    import signal

    from weather_edge.ingest.streamer import QuoteStreamer, StreamOptions
    from weather_edge.kalshi.auth import KalshiSigner
    from weather_edge.kalshi.config import KalshiConfig
    from weather_edge.settings import load_settings

    config = KalshiConfig.from_env()
    signer = KalshiSigner.from_env() if config.key_id and config.private_key_path else None
    options = StreamOptions(duration_s=duration, cities=cities)

    async def serve() -> None:
        streamer = QuoteStreamer(load_settings(data_dir), config, signer, options)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, streamer.stop)
        click.echo(f"streaming from {config.hosts.ws_url} (stop with SIGTERM or Ctrl-C)")
        health = await streamer.run()
        click.echo(f"stream stopped cleanly: {health.metadata()}")

    asyncio.run(serve())


@main.command()
@DATA_DIR_OPTION
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--speed", type=float, default=None, help="Pace at N x recorded speed.")
def replay(data_dir: Path | None, path: Path, speed: float | None) -> None:
    """Replay the journal or recorded market data (tick logs, summaries, raw books)."""
    from weather_edge.ingest.replay import ReplayError
    from weather_edge.ingest.replay import replay as run_replay
    from weather_edge.settings import load_settings
    from weather_edge.storage import open_warehouse

    warehouse = open_warehouse(load_settings(data_dir).warehouse_url)
    warehouse.migrate()

    def show(kind: str, done: int, total: int) -> None:
        click.echo(f"  {kind}: {done:,}/{total:,} records", err=True)

    try:
        results = run_replay(path, warehouse, speed=speed, progress=show)
    except ReplayError as exc:
        raise click.ClickException(str(exc)) from exc
    for r in results:
        click.echo(
            f"replayed {r.kind}: {r.records:,} records, {r.markets} markets, "
            f"{r.stats.quotes:,} new quotes, {r.stats.trades:,} new trades"
        )


@main.command()
@DATA_DIR_OPTION
@click.option("--port", type=int, default=3000, show_default=True, help="Dagster UI port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address of the UI.")
@click.option("--speed", type=float, default=60.0, show_default=True, help="Simulator clock speed.")
def dev(data_dir: Path | None, port: int, host: str, speed: float) -> None:
    """The Dagster UI on the simulator, with the sensors and schedules running."""
    import contextlib
    import shutil
    import signal
    import socket
    import subprocess
    import time

    from weather_edge.demo import DEMO_KEY_ID, write_demo_key
    from weather_edge.settings import load_settings

    settings = load_settings(data_dir)
    home = settings.data_dir / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    repo = Path(__file__).resolve().parents[1]
    shutil.copy(repo / "dagster.yaml", home / "dagster.yaml")
    key_path, public_pem = write_demo_key(settings.data_dir)
    public_path = settings.data_dir / "demo-kalshi-key.pub.pem"
    public_path.write_bytes(public_pem)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        sim_port = probe.getsockname()[1]
    children: list[subprocess.Popen[bytes]] = []
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        # Ctrl-C, SIGTERM or a closed terminal reach dev alone (each child runs in a process
        # group of its own), which stops the children in order; a second signal kills them.
        if stopping:
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
            return
        stopping.append(signum)
        raise KeyboardInterrupt

    def group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True

    # before the children start, so that they never inherit an ignored SIGINT (`dev &`)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # respect nohup
        signal.signal(signal.SIGHUP, stop)
    base = f"http://127.0.0.1:{sim_port}"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "WEATHER_EDGE_HOME": str(settings.data_dir),
        "KALSHI_ENV": "custom",
        "KALSHI_REST_URL": f"{base}/trade-api/v2",
        "KALSHI_WS_URL": f"ws://127.0.0.1:{sim_port}/trade-api/ws/v2",
        "KALSHI_API_KEY_ID": DEMO_KEY_ID,
        "KALSHI_PRIVATE_KEY_PATH": str(key_path),
        "WEATHER_EDGE_NWS_URL": f"{base}/nws",
        "WEATHER_EDGE_OPEN_METEO_MODELS": "",
    }
    try:
        sim_args = ["sim", "--port", str(sim_port), "--speed", str(speed), "--rate-limit", "100"]
        sim_args += ["--key", f"{DEMO_KEY_ID}={public_path}"]
        children.append(
            subprocess.Popen([sys.executable, "-m", "weather_edge.cli", *sim_args], process_group=0)
        )
        click.echo(f"simulator on {base}; Dagster UI on http://{host}:{port} (Ctrl-C stops both)")
        dagster = [str(Path(sys.executable).with_name("dagster")), "dev"]
        dagster += ["-w", str(repo / "workspace.yaml"), "-h", host, "-p", str(port)]
        children.append(subprocess.Popen(dagster, env=env, process_group=0))
        children[-1].wait()
    except KeyboardInterrupt:
        pass
    finally:
        stopping.append(0)
        # Dagster first (its runs stream from the simulator), then the simulator: SIGINT to the
        # whole group as Ctrl-C would, then wait for all of it (webserver, daemon, code servers,
        # runs) to exit, killing what is left after 90 s.
        for child in reversed(children):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGINT)
            deadline = time.monotonic() + 90
            while child.poll() is None or group_alive(child.pid):
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
                    break
                time.sleep(0.2)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8765, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same market.")
@click.option("--city", "cities", multiple=True, help="Registry city code (repeatable).")
@click.option("--day", "days", multiple=True, help="Climate day YYYY-MM-DD to list (repeatable).")
@click.option("--start", default=None, help="Simulated start, ISO 8601 with zone (default: now).")
@click.option("--speed", type=float, default=1.0, show_default=True, help="Clock speed; 0 freezes.")
@click.option(
    "--rate-limit", type=float, default=20.0, show_default=True, help="Requests/s per key."
)
@click.option("--key", "keys", multiple=True, help="KEY_ID=public_key.pem to accept (repeatable).")
@click.option("--no-agents", is_flag=True, help="No synthetic liquidity.")
@click.option("--fault", "faults", multiple=True, help="NAME=VALUE fault injection (repeatable).")
def sim(
    host: str,
    port: int,
    seed: int,
    cities: tuple[str, ...],
    days: tuple[str, ...],
    start: str | None,
    speed: float,
    rate_limit: float,
    keys: tuple[str, ...],
    no_agents: bool,
    faults: tuple[str, ...],
) -> None:
    """Run the local exchange (Kalshi REST + WebSocket, NWS-shaped weather) in the foreground."""
    from weather_edge.sim.server import main as sim_main

    argv = [
        "--host",
        host,
        "--port",
        str(port),
        "--seed",
        str(seed),
        "--speed",
        str(speed),
        "--rate-limit",
        str(rate_limit),
    ]
    argv += [a for c in cities for a in ("--city", c)] + [a for d in days for a in ("--day", d)]
    argv += [a for k in keys for a in ("--key", k)] + [a for f in faults for a in ("--fault", f)]
    argv += (["--start", start] if start else []) + (["--no-agents"] if no_agents else [])
    raise SystemExit(sim_main(argv))


@main.command()
@click.option("--city", "cities", multiple=True, help="City code (repeatable; default: all).")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="History laid out like shared/data; cities without it train on simulated weather.",
)
@click.option("--cut", default="2025-12-01", show_default=True, help="Train before, score after.")
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def train(
    cities: tuple[str, ...], data_dir: Path | None, cut: str, models_dir: Path | None
) -> None:
    """Train the CatBoost model of the daily high per city and write models/{city}/ + card."""
    import datetime as dt

    from weather_edge.forecasting.evaluate import train_city_model
    from weather_edge.weather.cities import city_codes

    for city in cities or city_codes():
        click.echo(f"training {city} ...")
        result = train_city_model(
            city, data_dir, cut_date=dt.date.fromisoformat(cut), models_dir=models_dir
        )
        card = result.model.card
        overall = next((r for r in card.holdout.get("by_lead", []) if r["lead"] == "all"), None)
        scores = (
            f"holdout CRPS model {overall['crps_model']} vs gaussian {overall['crps_gaussian']}"
            if overall
            else "no holdout"
        )
        click.echo(f"  {card.trained_on}; {scores}")
        click.echo(f"  wrote {result.path}")


@main.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A directory laid out like ../shared/data.",
)
@click.option("--cut", default="2025-12-01", show_default=True, help="Train before, score after.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("evaluation"))
def evaluate(data_dir: Path, cut: str, out: Path) -> None:
    """Score the model, the Gaussian baseline, the market and a blend on real history."""
    import datetime as dt

    from weather_edge.forecasting.evaluate import evaluate as run_evaluation

    result = run_evaluation(data_dir, dt.date.fromisoformat(cut), out)
    click.echo(result.forecast_table)
    click.echo(result.market_table)
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(f"wrote {', '.join(str(f) for f in result.files)}")
    click.echo(result.summary)


@main.command("load-history")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="A directory laid out like shared/data (nws/, openmeteo/).",
)
@DATA_DIR_OPTION
def load_history(data: Path, data_dir: Path | None) -> None:
    """Load the real weather history into the warehouse (idempotent)."""
    from weather_edge.settings import load_settings
    from weather_edge.storage import open_warehouse
    from weather_edge.weather.store import load_history as run_load

    warehouse = open_warehouse(load_settings(data_dir).warehouse_url)
    warehouse.migrate()
    summary = run_load(data, warehouse, progress=lambda step: click.echo(f"  {step}", err=True))
    click.echo(
        f"loaded {summary.written():,} new rows for "
        f"{', '.join(summary.cities) or 'no city'} in {summary.seconds:.1f} s"
    )


@main.command()
@DATA_DIR_OPTION
@click.option("--from", "start", required=True, help="First climate day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, help="Last climate day, YYYY-MM-DD.")
@click.option("--city", "cities", multiple=True, help="City code (repeatable; default: all).")
def backfill(data_dir: Path | None, start: str, end: str, cities: tuple[str, ...]) -> None:
    """Settle and score a range of climate days (what scored_snapshots does), with progress."""
    import datetime as dt

    from weather_edge.scoring import run_backfill
    from weather_edge.settings import load_settings

    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError as exc:
        raise click.BadParameter(f"dates are YYYY-MM-DD: {exc}") from exc
    if last < first:
        raise click.BadParameter(f"--to {last} is before --from {first}")
    run_backfill(load_settings(data_dir), first, last, list(cities) or None, echo=click.echo)


@main.command()
@DATA_DIR_OPTION
@click.option("--days", type=int, default=30, show_default=True, help="The recent window.")
def report(data_dir: Path | None, days: int) -> None:
    """Render the calibration report (HTML with PNG panels) from the warehouse."""
    from weather_edge.scoring import run_report
    from weather_edge.settings import load_settings

    _, text = run_report(load_settings(data_dir), last_n_days=days)
    click.echo(text)


@main.command("dbt-prepare")
def dbt_prepare() -> None:
    """Parse the dbt project once (build/install time) so code loads never run dbt."""
    from weather_edge.defs.dbt_assets import prepare_dbt_project

    click.echo(f"dbt manifest ready: {prepare_dbt_project()}")


@main.group()
def bench() -> None:
    """Benchmarks: each prints its figure and its ratio against a baseline run alongside."""


@bench.command("all")
@click.option("--quick", is_flag=True, help="A tenth of the default sizes (a smoke run).")
def bench_all(quick: bool) -> None:
    """Every benchmark in turn, then one table of figures, ratios and targets."""
    from weather_edge.bench.all import run_all

    click.echo(run_all(click.echo, quick=quick))


@bench.command("score")
@click.option("--rows", type=int, default=1_000_000, show_default=True)
def bench_score(rows: int) -> None:
    """Scoring snapshot rows, vectorized vs a row-by-row pandas baseline."""
    from weather_edge.bench.score import run_score_bench

    click.echo(run_score_bench(rows, echo=click.echo))


@bench.command("book")
@click.option("--messages", type=int, default=200_000, show_default=True)
def bench_book(messages: int) -> None:
    """Decode + apply of a recorded-like delta stream vs stdlib json + a dict book."""
    from weather_edge.bench.book import run_book_bench

    click.echo(run_book_bench(messages, echo=click.echo))


@bench.command("ingest")
@click.option("--messages", type=int, default=200_000, show_default=True)
@click.option("--rss-messages", type=int, default=1_000_000, show_default=True)
def bench_ingest(messages: int, rss_messages: int) -> None:
    """Messages/s into journal and tables, from file and over loopback, with RSS growth."""
    from weather_edge.bench.ingest import run_ingest_bench

    click.echo(run_ingest_bench(messages, rss_messages, echo=click.echo))


@bench.command("predict")
@click.option("--city", default="NYC", show_default=True)
def bench_predict(city: str) -> None:
    """One city's fresh inference latency and cached look-ups, p50 and p99."""
    from weather_edge.bench.predict import run_predict_bench

    click.echo(run_predict_bench(city=city, echo=click.echo))


@bench.command("decide")
@click.option("--changes", type=int, default=10_000, show_default=True)
def bench_decide(changes: int) -> None:
    """Book change -> recorded decision with a cached prediction: p50 and p99 latency."""
    from weather_edge.bench.decide import run_decide_bench

    click.echo(run_decide_bench(changes, echo=click.echo))


def run() -> None:  # pragma: no cover - console entry for `python -m weather_edge.cli`
    sys.exit(main())


if __name__ == "__main__":
    run()
