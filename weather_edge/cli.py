"""The ``weather-edge`` command for people: demo, sim, stream, evaluate, bench, ..."""

from __future__ import annotations

import sys
import time
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
    help="Data directory (default: $WEATHER_EDGE_HOME or ./data).",
)
def demo(data_dir: Path | None) -> None:
    """Run the platform end to end on the embedded default (no keys, no network)."""
    from weather_edge.demo import run_demo

    started = time.monotonic()
    summary = run_demo(data_dir, echo=click.echo)
    click.echo(summary)
    click.echo(f"demo finished in {time.monotonic() - started:.1f} s")


@main.group()
def bench() -> None:
    """Benchmarks: each prints its figure and its ratio against a baseline run alongside."""


def run() -> None:  # pragma: no cover - console entry for `python -m weather_edge.cli`
    sys.exit(main())


if __name__ == "__main__":
    run()
