"""The CatBoost model: beats its baselines on held-out simulated days, saves with a card,
refuses tampered files and mismatched cards, and caches inference."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from weather_edge.forecasting.distribution import GRID_LO
from weather_edge.forecasting.features import FeatureBuilder, feature_names, snapshot_requests
from weather_edge.forecasting.model import (
    CARD_JSON,
    MODEL_FILE,
    CityModel,
    ModelCardError,
    ModelIntegrityError,
    Predictor,
    load_city_model,
    time_ordered_split,
)
from weather_edge.forecasting.simulated import simulated_sources

from .conftest import SIM_CITY, utc


def _crps(table: pl.DataFrame, predictor: str, lead: str = "all") -> float:
    row = table.filter((pl.col("predictor") == predictor) & (pl.col("lead") == lead))
    return float(row["crps"][0])


def test_simulated_model_beats_climatology_and_the_gaussian(
    sim_model: tuple[CityModel, pl.DataFrame],
) -> None:
    model, table = sim_model
    assert table.filter(pl.col("lead") == "all")["n"][0] == 60 * 16  # held-out days x leads
    model_crps = _crps(table, "model")
    assert model_crps < _crps(table, "gaussian")
    assert model_crps < _crps(table, "climatology")
    # the observations carry it on the day itself
    assert _crps(table, "model", "0-12h") < 0.8 * _crps(table, "gaussian", "0-12h")
    mae = table.filter(pl.col("lead") == "all")
    assert (
        mae.filter(pl.col("predictor") == "model")["mae"][0]
        < mae.filter(pl.col("predictor") == "climatology")["mae"][0]
    )
    card = model.card
    assert "simulated weather only" in card.trained_on
    assert card.features == feature_names(secondary=True, obs=True)
    assert card.data_window[1] < "2025-11-02"  # the holdout days were not trained on


def test_training_splits_are_time_ordered() -> None:
    days = [dt.date(2025, 1, 1) + dt.timedelta(d) for d in range(100)]
    assert time_ordered_split(days[::-1], 0.2) == dt.date(2025, 3, 22)


def test_save_and_load_round_trip(
    sim_model: tuple[CityModel, pl.DataFrame], saved_sim_model: Path
) -> None:
    model, _ = sim_model
    loaded = load_city_model(SIM_CITY, saved_sim_model, feature_names(secondary=True, obs=True))
    sources = simulated_sources(
        SIM_CITY, seed=11, start=dt.date(2025, 12, 1), end=dt.date(2025, 12, 5)
    )
    frame = FeatureBuilder(sources).build(
        snapshot_requests(SIM_CITY, [dt.date(2025, 12, 3)], [2.0, 20.0])
    )
    assert np.allclose(loaded.predict_grid(frame), model.predict_grid(frame))
    card = json.loads((saved_sim_model / SIM_CITY / CARD_JSON).read_text())
    assert card["model_sha256"] and card["training_seconds"] > 0 and card["holdout"]["by_lead"]
    assert (saved_sim_model / SIM_CITY / "card.md").read_text().startswith("# Model card: CHI")
    assert (saved_sim_model / SIM_CITY / MODEL_FILE).stat().st_size < 2_000_000


def _copy(saved: Path, tmp_path: Path) -> Path:
    shutil.copytree(saved / SIM_CITY, tmp_path / SIM_CITY)
    return tmp_path


def test_a_tampered_model_file_is_refused(saved_sim_model: Path, tmp_path: Path) -> None:
    models = _copy(saved_sim_model, tmp_path)
    path = models / SIM_CITY / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        load_city_model(SIM_CITY, models)


def test_a_card_feature_mismatch_is_refused(saved_sim_model: Path, tmp_path: Path) -> None:
    models = _copy(saved_sim_model, tmp_path)
    with pytest.raises(ModelCardError, match="missing \\['mkt_mean'\\]"):
        load_city_model(SIM_CITY, models, [*feature_names(secondary=True, obs=True), "mkt_mean"])
    card_path = models / SIM_CITY / CARD_JSON
    card = json.loads(card_path.read_text())
    card["features"] = card["features"][::-1]  # the card no longer describes the file
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelCardError, match="not the card's"):
        load_city_model(SIM_CITY, models)
    card["features"] = [*card["features"], "wind_gust"]
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelCardError, match="does not build: \\['wind_gust'\\]"):
        load_city_model(SIM_CITY, models)


def test_inference_is_floored_and_cached(sim_model: tuple[CityModel, pl.DataFrame]) -> None:
    model, _ = sim_model
    sources = simulated_sources(
        SIM_CITY, seed=11, start=dt.date(2025, 12, 1), end=dt.date(2025, 12, 5)
    )
    predictor = Predictor(model, FeatureBuilder(sources))
    day, as_of = dt.date(2025, 12, 3), utc(2025, 12, 3, 23, 0)  # 17:00 LST
    dist = predictor.predict(day, as_of)
    inputs = predictor.inputs(day, as_of)
    obs_max = inputs[len(model.features) + 1]
    assert not np.isnan(obs_max)
    assert dist.cdf(int(np.floor(obs_max + 0.5)) - 2) == 0.0  # nothing below the floor band
    assert sum(dist.pmf) == pytest.approx(1.0)
    assert predictor.cache.misses == 1 and predictor.cache.hits == 0

    def broken(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model ran for inputs already seen")

    model.booster.predict = broken  # type: ignore[method-assign]
    try:
        assert predictor.predict(day, as_of) is dist
        assert predictor.cache.hits == 1
        with pytest.raises(AssertionError, match="already seen"):
            predictor.predict(day, as_of + dt.timedelta(minutes=5))  # new inputs: recomputed
    finally:
        del model.booster.predict
    grid = model.predict_grid(
        FeatureBuilder(sources).build(pl.DataFrame({"climate_day": [day], "as_of_utc": [as_of]}))
    )
    assert grid[0, dist.lo - GRID_LO : dist.hi - GRID_LO + 1] == pytest.approx(dist.pmf)
