"""Trading parameters: the aggressiveness table, validation, files and the content hash."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from weather_edge.trading.config import (
    LIVE_CONFIRMATION_PHRASE,
    LiveTradingNotAllowed,
    TradingConfigError,
    TradingMode,
    TradingParams,
)


@pytest.mark.parametrize(
    ("aggressiveness", "threshold", "kelly", "multiplier"),
    [
        (0.0, 0.70, 0.10, 1.50),
        (0.25, 0.60, 0.20, 1.25),
        (0.5, 0.50, 0.30, 1.00),
        (0.75, 0.40, 0.40, 0.75),
        (1.0, 0.30, 0.50, 0.50),
    ],
)
def test_aggressiveness_table(
    aggressiveness: float, threshold: float, kelly: float, multiplier: float
) -> None:
    params = TradingParams(aggressiveness=aggressiveness)
    assert params.confidence_threshold == pytest.approx(threshold, abs=1e-12)
    assert params.kelly_fraction == pytest.approx(kelly, abs=1e-12)
    assert params.maker_timeout_multiplier == pytest.approx(multiplier, abs=1e-12)


def test_maker_timeout_grows_with_recent_volume() -> None:
    params = TradingParams.load(
        {"aggressiveness": 0.5, "maker": {"base_s": 60, "volume_weight": 1.0}}
    )
    quiet = params.maker_timeout_s(0)
    busy = params.maker_timeout_s(100 * 100)  # 100 contracts = the reference volume
    assert quiet == pytest.approx(60.0)
    assert busy == pytest.approx(120.0)
    assert params.maker_timeout_s(10**9) == pytest.approx(60.0 * (1 + 3.0))  # capped
    timid = TradingParams.load({"aggressiveness": 0.0, "maker": {"base_s": 60}})
    assert timid.maker_timeout_s(0) == pytest.approx(90.0)


def test_money_limits_are_exact() -> None:
    params = TradingParams.load({"limits": {"max_dollars_per_trade": "12.345678"}})
    assert params.limits.max_trade_micros == 12_345_678
    assert params.limits.max_city_cq == 200 * 100
    with pytest.raises(TradingConfigError, match="finer than a micro-dollar"):
        TradingParams.load({"limits": {"max_dollars_per_trade": "0.0000001"}})


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"aggressiveness": 1.5}, "aggressiveness"),
        ({"aggressiveness": "x"}, "aggressiveness"),
        ({"enabled_cities": ["NYC", "GOTHAM"]}, "unknown cities ['GOTHAM']"),
        ({"limits": {"max_daily_loss": -5}}, "limits.max_daily_loss"),
        ({"limits": {"max_dollars_per_trade": 600}}, "exceeds max_total_exposure"),
        ({"mode": "yolo"}, "mode"),
        ({"live_confirmation": "yes"}, "live_confirmation must be exactly"),
        ({"min_ev_per_contract": 1}, "below $1"),
        ({"maker": {"base_s": 0}}, "maker.base_s"),
        ({"unknown_knob": 1}, "unknown_knob"),
    ],
)
def test_bad_values_have_clear_errors(data: dict[str, object], fragment: str) -> None:
    with pytest.raises(TradingConfigError) as info:
        TradingParams.load(data)
    assert fragment in str(info.value)


def test_config_hash_is_stable_and_content_based() -> None:
    a = TradingParams.load({"aggressiveness": 0.5, "enabled_cities": ["NYC", "CHI"]})
    b = TradingParams.load({"enabled_cities": "chi, nyc", "aggressiveness": 0.5})
    assert a.config_hash == b.config_hash
    assert len(a.config_hash) == 16
    assert TradingParams.load({"aggressiveness": 0.6}).config_hash != a.config_hash
    # the default parameters always hash the same (a snapshot: change it on purpose only)
    assert TradingParams().config_hash == TradingParams.load({}).config_hash
    snapshot = a.snapshot()
    assert snapshot["config_hash"] == a.config_hash
    assert snapshot["derived"]["kelly_fraction"] == pytest.approx(0.30)


def test_loads_yaml_toml_and_json(tmp_path: Path) -> None:
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text(
        "aggressiveness: 0.75\nlimits:\n  max_dollars_per_trade: 10.50\nenabled_cities: [NYC]\n"
    )
    toml_file = tmp_path / "p.toml"
    toml_file.write_text(
        'aggressiveness = 0.75\nenabled_cities = ["NYC"]\n'
        '[limits]\nmax_dollars_per_trade = "10.50"\n'
    )
    json_file = tmp_path / "p.json"
    json_file.write_text(
        json.dumps({"aggressiveness": 0.75, "enabled_cities": ["NYC"]})[:-1]
        + ', "limits": {"max_dollars_per_trade": 10.50}}'
    )
    loaded = [TradingParams.from_file(f) for f in (yaml_file, toml_file, json_file)]
    assert {p.config_hash for p in loaded} == {loaded[0].config_hash}
    assert loaded[0].limits.max_dollars_per_trade == Decimal("10.5")
    bad = tmp_path / "bad.yaml"
    bad.write_text("aggressiveness: 3\n")
    with pytest.raises(TradingConfigError, match=r"bad\.yaml: .*aggressiveness"):
        TradingParams.from_file(bad)


def test_live_needs_keys_and_confirmation(tmp_path: Path) -> None:
    shadow = TradingParams()
    assert shadow.mode is TradingMode.SHADOW
    live = TradingParams.load({"mode": "live"})
    with pytest.raises(LiveTradingNotAllowed) as info:
        live.require_live({})
    message = str(info.value)
    assert "live_confirmation" in message
    assert "KALSHI_API_KEY_ID" in message and "KALSHI_PRIVATE_KEY_PATH" in message
    key = tmp_path / "key.pem"
    key.write_text("not shown")
    confirmed = TradingParams.load({"mode": "live", "live_confirmation": LIVE_CONFIRMATION_PHRASE})
    env = {"KALSHI_API_KEY_ID": "abc", "KALSHI_PRIVATE_KEY_PATH": str(key)}
    confirmed.require_live(env)  # nothing missing
    with pytest.raises(LiveTradingNotAllowed, match="KALSHI_API_KEY_ID") as info2:
        confirmed.require_live({"KALSHI_PRIVATE_KEY_PATH": str(key)})
    assert "live_confirmation" not in str(info2.value)
