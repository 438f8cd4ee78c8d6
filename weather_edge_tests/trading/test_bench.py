"""The decision benchmark runs and reports in the agreed format."""

from __future__ import annotations

import re

from weather_edge.bench.decide import run_decide_bench


def test_decide_bench_reports_p50_and_p99() -> None:
    report = run_decide_bench(1_000, pause_s=0.0)
    lines = report.splitlines()
    assert re.fullmatch(r"bench decide: p99 \d+\.\d us", lines[-1])
    assert "p50" in report and "1,000 book changes" in lines[0]
    cpu_p50 = float(re.search(r"CPU time .*?p50 ([\d.]+) us", report).group(1))  # type: ignore[union-attr]
    assert cpu_p50 < 1_000
