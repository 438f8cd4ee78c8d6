"""``bench predict`` runs on a saved model and ends with its summary line."""

from __future__ import annotations

import re
from pathlib import Path

from weather_edge.bench.predict import run_predict_bench

from .conftest import SIM_CITY


def test_predict_bench_reports_fresh_and_cached_latency(
    saved_sim_model: Path, tmp_path: Path
) -> None:
    report = run_predict_bench(30, city=SIM_CITY, data_dir=tmp_path, models_dir=saved_sim_model)
    last = report.splitlines()[-1]
    match = re.fullmatch(r"bench predict: p99 (\d+\.\d{2}) ms fresh, p99 (\d+\.\d) us cached", last)
    assert match, report
    assert float(match[2]) * 1e-3 < float(match[1])  # a look-up is cheaper than inference
    assert "simulated weather" in report
    echoed: list[str] = []
    summary = run_predict_bench(
        10, city=SIM_CITY, data_dir=tmp_path, models_dir=saved_sim_model, echo=echoed.append
    )
    assert summary.startswith("bench predict: ") and echoed[-1].startswith("fresh / baseline")
