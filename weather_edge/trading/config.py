"""Trading parameters: one validated, hashable object per session.

``TradingParams`` is a pydantic model so the Dagster layer can mirror it as a ``Config`` and so
it loads from a YAML, TOML or JSON file. Money limits are exact ``Decimal`` dollars (give them
as strings or integers in files) and are exposed to the engine as integer micro-dollars;
contract counts are exposed as integer centi-contracts (see ``weather_edge.money``).

One knob, ``aggressiveness`` in [0, 1], moves three parameters linearly:

============================  ==========  ==========
parameter                     at 0        at 1
============================  ==========  ==========
confidence threshold          0.70        0.30
Kelly fraction                0.10        0.50
maker-timeout multiplier      1.5         0.5
============================  ==========  ==========

``config_hash`` is a stable content hash (canonical JSON, SHA-256) recorded with every
decision and session, so any result can be traced to the exact parameters that made it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from weather_edge.kalshi.config import ENV_KEY_ID, ENV_KEY_PATH
from weather_edge.money import MONEY_SCALE, PRICE_SCALE, SIZE_SCALE
from weather_edge.weather.cities import city_codes

PARAMS_FILE_ENV = "WEATHER_EDGE_TRADING_PARAMS"  # a TradingParams file for the deployment
LIVE_CONFIRMATION_PHRASE = "I understand this places real orders with real money"
"""The exact text ``live_confirmation`` must hold before live mode may place an order."""

CONFIDENCE_RANGE = (0.70, 0.30)
KELLY_RANGE = (0.10, 0.50)
MAKER_TIMEOUT_MULTIPLIER_RANGE = (1.5, 0.5)


class TradingConfigError(ValueError):
    """Trading parameters that cannot be used; the message says which and why."""


class LiveTradingNotAllowed(RuntimeError):
    """Live mode was asked for without everything it needs (keys, confirmation)."""


class TradingMode(StrEnum):
    SHADOW = "shadow"
    LIVE = "live"


def _interpolate(bounds: tuple[float, float], x: float) -> float:
    low, high = bounds
    return round(low + (high - low) * x, 12)


def _dollars_to_micros(value: Decimal, what: str) -> int:
    scaled = value * MONEY_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {value} is finer than a micro-dollar")
    return int(scaled)


def _contracts_to_cq(value: Decimal, what: str) -> int:
    scaled = value * SIZE_SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {value} is finer than 0.01 contract")
    return int(scaled)


PositiveDollars = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
NonNegativeDollars = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
PositiveContracts = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class TradingLimits(_Strict):
    """Hard caps. Every one of them can refuse a trade (reason ``limit_*``)."""

    max_dollars_per_trade: PositiveDollars = Decimal("25")
    max_daily_loss: PositiveDollars = Decimal("100")
    max_contracts_per_city: PositiveContracts = Decimal("200")
    max_contracts_per_event: PositiveContracts = Decimal("100")
    max_total_exposure: PositiveDollars = Decimal("500")

    @field_validator("max_dollars_per_trade", "max_daily_loss", "max_total_exposure")
    @classmethod
    def _whole_micros(cls, value: Decimal, info: Any) -> Decimal:
        _dollars_to_micros(value, info.field_name)
        return value

    @field_validator("max_contracts_per_city", "max_contracts_per_event")
    @classmethod
    def _whole_cq(cls, value: Decimal, info: Any) -> Decimal:
        _contracts_to_cq(value, info.field_name)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TradingLimits:
        if self.max_dollars_per_trade > self.max_total_exposure:
            raise ValueError(
                f"max_dollars_per_trade ({self.max_dollars_per_trade}) exceeds "
                f"max_total_exposure ({self.max_total_exposure})"
            )
        if self.max_contracts_per_event > self.max_contracts_per_city:
            raise ValueError(
                f"max_contracts_per_event ({self.max_contracts_per_event}) exceeds "
                f"max_contracts_per_city ({self.max_contracts_per_city}): an event is one city"
            )
        return self

    @cached_property
    def max_trade_micros(self) -> int:
        return _dollars_to_micros(self.max_dollars_per_trade, "max_dollars_per_trade")

    @cached_property
    def max_daily_loss_micros(self) -> int:
        return _dollars_to_micros(self.max_daily_loss, "max_daily_loss")

    @cached_property
    def max_exposure_micros(self) -> int:
        return _dollars_to_micros(self.max_total_exposure, "max_total_exposure")

    @cached_property
    def max_city_cq(self) -> int:
        return _contracts_to_cq(self.max_contracts_per_city, "max_contracts_per_city")

    @cached_property
    def max_event_cq(self) -> int:
        return _contracts_to_cq(self.max_contracts_per_event, "max_contracts_per_event")


class MakerTiming(_Strict):
    """How long a maker order rests before it is converted to a taker order.

    ``timeout = base_s × multiplier(aggressiveness) × (1 + volume_weight × v)`` with
    ``v = min(recent_volume / volume_reference, max_volume_factor)``: the more a market has
    traded recently, the faster its queue moves, so the longer a maker order is worth waiting.
    """

    base_s: float = Field(default=60.0, gt=0, le=86_400)
    volume_weight: float = Field(default=1.0, ge=0, le=100)
    volume_reference_contracts: PositiveContracts = Decimal("100")
    max_volume_factor: float = Field(default=3.0, ge=0, le=100)


class Staleness(_Strict):
    max_book_age_s: float = Field(default=10.0, gt=0)
    max_prediction_age_s: float = Field(default=3_600.0, gt=0)


class BookQuality(_Strict):
    """When a book is too thin to trade on."""

    min_top_contracts: PositiveContracts = Decimal("1")
    max_spread_cents: int = Field(default=30, ge=1, le=99)


class TradingParams(_Strict):
    """Everything that shapes a trading session. Validated; see ``config_hash``."""

    aggressiveness: float = Field(default=0.25, ge=0.0, le=1.0, allow_inf_nan=False)
    limits: TradingLimits = TradingLimits()
    min_ev_per_contract: NonNegativeDollars = Decimal("0.02")
    bankroll: PositiveDollars = Decimal("1000")
    contract_increment: PositiveContracts = Decimal("1")
    maker: MakerTiming = MakerTiming()
    staleness: Staleness = Staleness()
    book: BookQuality = BookQuality()
    min_time_to_close_s: float = Field(default=1_800.0, ge=0)
    enabled_cities: tuple[str, ...] = Field(default_factory=lambda: tuple(city_codes()))
    mode: TradingMode = TradingMode.SHADOW
    live_confirmation: str = ""

    @field_validator("enabled_cities", mode="before")
    @classmethod
    def _cities(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, (list, tuple)):
            return value
        known = set(city_codes())
        cities = [str(v).strip().upper() for v in value]
        unknown = sorted(set(cities) - known)
        if unknown:
            raise ValueError(
                f"unknown cities {unknown}; the registry has {', '.join(sorted(known))}"
            )
        return tuple(sorted(set(cities)))

    @field_validator("min_ev_per_contract")
    @classmethod
    def _ev_on_grid(cls, value: Decimal) -> Decimal:
        _dollars_to_micros(value, "min_ev_per_contract")
        if value >= 1:
            raise ValueError("min_ev_per_contract must be below $1 (a contract pays at most $1)")
        return value

    @field_validator("bankroll")
    @classmethod
    def _bankroll_on_grid(cls, value: Decimal) -> Decimal:
        _dollars_to_micros(value, "bankroll")
        return value

    @field_validator("contract_increment")
    @classmethod
    def _increment_on_grid(cls, value: Decimal) -> Decimal:
        _contracts_to_cq(value, "contract_increment")
        return value

    @field_validator("live_confirmation")
    @classmethod
    def _confirmation(cls, value: str) -> str:
        if value and value != LIVE_CONFIRMATION_PHRASE:
            raise ValueError(
                f"live_confirmation must be exactly {LIVE_CONFIRMATION_PHRASE!r} (or empty)"
            )
        return value

    # ------------------------------------------------------------------ derived values

    @property
    def confidence_threshold(self) -> float:
        return _interpolate(CONFIDENCE_RANGE, self.aggressiveness)

    @property
    def kelly_fraction(self) -> float:
        return _interpolate(KELLY_RANGE, self.aggressiveness)

    @property
    def maker_timeout_multiplier(self) -> float:
        return _interpolate(MAKER_TIMEOUT_MULTIPLIER_RANGE, self.aggressiveness)

    @cached_property
    def min_ev_micros(self) -> int:
        return _dollars_to_micros(self.min_ev_per_contract, "min_ev_per_contract")

    @cached_property
    def bankroll_micros(self) -> int:
        return _dollars_to_micros(self.bankroll, "bankroll")

    @cached_property
    def increment_cq(self) -> int:
        return _contracts_to_cq(self.contract_increment, "contract_increment")

    @cached_property
    def min_top_cq(self) -> int:
        return _contracts_to_cq(self.book.min_top_contracts, "min_top_contracts")

    @cached_property
    def max_spread_cc(self) -> int:
        return self.book.max_spread_cents * PRICE_SCALE // 100

    def maker_timeout_s(self, recent_volume_cq: int) -> float:
        """Seconds a maker order rests before it becomes a taker order."""
        reference = float(self.maker.volume_reference_contracts) * SIZE_SCALE
        factor = min(max(recent_volume_cq, 0) / reference, self.maker.max_volume_factor)
        return (
            self.maker.base_s
            * self.maker_timeout_multiplier
            * (1.0 + self.maker.volume_weight * factor)
        )

    @cached_property
    def config_hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the canonical JSON of every parameter."""
        canonical = json.dumps(
            _canonical(self.model_dump(mode="python")), sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def snapshot(self) -> dict[str, Any]:
        """The parameters, the derived values and the hash: what a session records."""
        return {
            "config_hash": self.config_hash,
            "params": self.model_dump(mode="json"),
            "derived": {
                "confidence_threshold": self.confidence_threshold,
                "kelly_fraction": self.kelly_fraction,
                "maker_timeout_multiplier": self.maker_timeout_multiplier,
            },
        }

    # ------------------------------------------------------------------ live readiness

    def live_missing(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """What live trading still lacks (empty when it may start)."""
        env = os.environ if environ is None else environ
        missing = []
        if self.mode is not TradingMode.LIVE:
            missing.append(f"mode is {self.mode.value!r}, not 'live'")
        if self.live_confirmation != LIVE_CONFIRMATION_PHRASE:
            missing.append(f"live_confirmation (must be exactly {LIVE_CONFIRMATION_PHRASE!r})")
        for name in (ENV_KEY_ID, ENV_KEY_PATH):
            if not env.get(name):
                missing.append(f"environment variable {name}")
        key_path = env.get(ENV_KEY_PATH)
        if key_path and not Path(key_path).expanduser().is_file():
            missing.append(f"the private key file named by {ENV_KEY_PATH} (not found)")
        return missing

    def require_live(self, environ: Mapping[str, str] | None = None) -> None:
        """Raise :class:`LiveTradingNotAllowed` naming everything live mode lacks."""
        missing = self.live_missing(environ)
        if missing:
            raise LiveTradingNotAllowed(
                "live trading refused before any order; missing: " + "; ".join(missing)
            )

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> TradingParams:
        """Validate a mapping; errors become one :class:`TradingConfigError` listing them."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise TradingConfigError(_describe(exc)) from None

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> TradingParams:
        """Load ``.yaml``/``.yml``, ``.toml`` or ``.json``."""
        file = Path(path)
        text = file.read_text(encoding="utf-8")
        suffix = file.suffix.lower()
        if suffix in (".yaml", ".yml"):
            import yaml  # type: ignore[import-untyped,unused-ignore]

            data = yaml.safe_load(text) or {}
        elif suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix == ".json":
            data = json.loads(text, parse_float=Decimal)
        else:
            raise TradingConfigError(f"{file}: use a .yaml, .toml or .json file")
        if not isinstance(data, dict):
            raise TradingConfigError(f"{file}: the top level must be a mapping")
        try:
            return cls.load(data)
        except TradingConfigError as exc:
            raise TradingConfigError(f"{file}: {exc}") from None


def _canonical(value: Any) -> Any:
    """JSON-ready data where equal numbers look equal (``Decimal("10.50")`` -> ``"10.5"``)."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, StrEnum):
        return value.value
    return value


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    return "invalid trading parameters: " + "; ".join(parts)
