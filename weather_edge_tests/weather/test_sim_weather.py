"""The simulated weather: deterministic per seed, consistent, and a sane forecaster."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, date, datetime, timedelta

import pytest

from weather_edge.sim.weather import CLIMATES, SimulatedWeather, sigma_for_lead
from weather_edge.weather.cities import get_city, registry
from weather_edge.weather.cli_report import parse_cli
from weather_edge.weather.climate_day import climate_day_bounds
from weather_edge.weather.nws import round_half_up

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
SUMMER, WINTER = date(2026, 7, 15), date(2026, 1, 15)


def test_every_registry_city_has_a_climate() -> None:
    assert set(registry()) <= set(CLIMATES)


def test_same_seed_same_weather_in_any_order() -> None:
    a, b = SimulatedWeather(5), SimulatedWeather(5)
    days = [SUMMER + timedelta(days=k) for k in range(10)]
    forward = [a.true_high("NYC", d) for d in days]
    backward = [b.true_high("NYC", d) for d in reversed(days)][::-1]
    assert forward == backward
    as_of = datetime(2026, 7, 20, tzinfo=UTC)
    assert a.forecast_issues("CHI", SUMMER, as_of) == b.forecast_issues("CHI", SUMMER, as_of)
    assert a.cli_text("DEN", SUMMER, final=True) == b.cli_text("DEN", SUMMER, final=True)
    other = SimulatedWeather(6)
    assert [other.true_high("NYC", d) for d in days] != forward


@pytest.mark.parametrize("code", sorted(CLIMATES))
def test_highs_follow_the_city_normals(code: str) -> None:
    weather = SimulatedWeather(1)
    for month_day in (SUMMER, WINTER):
        # 20 years x 30 days: anomalies are persistent, so the sample must be long
        days = [
            month_day.replace(year=year) + timedelta(days=k)
            for year in range(2000, 2020)
            for k in range(30)
        ]
        simulated = statistics.mean(weather.true_high(code, d) for d in days)
        normal = statistics.mean(weather.normal_high(code, d) for d in days)
        assert abs(simulated - normal) < 3.0
    assert weather.normal_high(code, SUMMER) > weather.normal_high(code, WINTER)


def test_anomalies_persist_from_day_to_day() -> None:
    weather = SimulatedWeather(2)
    series = [weather.anomaly("CHI", SUMMER + timedelta(days=k)) for k in range(400)]
    lag1 = statistics.correlation(series[:-1], series[1:])
    assert 0.6 < lag1 < 0.9  # AR(1) with phi = 0.75


@pytest.mark.parametrize("code", ["NYC", "DEN", "LAX"])
def test_true_high_is_the_rounded_max_of_the_minute_series(code: str) -> None:
    weather = SimulatedWeather(3)
    city = get_city(code)
    for day in (SUMMER, WINTER):
        start, end = climate_day_bounds(city, day)
        minutes = [weather.temperature_f(code, start + k * MINUTE) for k in range(24 * 60)]
        assert weather.true_high(code, day) == round_half_up(max(minutes))
        hourly = [v for _, v in weather.hourly_temperatures(code, start, end)]
        assert len(hourly) == 24 and max(hourly) <= max(minutes)
        assert weather.low_extreme(code, day).value_f == min(minutes)


def test_diurnal_cycle_peaks_mid_afternoon_local() -> None:
    weather = SimulatedWeather(4)
    city = get_city("NYC")
    peaks = []
    for k in range(30):
        day = SUMMER + timedelta(days=k)
        high = weather.high_extreme("NYC", day)
        if high.at_utc not in climate_day_bounds(city, day):  # not a front at midnight
            peaks.append((high.at_utc + city.standard_offset).hour)
    assert peaks and all(13 <= hour <= 16 for hour in peaks)


def test_observations_are_consistent_with_the_high() -> None:
    weather = SimulatedWeather(5)
    city = get_city("PHL")
    for k in range(20):
        day = SUMMER + timedelta(days=k)
        _, end = climate_day_bounds(city, day)
        obs = weather.observations_until("PHL", end - MINUTE)
        assert len(obs) == 24 and all(ob.timestamp_utc.minute == 51 for ob in obs)
        high = weather.true_high("PHL", day)
        # tenths of °C: within 0.09 °F of the truth, so never more than one above the high
        assert round_half_up(max(ob.temp_f for ob in obs)) <= high + 1
        assert round_half_up(max(ob.temp_f for ob in obs) - 0.09) <= high


def test_forecasts_never_come_from_the_future() -> None:
    weather = SimulatedWeather(6)
    as_of = datetime(2026, 7, 14, 20, 30, tzinfo=UTC)
    issues = weather.forecast_issues("NYC", SUMMER, as_of)
    assert issues and all(i.issued_utc <= as_of for i in issues)
    assert issues[-1].issued_utc == datetime(2026, 7, 14, 18, 0, tzinfo=UTC)
    assert weather.latest_forecast("NYC", SUMMER, as_of) == issues[-1]
    assert weather.forecast_issues("NYC", SUMMER, datetime(2026, 7, 1, tzinfo=UTC)) == []


def test_sigma_shrinks_with_lead() -> None:
    assert 2.2 <= sigma_for_lead(30) <= 2.8  # the day before
    assert 0.8 <= sigma_for_lead(9) <= 1.3  # the afternoon of the day (15:00 LST)
    leads = [72, 48, 36, 24, 12, 6, 0]
    assert [sigma_for_lead(h) for h in leads] == sorted(sigma_for_lead(h) for h in leads)[::-1]


def test_forecast_errors_shrink_with_lead_and_are_calibrated() -> None:
    weather = SimulatedWeather(7)
    by_lead: dict[str, list[tuple[float, float]]] = {"day before": [], "afternoon": []}
    for code in ("NYC", "CHI", "AUS"):
        city = get_city(code)
        for k in range(150):
            day = SUMMER + timedelta(days=k)
            _, end = climate_day_bounds(city, day)
            high = weather.high_extreme(code, day).value_f
            for issue in weather.forecast_issues(code, day, end):
                lead = (end - issue.issued_utc) / HOUR
                bucket = "day before" if 24 <= lead < 36 else "afternoon" if lead < 12 else None
                if bucket:
                    by_lead[bucket].append((high - issue.mean_high_f, issue.sigma_f))
    rms = {k: math.sqrt(statistics.mean(e * e for e, _ in v)) for k, v in by_lead.items()}
    assert 2.0 < rms["day before"] < 3.2
    assert 0.6 < rms["afternoon"] < 1.5
    for pairs in by_lead.values():
        z = [e / s for e, s in pairs]
        assert abs(statistics.mean(z)) < 0.15 and 0.85 < statistics.pstdev(z) < 1.15


def test_cli_text_reads_back_through_the_parser() -> None:
    weather = SimulatedWeather(8)
    for code in sorted(CLIMATES):
        for day in (SUMMER, WINTER):
            final = parse_cli(weather.cli_text(code, day, final=True))
            assert final.climate_date == day and final.final
            assert final.high_f == weather.true_high(code, day)
            assert final.awips_id == get_city(code).cli_product
            assert final.issued_utc == weather.cli_issued_at(code, day, final=True)
            assert final.max_time_utc() == weather.high_extreme(code, day).at_utc
            early = parse_cli(weather.cli_text(code, day, final=False))
            assert early.preliminary and early.valid_as_of is not None
            assert early.high_f <= final.high_f


def test_cli_issuances_are_newest_first_and_bounded() -> None:
    weather = SimulatedWeather(9)
    until = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    issued = weather.cli_issuances("NYC", until - timedelta(days=2), until)
    times = [i.issued_utc for i in issued]
    assert times == sorted(times, reverse=True) and len(issued) == 4
    assert all(until - timedelta(days=2) < t <= until for t in times)
    assert (issued[0].day, issued[0].final) == (date(2026, 7, 14), True)
