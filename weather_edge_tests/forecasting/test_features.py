"""Features are built as of their snapshot: data issued later can not change them."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from weather_edge.forecasting.features import (
    OBS_SCHEMA,
    CitySources,
    FeatureBuilder,
    LookAheadError,
    build_features,
    check_no_lookahead,
    requests_frame,
    snapshot_requests,
)

from .conftest import utc

DAY = dt.date(2025, 12, 10)
SNAPSHOTS = [utc(2025, 12, 9, 21), utc(2025, 12, 10, 13), utc(2025, 12, 10, 18, 30)]


def _with_future_rows(sources: CitySources, after: dt.datetime) -> CitySources:
    """The sources plus absurd rows issued, observed or reported after ``after``."""
    later = after + dt.timedelta(minutes=1)
    daily = (
        sources.daily.filter(pl.col("climate_day") == DAY)
        .head(1)
        .with_columns(
            pl.lit(later).alias("issued_utc"),
            pl.lit(140.0).alias("max_f"),
            pl.lit(139.0).alias("past_max_f"),
        )
    )
    ndfd = (
        sources.ndfd.filter(pl.col("climate_day") == DAY)
        .head(1)
        .with_columns(
            pl.lit(later).alias("issued_utc"),
            pl.lit(-20.0).alias("high_f"),
        )
    )
    cli = sources.cli.tail(1).with_columns(
        pl.lit(DAY).alias("climate_day"),
        pl.lit(150, pl.Int64).alias("high_f"),
        pl.lit(later).alias("report_utc"),
    )
    obs = pl.DataFrame(
        {"city": ["NYC"], "obs_utc": [later], "climate_day": [DAY], "temp_f": [130.0]},
        schema=OBS_SCHEMA,
    )
    return CitySources(
        city=sources.city,
        cli=pl.concat([sources.cli, cli]),
        daily=pl.concat([sources.daily, daily]),
        ndfd=pl.concat([sources.ndfd, ndfd]),
        obs=pl.concat([sources.obs, obs]),
        description="with future rows",
    )


@pytest.mark.parametrize("as_of", SNAPSHOTS)
def test_features_do_not_change_when_later_data_is_added(
    nyc_sources: CitySources, as_of: dt.datetime
) -> None:
    request = requests_frame([DAY], [as_of])
    before = build_features(nyc_sources, request)
    polluted = _with_future_rows(nyc_sources, as_of)
    after = build_features(polluted, request)
    assert_frame_equal(before, after)
    # the same rows do change a snapshot after them, so the comparison can fail
    later = build_features(polluted, requests_frame([DAY], [as_of + dt.timedelta(minutes=2)]))
    assert later["fc_max"][0] == 140.0 and later["obs_max"][0] == 130.0
    # and only visible rows were needed: the filtered sources give the same features
    assert_frame_equal(build_features(nyc_sources.visible(as_of), request), before)


def test_every_source_time_is_at_or_before_the_snapshot(nyc_sources: CitySources) -> None:
    days = [dt.date(2025, 11, 1) + dt.timedelta(d) for d in range(60)]
    features = FeatureBuilder(nyc_sources).build(
        snapshot_requests("NYC", days, [0.5, 6.0, 13.0, 30.0, 47.5])
    )
    for column in [c for c in features.columns if c.startswith("src_")]:
        assert (features[column].is_null() | (features[column] <= features["as_of_utc"])).all()
    assert features["fc_max"].null_count() == 0


def test_the_lookahead_guard_fails_loudly() -> None:
    frame = pl.DataFrame(
        {
            "climate_day": [DAY],
            "as_of_utc": [utc(2025, 12, 10, 12)],
            "src_fc_issued_utc": [utc(2025, 12, 10, 13)],
        }
    )
    with pytest.raises(LookAheadError, match="src_fc_issued_utc"):
        check_no_lookahead(frame)


def test_snapshot_features_by_hand(nyc_sources: CitySources) -> None:
    row = build_features(nyc_sources, requests_frame([DAY], [utc(2025, 12, 10, 18, 30)])).row(
        0, named=True
    )
    assert row["lead_h"] == pytest.approx(10.5)  # the day ends 05:00 UTC on Dec 11
    assert row["hour_lst"] == pytest.approx(13.5)
    assert row["src_fc_issued_utc"] == utc(2025, 12, 10, 18)  # the hourly archive's last issue
    assert row["fc_age_h"] == pytest.approx(0.5)
    assert row["src_nd_issued_utc"] == utc(2025, 12, 10, 12, 46)  # the 18z issue is suspect
    # the proxy of the observed max: the issue's own past hours of the day (model analysis)
    assert row["fc_past_hours"] == 14 and row["fc_past_max"] <= row["fc_max"]
    assert row["obs_max"] is None  # the real data has no station observations
    assert row["anchor"] == row["fc_max"]
    early = build_features(nyc_sources, requests_frame([DAY], [utc(2025, 12, 9, 21)]))
    assert early["fc_past_max"][0] is None  # the day has not started: nothing elapsed
    assert early["lead_h"][0] == pytest.approx(32.0)
