"""``weather-edge bench predict``: one city's model inference, fresh and from the cache.

* fresh: :meth:`Predictor.predict` for a (climate day, snapshot) never seen before -- the
  features built as of the snapshot from the prepared sources (as-of joins), then the model
  (CatBoost raw scores + the prior + the floor) -- every call a cache miss;
* cached: the same requests again through :meth:`Predictor.predict_inputs` with the inputs
  already known: hashing the input vector and the look-up, the path taken whenever a
  snapshot's inputs did not change;
* baseline: the straightforward version of fresh -- a one-off
  :func:`~weather_edge.forecasting.features.build_features` (no prepared tables) and the
  model without a cache -- on a sample of the same requests; the table gives fresh's ratio
  to it.

The sources are the city's real history when the shared data has it (NYC), else simulated
weather. The model is the shipped one in ``models/{city}`` (hash-checked on load).
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from weather_edge.forecasting.features import (
    CitySources,
    FeatureBuilder,
    build_features,
    requests_frame,
)
from weather_edge.forecasting.model import Predictor, load_city_model
from weather_edge.weather.cities import get_city
from weather_edge.weather.climate_day import climate_day_bounds

_SEED = 20_260_917
SHARED_DATA_ENV = "WEATHER_EDGE_SHARED_DATA"


def default_data_dir() -> Path:
    """``$WEATHER_EDGE_SHARED_DATA``, else ``shared/data`` beside the source checkout."""
    override = os.environ.get(SHARED_DATA_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[3] / "shared" / "data"


def _sources(city: str, data_dir: Path) -> CitySources:
    from weather_edge.forecasting.evaluate import real_sources
    from weather_edge.forecasting.history import discover

    if data_dir.is_dir() and city in discover(data_dir).cities():
        return real_sources(data_dir, city)
    from weather_edge.forecasting.simulated import simulated_sources

    return simulated_sources(city, seed=0, start=dt.date(2025, 11, 1), end=dt.date(2026, 1, 1))


def _requests(
    sources: CitySources, n: int, rng: random.Random
) -> list[tuple[dt.date, dt.datetime]]:
    days = sorted(set(sources.daily["climate_day"].to_list()))[-60:-2]
    city = get_city(sources.city)
    out = []
    for _ in range(n):
        day = rng.choice(days)
        _, end = climate_day_bounds(city, day)
        out.append((day, end - dt.timedelta(seconds=rng.uniform(0.5, 47.5) * 3600)))
    return out


def _percentiles(samples: list[float]) -> tuple[float, float]:
    arr = np.asarray(samples)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def run_predict_bench(
    n: int = 300,
    *,
    city: str = "NYC",
    data_dir: Path | None = None,
    models_dir: Path | None = None,
    echo: Callable[[str], None] | None = None,
) -> str:
    """Time ``n`` fresh predictions and ``n`` cached look-ups; returns the report, whose last
    line is ``bench predict: p99 <x> ms fresh, p99 <y> us cached``."""
    code = get_city(city).code
    model = load_city_model(code, models_dir)
    sources = _sources(code, data_dir or default_data_dir())
    predictor = Predictor(model, FeatureBuilder(sources))
    rng = random.Random(_SEED)
    requests = _requests(sources, n + 3, rng)
    for day, as_of in requests[:3]:  # warm-up: the per-day partitions, CatBoost's first call
        predictor.predict(day, as_of)
    requests = requests[3:]

    gc.disable()
    try:
        fresh, inputs = [], []
        for day, as_of in requests:
            started = time.perf_counter()
            x = predictor.inputs(day, as_of)
            predictor.predict_inputs(day, x)
            fresh.append(time.perf_counter() - started)
            inputs.append((day, x))
        misses = predictor.cache.misses
        cached = []
        for day, x in inputs:
            started = time.perf_counter()
            predictor.predict_inputs(day, x)
            cached.append(time.perf_counter() - started)
        baseline = []
        for day, as_of in requests[: max(5, n // 20)]:
            started = time.perf_counter()
            row = build_features(sources, requests_frame([day], [as_of]))
            model.predict_inputs(model.inputs(row))
            baseline.append(time.perf_counter() - started)
    finally:
        gc.enable()
    if predictor.cache.hits < len(cached):
        raise AssertionError("a repeated look-up missed the cache")
    f50, f99 = _percentiles(fresh)
    c50, c99 = _percentiles(cached)
    b50, b99 = _percentiles(baseline)
    lines = [
        f"model {code}: {model.card.trained_on}",
        f"sources: {sources.description}",
        f"{len(fresh)} fresh predictions ({misses} cache misses), {len(cached)} cached "
        f"look-ups, {len(baseline)} baseline predictions",
        f"{'path':<10}{'p50':>12}{'p99':>12}",
        f"{'fresh':<10}{f50 * 1e3:>9.2f} ms{f99 * 1e3:>9.2f} ms",
        f"{'cached':<10}{c50 * 1e6:>9.1f} us{c99 * 1e6:>9.1f} us",
        f"{'baseline':<10}{b50 * 1e3:>9.2f} ms{b99 * 1e3:>9.2f} ms",
        f"fresh / baseline (p50): {f50 / b50:.2f}; cached / fresh (p50): {c50 / f50:.5f}",
        f"bench predict: p99 {f99 * 1e3:.2f} ms fresh, p99 {c99 * 1e6:.1f} us cached",
    ]
    if echo is not None:
        for line in lines[:-1]:
            echo(line)
        return lines[-1]
    return "\n".join(lines)
