"""The scoring bench runs end to end (small) and ends with its summary line."""

from __future__ import annotations

import re

from weather_edge.bench.score import run_score_bench


def test_the_bench_reports_time_and_ratio_on_its_last_line() -> None:
    seen: list[str] = []
    report = run_score_bench(rows=12_000, baseline_snapshots=60, echo=seen.append)
    lines = report.splitlines()
    assert lines == seen
    assert re.fullmatch(r"bench score: \d+\.\d\d s for 12000 rows, \d+x baseline", lines[-1])
    assert "extrapolated linearly" in report
    assert re.search(r"\d+ scores identical", report)  # the two paths were compared
