"""Training and evaluation on the real history, and the models shipped in ``models/``.

:func:`evaluate` trains each city with real history (the KNYC CLI highs with the NDFD and
Open-Meteo forecast issues) on the climate days before a cut date and scores the days from
it on: the model, the Gaussian baseline (fitted on the same training rows) and the
climatology, by city and lead-time bucket (CRPS, MAE of the median, Brier/log loss on
Kalshi-like brackets, PIT histogram). Where recorded KXHIGHNY books exist it also scores the
market-implied probabilities, the model and a blend on the *markets' own brackets*, at the
same snapshot times, against the CLI outcomes: the tick logs at 16:00 ET the day before,
08:00 and 13:00 ET on the day (the times of the design note's check), and every order-book
summary capture before the climate day ended.

:func:`train_city_model` is the ``weather-edge train`` entry point: real history where the
data directory has it, else simulated weather (``weather_edge.sim.weather``), saved with a
card that says which.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl

from weather_edge.forecasting import scores
from weather_edge.forecasting.baselines import (
    LEAD_LABELS,
    ClimatologyBaseline,
    GaussianBaseline,
    blend,
    lead_bucket,
    market_mid,
)
from weather_edge.forecasting.distribution import GRID_LO, bracket_matrix
from weather_edge.forecasting.features import (
    OBS_SCHEMA,
    CitySources,
    FeatureBuilder,
    check_no_lookahead,
    feature_names,
    requests_frame,
    snapshot_requests,
)
from weather_edge.forecasting.history import discover, load_history
from weather_edge.forecasting.model import (
    CityModel,
    HyperParams,
    default_models_dir,
    fit_city_model,
)
from weather_edge.money import price_to_probability
from weather_edge.weather.cities import get_city

FloatArray = npt.NDArray[np.float64]

DEFAULT_CUT = dt.date(2025, 12, 1)
# Snapshot times for training and scoring: every 3 h over the 48 h before the day ends.
TRAIN_LEADS_H = tuple(1.5 + 3.0 * i for i in range(16))
# The tick-log snapshots of the design note: (label, days relative to the climate day, ET hour)
TICK_SNAPSHOTS = (("16:00 ET day before", -1, 16), ("08:00 ET", 0, 8), ("13:00 ET", 0, 13))
SYNTHETIC_HALF_WIDTH_F = 4  # Kalshi-like layout: tails beyond ±4 °F, four 2 °F brackets
REAL_FLOOR_SLACK_F = 1  # real observations would be °C-rounded METARs (none in the data)


def real_sources(data_dir: str | Path, city: str) -> CitySources:
    """A city's real history as feature sources (no station observations in the data)."""
    history = load_history(data_dir, city)
    return CitySources(
        city=history.city,
        cli=history.cli,
        daily=history.daily,
        ndfd=history.ndfd,
        obs=pl.DataFrame(schema=OBS_SCHEMA),
        description=f"real history in {Path(data_dir)}",
    )


def labelled_snapshots(
    builder: FeatureBuilder,
    days: Sequence[dt.date] | None = None,
    leads_h: Sequence[float] = TRAIN_LEADS_H,
) -> pl.DataFrame:
    """Features at each lead time for each day with a CLI high, joined to the outcome; only
    snapshots with a forecast (primary or secondary) to go on."""
    cli = builder.sources.cli.select("climate_day", "high_f")
    chosen = cli["climate_day"].to_list() if days is None else list(days)
    requests = snapshot_requests(builder.city.code, chosen, leads_h)
    return (
        builder.build(requests)
        .filter(pl.col("fc_max").is_not_null() | pl.col("nd_max").is_not_null())
        .join(cli, on="climate_day", how="inner")
    )


def _variant(sources: CitySources) -> tuple[str, tuple[str, ...]]:
    names = feature_names(secondary=sources.has_secondary, obs=sources.has_obs)
    kind = (
        "forecast"
        + ("+ndfd" if sources.has_secondary else "")
        + ("+obs" if sources.has_obs else "")
    )
    return kind, names


# --- scoring -------------------------------------------------------------------------------


def synthetic_brackets(center: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Kalshi-like brackets around an integer centre per row (known at the snapshot: the
    rounded latest forecast): ``<= c-5``, ``[c-4, c-3]``, ``[c-2, c-1]``, ``[c, c+1]``,
    ``[c+2, c+3]``, ``>= c+4``. Returns (low, high) matrices (n, 6), NaN for open ends."""
    c = np.asarray(center, dtype=np.float64).reshape(-1, 1)
    w = SYNTHETIC_HALF_WIDTH_F
    lows = np.array([np.nan, -w, -w + 2, 0, 2, w], dtype=np.float64)[None, :] + c
    highs = np.array([-w - 1, -w + 1, -1, 1, 3, np.nan], dtype=np.float64)[None, :] + c
    return lows, highs


def _event_probs(grid: FloatArray, lows: FloatArray, highs: FloatArray) -> FloatArray:
    n, k = lows.shape
    rows = np.repeat(grid, k, axis=0)
    return bracket_matrix(rows, GRID_LO, lows.reshape(-1), highs.reshape(-1)).reshape(n, k)


def _bracket_outcomes(y: FloatArray, lows: FloatArray, highs: FloatArray) -> FloatArray:
    yy = y.reshape(-1, 1)
    wins = (np.isnan(lows) | (yy >= lows)) & (np.isnan(highs) | (yy <= highs))
    return wins.astype(np.float64)


def score_rows(grid: FloatArray, y: npt.ArrayLike, center: npt.ArrayLike) -> dict[str, FloatArray]:
    """Per-row scores of distributions on the grid: CRPS, MAE of the median, and mean Brier
    / log loss and RPS over the synthetic brackets around ``center``."""
    outcome = np.asarray(y, dtype=np.int64)
    lows, highs = synthetic_brackets(center)
    probs = _event_probs(grid, lows, highs)
    wins = _bracket_outcomes(outcome.astype(np.float64), lows, highs)
    return {
        "crps": scores.crps_integer(grid, GRID_LO, outcome),
        "mae": scores.mae_of_median(grid, GRID_LO, outcome),
        "brier": scores.brier(probs, wins).mean(axis=1),
        "log_loss": scores.log_loss(probs, wins).mean(axis=1),
        "rps": scores.rps(probs, wins.argmax(axis=1)),
    }


def lead_table(city: str, frame: pl.DataFrame, grids: Mapping[str, FloatArray]) -> pl.DataFrame:
    """Scores by predictor and lead bucket (and all leads), one row each."""
    y = frame["high_f"].to_numpy()
    center = np.floor(frame["anchor"].to_numpy() + 0.5)
    bucket = lead_bucket(frame["lead_h"].to_numpy())
    rows: list[dict[str, Any]] = []
    for name, grid in grids.items():
        per_row = score_rows(grid, y, center)
        for b, label in [(-1, "all"), *enumerate(LEAD_LABELS)]:
            mask = np.ones_like(bucket, dtype=bool) if b < 0 else bucket == b
            if not mask.any():
                continue
            rows.append(
                {"city": city, "lead": label, "predictor": name, "n": int(mask.sum())}
                | {k: float(v[mask].mean()) for k, v in per_row.items()}
            )
    return pl.DataFrame(rows)


def _holdout_card(table: pl.DataFrame, description: str) -> dict[str, Any]:
    wide = table.pivot(on="predictor", index=["lead", "n"], values="crps")
    by_lead = [
        {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
        for row in wide.rename(
            {c: f"crps_{c}" for c in wide.columns if c not in ("lead", "n")}
        ).to_dicts()
    ]
    return {"description": description, "by_lead": by_lead}


# --- training ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainResult:
    model: CityModel
    path: Path | None
    table: pl.DataFrame  # holdout scores by lead bucket (empty without a holdout)


def _fit_and_score(
    city: str,
    sources: CitySources,
    frame: pl.DataFrame,
    cut: dt.date | None,
    *,
    trained_on: str,
    params: HyperParams | None,
    floor_slack_f: int,
) -> tuple[CityModel, pl.DataFrame, dict[str, FloatArray], pl.DataFrame]:
    """Fit on the days before ``cut``; score model, Gaussian and climatology after it."""
    train = frame if cut is None else frame.filter(pl.col("climate_day") < cut)
    holdout = frame.head(0) if cut is None else frame.filter(pl.col("climate_day") >= cut)
    variant, names = _variant(sources)
    model = fit_city_model(
        city,
        train,
        features=names,
        trained_on=trained_on,
        data_source=sources.description,
        variant=variant,
        floor_slack_f=floor_slack_f,
        params=params,
    )
    holdout = holdout.filter(pl.col("anchor").is_not_null())
    grids: dict[str, FloatArray] = {}
    table = pl.DataFrame()
    if holdout.height:
        gaussian = GaussianBaseline.fit(train)
        grids = {
            "model": model.predict_grid(holdout),
            "gaussian": gaussian.predict_grid(holdout, floor_slack_f),
            "climatology": ClimatologyBaseline(sources.cli).predict_grid(holdout, floor_slack_f),
        }
        table = lead_table(get_city(city).code, holdout, grids)
        model = model.with_holdout(
            _holdout_card(
                table,
                f"CRPS (°F) on {holdout['climate_day'].n_unique()} held-out climate days from "
                f"{cut} ({holdout.height} snapshots every 3 h over the 48 h before each day "
                "ended); the Gaussian baseline was fitted on the same training rows.",
            )
        )
    return model, holdout, grids, table


def train_city_model(
    city: str,
    data_dir: str | Path | None = None,
    *,
    cut_date: dt.date | None = DEFAULT_CUT,
    models_dir: Path | None = None,
    params: HyperParams | None = None,
    sim_seed: int = 0,
    save: bool = True,
) -> TrainResult:
    """Train one city's model and (by default) save it to ``models_dir/{city}``.

    With real history for the city under ``data_dir`` it trains on the days before
    ``cut_date`` and scores the rest on the card; otherwise it trains on simulated weather
    (``SimulatedWeather(sim_seed)``), holding out the last simulated days.
    """
    code = get_city(city).code
    if data_dir is not None and code in discover(data_dir).cities():
        sources = real_sources(data_dir, code)
        frame = labelled_snapshots(FeatureBuilder(sources))
        model, _, _, table = _fit_and_score(
            code,
            sources,
            frame,
            cut_date,
            trained_on=(
                f"real history: {get_city(code).station_id} CLI highs with the NDFD and "
                "Open-Meteo (Open-Meteo.com, CC BY 4.0) forecast issues"
                + (f", climate days before {cut_date}" if cut_date else "")
            ),
            params=params,
            floor_slack_f=REAL_FLOOR_SLACK_F,
        )
    else:
        model, table = train_simulated_city_model(code, seed=sim_seed, params=params)
    path = model.save((models_dir or default_models_dir()) / code) if save else None
    return TrainResult(model, path, table)


def train_simulated_city_model(
    city: str,
    *,
    seed: int = 0,
    days: int = 730,
    holdout_days: int = 120,
    params: HyperParams | None = None,
) -> tuple[CityModel, pl.DataFrame]:
    """Train on ``days`` climate days of simulated weather, score the last ``holdout_days``."""
    from weather_edge.forecasting.simulated import SIM_FLOOR_SLACK_F, simulated_sources

    end = dt.date(2026, 1, 1)
    start = end - dt.timedelta(days=days)
    sources = simulated_sources(city, seed=seed, start=start, end=end)
    frame = labelled_snapshots(FeatureBuilder(sources))
    cut = end - dt.timedelta(days=holdout_days)
    model, _, _, table = _fit_and_score(
        city,
        sources,
        frame,
        cut,
        trained_on=(
            f"simulated weather only (weather_edge.sim.weather.SimulatedWeather(seed={seed}), "
            f"climate days {start} to {cut - dt.timedelta(days=1)}); no real data for this city"
        ),
        params=params,
        floor_slack_f=SIM_FLOOR_SLACK_F,
    )
    return model, table


def train_all_models(
    data_dir: str | Path | None,
    models_dir: Path | None = None,
    *,
    sim_seed: int = 0,
    echo: Callable[[str], None] = print,
) -> dict[str, TrainResult]:
    """Train and save every registry city: real history where ``data_dir`` has it."""
    from weather_edge.weather.cities import city_codes

    results = {}
    for code in city_codes():
        result = train_city_model(code, data_dir, models_dir=models_dir, sim_seed=sim_seed)
        echo(f"train {code}: {result.model.card.trained_on} -> {result.path}")
        results[code] = result
    return results


# --- the market comparison -------------------------------------------------------------------


def _et_instant(zone: ZoneInfo, day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=zone).astimezone(dt.UTC)


def market_snapshots(series_dir: Path, city: str, outcomes: pl.DataFrame) -> pl.DataFrame:
    """Every (snapshot, market) of the recorded books for days with a CLI outcome: columns
    ``source``, ``label``, ``event_ticker``, ``climate_day``, ``as_of_utc``,
    ``market_ticker``, ``low_f``/``high_f`` (NaN open), ``mid``, ``won``."""
    from weather_edge.kalshi.recordings import read_orderbook_summaries, read_ticks, with_brackets
    from weather_edge.kalshi.tickers import parse_event_ticker

    parts: list[pl.DataFrame] = []
    zone = get_city(city).zone
    known = set(outcomes["climate_day"].to_list())
    if any((series_dir / "ticks").glob("market_data_*.csv.gz")):
        ticks = with_brackets(read_ticks(series_dir / "ticks"))
        wanted = []
        for event in ticks["event_ticker"].unique().to_list():
            day = parse_event_ticker(event).event_date
            if day not in known:
                continue
            for label, offset, hour in TICK_SNAPSHOTS:
                t = _et_instant(zone, day + dt.timedelta(days=offset), hour)
                wanted.append(
                    {"event_ticker": event, "label": label, "as_of_utc": t, "climate_day": day}
                )
        snaps = pl.DataFrame(wanted).with_columns(pl.col("as_of_utc").dt.cast_time_unit("us"))
        markets = ticks.select("event_ticker", "market_ticker").unique()
        grid = snaps.join(markets, on="event_ticker").sort("as_of_utc")
        joined = grid.join_asof(
            ticks.sort("ts_utc"),
            left_on="as_of_utc",
            right_on="ts_utc",
            by="market_ticker",
            strategy="backward",
            check_sortedness=False,
        ).filter(pl.col("ts_utc").is_not_null())
        parts.append(_market_rows(joined, "ticks", "ts_utc"))
    if any(series_dir.glob("orderbook_summary_*.csv")):
        summaries = with_brackets(read_orderbook_summaries(series_dir))
        summaries = summaries.with_columns(
            pl.col("event_ticker")
            .map_elements(lambda e: parse_event_ticker(e).event_date, return_dtype=pl.Date)
            .alias("climate_day"),
            pl.col("fetched_at").alias("as_of_utc"),
            pl.lit("summary capture").alias("label"),
        ).filter(pl.col("climate_day").is_in(list(known)))
        parts.append(_market_rows(summaries, "orderbook summaries", "fetched_at"))
    if not parts:
        return pl.DataFrame()
    rows = pl.concat(parts, how="vertical_relaxed")
    check_no_lookahead(rows)
    rows = rows.join(outcomes.select("climate_day", "high_f"), on="climate_day")
    end = rows.select(_day_end_utc(city, rows["climate_day"]).alias("end"))["end"]
    return (
        rows.with_columns(end.alias("_end"))
        .filter(pl.col("as_of_utc") < pl.col("_end"))
        .with_columns(
            (
                (pl.col("low_f").is_nan() | (pl.col("high_f") >= pl.col("low_f")))
                & (
                    pl.col("high_f_bracket").is_nan()
                    | (pl.col("high_f") <= pl.col("high_f_bracket"))
                )
            ).alias("won")
        )
        .drop("_end")
    )


def _day_end_utc(city: str, days: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"city": [get_city(city).code] * days.len(), "climate_day": days})
    from weather_edge.forecasting.history import climate_day_end

    return frame.select(climate_day_end(frame).alias("end"))["end"]


def _market_rows(frame: pl.DataFrame, source: str, seen_at: str) -> pl.DataFrame:
    """Rows of one recording with the bracket, the YES mid and when the book was seen."""
    mids = [
        market_mid(
            None if bid is None else price_to_probability(bid),
            None if ask is None else price_to_probability(ask),
        )
        for bid, ask in zip(
            frame["yes_bid_cc"].to_list(), frame["yes_ask_cc"].to_list(), strict=True
        )
    ]
    return frame.select(
        pl.lit(source).alias("source"),
        "label",
        "event_ticker",
        "climate_day",
        pl.col("as_of_utc").dt.cast_time_unit("us"),
        pl.col(seen_at).dt.cast_time_unit("us").alias("src_mkt_utc"),
        "market_ticker",
        pl.col("bracket_low_f").cast(pl.Float64).fill_null(float("nan")).alias("low_f"),
        pl.col("bracket_high_f").cast(pl.Float64).fill_null(float("nan")).alias("high_f_bracket"),
        pl.Series("mid", mids, dtype=pl.Float64),
    )


_BRACKET_ORDER = pl.col("low_f").fill_nan(float("-inf"))  # the lower tail (open: NaN) first


def score_markets(
    rows: pl.DataFrame,
    builder: FeatureBuilder,
    model: CityModel,
    gaussian: GaussianBaseline,
    slack_f: int,
) -> pl.DataFrame:
    """Per (snapshot, market): market, model, blend and Gaussian probabilities and scores."""
    snaps = rows.select("climate_day", "as_of_utc").unique().sort("as_of_utc", "climate_day")
    feats = builder.build(
        requests_frame(snaps["climate_day"].to_list(), snaps["as_of_utc"].to_list())
    )
    model_grid = model.predict_grid(feats)
    gauss_grid = gaussian.predict_grid(feats, slack_f)
    index = {
        (d, t): i
        for i, (d, t) in enumerate(
            zip(feats["climate_day"].to_list(), feats["as_of_utc"].to_list(), strict=True)
        )
    }
    rows = rows.sort("as_of_utc", "event_ticker", _BRACKET_ORDER)
    row_idx = np.array(
        [
            index[(d, t)]
            for d, t in zip(rows["climate_day"].to_list(), rows["as_of_utc"].to_list(), strict=True)
        ]
    )
    lows, highs = rows["low_f"].to_numpy(), rows["high_f_bracket"].to_numpy()
    p_model = bracket_matrix(model_grid[row_idx], GRID_LO, lows, highs)
    p_gauss = bracket_matrix(gauss_grid[row_idx], GRID_LO, lows, highs)
    out = rows.with_columns(
        pl.Series("p_model", p_model),
        pl.Series("p_gaussian", p_gauss),
        pl.Series("lead_h", feats["lead_h"].to_numpy()[row_idx]),
    )
    # Normalize the mids within each (event, snapshot): the market-implied probabilities.
    out = out.with_columns(
        (pl.col("mid") / pl.col("mid").sum().over("event_ticker", "as_of_utc")).alias("p_market")
    )
    p_market = out["p_market"].to_numpy()
    return out.with_columns(pl.Series("p_blend", blend(p_model, p_market)))


def market_table(scored: pl.DataFrame) -> pl.DataFrame:
    """Brier, log loss (per market) and RPS (per event) by source and snapshot label."""
    if scored.is_empty():
        return pl.DataFrame()
    won = scored["won"].cast(pl.Float64).to_numpy()
    cols = {}
    for name in ("market", "model", "blend", "gaussian"):
        p = scored[f"p_{name}"].to_numpy()
        cols[f"brier_{name}"] = scores.brier(p, won)
        cols[f"log_loss_{name}"] = scores.log_loss(p, won)
    per_market = scored.with_columns([pl.Series(k, v) for k, v in cols.items()])
    events = _event_rps(scored)
    rows = []
    labels = set(zip(scored["source"].to_list(), scored["label"].to_list(), strict=True))
    groups = [("all", "all"), *sorted(labels)]
    for source, label in groups:
        sel = (
            per_market
            if source == "all"
            else per_market.filter((pl.col("source") == source) & (pl.col("label") == label))
        )
        ev = (
            events
            if source == "all"
            else events.filter((pl.col("source") == source) & (pl.col("label") == label))
        )
        row: dict[str, Any] = {
            "source": source,
            "snapshot": label,
            "events": ev.height,
            "markets": sel.height,
        }
        for name in ("market", "model", "blend", "gaussian"):
            row[f"brier_{name}"] = float(sel[f"brier_{name}"].mean())  # type: ignore[arg-type]
        for name in ("market", "model", "blend", "gaussian"):
            row[f"log_loss_{name}"] = float(sel[f"log_loss_{name}"].mean())  # type: ignore[arg-type]
        for name in ("market", "model", "blend", "gaussian"):
            row[f"rps_{name}"] = float(ev[f"rps_{name}"].mean())  # type: ignore[arg-type]
        rows.append(row)
    return pl.DataFrame(rows)


def _event_rps(scored: pl.DataFrame) -> pl.DataFrame:
    out = []
    for key, event in scored.sort(_BRACKET_ORDER).group_by(
        ["source", "label", "event_ticker", "as_of_utc"], maintain_order=True
    ):
        won = event["won"].to_numpy()
        if won.sum() != 1:
            continue
        row: dict[str, Any] = {"source": key[0], "label": key[1]}
        for name in ("market", "model", "blend", "gaussian"):
            p = event[f"p_{name}"].to_numpy()
            row[f"rps_{name}"] = float(scores.rps(p[None, :], [int(won.argmax())])[0])
        out.append(row)
    return pl.DataFrame(out)


# --- evaluate --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationResult:
    summary: str
    forecast_table: pl.DataFrame
    market_table: pl.DataFrame
    files: tuple[Path, ...]
    model_beats_gaussian: bool | None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return self.summary


def _fmt(value: float | None) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:.3f}")
    )


def _pick(table: pl.DataFrame, predictor: str, column: str) -> float | None:
    if table.is_empty():
        return None
    sel = table.filter((pl.col("lead") == "all") & (pl.col("predictor") == predictor))
    if sel.is_empty():
        return None
    weights = sel["n"].to_numpy().astype(np.float64)
    return float(np.average(sel[column].to_numpy(), weights=weights))


def evaluate(
    data_dir: str | Path,
    cut_date: dt.date = DEFAULT_CUT,
    out_dir: str | Path = Path("evaluation"),
    *,
    params: HyperParams | None = None,
) -> EvaluationResult:
    """Train before ``cut_date`` on the real history, score from it; write
    ``forecast_scores.csv``, ``market_scores.csv``, ``market_snapshots.csv`` and
    ``evaluation.md`` to ``out_dir``."""
    data_dir, out = Path(data_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    forecast_tables, market_tables, scored_all, raw_tables = [], [], [], []
    notes: list[str] = [
        "The market variant of the features (moments of the market-implied distribution, "
        "features.with_market_features) is not trained: books exist on 19 settled days only. "
        "The model and the market meet in the blend instead.",
    ]
    pit_lines: list[str] = []
    for city in discover(data_dir).cities():
        sources = real_sources(data_dir, city)
        builder = FeatureBuilder(sources)
        frame = labelled_snapshots(builder)
        model, holdout, grids, table = _fit_and_score(
            city,
            sources,
            frame,
            cut_date,
            trained_on="evaluation run",
            params=params,
            floor_slack_f=REAL_FLOOR_SLACK_F,
        )
        if table.is_empty():
            notes.append(f"{city}: no climate days with an outcome from {cut_date}")
            continue
        forecast_tables.append(table)
        raw_tables.append(raw_forecast_table(city, frame))
        pit_lines += _calibration_lines(city, holdout, grids)
        series_dir = data_dir / "kalshi" / get_city(city).series_ticker
        if series_dir.is_dir():
            train = frame.filter(pl.col("climate_day") < cut_date)
            rows = market_snapshots(series_dir, city, sources.cli)
            if not rows.is_empty():
                scored = score_markets(
                    rows, builder, model, GaussianBaseline.fit(train), REAL_FLOOR_SLACK_F
                ).with_columns(pl.lit(city).alias("city"))
                scored_all.append(scored)
                market_tables.append(market_table(scored).with_columns(pl.lit(city).alias("city")))
    forecast = pl.concat(forecast_tables) if forecast_tables else pl.DataFrame()
    markets = pl.concat(market_tables) if market_tables else pl.DataFrame()
    model_crps, gauss_crps = _pick(forecast, "model", "crps"), _pick(forecast, "gaussian", "crps")
    market_all = markets.filter(pl.col("source") == "all") if not markets.is_empty() else markets

    def brier(name: str) -> float | None:
        if market_all.is_empty():
            return None
        w = market_all["markets"].to_numpy().astype(np.float64)
        return float(np.average(market_all[f"brier_{name}"].to_numpy(), weights=w))

    summary = (
        f"evaluate: model crps {_fmt(model_crps)}, gaussian crps {_fmt(gauss_crps)}, "
        f"model brier {_fmt(brier('model'))}, market brier {_fmt(brier('market'))}, "
        f"blend brier {_fmt(brier('blend'))}"
    )
    beats = None if model_crps is None or gauss_crps is None else model_crps < gauss_crps
    files = [out / "forecast_scores.csv", out / "market_scores.csv", out / "evaluation.md"]
    (forecast if not forecast.is_empty() else pl.DataFrame({"note": ["no data"]})).write_csv(
        files[0]
    )
    (markets if not markets.is_empty() else pl.DataFrame({"note": ["no data"]})).write_csv(files[1])
    if scored_all:
        files.append(out / "market_snapshots.csv")
        pl.concat(scored_all).write_csv(files[-1])
    files[2].write_text(
        _markdown(
            summary,
            cut_date,
            data_dir,
            forecast,
            markets,
            beats,
            pit_lines,
            notes,
            pl.concat(raw_tables) if raw_tables else pl.DataFrame(),
        ),
        encoding="utf-8",
    )
    return EvaluationResult(summary, forecast, markets, tuple(files), beats, tuple(notes))


def raw_forecast_table(city: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The raw primary forecast (latest issue's daily max) against the CLI high, by lead
    bucket, over every snapshot row: bias (CLI − forecast), MAE, σ and σ/√π (the CRPS of a
    calibrated Gaussian) -- the design note's table, recomputed."""
    rows = frame.filter(pl.col("fc_max").is_not_null())
    err = rows["high_f"].to_numpy() - rows["fc_max"].to_numpy()
    bucket = lead_bucket(rows["lead_h"].to_numpy())
    out = []
    for b, label in enumerate(LEAD_LABELS):
        e = err[bucket == b]
        if e.size > 1:
            sd = float(e.std(ddof=1))
            out.append(
                {
                    "city": city,
                    "lead": label,
                    "n": int(e.size),
                    "bias": float(e.mean()),
                    "mae": float(np.abs(e).mean()),
                    "sd": sd,
                    "gaussian_crps": sd / math.sqrt(math.pi),
                }
            )
    return pl.DataFrame(out)


def _calibration_lines(
    city: str, holdout: pl.DataFrame, grids: Mapping[str, FloatArray]
) -> list[str]:
    """PIT histograms of every predictor and the model's reliability on the brackets."""
    y = holdout["high_f"].to_numpy()
    lines = []
    for name, grid in grids.items():
        pit = scores.pit_histogram(scores.pit_values(grid, GRID_LO, y, rng=0))
        lines.append(f"- {city} {name} PIT histogram (10 bins of [0, 1]): {pit.tolist()}")
    lows, highs = synthetic_brackets(np.floor(holdout["anchor"].to_numpy() + 0.5))
    probs = _event_probs(grids["model"], lows, highs)
    rel = scores.reliability(probs.reshape(-1), _bracket_outcomes(y, lows, highs).reshape(-1))
    table = pl.DataFrame(
        {
            "bin": [f"{a:.1f}-{b:.1f}" for a, b in itertools.pairwise(rel.edges)],
            "n": rel.count,
            "mean forecast": rel.mean_forecast,
            "observed frequency": rel.observed_frequency,
        }
    )
    return [*lines, "", f"{city} model reliability on the brackets:", "", *_md_table(table), ""]


def _md_table(frame: pl.DataFrame, float_fmt: str = "{:.3f}") -> list[str]:
    if frame.is_empty():
        return ["(no data)"]
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    for row in frame.iter_rows():
        cells = [float_fmt.format(v) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _markdown(
    summary: str,
    cut: dt.date,
    data_dir: Path,
    forecast: pl.DataFrame,
    markets: pl.DataFrame,
    beats: bool | None,
    pit_lines: list[str],
    notes: list[str],
    raw: pl.DataFrame,
) -> str:
    lines = [
        "# Forecast evaluation on the real history",
        "",
        f"`{summary}`",
        "",
        f"Data: `{data_dir}`. Trained on the climate days before {cut}, scored from {cut} on; "
        "every feature built as of its snapshot time. Open-Meteo data by Open-Meteo.com "
        "(CC BY 4.0).",
        "",
        "## By city and lead time (hours before the climate day ends)",
        "",
        "CRPS and MAE in °F; Brier, log loss and RPS over six Kalshi-like brackets centred on "
        "the rounded latest forecast (known at the snapshot).",
        "",
    ]
    if not forecast.is_empty():
        lines += _md_table(
            forecast.pivot(
                on="predictor", index=["city", "lead", "n"], values=["crps", "mae", "brier"]
            )
        )
    lines += ["", "## Calibration", "", *pit_lines, ""]
    lines += [
        "## The raw forecast against the CLI (every snapshot row, training and holdout)",
        "",
        *_md_table(raw),
        "",
    ]
    if beats is False:
        lines += [
            "**The model does not beat the Gaussian baseline's CRPS on this holdout.** "
            "See the lead-time rows above for where it loses.",
            "",
        ]
    lines += [
        "## Against the market (the markets' own brackets, same snapshot times)",
        "",
        "Market = mids of best bid and ask (an empty side counting as 0 or 1), normalized "
        "over the event's markets; blend = 0.5 model + 0.5 market (weight fixed a priori).",
        "",
        *_md_table(markets),
        "",
    ]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)
