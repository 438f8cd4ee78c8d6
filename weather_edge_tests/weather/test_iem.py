"""The IEM client against response fixtures served over a loopback socket.

The fixtures (``fixtures/iem_*``) reproduce the shapes documented in the IEM's own service
code; see fixtures/README.md. The product text comes from the shared real CLI fixtures.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from weather_edge.weather.cities import get_city
from weather_edge.weather.http import HttpSettings, HttpStatusError
from weather_edge.weather.iem import IemClient, IemProductId, mos_daytime_maxima
from weather_edge.weather.nws import observed_max
from weather_edge_tests.weather.loopback import RequestLog, serve

FIXTURES = Path(__file__).parent / "fixtures"
NYC = get_city("NYC")
NYC_2013 = "201301030616-KOKX-CDUS41-CLINYC"


def _app(shared_fixtures: Path) -> RequestLog:
    async def cli_json(request: Request) -> Response:
        year = request.query_params["year"]
        path = FIXTURES / f"iem_cli_knyc_{year}.json"
        if request.query_params["station"] != "KNYC" or not path.exists():
            return JSONResponse({"results": [], "generated_at": "2026-08-24T12:00:00Z"})
        return Response(path.read_bytes(), media_type="application/json")

    async def nwstext(request: Request) -> Response:
        if request.path_params["product_id"] != NYC_2013:
            return JSONResponse({"detail": "Product not found."}, 404)
        text = (shared_fixtures / "nws_cli" / "CLINYC.txt").read_text()
        return PlainTextResponse(text)

    async def asos(request: Request) -> Response:
        return PlainTextResponse((FIXTURES / "iem_asos_nyc.csv").read_text())

    async def mos(request: Request) -> Response:
        return Response(
            (FIXTURES / "iem_mos_knyc_nbs.json").read_bytes(), media_type="application/json"
        )

    return RequestLog(
        Starlette(
            routes=[
                Route("/json/cli.py", cli_json),
                Route("/api/1/nwstext/{product_id}", nwstext),
                Route("/cgi-bin/request/asos.py", asos),
                Route("/api/1/mos.json", mos),
            ]
        )
    )


@pytest.fixture
def iem(shared_fixtures: Path) -> Iterator[tuple[IemClient, RequestLog]]:
    app = _app(shared_fixtures)
    with serve(app) as url, IemClient(url, HttpSettings(user_agent="weather_edge-tests")) as client:
        yield client, app


def test_cli_year(iem: tuple[IemClient, RequestLog]) -> None:
    client, log = iem
    days = client.cli_year(NYC, 2025)
    assert log.requests[-1][:2] == ("/json/cli.py", "station=KNYC&year=2025")
    assert [d.day for d in days] == [date(2025, 12, 4), date(2025, 12, 5), date(2025, 12, 6)]
    first = days[0]
    assert (first.high_f, first.high_time_lst, first.low_f, first.low_time_lst) == (
        41,
        time(15, 1),
        24,
        time(23, 59),
    )
    assert first.product is not None
    assert first.product.issued_utc == datetime(2025, 12, 5, 6, 33, tzinfo=UTC)
    assert not first.preliminary and not first.product.corrected
    assert days[1].high_time_lst == time(23, 50)  # "1150 PM"


def test_cli_values_agree_with_the_shared_history(
    iem: tuple[IemClient, RequestLog], shared_data: Path
) -> None:
    client, _ = iem
    with (shared_data / "nws" / "knyc_cli_daily_2018_2026.csv").open() as handle:
        history = {row["date"]: row for row in csv.DictReader(handle)}
    for day in client.cli_year(NYC, 2025) + client.cli_year(NYC, 2026)[:2]:
        row = history[day.day.isoformat()]
        assert day.high_f == int(float(row["official_daily_high_f"]))
        assert day.product is not None and day.product.text == row["cli_product_id"]


def test_same_day_reports_are_preliminary_and_missing_is_none(
    iem: tuple[IemClient, RequestLog],
) -> None:
    client, _ = iem
    by_day = {d.day: d for d in client.cli_year(NYC, 2026)}
    assert not by_day[date(2026, 8, 22)].preliminary
    # issued 20:35 UTC on the 23rd, before the climate day ended at 05:00 UTC on the 24th
    assert by_day[date(2026, 8, 23)].preliminary
    missing = by_day[date(2026, 8, 24)]
    assert missing.high_f is None and missing.high_time_lst is None and missing.low_f is None
    assert missing.product is not None and missing.product.corrected


def test_product_text_and_report(iem: tuple[IemClient, RequestLog]) -> None:
    client, log = iem
    report = client.cli_report(NYC_2013)
    assert log.paths()[-1] == f"/api/1/nwstext/{NYC_2013}"
    assert report.product == NYC_2013 and report.high_f == 33 and report.final
    with pytest.raises(HttpStatusError) as info:
        client.product_text("201301030616-KOKX-CDUS41-CLIXXX")
    assert info.value.status == 404
    with pytest.raises(ValueError, match="not an IEM product id"):
        client.product_text("../../etc/passwd")


def test_product_ids() -> None:
    pid = IemProductId.parse("202608242035-KOKX-CDUS41-CLINYC-CCA")
    assert (pid.source, pid.ttaaii, pid.pil, pid.bbb) == ("KOKX", "CDUS41", "CLINYC", "CCA")
    assert pid.issued_utc == datetime(2026, 8, 24, 20, 35, tzinfo=UTC) and pid.corrected


def test_asos_observations(iem: tuple[IemClient, RequestLog]) -> None:
    client, log = iem
    start = datetime(2025, 12, 4, 5, 0, tzinfo=UTC)
    end = datetime(2025, 12, 5, 5, 0, tzinfo=UTC)
    obs = client.asos_observations(NYC, start, end)
    path, query, _ = log.requests[-1]
    params = parse_qs(query)
    assert path == "/cgi-bin/request/asos.py"
    assert params["data"] == ["tmpf", "metar"] and params["report_type"] == ["3", "4"]
    assert params["sts"] == ["2025-12-04T05:00Z"] and params["tz"] == ["UTC"]
    assert len(obs) == 5  # the row with tmpf M is dropped
    assert [ob.temp_c for ob in obs] == [3.3, 3.9, 4.4, 5.0, 4.7]
    assert [ob.precision_c for ob in obs] == [0.1, 0.1, 0.1, 1.0, 0.1]  # the SPECI: no T-group
    seen = observed_max("KNYC", NYC, date(2025, 12, 4), obs, end)
    assert seen is not None
    # 5 °C in whole degrees is 41.0 °F, but the truth may have been 4.5 °C = 40.1 °F
    assert (seen.likely_high_so_far_f, seen.floor_f) == (41, 40)
    assert seen.rounding_f == pytest.approx(0.9)


def test_mos(iem: tuple[IemClient, RequestLog]) -> None:
    client, log = iem
    rows = client.mos("KNYC", "NBS", runtime=datetime(2025, 12, 4, 13, tzinfo=UTC))
    assert parse_qs(log.requests[-1][1])["runtime"] == ["2025-12-04T13:00Z"]
    assert rows[0].runtime_utc == datetime(2025, 12, 4, 13, tzinfo=UTC)
    assert rows[-1].ftime_utc == datetime(2025, 12, 5, 12, tzinfo=UTC)
    assert [r.tmp_f for r in rows] == [36.0, 39.0, 38.0, 35.0, 26.0]
    assert mos_daytime_maxima(rows) == {date(2025, 12, 4): 40.0}
