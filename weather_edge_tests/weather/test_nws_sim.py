"""The NWS client against the simulated api.weather.gov, over a real loopback socket."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from weather_edge.sim.nws_routes import nws_routes
from weather_edge.sim.weather import SimulatedWeather
from weather_edge.weather.cities import get_city, registry
from weather_edge.weather.climate_day import climate_day_bounds
from weather_edge.weather.http import HttpSettings, HttpStatusError
from weather_edge.weather.nws import NwsClient, highs_from_grid, round_half_up
from weather_edge_tests.weather.loopback import ManualClock, RequestLog, serve

NYC = get_city("NYC")
# 15:20 EDT (14:20 LST) on 15 July 2026: the climate day is under way.
NOW = datetime(2026, 7, 15, 19, 20, tzinfo=UTC)
TODAY, YESTERDAY, TOMORROW = date(2026, 7, 15), date(2026, 7, 14), date(2026, 7, 16)


@dataclass
class Sim:
    weather: SimulatedWeather
    clock: ManualClock
    log: RequestLog
    client: NwsClient


@pytest.fixture
def sim() -> Iterator[Sim]:
    weather = SimulatedWeather(seed=11)
    clock = ManualClock(NOW)
    # Mounted under a prefix, as a simulator app would: URLs in answers must follow it.
    log = RequestLog(Starlette(routes=[Mount("/nws", routes=nws_routes(weather, clock))]))
    with serve(log) as url:
        settings = HttpSettings(user_agent="weather_edge-tests (ops@example.org)")
        with NwsClient(f"{url}/nws", settings) as client:
            yield Sim(weather, clock, log, client)


def test_points_are_fetched_once_per_city(sim: Sim) -> None:
    first = sim.client.point(NYC)
    assert sim.client.point(NYC) is first
    assert first.wfo == "OKX" and first.time_zone == "America/New_York"
    assert sim.log.paths().count("/nws/points/40.7789,-73.9692") == 1
    assert all(h["user-agent"].startswith("weather_edge-tests") for _, _, h in sim.log.requests)


def test_forecast_highs_per_climate_day(sim: Sim) -> None:
    highs = {h.day: h for h in sim.client.forecast_highs(NYC)}
    issued = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)  # the 18Z cycle is the latest by 19:20
    assert all(h.issued_utc == issued and h.generated_at == NOW for h in highs.values())
    # The forecast starts at 19:00 UTC: today is only partly covered.
    assert not highs[TODAY].complete and highs[TODAY].hours == 10
    for day in (TOMORROW, TOMORROW + timedelta(days=1)):
        assert highs[day].complete and highs[day].hours == 24
        issue = sim.weather.latest_forecast("NYC", day, NOW)
        assert issue is not None and issue.issued_utc == issued
        # Hourly values sample the forecast curve, whose maximum is the issue's mean.
        assert issue.mean_high_f - 0.75 <= highs[day].high_f <= issue.mean_high_f + 0.5


def test_forecast_never_uses_a_later_cycle(sim: Sim) -> None:
    before = {h.day: h.high_f for h in sim.client.forecast_highs(NYC)}
    sim.clock.current = NOW + timedelta(hours=3)  # 22:20Z: the 21Z cycle is out
    after = sim.client.forecast_highs(NYC)
    assert {h.issued_utc for h in after} == {datetime(2026, 7, 15, 21, 0, tzinfo=UTC)}
    issue = sim.weather.latest_forecast("NYC", TOMORROW, NOW)
    assert issue is not None
    assert abs(before[TOMORROW] - issue.mean_high_f) <= 0.75


def test_grid_data(sim: Sim) -> None:
    grid = sim.client.grid_data(NYC)
    assert grid.update_time == datetime(2026, 7, 15, 18, 0, tzinfo=UTC)
    hourly = {h.day: h.high_f for h in sim.client.forecast_highs(NYC)}
    grid_highs = {m.day: m for m in highs_from_grid(NYC, grid)}
    assert grid_highs[TOMORROW].complete
    assert round_half_up(grid_highs[TOMORROW].high_f) == hourly[TOMORROW]
    # MaxT periods run 7 AM to 7 PM local clock time (11:00Z to 23:00Z in July in New York).
    start, end, _ = grid.max_temperature.intervals[0]
    assert (start.hour, (end - start)) == (11, timedelta(hours=12))


def test_observed_max_so_far(sim: Sim) -> None:
    seen = sim.client.observed_max(NYC, TODAY, NOW)
    assert seen is not None
    expected = sim.weather.observations_until("NYC", NOW)
    assert seen.observations == len(expected) == 14  # 05:51Z .. 18:51Z
    assert seen.max_c == max(ob.temp_c for ob in expected)
    assert seen.precision_c == 0.1  # the METARs carry a T-group
    assert seen.at_utc <= NOW
    # What was observed bounds the final CLI high from below, METAR rounding allowed for.
    final = sim.weather.true_high("NYC", TODAY)
    assert seen.floor_f <= final
    assert seen.likely_high_so_far_f <= final + 1


def test_observed_max_respects_as_of(sim: Sim) -> None:
    early = NOW - timedelta(hours=6)
    seen = sim.client.observed_max(NYC, TODAY, early)
    assert seen is not None and seen.at_utc <= early
    assert seen.observations == len(sim.weather.observations_until("NYC", early))
    start, _ = climate_day_bounds(NYC, TODAY)
    assert sim.client.observed_max(NYC, TODAY, start - timedelta(minutes=1)) is None


def test_cli_reports_by_location_and_id(sim: Sim) -> None:
    refs = sim.client.cli_products(NYC)
    assert refs == sorted(refs, key=lambda r: r.issued_utc, reverse=True)
    assert all(r.issued_utc <= NOW for r in refs) and refs[0].issuing_office == "KOKX"
    reports = sim.client.cli_reports(NYC, YESTERDAY)
    assert [p.report.preliminary for p in reports] == [True, False]
    final = reports[-1].report
    assert final.climate_date == YESTERDAY and final.station_name == "CENTRAL PARK"
    assert final.high_f == sim.weather.true_high("NYC", YESTERDAY)
    assert final.issued_utc == reports[-1].ref.issued_utc  # header and listing agree
    latest = sim.client.latest_final_cli(NYC, YESTERDAY)
    assert latest is not None and latest.ref == reports[-1].ref
    assert sim.client.cli_reports(NYC, TODAY) == []  # nothing issued for today yet


def test_todays_preliminary_cli_appears_after_5pm(sim: Sim) -> None:
    sim.clock.current = datetime(2026, 7, 15, 22, 0, tzinfo=UTC)  # 6 PM EDT
    (report,) = [p.report for p in sim.client.cli_reports(NYC, TODAY)]
    assert report.preliminary and report.period_label == "TODAY"
    as_of = datetime(2026, 7, 15, 21, 0, tzinfo=UTC)  # 5 PM EDT
    assert report.high_f == round_half_up(sim.weather.high_extreme("NYC", TODAY, as_of).value_f)
    assert sim.client.latest_final_cli(NYC, TODAY) is None


def test_unknown_or_future_resources_are_404_without_retries(sim: Sim) -> None:
    from weather_edge.sim.nws_routes import cli_product_id

    future = cli_product_id(sim.weather, NYC, TODAY, final=True)
    for path in (f"/products/{future}", "/products/not-a-product", "/points/10.0,10.0"):
        with pytest.raises(HttpStatusError) as info:
            sim.client.http.get(path)
        assert info.value.status == 404
        assert sim.log.paths().count(f"/nws{path}") == 1


@pytest.mark.parametrize("code", sorted(registry()))
def test_every_registry_city_is_served(sim: Sim, code: str) -> None:
    city = get_city(code)
    highs = sim.client.forecast_highs(city)
    assert len([h for h in highs if h.complete]) >= 5
    assert sim.client.observed_max(city, highs[0].day, NOW) is not None
    final = sim.client.latest_final_cli(city, YESTERDAY)
    assert final is not None and final.report.high_f == sim.weather.true_high(code, YESTERDAY)
