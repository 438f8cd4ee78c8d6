"""``weather-edge bench all``: every benchmark, one table, each figure beside its target.

Each benchmark measures its own baseline in the same run; this module only runs them in turn
and reads their summary lines.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

Echo = Callable[[str], None]


@dataclass(frozen=True)
class BenchRow:
    name: str
    summary: str
    ratio: str
    target: str
    seconds: float


TARGETS = {
    "book": ">= 300,000 msg/s and >= 3x",
    "ingest": ">= 100,000 msg/s file, >= 20,000 socket, RSS growth < 50 MB",
    "predict": "p99 <= 20 ms fresh, <= 50 us cached",
    "decide": "p99 <= 1,000 us",
    "score": "<= 10 s for 1,000,000 rows and >= 5x",
}


def _runners(quick: bool) -> dict[str, Callable[[Echo], str]]:
    from weather_edge.bench.book import run_book_bench
    from weather_edge.bench.decide import run_decide_bench
    from weather_edge.bench.ingest import run_ingest_bench
    from weather_edge.bench.predict import run_predict_bench
    from weather_edge.bench.score import run_score_bench

    scale = 10 if quick else 1
    return {
        "book": lambda echo: run_book_bench(200_000 // scale, echo=echo),
        "ingest": lambda echo: run_ingest_bench(
            200_000 // scale, 1_000_000 // scale, 20_000 // scale, echo=echo
        ),
        "predict": lambda echo: run_predict_bench(300 // scale, echo=echo),
        "decide": lambda echo: run_decide_bench(10_000 // scale, echo=echo),
        "score": lambda echo: run_score_bench(1_000_000 // scale, echo=echo),
    }


def run_all(echo: Echo = print, *, quick: bool = False, only: tuple[str, ...] = ()) -> str:
    """Run the benchmarks, echo each one's own table, then the summary table."""
    rows = []
    for name, run in _runners(quick).items():
        if only and name not in only:
            continue
        echo(f"== bench {name}")
        started = time.monotonic()
        summary = run(echo).strip().splitlines()[-1]  # the benchmark's own summary line
        echo(summary)
        ratio = re.search(r"(\d+(?:\.\d+)?)x baseline", summary)
        rows.append(
            BenchRow(
                name,
                summary.removeprefix(f"bench {name}: "),
                f"{ratio.group(1)}x" if ratio else "-",
                TARGETS[name],
                time.monotonic() - started,
            )
        )
    width = max(len(r.summary) for r in rows)
    lines = [f"{'bench':<8}  {'figure':<{width}}  {'ratio':>7}  {'s':>5}  target"]
    lines += [
        f"{r.name:<8}  {r.summary:<{width}}  {r.ratio:>7}  {r.seconds:>5.0f}  {r.target}"
        for r in rows
    ]
    table = "\n".join(lines)
    echo(table)
    return f"bench all: {len(rows)} benchmarks" + (" (quick sizes)" if quick else "")
