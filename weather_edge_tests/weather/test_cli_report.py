"""The CLI parser on every real product in ../shared/fixtures/nws_cli.

The expectations below were written by hand from reading each product, not by running the
parser: climate date, maximum and its time (LST), minimum and its time, preliminary/final.
A time of None means the product has no time column (or says MM for it); a max of None
means the product has no MAXIMUM row at all (early-morning "as of" reports list only the
minimum so far).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from weather_edge.weather.cli_report import (
    CliMissingValueError,
    CliParseError,
    parse_cli,
)

P, F = True, False  # preliminary, final

# file: (climate date, max, max time, min, min time, preliminary)
EXPECTED: dict[str, tuple[date, int | None, str | None, int, str | None, bool]] = {
    "CLIABY": (date(2014, 9, 29), 79, "16:18", 72, "10:41", F),
    "CLIACT": (date(2014, 12, 15), 69, "15:28", 52, "08:04", P),  # VALID AS OF 0400 PM
    "CLIALO": (date(2014, 1, 3), 19, "16:56", -21, "03:55", P),  # -21R, as of 0500 PM
    "CLIANN": (date(2015, 3, 2), 53, "13:51", 33, "23:49", F),  # 53R
    "CLIBET": (date(2014, 1, 1), 17, "23:59", 11, "09:22", F),
    "CLIBGR": (date(2014, 11, 2), 35, "03:24", 31, "20:15", F),
    "CLIBNA": (date(2015, 10, 19), 47, None, 34, None, P),  # no time column, as of 0900 AM
    "CLIBOI": (date(2014, 12, 29), 28, "01:48", 23, "07:01", P),
    "CLICKV": (date(2014, 12, 29), 39, "15:44", 33, "23:59", F),
    "CLICVG": (date(2020, 4, 22), 69, "15:57", 35, "05:11", F),
    "CLICVG_2007": (date(2007, 6, 30), 82, "16:03", 67, "07:27", F),
    "CLICVG_colon": (date(2021, 2, 4), 39, "23:29", 22, "00:43", F),  # 11:29 PM, 12:43 AM
    "CLICVG_newer": (date(2020, 4, 22), 70, "15:57", 35, "05:11", F),  # 70, not 69
    "CLICVG_tab": (date(2013, 5, 9), 81, "14:02", 57, "05:23", F),
    "CLIDCA": (date(2026, 6, 28), 76, "18:27", 72, "08:46", F),  # 6:27 PM
    "CLIDMH": (date(2019, 5, 9), 74, "15:26", 61, "05:40", F),
    "CLIDRT": (date(2014, 12, 29), 42, "00:32", 37, "06:48", P),  # as of 735 AM
    "CLIDSM": (date(2013, 8, 1), 89, "15:09", 63, "05:45", F),
    "CLIEAR": (date(2014, 11, 13), 25, "14:55", 5, "17:55", P),
    "CLIECP": (date(2014, 12, 29), 70, "01:51", 62, "08:57", P),
    "CLIEKA": (date(2014, 12, 28), 55, None, 42, None, F),  # no time column
    "CLIEST": (date(2014, 10, 12), 62, "14:46", 33, "02:21", F),  # RRA, not a correction
    "CLIEWN": (date(2014, 9, 28), 83, "14:13", 62, "06:17", F),  # a correction
    "CLIFFC": (date(2014, 10, 3), 79, "14:26", 67, "01:06", P),
    "CLIICT": (date(2014, 12, 29), None, None, 22, None, P),  # only MINIMUM, as of 0700 AM
    "CLIJNU": (date(2013, 6, 30), 75, "14:59", 52, "04:31", P),
    "CLILWD": (date(2017, 5, 29), 76, "15:56", 55, "23:59", F),
    "CLIMAI": (date(2014, 12, 29), 69, None, 61, None, P),
    "CLIMBS": (date(2014, 12, 29), 29, "16:23", 18, "23:26", F),
    "CLIMSO": (date(2014, 12, 29), None, None, 12, None, P),  # only MINIMUM, as of 0800 AM
    "CLIMUO": (date(2021, 6, 23), 92, None, 58, None, F),
    "CLIMYV": (date(2022, 11, 12), 60, None, 41, None, F),
    "CLINYC": (date(2013, 1, 2), 33, "15:01", 22, "07:43", F),
    "CLIOLF": (date(2014, 12, 29), 1, None, -6, None, P),  # "1 MM MM": MM is the record
    "CLIOME": (date(2014, 10, 23), 33, "19:14", 19, "23:49", F),
    "CLIPPG": (date(2020, 12, 28), 89, "13:50", 77, "05:50", P),  # TODAY, issued 5 PM same day
    "CLIPPG2": (date(2021, 6, 23), 86, "11:50", 78, "02:50", P),
    "CLIRDU": (date(2021, 3, 19), 57, "02:21", 37, "23:00", F),  # 57(E), 37(E)
    "CLISAD": (date(2021, 8, 6), None, None, 76, "06:15", P),  # only MINIMUM
    "CLISEW": (date(2014, 12, 29), 44, None, 34, None, F),  # times are MM
    "CLITCS": (date(2014, 12, 29), 60, "16:24", 22, "04:50", F),
}


def _hm(text: str | None) -> time | None:
    return None if text is None else time.fromisoformat(text)


def test_every_fixture_has_an_expectation(shared_fixtures: Path) -> None:
    files = {p.stem for p in (shared_fixtures / "nws_cli").glob("*.txt")}
    assert len(files) == 41
    assert files == set(EXPECTED)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_fixture_values(shared_fixtures: Path, stem: str) -> None:
    text = (shared_fixtures / "nws_cli" / f"{stem}.txt").read_text()
    day, high, high_time, low, low_time, preliminary = EXPECTED[stem]
    report = parse_cli(text, product_id=stem)
    assert report.product == stem
    assert report.climate_date == day
    if high is None:
        assert report.maximum is None
        with pytest.raises(CliMissingValueError, match=stem):
            _ = report.high_f
    else:
        assert report.maximum is not None
        assert report.high_f == high
        assert report.maximum.time_lst == _hm(high_time)
    assert report.minimum is not None
    assert report.low_f == low
    assert report.minimum.time_lst == _hm(low_time)
    assert report.preliminary is preliminary
    assert report.final is (not preliminary)
    assert report.corrected is (stem == "CLIEWN")


def test_header_fields(shared_fixtures: Path) -> None:
    report = parse_cli((shared_fixtures / "nws_cli" / "CLINYC.txt").read_text())
    assert report.product == "CLINYC CDUS41 KOKX 030616"
    assert report.awips_id == "CLINYC"
    assert report.issuing_office_id == "KOKX"
    assert report.wfo == "OKX"
    assert report.issuing_office == "NEW YORK NY"
    assert report.station_name == "CENTRAL PARK NY"
    assert report.period_label == "YESTERDAY"
    # 116 AM EST THU JAN 3 2013
    assert report.issued_utc == datetime(2013, 1, 3, 6, 16, tzinfo=UTC)
    # 301 PM LST on Jan 2 is 20:01 UTC
    assert report.max_time_utc() == datetime(2013, 1, 2, 20, 1, tzinfo=UTC)


def test_daylight_issue_time_and_lst_table(shared_fixtures: Path) -> None:
    # 240 AM EDT MON JUN 29 2026; the table's 6:27 PM is LST (UTC-5), not EDT.
    report = parse_cli((shared_fixtures / "nws_cli" / "CLIDCA.txt").read_text())
    assert report.issued_utc == datetime(2026, 6, 29, 6, 40, tzinfo=UTC)
    assert report.max_time_utc() == datetime(2026, 6, 28, 23, 27, tzinfo=UTC)


def test_flags(shared_fixtures: Path) -> None:
    def read(stem: str) -> Any:  # Any: the rows are asserted present by the table test
        return parse_cli((shared_fixtures / "nws_cli" / f"{stem}.txt").read_text(), stem)

    assert read("CLIALO").minimum.record  # -21R
    assert read("CLIANN").maximum.record  # 53R
    assert read("CLIRDU").maximum.estimated  # 57(E)
    assert read("CLISEW").maximum.time_missing
    assert not read("CLIEKA").maximum.time_missing  # no time column at all
    assert read("CLIEST").bbb == "RRA" and not read("CLIEST").corrected
    assert read("CLIACT").valid_as_of == time(16, 0)
    assert read("CLIDRT").valid_as_of == time(7, 35)
    assert read("CLIPPG").valid_as_of is None  # preliminary by its issue time alone


def _nyc(shared_fixtures: Path) -> str:
    return (shared_fixtures / "nws_cli" / "CLINYC.txt").read_text()


def test_mm_maximum_is_explicit(shared_fixtures: Path) -> None:
    text = _nyc(shared_fixtures).replace(
        "MAXIMUM         33    301 PM", "MAXIMUM         MM        MM"
    )
    report = parse_cli(text, "CLINYC-MM")
    assert report.maximum is not None and report.maximum.missing
    assert report.maximum.value_f is None
    with pytest.raises(CliMissingValueError, match=r"CLINYC-MM.*MM"):
        _ = report.high_f
    assert report.low_f == 22


def test_cca_header_marks_a_correction(shared_fixtures: Path) -> None:
    text = _nyc(shared_fixtures).replace("CDUS41 KOKX 030616", "CDUS41 KOKX 030616 CCA")
    report = parse_cli(text)
    assert report.bbb == "CCA" and report.corrected


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("MAXIMUM         33", "MAXIMUM         3X", "unreadable MAXIMUM value"),
        ("MAXIMUM         33", "MAXIMUM        333", "implausible MAXIMUM"),
        ("33    301 PM", "33    1301 PM", "impossible MAXIMUM time"),
        ("33    301 PM", "33    301 XM", "unreadable MAXIMUM time"),
        ("MINIMUM         22", "MINIMUM         42", "below MINIMUM"),
        (
            "CLIMATE SUMMARY FOR JANUARY 2 2013",
            "CLIMATE SUMMARY FOR JANUARY 32 2013",
            "bad climate",
        ),
        ("CLIMATE SUMMARY FOR JANUARY 2 2013", "CLIMATE SUMMARY FOR JANUARY 4 2013", "after the"),
        ("116 AM EST THU", "116 AM XYZ THU", "issuance"),
        ("TEMPERATURE (F)", "TEMP (F)", "no TEMPERATURE section"),
        ("CLINYC\n", "XXXNYC\n", "no CLIxxx"),
    ],
)
def test_malformed_products_raise_naming_the_product(
    shared_fixtures: Path, old: str, new: str, message: str
) -> None:
    text = _nyc(shared_fixtures)
    assert old in text
    with pytest.raises(CliParseError, match=f"^BROKEN: .*{message}"):
        parse_cli(text.replace(old, new, 1), product_id="BROKEN")


def test_a_duplicate_row_is_refused(shared_fixtures: Path) -> None:
    text = _nyc(shared_fixtures)
    row = "  MAXIMUM         33    301 PM  68    1876  39     -6       50"
    assert row in text
    with pytest.raises(CliParseError, match="two MAXIMUM rows"):
        parse_cli(text.replace(row, row + "\n" + row.replace("33", "35")))


def test_not_a_product() -> None:
    with pytest.raises(CliParseError, match=r"^CLI product: "):
        parse_cli("hello")
