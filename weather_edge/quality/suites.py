"""The expectation suites, one per kind of batch the platform writes.

Each ``validate_*`` takes a pandas (or polars) frame with the warehouse table's columns and
returns a ``QualityResult``. Rules that span rows (bracket probabilities summing to one,
freshness of the newest quote, bracket consistency of a settlement) are computed here into a
small derived frame that GX then checks, so every failure reads the same way.

Prices are centi-cents (1/10,000 $), sizes centi-contracts, temperatures °F, timestamps UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandas as pd

from weather_edge.quality.engine import Check, Frame, QualityResult, to_pandas, validate

PRICE_SCALE_CC = 10_000
PLAUSIBLE_HIGH_F = (-40.0, 130.0)
"""Any daily high in the registry's cities: far outside every station's records."""
CLI_HIGH_F = (-60, 140)
PROBABILITY_TOLERANCE = 1e-6
EPOCH = pd.Timestamp(0, tz="UTC")
PREDICTION_GROUP = ("city", "climate_day", "snapshot_at", "model_version", "variant")

ClimatologyBounds = Mapping[tuple[str, int], tuple[float, float]]
"""(city, month) -> (lowest, highest) plausible daily high in °F."""


MISSING_EITHER: dict[str, Any] = {"ignore_row_if": "either_value_is_missing"}


def _gxe() -> Any:
    from great_expectations import expectations

    return expectations


# Short builders for the expectations used below; ``kw`` passes row conditions and the like.


def _where_would_trade(flag: bool) -> dict[str, Any]:
    """Restrict an expectation to trades (True) or no-trades (False)."""
    from great_expectations.expectations.row_conditions import Column

    return {"row_condition": Column("would_trade") == flag}


def _not_null(column: str, description: str, **kw: Any) -> Any:
    return _gxe().ExpectColumnValuesToNotBeNull(column=column, description=description, **kw)


def _between(
    column: str,
    description: str,
    low: float | None = None,
    high: float | None = None,
    *,
    strict: bool = False,
    **kw: Any,
) -> Any:
    return _gxe().ExpectColumnValuesToBeBetween(
        column=column,
        min_value=low,
        max_value=high,
        strict_min=strict,
        strict_max=strict,
        description=description,
        **kw,
    )


def _in_set(column: str, values: list[str], description: str, **kw: Any) -> Any:
    return _gxe().ExpectColumnValuesToBeInSet(
        column=column, value_set=values, description=description, **kw
    )


def _a_above_b(a: str, b: str, description: str, *, or_equal: bool = True, **kw: Any) -> Any:
    return _gxe().ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=a, column_B=b, or_equal=or_equal, description=description, **kw
    )


def _utc(instant: dt.datetime) -> pd.Timestamp:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}: pass a UTC-aware instant")
    return pd.Timestamp(instant).tz_convert("UTC")


def _utc_column(series: pd.Series) -> pd.Series:
    values = pd.to_datetime(series, utc=True)
    assert isinstance(values, pd.Series)
    return values


def _epoch_seconds(series: pd.Series) -> pd.Series:
    return (_utc_column(series) - EPOCH).dt.total_seconds()


# --- quotes -------------------------------------------------------------------------------


def validate_quotes(
    frame: Frame, *, now: dt.datetime | None = None, max_age: dt.timedelta | None = None
) -> QualityResult:
    """Top-of-book quotes: prices strictly inside (0, 1) $ where present, sizes >= 0, no
    crossed book (yes_bid < yes_ask when both exist) and, given ``now`` and ``max_age``, a
    newest quote no older than ``max_age`` (a batch with no quote at all is stale)."""
    quotes = to_pandas(frame)
    expectations = [
        _not_null("market_ticker", "every quote names its market"),
        _not_null("ts", "every quote has a timestamp"),
        *(
            _between(
                col, f"{col} is a price strictly between $0 and $1", 0, PRICE_SCALE_CC, strict=True
            )
            for col in ("yes_bid_cc", "yes_ask_cc")
        ),
        *(
            _between(col, f"{col} is not negative", 0)
            for col in ("yes_bid_size_cq", "yes_ask_size_cq")
        ),
        _a_above_b(
            "yes_ask_cc",
            "yes_bid_cc",
            "the book is not crossed: yes_bid_cc < yes_ask_cc",
            or_equal=False,
            **MISSING_EITHER,
        ),
    ]
    required = ["yes_bid_cc", "yes_ask_cc", "yes_bid_size_cq", "yes_ask_size_cq"]
    checks = [Check(quotes, expectations, ids=["market_ticker", "ts"], required=required)]
    if now is not None and max_age is not None:
        checks.append(_freshness_check(quotes, _utc(now), max_age))
    return validate("quotes", checks, rows=len(quotes))


def _freshness_check(quotes: pd.DataFrame, now: pd.Timestamp, max_age: dt.timedelta) -> Check:
    newest = _utc_column(quotes["ts"]).max() if "ts" in quotes and len(quotes) else None
    newest_ts: str | None = None
    age: float | None = None
    if newest is not None and not pd.isna(newest):
        newest_ts, age = newest.isoformat(), (now - newest).total_seconds()
    derived = pd.DataFrame({"newest_ts": [newest_ts], "age_seconds": [age]})
    return Check(
        derived,
        [
            _not_null("age_seconds", "the batch has at least one quote"),
            _between(
                "age_seconds",
                f"the newest quote is at most {max_age} old at {now.isoformat()}",
                high=max_age.total_seconds(),
            ),
        ],
        ids=["newest_ts"],
    )


# --- forecasts ----------------------------------------------------------------------------


def climatology_bounds(
    history: Frame, *, margin_f: float = 15.0
) -> dict[tuple[str, int], tuple[float, float]]:
    """Plausible daily highs per (city, month) from observed highs (``climate_reports`` rows:
    city, climate_day, high_f): the month's extremes widened by ``margin_f``, never beyond
    the global bounds."""
    frame = to_pandas(history).dropna(subset=["high_f"])
    if frame.empty:
        return {}
    months = pd.to_datetime(frame["climate_day"]).dt.month
    grouped = frame.assign(month=months).groupby(["city", "month"])["high_f"].agg(["min", "max"])
    low, high = PLAUSIBLE_HIGH_F
    return {
        (str(city), int(month)): (max(low, row["min"] - margin_f), min(high, row["max"] + margin_f))
        for (city, month), row in grouped.iterrows()
    }


def validate_forecasts(
    frame: Frame,
    *,
    as_of: dt.datetime | None = None,
    climatology: ClimatologyBounds | None = None,
) -> QualityResult:
    """Forecast issues: highs within -40..130 °F and within the (city, month) climatology when
    given; issued no later than ``as_of`` (no look-ahead) and no later than retrieved."""
    forecasts = to_pandas(frame).copy()
    low, high = PLAUSIBLE_HIGH_F
    expectations: list[Any] = [
        *(
            _not_null(col, f"every forecast has {col}")
            for col in ("city", "climate_day", "issued_at", "forecast_high_f")
        ),
        _between("forecast_high_f", f"forecast highs lie within {low:g}..{high:g} °F", low, high),
    ]
    if climatology and {"city", "climate_day", "forecast_high_f"} <= set(forecasts.columns):
        months = pd.to_datetime(forecasts["climate_day"]).dt.month
        keys = list(zip(forecasts["city"], months, strict=True))
        forecasts["plausible_low_f"] = [climatology.get(k, PLAUSIBLE_HIGH_F)[0] for k in keys]
        forecasts["plausible_high_f"] = [climatology.get(k, PLAUSIBLE_HIGH_F)[1] for k in keys]
        expectations += [
            _a_above_b(
                "forecast_high_f",
                "plausible_low_f",
                "forecast highs are not below the city's plausible range that month",
            ),
            _a_above_b(
                "plausible_high_f",
                "forecast_high_f",
                "forecast highs are not above the city's plausible range that month",
            ),
        ]
    # Instants compare as epoch seconds (pandas is retiring numpy views of zone-aware columns).
    if "issued_at" in forecasts:
        forecasts["issued_at_s"] = _epoch_seconds(forecasts["issued_at"])
        if "retrieved_at" in forecasts:
            forecasts["retrieved_at_s"] = _epoch_seconds(forecasts["retrieved_at"])
            expectations.append(
                _a_above_b(
                    "retrieved_at_s",
                    "issued_at_s",
                    "a forecast is not retrieved before it was issued",
                    **MISSING_EITHER,
                )
            )
        if as_of is not None:
            forecasts["as_of_s"] = (_utc(as_of) - EPOCH).total_seconds()
            expectations.append(
                _a_above_b(
                    "as_of_s",
                    "issued_at_s",
                    f"no forecast is issued after the as-of time {as_of.isoformat()}",
                )
            )
    check = Check(forecasts, expectations, ids=["city", "climate_day", "issued_at"])
    return validate("forecasts", [check], rows=len(forecasts))


# --- predictions --------------------------------------------------------------------------


def validate_predictions(
    frame: Frame, *, tolerance: float = PROBABILITY_TOLERANCE
) -> QualityResult:
    """Bracket probabilities (``bracket_predictions`` rows): each in [0, 1], and an event's
    brackets summing to 1 within ``tolerance`` per (city, day, snapshot, model, variant)."""
    brackets = to_pandas(frame)
    row_check = Check(
        brackets,
        [
            _not_null("probability", "every bracket has a probability"),
            _between("probability", "bracket probabilities lie in [0, 1]", 0, 1),
        ],
        ids=["market_ticker", "snapshot_at"],
    )
    group = list(PREDICTION_GROUP)
    if not set(group) <= set(brackets.columns):
        return validate(
            "predictions", [row_check, Check(brackets, [], required=group)], len(brackets)
        )
    totals = (
        brackets.groupby(group, dropna=False)["probability"]
        .agg(["sum", "count"])
        .reset_index()
        .rename(columns={"sum": "total_probability", "count": "brackets"})
    )
    totals["snapshot_at"] = totals["snapshot_at"].astype(str)
    totals["climate_day"] = totals["climate_day"].astype(str)
    sum_check = Check(
        totals,
        [
            _between(
                "total_probability",
                f"an event's bracket probabilities sum to 1 (±{tolerance:g}) per city, day, "
                "snapshot, model and variant",
                1 - tolerance,
                1 + tolerance,
            )
        ],
        ids=group,
    )
    return validate("predictions", [row_check, sum_check], rows=len(brackets))


# --- decisions ----------------------------------------------------------------------------


def validate_decisions(frame: Frame) -> QualityResult:
    """Would-trade decisions: every no-trade has a non-empty reason; every trade names a side,
    an action, a price strictly inside (0, 1) $ and a positive size; probabilities in [0, 1]."""
    decisions = to_pandas(frame).copy()
    if "reason" in decisions:
        decisions["reason_text"] = decisions["reason"].astype("string").str.strip()
    no_trade, trade = _where_would_trade(False), _where_would_trade(True)
    expectations = [
        _in_set("mode", ["shadow", "live"], "mode is shadow or live"),
        _not_null("would_trade", "every decision says whether it would trade"),
        _not_null("reason_text", "every no-trade has a reason", **no_trade),
        _gxe().ExpectColumnValueLengthsToBeBetween(
            column="reason_text",
            min_value=1,
            description="every no-trade reason is non-empty",
            **no_trade,
        ),
        _not_null("side", "every trade names its side", **trade),
        _in_set("side", ["yes", "no"], "every trade names its side (yes or no)", **trade),
        _not_null("price_cc", "every trade has a limit price", **trade),
        _between(
            "price_cc",
            "trade prices lie strictly between $0 and $1",
            0,
            PRICE_SCALE_CC,
            strict=True,
            **trade,
        ),
        _between("count_cq", "trade sizes are positive", 1, **trade),
        _between("probability", "decision probabilities lie in [0, 1]", 0, 1),
    ]
    required = ["reason", "would_trade", "mode", "side", "price_cc", "count_cq", "probability"]
    check = Check(decisions, expectations, ids=["decision_id"], required=required)
    return validate("decisions", [check], rows=len(decisions))


# --- settlements --------------------------------------------------------------------------


def implied_result(cli_high_f: Any, wins_low_f: Any, wins_high_f: Any) -> str | None:
    """'yes' iff wins_low_f <= CLI high <= wins_high_f (a missing bound is open)."""
    if pd.isna(cli_high_f):
        return None
    above = pd.isna(wins_low_f) or cli_high_f >= wins_low_f
    below = pd.isna(wins_high_f) or cli_high_f <= wins_high_f
    return "yes" if above and below else "no"


def validate_settlements(frame: Frame) -> QualityResult:
    """Settlements joined with their market's bracket (columns market_ticker, cli_high_f,
    market_result, wins_low_f, wins_high_f; expected_result optional): CLI highs are integer
    °F in a plausible range, results are yes/no, and a result is yes iff the CLI high lies in
    the bracket."""
    settlements = to_pandas(frame).copy()
    required = ["market_ticker", "cli_high_f", "market_result", "wins_low_f", "wins_high_f"]
    expectations: list[Any] = []
    if set(required) <= set(settlements.columns):
        cli = pd.to_numeric(settlements["cli_high_f"], errors="coerce")
        settlements["cli_high_f_fraction"] = (cli - cli.round()).abs()
        settlements["implied_result"] = [
            implied_result(c, lo, hi)
            for c, lo, hi in zip(
                cli, settlements["wins_low_f"], settlements["wins_high_f"], strict=True
            )
        ]
        lo, hi = CLI_HIGH_F
        expectations = [
            _between("cli_high_f_fraction", "CLI highs are whole degrees °F", high=0),
            _between("cli_high_f", f"CLI highs lie within {lo}..{hi} °F", lo, hi),
            _in_set("market_result", ["yes", "no"], "market results are yes or no"),
            *(
                _gxe().ExpectColumnPairValuesToBeEqual(
                    column_A=col,
                    column_B="implied_result",
                    description=f"{col} is yes iff the CLI high lies in the market's bracket",
                    **MISSING_EITHER,
                )
                for col in ("market_result", "expected_result")
                if col in settlements
            ),
        ]
    check = Check(settlements, expectations, ids=["market_ticker"], required=required)
    return validate("settlements", [check], rows=len(settlements))
