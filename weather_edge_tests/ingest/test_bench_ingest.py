"""`weather-edge bench ingest` runs its three paths and prints the summary line."""

from __future__ import annotations

import re

from weather_edge.bench.ingest import run_ingest_bench


def test_bench_ingest_prints_the_figures_and_the_ratio() -> None:
    lines: list[str] = []
    summary = run_ingest_bench(
        5_000, rss_messages=10_000, baseline_messages=1_000, echo=lines.append
    )
    assert re.fullmatch(
        r"bench ingest: \d+ msg/s file, \d+ msg/s socket, \d+\.\dx baseline, rss -?\d+ MB",
        summary,
    )
    assert any(line.startswith("socket -> journal -> tables") for line in lines)
    assert any("row-by-row inserts (baseline)" in line for line in lines)
