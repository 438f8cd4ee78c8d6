"""Trading under Dagster: would-trade decisions and shadow fills per climate day x city, and
the live execution job.

* ``would_trade_decisions``: the partition's recorded books replayed in time order; each
  market is decided at each of its book changes with the prediction known at that instant;
  every evaluation (trade or refusal, with its reason) lands in ``decisions`` (mode shadow).
* ``shadow_fills``: those would-trades filled by the paper exchange against the recorded
  book and trade tape (queue position, fees); ``orders``/``fills`` rows with mode shadow.
* ``live_execution`` (job): decides on the exchange's live books and places the would-trades
  through the live order manager. It acts only in ``mode: live``, with the key variables
  and the explicit confirmation; otherwise it fails before any order (naming what is
  missing), or in shadow mode says so and places nothing.

Parameters: :class:`TradingConfig` mirrors ``TradingParams``; the parameter file
(``params_file``, else ``$WEATHER_EDGE_TRADING_PARAMS``) is overlaid with every field set in
the run config. Every materialization and execution records the parameters' ``config_hash``
(and the whole snapshot) in its metadata. Both assets must run with the same parameters:
``shadow_fills`` reads the decisions of its own ``config_hash``.

The run's mode in the UI: the execution op tags its own run ``weather_edge/mode`` =
``shadow``/``live`` (``instance.add_run_tags``) as its first step, before any check can fail,
so the runs list shows and filters it; its output metadata repeats it. A schedule or sensor
launching the job should also pass ``tags={MODE_TAG: mode}`` so queued runs show it too.
Keys never pass through run config: they come from the ``kalshi`` resource (``EnvVar``).
"""

import asyncio
import os
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import BaseModel, Field

from weather_edge.defs.ingestion import partition_of
from weather_edge.defs.partitions import day_city_partitions
from weather_edge.defs.resources import WAREHOUSE_WRITER_POOL, KalshiResource, WarehouseResource
from weather_edge.kalshi.config import (
    ENV_ENVIRONMENT,
    ENV_KEY_ID,
    ENV_KEY_PATH,
    ENV_RATE_TIER,
    ENV_REST_URL,
    ENV_WS_URL,
)
from weather_edge.kalshi.errors import KalshiKeyError
from weather_edge.money import format_dollars
from weather_edge.trading import fastpath
from weather_edge.trading.config import (
    PARAMS_FILE_ENV,
    BookQuality,
    LiveTradingNotAllowed,
    MakerTiming,
    Staleness,
    TradingConfigError,
    TradingLimits,
    TradingMode,
    TradingParams,
)
from weather_edge.trading.execution import ClockSource, ExecutionError

MODE_TAG = "weather_edge/mode"
TRADING_GROUP = "trading"


def _doc(model: type[BaseModel], name: str, text: str = "") -> Any:
    """An optional config field documented with ``TradingParams``' own default."""
    info = model.model_fields[name]
    default = "every registry city" if info.default_factory else info.default
    return Field(default=None, description=f"{text}{' ' if text else ''}(default {default})")


class LimitsConfig(dg.Config):
    """Hard caps; dollars and contracts as decimal strings ("25", "12.50")."""

    max_dollars_per_trade: str | None = _doc(TradingLimits, "max_dollars_per_trade")
    max_daily_loss: str | None = _doc(TradingLimits, "max_daily_loss")
    max_contracts_per_city: str | None = _doc(TradingLimits, "max_contracts_per_city")
    max_contracts_per_event: str | None = _doc(TradingLimits, "max_contracts_per_event")
    max_total_exposure: str | None = _doc(TradingLimits, "max_total_exposure")


class MakerConfig(dg.Config):
    """How long a maker order rests before it turns into a taker order."""

    base_s: float | None = _doc(MakerTiming, "base_s")
    volume_weight: float | None = _doc(MakerTiming, "volume_weight")
    volume_reference_contracts: str | None = _doc(MakerTiming, "volume_reference_contracts")
    max_volume_factor: float | None = _doc(MakerTiming, "max_volume_factor")


class StalenessConfig(dg.Config):
    max_book_age_s: float | None = _doc(Staleness, "max_book_age_s")
    max_prediction_age_s: float | None = _doc(Staleness, "max_prediction_age_s")


class BookQualityConfig(dg.Config):
    min_top_contracts: str | None = _doc(BookQuality, "min_top_contracts")
    max_spread_cents: int | None = _doc(BookQuality, "max_spread_cents")


class TradingConfig(dg.Config):
    """The trading parameters of a run (``TradingParams``; unset fields keep the file's or
    the default value). Money and contract amounts are decimal strings, never floats."""

    params_file: str | None = Field(
        default=None,
        description=f"A .yaml/.toml/.json TradingParams file (default ${PARAMS_FILE_ENV}); "
        "the fields below override it",
    )
    aggressiveness: float | None = _doc(TradingParams, "aggressiveness", "0..1")
    limits: LimitsConfig | None = None
    min_ev_per_contract: str | None = _doc(TradingParams, "min_ev_per_contract", "dollars")
    bankroll: str | None = _doc(TradingParams, "bankroll", "dollars")
    contract_increment: str | None = _doc(TradingParams, "contract_increment", "contracts")
    maker: MakerConfig | None = None
    staleness: StalenessConfig | None = None
    book: BookQualityConfig | None = None
    min_time_to_close_s: float | None = _doc(TradingParams, "min_time_to_close_s")
    enabled_cities: list[str] | None = _doc(TradingParams, "enabled_cities", "city codes")
    mode: str | None = _doc(TradingParams, "mode", "shadow | live")
    live_confirmation: str | None = _doc(
        TradingParams, "live_confirmation", "live mode needs the exact confirmation phrase"
    )
    prediction_variant: str | None = Field(
        default=None, description="Only bracket predictions of this variant (default: any)"
    )
    model_version: str | None = Field(
        default=None, description="Only bracket predictions of this model (default: any)"
    )

    def params_source(self) -> str | None:
        return self.params_file or os.environ.get(PARAMS_FILE_ENV) or None

    def trading_params(self) -> TradingParams:
        """The validated parameters; a :class:`TradingConfigError` says what is wrong."""
        base: dict[str, Any] = {}
        source = self.params_source()
        if source:
            try:
                base = TradingParams.from_file(source).model_dump()
            except OSError as exc:
                raise TradingConfigError(f"params_file {source}: {exc.strerror}") from None
        own = set(type(self).model_fields) - set(TradingParams.model_fields)
        return TradingParams.load(_merge(base, self.model_dump(exclude_none=True, exclude=own)))


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_params(config: TradingConfig) -> tuple[TradingParams, dict[str, Any]]:
    """The parameters and the metadata that snapshots them; bad parameters fail the step
    with the validation message."""
    try:
        params = config.trading_params()
    except TradingConfigError as exc:
        raise dg.Failure(description=f"trading parameters rejected: {exc}") from None
    metadata = {
        "config_hash": params.config_hash,
        "mode": params.mode.value,
        "params_source": config.params_source() or "run config and defaults",
        "trading_params": dg.MetadataValue.json(params.snapshot()),
    }
    return params, metadata


# --------------------------------------------------------------------------- shadow assets


@dg.asset(
    partitions_def=day_city_partitions,
    group_name=TRADING_GROUP,
    pool=WAREHOUSE_WRITER_POOL,
    deps=["predictions", "quotes", "trades", "market_catalog"],
    kinds={"duckdb"},
)
def would_trade_decisions(
    context: dg.AssetExecutionContext, config: TradingConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every recorded book change of the partition decided with the prediction known then;
    every evaluation stored in ``decisions`` with its reason (shadow mode, idempotent)."""
    day, city = partition_of(context)
    params, metadata = resolve_params(config)
    result = fastpath.decide_partition(
        warehouse.open(),
        params,
        city,
        day,
        variant=config.prediction_variant,
        model_version=config.model_version,
    )
    for listing in ("unknown_markets", "fee_terms_assumed"):
        result[listing] = ", ".join(result[listing]) or "none"
    reasons = dg.MetadataValue.json(result.pop("reasons"))
    return dg.MaterializeResult(metadata=metadata | result | {"mode": "shadow", "reasons": reasons})


@dg.asset(
    partitions_def=day_city_partitions,
    group_name=TRADING_GROUP,
    pool=WAREHOUSE_WRITER_POOL,
    deps=[would_trade_decisions, "quotes", "trades"],
    kinds={"duckdb"},
)
def shadow_fills(
    context: dg.AssetExecutionContext, config: TradingConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The partition's would-trades filled against the recorded book and tape (queue
    position, maker then taker, fees); ``orders``/``fills`` rows with mode shadow."""
    day, city = partition_of(context)
    params, metadata = resolve_params(config)
    try:
        summary = fastpath.fill_partition(warehouse.open(), params, city, day)
    except fastpath.ShadowInputsMissing as exc:
        raise dg.Failure(description=str(exc)) from None
    pnl, rate, positions = (summary.pop(k) for k in ("pnl_micros", "fill_rate", "positions_cq"))
    return dg.MaterializeResult(
        metadata=metadata
        | summary
        | {
            "mode": "shadow",
            "shadow_pnl": format_dollars(pnl, places=6),  # exact: micro-dollars
            "shadow_pnl_micros": pnl,
            "fill_rate": dg.MetadataValue.null() if rate is None else dg.MetadataValue.float(rate),
            "positions_cq": dg.MetadataValue.json(positions),
        }
    )


# --------------------------------------------------------------------------- live execution


class LiveExecutionConfig(TradingConfig):
    """Trading parameters plus what this execution covers and how long it works."""

    cities: list[str] | None = Field(
        default=None, description="City codes (default: the enabled cities)"
    )
    climate_days: list[str] | None = Field(
        default=None, description="ISO dates (default: the days with open markets now)"
    )
    duration_s: float = Field(
        default=300.0, description="How long orders may work before everything is cancelled"
    )
    poll_interval_s: float = 1.0
    state_dir: str | None = Field(
        default=None, description="The order store and kill switch (default <data_dir>/trading)"
    )
    clock: str = Field(
        default=ClockSource.WALL.value,
        description="Where 'now' comes from: wall (production) | exchange (the exchange's "
        "Date stamps, for a simulator on a simulated day)",
    )


def kalshi_environ(kalshi: KalshiResource) -> dict[str, str]:
    """The ``KALSHI_*`` variables the live order manager reads, from the resource (whose key
    fields are ``EnvVar``s): the values never appear in run config or logs."""
    values = {
        ENV_ENVIRONMENT: kalshi.environment,
        ENV_REST_URL: kalshi.rest_url,
        ENV_WS_URL: kalshi.ws_url,
        ENV_RATE_TIER: kalshi.rate_tier,
        ENV_KEY_ID: kalshi.api_key_id,
        ENV_KEY_PATH: kalshi.private_key_path,
    }
    return {name: value for name, value in values.items() if value}


def _clock(config: LiveExecutionConfig) -> ClockSource:
    try:
        return ClockSource(config.clock)
    except ValueError:
        choices = " | ".join(c.value for c in ClockSource)
        raise dg.Failure(description=f"clock: {config.clock!r} is not one of {choices}") from None


def _days(config: LiveExecutionConfig) -> list[date]:
    try:
        return [date.fromisoformat(d) for d in config.climate_days or []]
    except ValueError as exc:
        raise dg.Failure(description=f"climate_days: {exc}") from None


@dg.op(tags={"kind": "kalshi"})
def execute_live_orders(
    context: dg.OpExecutionContext,
    config: LiveExecutionConfig,
    kalshi: KalshiResource,
    warehouse: WarehouseResource,
) -> dg.Output[dict[str, Any]]:
    """In live mode: decide on the live books, reconcile, place the would-trades, record
    decisions, orders and fills. In shadow mode: nothing (and says so)."""
    params, metadata = resolve_params(config)
    context.instance.add_run_tags(context.run_id, {MODE_TAG: params.mode.value})
    if params.mode is not TradingMode.LIVE:
        note = "shadow mode: no order placed (shadow fills come from the shadow_fills asset)"
        context.log.info(note)
        return dg.Output({"mode": "shadow", "orders": 0}, metadata=metadata | {"note": note})
    state_dir = config.state_dir or Path(warehouse.settings().data_dir) / "trading"
    try:
        run = asyncio.run(
            fastpath.run_live(
                params,
                warehouse.open(),
                state_dir=state_dir,
                environ=kalshi_environ(kalshi),
                cities=config.cities or (),
                climate_days=_days(config),
                duration_s=config.duration_s,
                poll_interval_s=config.poll_interval_s,
                variant=config.prediction_variant,
                model_version=config.model_version,
                clock=_clock(config),
            )
        )
    except (LiveTradingNotAllowed, KalshiKeyError, ExecutionError) as exc:
        raise dg.Failure(description=str(exc), metadata=metadata) from None
    summary = run.summary
    outcome = {
        "mode": "live",
        "markets": run.markets,
        "decisions": len(run.decisions),
        "would_trade": run.would_trade,
        "orders_submitted": summary.submitted,
        "skipped": summary.skipped,
        "filled_cq": summary.filled_cq,
        "halted": summary.halted,
    }
    statuses = dg.MetadataValue.json(summary.orders)
    return dg.Output(outcome, metadata=metadata | outcome | {"order_statuses": statuses})


@dg.job(
    tags={"weather_edge/trading": "execution"},
    description="Places the would-trades on the exchange (only in mode: live).",
)
def live_execution() -> None:
    execute_live_orders()


TRADING_ASSETS = [would_trade_decisions, shadow_fills]
TRADING_JOBS = [live_execution]
