"""Shared fixtures of the forecasting tests: the real NYC history (read once) and a small
model trained on simulated weather."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from weather_edge.forecasting.evaluate import real_sources, train_simulated_city_model
from weather_edge.forecasting.features import CitySources
from weather_edge.forecasting.model import CityModel, HyperParams

SIM_CITY = "CHI"
SIM_PARAMS = HyperParams(iterations=200, learning_rate=0.1)


@pytest.fixture(scope="session")
def nyc_sources(shared_data: Path) -> CitySources:
    return real_sources(shared_data, "NYC")


@pytest.fixture(scope="session")
def sim_model() -> tuple[CityModel, pl.DataFrame]:
    """A CHI model trained on 240 simulated days, with its table on the last 60."""
    return train_simulated_city_model(
        SIM_CITY, seed=11, days=300, holdout_days=60, params=SIM_PARAMS
    )


@pytest.fixture(scope="session")
def saved_sim_model(
    sim_model: tuple[CityModel, pl.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    models_dir = tmp_path_factory.mktemp("models")
    model, _ = sim_model
    model.save(models_dir / SIM_CITY)
    return models_dir


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)
