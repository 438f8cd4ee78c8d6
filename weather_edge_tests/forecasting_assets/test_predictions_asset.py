"""The predictions asset on warehouse rows from the simulated weather."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from weather_edge.defs.forecasting import predictions
from weather_edge.defs.resources import WarehouseResource
from weather_edge.ingest.markets import market_row
from weather_edge.kalshi.tickers import Bracket, BracketKind
from weather_edge.sim.weather import SimulatedWeather
from weather_edge.storage import open_warehouse
from weather_edge.weather.cities import get_city
from weather_edge.weather.climate_day import climate_day_bounds, hours_to_climate_day_end

CITY, DAY, SEED = "CHI", date(2026, 8, 24), 0  # the shipped CHI model: simulated weather


def seed_warehouse(wh: Any, weather: SimulatedWeather, until: datetime) -> int:
    """History and the day's forecasts as the weather assets would have stored them."""
    city = get_city(CITY)
    reports, forecasts = [], []
    for back in range(1, 400):
        day = DAY - timedelta(days=back)
        reports.append(
            {
                "city": CITY,
                "climate_day": day,
                "product_id": f"sim-{day}",
                "issued_at": weather.cli_issued_at(CITY, day, True),
                "high_f": weather.true_high(CITY, day),
                "preliminary": False,
                "correction": False,
                "source": "sim",
            }
        )
    for back in range(0, 400):
        day = DAY - timedelta(days=back)
        end = climate_day_bounds(city, day)[1]
        for issue in weather.forecast_issues(CITY, day, min(end, until)):
            forecasts.append(
                {
                    "city": CITY,
                    "climate_day": day,
                    "source": "nws_hourly",
                    "issued_at": issue.issued_utc,
                    "forecast_high_f": issue.mean_high_f,
                    "lead_hours": hours_to_climate_day_end(city, day, issue.issued_utc),
                    "suspect": False,
                    "retrieved_at": issue.issued_utc,
                }
            )
    wh.upsert("climate_reports", reports)
    base = 84
    brackets = {
        "T79": Bracket(BracketKind.LESS, None, 78),
        "T88": Bracket(BracketKind.GREATER, 89, None),
    }
    brackets |= {
        f"B{lo}.5": Bracket(BracketKind.BETWEEN, lo, lo + 1) for lo in range(base - 5, base + 5, 2)
    }
    wh.upsert(
        "markets",
        [market_row(f"KXHIGHCHI-26AUG24-{k}", b, status="active") for k, b in brackets.items()],
    )
    return wh.upsert("forecasts", forecasts)


def materialize(tmp_path: Path) -> dg.ExecuteInProcessResult:
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    return dg.materialize(
        [predictions],
        partition_key=dg.MultiPartitionKey({"day": DAY.isoformat(), "city": CITY}),
        resources={"warehouse": WarehouseResource(url=url, data_dir=str(tmp_path))},
        selection=[predictions],
    )


@pytest.fixture
def seeded(tmp_path: Path) -> Any:
    wh = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    wh.migrate()
    weather = SimulatedWeather(SEED)
    seed_warehouse(wh, weather, until=climate_day_bounds(get_city(CITY), DAY)[1])
    return wh, weather


def test_predictions_cover_every_snapshot_with_brackets_summing_to_one(
    seeded: Any, tmp_path: Path
) -> None:
    wh, weather = seeded
    result = materialize(tmp_path)
    assert result.success
    rows = wh.query_frame("SELECT * FROM predictions ORDER BY snapshot_at")
    assert rows.height >= 30  # hourly over the markets' last day and a half
    sums = wh.query("SELECT snapshot_at, SUM(probability) FROM bracket_predictions GROUP BY 1")
    assert len(sums) == rows.height
    assert all(abs(total - 1.0) < 1e-6 for _, total in sums)
    last = json.loads(rows["distribution_json"][-1])
    assert abs(sum(last["pmf"]) - 1.0) < 1e-6
    # close to the end of the day the model knows the high within a few degrees
    assert abs(rows["median_f"][-1] - weather.true_high(CITY, DAY)) <= 3


def test_a_snapshot_is_unchanged_when_later_forecasts_arrive(
    tmp_path: Path,
) -> None:
    wh = open_warehouse(f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    wh.migrate()
    weather = SimulatedWeather(SEED)
    start, end = climate_day_bounds(get_city(CITY), DAY)
    seed_warehouse(wh, weather, until=start)  # only what was issued before the day began
    assert materialize(tmp_path).success
    early = dict(wh.query("SELECT snapshot_at, distribution_json FROM predictions"))
    seed_warehouse(wh, weather, until=end)  # the day's later issues land afterwards
    assert materialize(tmp_path).success
    later = dict(wh.query("SELECT snapshot_at, distribution_json FROM predictions"))
    shared = [t for t in early if t <= start]
    assert shared and all(early[t] == later[t] for t in shared)
