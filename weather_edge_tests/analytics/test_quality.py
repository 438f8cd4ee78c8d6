"""Each Great Expectations suite passes on a good batch and names what is wrong in a bad one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from weather_edge import quality as q
from weather_edge_tests.analytics.dataset import NOW, Dataset, build_dataset


@pytest.fixture(scope="module")
def data() -> Dataset:
    return build_dataset()


def frame(data: Dataset, table: str) -> pd.DataFrame:
    return pd.DataFrame(data.rows[table])


def failed(result: q.QualityResult) -> dict[str, int]:
    """Failed expectation description -> unexpected count."""
    assert not result.success
    return {f.description: f.unexpected_count for f in result.failures}


def only_failure(result: q.QualityResult, words: str) -> int:
    failures = failed(result)
    assert len(failures) == 1, result.summary()
    ((description, count),) = failures.items()
    assert words in description, description
    return count


# --- quotes -------------------------------------------------------------------------------


def test_quotes_good_batch_passes(data: Dataset) -> None:
    result = q.validate_quotes(frame(data, "quotes"), now=NOW, max_age=timedelta(days=2))
    assert result.success, result.summary()
    assert result.rows == len(data.rows["quotes"])
    assert result.evaluated == 9


def test_quotes_bad_prices_sizes_and_crossed_book(data: Dataset) -> None:
    quotes = frame(data, "quotes").head(10).copy()
    quotes.loc[0, "yes_bid_cc"] = 0  # a price of $0 is no price
    quotes.loc[1, "yes_ask_cc"] = 10_000
    quotes.loc[2, "yes_bid_size_cq"] = -100
    quotes.loc[3, ["yes_bid_cc", "yes_ask_cc"]] = [6_000, 5_500]  # crossed
    quotes.loc[4, "yes_ask_cc"] = None  # one side empty: fine
    result = q.validate_quotes(quotes)
    failures = failed(result)
    assert failures == {
        "yes_bid_cc is a price strictly between $0 and $1": 1,
        "yes_ask_cc is a price strictly between $0 and $1": 1,
        "yes_bid_size_cq is not negative": 1,
        "the book is not crossed: yes_bid_cc < yes_ask_cc": 1,
    }
    crossed = next(f for f in result.failures if "crossed" in f.description)
    (sample,) = crossed.sample_values
    assert sample["market_ticker"] == quotes.loc[3, "market_ticker"]
    assert (sample["yes_bid_cc"], sample["yes_ask_cc"]) == (6_000, 5_500)
    assert result.metadata()["failed"] == 4


def test_quotes_freshness(data: Dataset) -> None:
    quotes = frame(data, "quotes")
    newest = max(quotes["ts"])
    fresh = q.validate_quotes(
        quotes, now=newest + timedelta(minutes=1), max_age=timedelta(minutes=5)
    )
    assert fresh.success
    stale = q.validate_quotes(quotes, now=newest + timedelta(hours=1), max_age=timedelta(minutes=5))
    assert only_failure(stale, "the newest quote is at most 0:05:00 old") == 1
    assert stale.failures[0].sample_values[0]["age_seconds"] == 3600
    empty = q.validate_quotes(quotes.head(0), now=NOW, max_age=timedelta(minutes=5))
    assert "the batch has at least one quote" in failed(empty)


def test_quotes_missing_columns_are_reported() -> None:
    result = q.validate_quotes(pd.DataFrame({"market_ticker": ["X"], "ts": [NOW]}))
    (failure,) = result.failures
    assert failure.expectation == "expect_columns_to_exist"
    assert "yes_bid_cc" in (failure.column or "")


def test_polars_frames_are_accepted(data: Dataset) -> None:
    assert q.validate_quotes(pl.DataFrame(data.rows["quotes"])).success


# --- forecasts ----------------------------------------------------------------------------


def test_forecasts_good_batch_passes(data: Dataset) -> None:
    result = q.validate_forecasts(frame(data, "forecasts"), as_of=NOW)
    assert result.success, result.summary()


def test_forecasts_bad_batch(data: Dataset) -> None:
    forecasts = frame(data, "forecasts").head(6).copy()
    forecasts.loc[0, "forecast_high_f"] = 131.0  # beyond any plausible high
    forecasts.loc[1, "forecast_high_f"] = -41.0
    forecasts.loc[2, "issued_at"] = NOW + timedelta(hours=2)  # look-ahead
    forecasts.loc[2, "retrieved_at"] = NOW + timedelta(hours=3)
    forecasts.loc[3, "retrieved_at"] = forecasts.loc[3, "issued_at"] - timedelta(minutes=1)
    result = q.validate_forecasts(forecasts, as_of=NOW)
    assert failed(result) == {
        "forecast highs lie within -40..130 °F": 2,
        f"no forecast is issued after the as-of time {NOW.isoformat()}": 1,
        "a forecast is not retrieved before it was issued": 1,
    }


def test_forecasts_against_a_climatology_from_real_cli_highs(
    data: Dataset, shared_data: Path
) -> None:
    """Plausible (city, month) ranges from the real KNYC CLI record, ±15 °F."""
    cli = pl.read_csv(shared_data / "nws" / "knyc_cli_daily_2018_2026.csv", try_parse_dates=True)
    history = cli.select(
        pl.lit("NYC").alias("city"),
        pl.col("date").alias("climate_day"),
        pl.col("official_daily_high_f").alias("high_f"),
    )
    bounds = q.climatology_bounds(history)
    low, high = bounds[("NYC", 12)]
    assert -40 < low < 20 and 60 < high < 90  # December in Central Park
    assert bounds[("NYC", 7)][1] > 100
    forecasts = frame(data, "forecasts")
    assert q.validate_forecasts(forecasts, climatology=bounds).success
    december = pd.to_datetime(forecasts["climate_day"]).dt.month == 12
    nyc = forecasts[(forecasts["city"] == "NYC") & december].head(3).copy()
    nyc.loc[nyc.index[0], "forecast_high_f"] = high + 5  # plausible in July, not in December
    result = q.validate_forecasts(nyc, climatology=bounds)
    assert only_failure(result, "not above the city's plausible range that month") == 1


# --- predictions --------------------------------------------------------------------------


def test_predictions_good_batch_passes(data: Dataset) -> None:
    result = q.validate_predictions(frame(data, "bracket_predictions"))
    assert result.success, result.summary()


def test_predictions_bad_batch(data: Dataset) -> None:
    good = frame(data, "bracket_predictions").head(10)  # two whole events
    brackets = good.copy()
    brackets.loc[0, "probability"] += 1e-4  # the first event sums to 1.0001
    brackets.loc[5, "probability"] = 1.2  # impossible, and the second event's sum is off
    result = q.validate_predictions(brackets)
    sums = (
        "an event's bracket probabilities sum to 1 (±1e-06) per city, day, snapshot, model "
        "and variant"
    )
    assert failed(result) == {"bracket probabilities lie in [0, 1]": 1, sums: 2}
    samples = next(f for f in result.failures if f.description == sums).sample_values
    assert {s["snapshot_at"] for s in samples} == {str(t) for t in good["snapshot_at"]}
    within = good.copy()
    within.loc[0, "probability"] += 5e-7  # inside the tolerance
    assert q.validate_predictions(within).success


# --- decisions ----------------------------------------------------------------------------


def test_decisions_good_batch_passes(data: Dataset) -> None:
    result = q.validate_decisions(frame(data, "decisions"))
    assert result.success, result.summary()


def test_decisions_bad_batch(data: Dataset) -> None:
    decisions = frame(data, "decisions")
    no_trades = decisions.index[~decisions["would_trade"]]
    trades = decisions.index[decisions["would_trade"]]
    decisions.loc[no_trades[0], "reason"] = "   "
    decisions.loc[no_trades[1], "reason"] = None
    decisions.loc[trades[0], "price_cc"] = 10_000
    decisions.loc[trades[1], "side"] = "maybe"
    result = q.validate_decisions(decisions)
    assert failed(result) == {
        "every no-trade has a reason": 1,
        "every no-trade reason is non-empty": 1,
        "trade prices lie strictly between $0 and $1": 1,
        "every trade names its side (yes or no)": 1,
    }
    reason = next(f for f in result.failures if f.description == "every no-trade has a reason")
    assert reason.sample_values[0]["decision_id"] == decisions.loc[no_trades[1], "decision_id"]


# --- settlements --------------------------------------------------------------------------


def settlements_with_brackets(data: Dataset) -> pd.DataFrame:
    markets = frame(data, "markets")[["ticker", "wins_low_f", "wins_high_f"]]
    joined = frame(data, "settlements").merge(markets, left_on="market_ticker", right_on="ticker")
    return joined.drop(columns="ticker")


def test_settlements_good_batch_passes(data: Dataset) -> None:
    result = q.validate_settlements(settlements_with_brackets(data))
    assert result.success, result.summary()


def test_settlements_bad_batch(data: Dataset) -> None:
    settlements = settlements_with_brackets(data).head(10).copy()
    settlements["cli_high_f"] = settlements["cli_high_f"].astype(float)
    settlements.loc[0, "cli_high_f"] += 0.5  # not a whole degree
    winner = settlements.index[settlements["market_result"] == "yes"][0]
    settlements.loc[winner, "market_result"] = "no"  # the bracket holding the CLI high lost
    settlements.loc[winner, "expected_result"] = "no"
    result = q.validate_settlements(settlements)
    failures = failed(result)
    assert failures["CLI highs are whole degrees °F"] == 1
    assert failures["market_result is yes iff the CLI high lies in the market's bracket"] >= 1
    assert failures["expected_result is yes iff the CLI high lies in the market's bracket"] >= 1
    samples = next(f for f in result.failures if f.description.startswith("market_result"))
    tickers = [s["market_ticker"] for s in samples.sample_values]
    assert settlements.loc[winner, "market_ticker"] in tickers


def test_implied_result_treats_missing_bounds_as_open() -> None:
    assert q.implied_result(84, 84, 85) == "yes"
    assert q.implied_result(86, 84, 85) == "no"
    assert q.implied_result(90, 86, None) == "yes"
    assert q.implied_result(77, None, 77) == "yes"
    assert q.implied_result(None, 84, 85) is None


def test_metadata_is_plain_json(data: Dataset) -> None:
    import json

    quotes = frame(data, "quotes").head(3).copy()
    quotes.loc[0, "yes_bid_cc"] = -5
    stale = q.validate_quotes(quotes, now=datetime(2030, 1, 1, tzinfo=UTC), max_age=timedelta(1))
    encoded = json.loads(json.dumps(stale.metadata()))
    assert encoded["failed"] == 2
    assert "expectations failed" in stale.summary()
