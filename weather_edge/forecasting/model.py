"""The CatBoost model of the integer daily high, one per city, with its model card.

**What it predicts.** ``P(high = base + k)`` for integer offsets ``k`` in ``[-R, R]``
(``R = offset_range_f``), a ``MultiClass`` CatBoost over the offsets, outcomes further out
clipped into the end classes. The boosting starts from a prior, not from nothing: the
:class:`AnchorPrior`, a Gaussian around ``anchor + a_b + β_b (obs_max − anchor)`` with σ_b,
fitted by least squares per 3-hour lead bucket ``b`` on the training rows. ``anchor`` is the
latest primary forecast's daily max (else the NDFD, else the climatology) and the observed
term is zero without observations, so on the real history the prior is the Gaussian
baseline on finer lead buckets; with observations it moves toward the running max as the
day goes on. ``base`` is the prior mean rounded half up. Each row's baseline logits are the
prior's log-probabilities over the offsets, floored at the observed max; the trees learn
what it misses (revisions, source spread, the proxy of the elapsed part of the day, season,
the shape of the tails); with early stopping, a model with nothing to add stays at its
prior. The output is floored at the running observed max (``obs_max``; slack per the card,
see ``distribution``) and mixed with a uniform over the offsets at weight
:data:`UNIFORM_MIX` so no offset has zero mass.

**Training** uses time-ordered splits only: the last ``valid_fraction`` of the training
climate days are the early-stopping set, never a random sample. The caller scores a holdout
of later days and records it on the card.

**Artifacts** in ``models/{city}/``: ``model.cbm`` (CatBoost's format), ``card.json`` and
``card.md`` (data window and source, features, hyper-parameters, holdout scores, training
time, SHA-256 of the model file). :func:`load_city_model` recomputes the hash and refuses a
file that does not match its card, and refuses a card whose features differ from what the
caller (or this code) builds.

**Inference** goes through :class:`InferenceCache`: keyed by (city, climate day, hash of the
model inputs and the model file), so unchanged inputs are never recomputed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from catboost import CatBoostClassifier, Pool

from weather_edge import __version__
from weather_edge.forecasting.baselines import apply_floor
from weather_edge.forecasting.distribution import (
    IntDistribution,
    floor_grid,
    normal_grid,
    offsets_to_grid,
)
from weather_edge.forecasting.features import (
    FeatureBuilder,
    feature_matrix,
    feature_names,
    requests_frame,
)
from weather_edge.weather.cities import get_city

FloatArray = npt.NDArray[np.float64]

MODEL_FILE = "model.cbm"
CARD_JSON = "card.json"
CARD_MD = "card.md"
MODELS_DIR_ENV = "WEATHER_EDGE_MODELS_DIR"
UNIFORM_MIX = 0.002
PRIOR_EPS = 1e-6
# Columns besides the features that shape a row's distribution: the anchor and the floor,
# and what the Gaussian prior reads.
PRIOR_COLUMNS = ("anchor", "obs_max", "lead_h")
PRIOR_LEAD_EDGES_H = tuple(3.0 * i for i in range(1, 17))  # 3-hour buckets to 48 h, then 48+
PRIOR_MIN_ROWS = 30
PRIOR_MIN_SD_F = 0.3
ANCHOR_DESCRIPTION = (
    "the latest primary forecast daily max, else the latest NDFD, else the climatology mean; "
    "offsets count from the prior mean rounded half up"
)


class ModelCardError(ValueError):
    """A model directory whose card does not fit the model file or the features asked for."""


class ModelIntegrityError(ModelCardError):
    """A model file whose content hash differs from the one its card recorded."""


def default_models_dir() -> Path:
    """``$WEATHER_EDGE_MODELS_DIR``, else ``models/`` at the root of the source checkout."""
    override = os.environ.get(MODELS_DIR_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[2] / "models"


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class HyperParams:
    depth: int = 4
    iterations: int = 400
    learning_rate: float = 0.1
    l2_leaf_reg: float = 5.0
    border_count: int = 32
    bootstrap_type: str = "No"
    leaf_estimation_iterations: int = 1
    offset_range_f: int = 12
    early_stopping_rounds: int = 40
    valid_fraction: float = 0.15
    seed: int = 0
    threads: int = 2


@dataclass(frozen=True)
class ModelCard:
    """What a trained model is, what it was trained on and how well it scored."""

    city: str
    variant: str
    trained_on: str  # plain words: real history or simulated weather, and which
    data_source: str
    data_window: tuple[str, str]  # first and last training climate day (ISO)
    n_train_days: int
    n_train_rows: int
    n_valid_rows: int
    features: tuple[str, ...]
    hyperparameters: dict[str, Any]
    offsets: tuple[int, ...]
    anchor: str
    floor_slack_f: int
    prior: dict[str, Any]  # the AnchorPrior the boosting starts from
    best_iteration: int
    training_seconds: float
    model_file: str = MODEL_FILE
    model_sha256: str = ""
    model_bytes: int = 0
    created_utc: str = ""
    weather_edge_version: str = __version__
    holdout: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        data = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ModelCardError(f"unknown card fields {sorted(unknown)}")
        data["data_window"] = tuple(data["data_window"])
        data["features"] = tuple(data["features"])
        data["offsets"] = tuple(data["offsets"])
        return cls(**data)

    def to_markdown(self) -> str:
        hp = ", ".join(f"{k}={v}" for k, v in self.hyperparameters.items())
        lines = [
            f"# Model card: {self.city} daily high ({self.variant})",
            "",
            f"- **Trained on:** {self.trained_on}",
            f"- **Data source:** {self.data_source}",
            f"- **Training window (climate days):** {self.data_window[0]} to "
            f"{self.data_window[1]} ({self.n_train_days} days, {self.n_train_rows} snapshot "
            f"rows, of which the last {self.n_valid_rows} are the time-ordered early-stopping "
            "set)",
            "- **Predicts:** P(high = base + k) for k in "
            f"[{self.offsets[0]}, {self.offsets[-1]}] (CatBoost MultiClass boosted from the "
            f"prior below); anchor = {self.anchor}; floored at the observed max with slack "
            f"{self.floor_slack_f} °F",
            "- **Prior:** Gaussian, mean = anchor + intercept + weight × (observed max − anchor), "
            "per 3 h lead bucket to 48 h, then 48 h+: intercept "
            f"{_rounded(self.prior.get('intercept', []))} °F, weight of the observed max "
            f"{_rounded(self.prior.get('slope', []))}, σ {_rounded(self.prior.get('sd', []))} °F",
            f"- **Hyper-parameters:** {hp}; best iteration {self.best_iteration}",
            f"- **Training time:** {self.training_seconds:.1f} s",
            f"- **Model file:** `{self.model_file}` ({self.model_bytes} bytes), SHA-256 "
            f"`{self.model_sha256}`",
            f"- **Created:** {self.created_utc} by weather_edge {self.weather_edge_version}",
            "",
            "## Features",
            "",
            ", ".join(f"`{name}`" for name in self.features),
            "",
            "## Holdout scores",
            "",
        ]
        lines += _holdout_markdown(self.holdout)
        return "\n".join(lines) + "\n"


def _holdout_markdown(holdout: Mapping[str, Any]) -> list[str]:
    if not holdout:
        return ["No holdout was scored."]
    lines = [str(holdout.get("description", "")), ""]
    rows = holdout.get("by_lead", [])
    if rows:
        keys = list(rows[0])
        lines.append("| " + " | ".join(keys) + " |")
        lines.append("|" + "---|" * len(keys))
        for row in rows:
            lines.append("| " + " | ".join(_fmt(row[k]) for k in keys) + " |")
    return lines


def _rounded(values: Sequence[float]) -> list[float]:
    return [round(float(v), 2) for v in values]


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _softmax(logits: FloatArray) -> FloatArray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class AnchorPrior:
    """A Gaussian per lead bucket: mean ``anchor + a_b + β_b g`` with ``g = obs_max − anchor``
    (0 without observations), standard deviation σ_b, fitted by least squares."""

    intercept: tuple[float, ...]
    slope: tuple[float, ...]
    sd: tuple[float, ...]
    n: tuple[int, ...]

    @staticmethod
    def bucket(lead_h: FloatArray) -> npt.NDArray[np.int64]:
        edges = np.asarray(PRIOR_LEAD_EDGES_H)
        return np.searchsorted(edges, lead_h, side="right").astype(np.int64)

    @classmethod
    def fit(cls, columns: FloatArray, high_f: FloatArray) -> AnchorPrior:
        """Fit on :data:`PRIOR_COLUMNS` rows and their outcomes; a bucket with fewer than
        :data:`PRIOR_MIN_ROWS` rows takes the pooled fit."""
        anchor, obs, lead = columns.T
        d = high_f - anchor
        g = np.where(np.isnan(obs), 0.0, obs - anchor)
        bucket = cls.bucket(lead)

        def solve(mask: npt.NDArray[np.bool_]) -> tuple[float, float, float]:
            dm, gm = d[mask], g[mask]
            if gm.std() > 1e-9:
                design = np.column_stack([np.ones_like(gm), gm])
                (a, b), *_ = np.linalg.lstsq(design, dm, rcond=None)
            else:
                a, b = float(dm.mean()), 0.0
            resid = dm - a - b * gm
            return float(a), float(b), max(PRIOR_MIN_SD_F, float(resid.std(ddof=2)))

        pooled = solve(np.ones_like(d, dtype=bool))
        fits, counts = [], []
        for b in range(len(PRIOR_LEAD_EDGES_H) + 1):
            mask = bucket == b
            counts.append(int(mask.sum()))
            fits.append(solve(mask) if mask.sum() >= PRIOR_MIN_ROWS else pooled)
        a, slope, sd = (tuple(v) for v in zip(*fits, strict=True))
        return cls(a, slope, sd, tuple(counts))

    def mean_sd(self, columns: FloatArray) -> tuple[FloatArray, FloatArray]:
        anchor, obs, lead = columns.T
        bucket = self.bucket(lead)
        g = np.where(np.isnan(obs), 0.0, obs - anchor)
        mean = anchor + np.asarray(self.intercept)[bucket] + np.asarray(self.slope)[bucket] * g
        return mean, np.asarray(self.sd)[bucket]

    def base(self, columns: FloatArray) -> FloatArray:
        """The integer the offsets count from: the prior mean rounded half up."""
        return np.floor(self.mean_sd(columns)[0] + 0.5)

    def logits(
        self, offsets: npt.NDArray[np.int64], columns: FloatArray, slack_f: int
    ) -> FloatArray:
        """Log-probabilities over the offsets from :meth:`base`, floored at the observed max."""
        mean, sd = self.mean_sd(columns)
        base = np.floor(mean + 0.5)
        lo, hi = int(offsets[0]), int(offsets[-1])
        probs = normal_grid(mean - base, sd, lo, hi)
        obs_offset = np.clip(columns[:, 1] - base, lo, hi)  # NaN stays NaN: no floor
        return np.log(floor_grid(probs, lo, obs_offset, slack_f) + PRIOR_EPS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lead_edges_h": list(PRIOR_LEAD_EDGES_H),
            "intercept": list(self.intercept),
            "slope": list(self.slope),
            "sd": list(self.sd),
            "n": list(self.n),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnchorPrior:
        if tuple(data.get("lead_edges_h", ())) != PRIOR_LEAD_EDGES_H:
            raise ModelCardError("the card's prior has other lead buckets than this code")
        return cls(
            tuple(data["intercept"]), tuple(data["slope"]), tuple(data["sd"]), tuple(data["n"])
        )


class CityModel:
    """A trained model with its card; predicts distributions from feature rows."""

    def __init__(self, booster: CatBoostClassifier, card: ModelCard) -> None:
        self.booster = booster
        self.card = card
        self.offsets = np.asarray(card.offsets, dtype=np.int64)
        self.prior = AnchorPrior.from_dict(card.prior)
        self._class_order = self._check_classes()

    def _check_classes(self) -> npt.NDArray[np.int64]:
        classes = np.asarray([int(c) for c in self.booster.classes_], dtype=np.int64)
        if sorted(classes.tolist()) != sorted(self.offsets.tolist()):
            raise ModelCardError(
                f"the model's classes {classes.tolist()} are not the card's offsets "
                f"{self.offsets.tolist()}"
            )
        return np.asarray([classes.tolist().index(o) for o in self.offsets], dtype=np.int64)

    @property
    def city(self) -> str:
        return self.card.city

    @property
    def features(self) -> tuple[str, ...]:
        return self.card.features

    def input_matrix(self, frame: pl.DataFrame) -> FloatArray:
        """The model's inputs per features row: the features, then :data:`PRIOR_COLUMNS`."""
        return feature_matrix(frame, [*self.features, *PRIOR_COLUMNS])

    def inputs(self, row: pl.DataFrame) -> FloatArray:
        """The input vector of one features row (see :meth:`input_matrix`)."""
        x = self.input_matrix(row)
        if x.shape[0] != 1:
            raise ValueError(f"one features row expected, got {x.shape[0]}")
        return x[0]

    def offset_probs(self, inputs: FloatArray) -> FloatArray:
        """Probabilities over the card's offsets (n, K) from an input matrix."""
        n = len(self.features)
        if np.isnan(inputs[:, n]).any():
            raise ValueError("no anchor: a request has no forecast and no climatology")
        raw = np.asarray(
            self.booster.predict(inputs[:, :n], prediction_type="RawFormulaVal"),
            dtype=np.float64,
        ).reshape(inputs.shape[0], -1)[:, self._class_order]
        logits = raw + self.prior.logits(self.offsets, inputs[:, n:], self.card.floor_slack_f)
        return (1.0 - UNIFORM_MIX) * _softmax(logits) + UNIFORM_MIX / self.offsets.size

    def predict_grid(self, frame: pl.DataFrame) -> FloatArray:
        """Rows on the common grid for a features frame."""
        x = self.input_matrix(frame)
        base = self.prior.base(x[:, len(self.features) :])
        grid = offsets_to_grid(base, self.offsets, self.offset_probs(x))
        return apply_floor(grid, frame, self.card.floor_slack_f)

    def predict_inputs(self, inputs: FloatArray) -> IntDistribution:
        """The distribution for an input vector from :meth:`inputs`."""
        n = len(self.features)
        obs = inputs[n + 1]
        probs = self.offset_probs(inputs[None, :])[0]
        base = int(self.prior.base(inputs[None, n:])[0])
        dist = IntDistribution(base + int(self.offsets[0]), probs)
        if not np.isnan(obs):
            dist = dist.floor_at(float(obs), self.card.floor_slack_f)
        return dist

    # --- persistence ----------------------------------------------------------------------

    def save(self, directory: Path) -> Path:
        """Write ``model.cbm``, ``card.json`` and ``card.md``; returns the directory."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MODEL_FILE
        self.booster.save_model(str(path), format="cbm")
        self.card = replace(
            self.card,
            model_file=MODEL_FILE,
            model_sha256=file_sha256(path),
            model_bytes=path.stat().st_size,
        )
        (directory / CARD_JSON).write_text(self.card.to_json(), encoding="utf-8")
        (directory / CARD_MD).write_text(self.card.to_markdown(), encoding="utf-8")
        return directory

    def with_holdout(self, holdout: Mapping[str, Any]) -> CityModel:
        return CityModel(self.booster, replace(self.card, holdout=dict(holdout)))


def load_city_model(
    city: str, models_dir: Path | None = None, expected_features: Sequence[str] | None = None
) -> CityModel:
    """Load ``models_dir/{city}``: the card must match the file's SHA-256 and the features
    (``expected_features`` if given; in any case features this code can build)."""
    directory = (models_dir or default_models_dir()) / get_city(city).code
    card_path = directory / CARD_JSON
    if not card_path.is_file():
        raise FileNotFoundError(f"no model card at {card_path}: train the {city} model first")
    card = ModelCard.from_json(card_path.read_text(encoding="utf-8"))
    model_path = directory / card.model_file
    if not model_path.is_file():
        raise FileNotFoundError(f"the card names {model_path}, which does not exist")
    digest = file_sha256(model_path)
    if digest != card.model_sha256:
        raise ModelIntegrityError(
            f"{model_path}: SHA-256 {digest} differs from the card's {card.model_sha256}; "
            "the file was changed after training: restore it or retrain"
        )
    buildable = set(feature_names(secondary=True, obs=True, market=True))
    unknown = [f for f in card.features if f not in buildable]
    if unknown:
        raise ModelCardError(f"{card_path}: features this code does not build: {unknown}")
    if expected_features is not None and tuple(expected_features) != card.features:
        missing = [f for f in expected_features if f not in card.features]
        extra = [f for f in card.features if f not in expected_features]
        raise ModelCardError(
            f"{card_path}: the card's features differ from the ones expected "
            f"(missing {missing}, extra {extra}, or another order): retrain the model"
        )
    booster = CatBoostClassifier()
    booster.load_model(str(model_path), format="cbm")
    if list(booster.feature_names_) != list(card.features):
        raise ModelCardError(
            f"{model_path}: the model's features {booster.feature_names_} are not the card's"
        )
    if card.city != get_city(city).code:
        raise ModelCardError(f"{card_path}: a card for {card.city}, not {city}")
    return CityModel(booster, card)


# --- training --------------------------------------------------------------------------------


def time_ordered_split(days: Sequence[dt.date], valid_fraction: float) -> dt.date:
    """The first climate day of the validation tail: the last ``valid_fraction`` of days."""
    ordered = sorted(set(days))
    if len(ordered) < 10:
        raise ValueError(f"too few training days for a time-ordered split: {len(ordered)}")
    return ordered[max(1, int(len(ordered) * (1.0 - valid_fraction)))]


def effective_offset_range(offsets: npt.NDArray[np.int64], wanted: int) -> int:
    """The largest ``r <= wanted`` such that every offset in ``[-r, r]`` occurs in the training
    labels (CatBoost cannot keep a class it never saw); labels are then clipped to it."""
    seen = set(np.unique(offsets).tolist())
    r = wanted
    while r > 1 and not all(k in seen for k in range(-r, r + 1)):
        r -= 1
    return r


def fit_city_model(
    city: str,
    train: pl.DataFrame,
    *,
    features: Sequence[str],
    trained_on: str,
    data_source: str,
    variant: str,
    floor_slack_f: int,
    params: HyperParams | None = None,
) -> CityModel:
    """Fit on a features frame with the outcome ``high_f``; early stopping on the last
    ``valid_fraction`` of the climate days (time-ordered)."""
    params = params or HyperParams()
    rows = train.filter(pl.col("high_f").is_not_null() & pl.col("anchor").is_not_null()).sort(
        "climate_day", "as_of_utc"
    )
    days = rows["climate_day"].to_list()
    split = time_ordered_split(days, params.valid_fraction)
    fit = rows.filter(pl.col("climate_day") < split)
    valid = rows.filter(pl.col("climate_day") >= split)
    names = list(features)
    x_fit = feature_matrix(fit, [*names, *PRIOR_COLUMNS])
    x_valid = feature_matrix(valid, [*names, *PRIOR_COLUMNS])
    y_fit, y_valid = fit["high_f"].to_numpy(), valid["high_f"].to_numpy()
    prior = AnchorPrior.fit(x_fit[:, len(names) :], y_fit.astype(np.float64))
    clip = effective_offset_range(
        (y_fit - prior.base(x_fit[:, len(names) :])).astype(np.int64), params.offset_range_f
    )
    offsets = np.arange(-clip, clip + 1, dtype=np.int64)

    def pool(x: FloatArray, y: npt.NDArray[np.int64]) -> Pool:
        cols = x[:, len(names) :]
        label = np.clip(y - prior.base(cols), -clip, clip).astype(np.int64)
        baseline = prior.logits(offsets, cols, floor_slack_f)
        return Pool(x[:, : len(names)], label, feature_names=names, baseline=baseline)

    booster = CatBoostClassifier(
        loss_function="MultiClass",
        class_names=offsets.tolist(),
        depth=params.depth,
        iterations=params.iterations,
        learning_rate=params.learning_rate,
        l2_leaf_reg=params.l2_leaf_reg,
        border_count=params.border_count,
        bootstrap_type=params.bootstrap_type,
        leaf_estimation_iterations=params.leaf_estimation_iterations,
        random_seed=params.seed,
        thread_count=params.threads,
        early_stopping_rounds=params.early_stopping_rounds,
        verbose=0,
        allow_writing_files=False,
    )
    started = time.monotonic()
    booster.fit(pool(x_fit, y_fit), eval_set=pool(x_valid, y_valid))
    seconds = time.monotonic() - started
    card = ModelCard(
        city=get_city(city).code,
        variant=variant,
        trained_on=trained_on,
        data_source=data_source,
        data_window=(str(min(days)), str(max(days))),
        n_train_days=len(set(days)),
        n_train_rows=rows.height,
        n_valid_rows=valid.height,
        features=tuple(names),
        hyperparameters=asdict(params),
        offsets=tuple(offsets.tolist()),
        anchor=ANCHOR_DESCRIPTION,
        floor_slack_f=floor_slack_f,
        prior=prior.to_dict(),
        best_iteration=int(booster.get_best_iteration() or 0),
        training_seconds=round(seconds, 2),
        created_utc=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    return CityModel(booster, card)


# --- inference with a cache ------------------------------------------------------------------


class InferenceCache:
    """LRU cache of distributions keyed by (city, climate day, inputs hash)."""

    def __init__(self, max_entries: int = 65_536) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, dt.date, bytes], IntDistribution] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def inputs_hash(model_sha256: str, inputs: FloatArray) -> bytes:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(model_sha256.encode())
        digest.update(np.ascontiguousarray(inputs, dtype=np.float64).tobytes())
        return digest.digest()

    def get(self, key: tuple[str, dt.date, bytes]) -> IntDistribution | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(self, key: tuple[str, dt.date, bytes], value: IntDistribution) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class Predictor:
    """A city's model, its feature builder and a cache: ``predict(day, as_of)``."""

    def __init__(
        self, model: CityModel, builder: FeatureBuilder, cache: InferenceCache | None = None
    ) -> None:
        if builder.city.code != model.city:
            raise ValueError(f"a {model.city} model with {builder.city.code} sources")
        self.model = model
        self.builder = builder
        self.cache = cache if cache is not None else InferenceCache()

    def inputs(self, day: dt.date, as_of: dt.datetime) -> FloatArray:
        return self.model.inputs(self.builder.build(requests_frame([day], [as_of])))

    def predict_inputs(self, day: dt.date, inputs: FloatArray) -> IntDistribution:
        key = (
            self.model.city,
            day,
            InferenceCache.inputs_hash(self.model.card.model_sha256, inputs),
        )
        found = self.cache.get(key)
        if found is None:
            found = self.model.predict_inputs(inputs)
            self.cache.put(key, found)
        return found

    def predict(self, day: dt.date, as_of: dt.datetime) -> IntDistribution:
        """The distribution of ``day``'s high as known at ``as_of``."""
        return self.predict_inputs(day, self.inputs(day, as_of))


__all__ = [
    "CityModel",
    "HyperParams",
    "InferenceCache",
    "ModelCard",
    "ModelCardError",
    "ModelIntegrityError",
    "Predictor",
    "default_models_dir",
    "fit_city_model",
    "load_city_model",
]
