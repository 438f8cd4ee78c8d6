"""`weather-edge bench all` runs the benchmarks and tabulates figures, ratios and targets."""

from __future__ import annotations

from weather_edge.bench.all import TARGETS, run_all


def test_bench_all_prints_one_row_per_benchmark_with_its_target() -> None:
    lines: list[str] = []
    result = run_all(
        lambda text: lines.extend(text.splitlines()), quick=True, only=("book", "decide")
    )
    assert result == "bench all: 2 benchmarks (quick sizes)"
    header = next(i for i, line in enumerate(lines) if line.startswith("bench     figure"))
    rows = lines[header + 1 : header + 3]
    assert rows[0].startswith("book ") and "x baseline" in rows[0]
    assert rows[0].endswith(TARGETS["book"])
    assert rows[1].startswith("decide ") and "p99" in rows[1]
