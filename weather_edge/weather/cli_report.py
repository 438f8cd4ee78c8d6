"""Parser for the NWS Daily Climate Report (CLI), the text product Kalshi settles on.

A CLI product looks like this (abridged)::

    CDUS41 KOKX 030616            <- WMO heading: TTAAii CCCC DDHHMM [BBB]
    CLINYC                        <- AWIPS id
    CLIMATE REPORT
    NATIONAL WEATHER SERVICE NEW YORK NY
    116 AM EST THU JAN 3 2013     <- issuance, local clock time
    ...THE CENTRAL PARK NY CLIMATE SUMMARY FOR JANUARY 2 2013...
    [VALID TODAY AS OF 0500 PM LOCAL TIME.]   <- only in same-day (preliminary) reports
    WEATHER ITEM   OBSERVED TIME   RECORD YEAR NORMAL ...
    TEMPERATURE (F)
     YESTERDAY
      MAXIMUM         33    301 PM  68    1876  39 ...
      MINIMUM         22    743 AM   2    1918  28 ...

Offices vary the layout (tabs, ``11:29 PM`` times, no time column, single spaces, a value
suffixed ``R`` for a record or ``(E)`` for an estimate, ``MM`` for missing). The parser reads
tokens rather than columns, and refuses (``CliParseError`` naming the product) whatever it
cannot read unambiguously: a wrong settlement number is worse than no number.

Times in the table are local *standard* time (the header says ``(LST)``), like the climate
day itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

# Zone abbreviations seen in CLI headers -> (UTC offset of the clock, standard offset), hours.
ZONE_OFFSETS: dict[str, tuple[int, int]] = {
    "UTC": (0, 0),
    "GMT": (0, 0),
    "AST": (-4, -4),
    "ADT": (-3, -4),
    "EST": (-5, -5),
    "EDT": (-4, -5),
    "CST": (-6, -6),
    "CDT": (-5, -6),
    "MST": (-7, -7),
    "MDT": (-6, -7),
    "PST": (-8, -8),
    "PDT": (-7, -8),
    "AKST": (-9, -9),
    "AKDT": (-8, -9),
    "HST": (-10, -10),
    "HDT": (-9, -10),
    "SST": (-11, -11),
    "CHST": (10, 10),
}

_MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "JANUARY",
            "FEBRUARY",
            "MARCH",
            "APRIL",
            "MAY",
            "JUNE",
            "JULY",
            "AUGUST",
            "SEPTEMBER",
            "OCTOBER",
            "NOVEMBER",
            "DECEMBER",
        ),
        start=1,
    )
}

_AWIPS_RE = re.compile(r"^\s*(CLI[A-Z0-9]{3})\s*$")
_WMO_RE = re.compile(r"^\s*([A-Z]{4}\d{2})\s+([A-Z]{4})\s+(\d{6})(?:\s+([A-Z]{3}))?\s*$")
_OFFICE_RE = re.compile(r"^\s*NATIONAL WEATHER SERVICE\s+(.+?)\s*$")
_ISSUED_RE = re.compile(
    r"^\s*(\d{1,4})\s+(AM|PM)\s+([A-Z]{2,4})\s+[A-Z]{3}\s+([A-Z]{3})\s+(\d{1,2})\s+(\d{4})\s*$"
)
_SUMMARY_RE = re.compile(
    r"\.\.\.\s*THE\s+(.+?)\s+CLIMATE\s+SUMMARY\s+FOR\s+([A-Z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})"
    r"(.*?)\.\.\."
)
_AS_OF_RE = re.compile(r"\bAS\s+OF\b")
_AS_OF_TIME_RE = re.compile(r"\bAS\s+OF\s+(\d{1,2}:\d{2}|\d{1,4})\s*(AM|PM)\b")
_CORRECTION_RE = re.compile(r"\bCORRECT(?:ED|ION)\b")
_VALUE_RE = re.compile(r"^(-?\d{1,3})(R?)(\(E\))?$")
_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})$|^(\d{1,4})$")
_PLAUSIBLE_F = range(-80, 141)
_ROW_NAMES = ("MAXIMUM", "MINIMUM", "AVERAGE")


class CliParseError(ValueError):
    """A CLI product that can not be read unambiguously. ``product`` names it."""

    def __init__(self, product: str, message: str) -> None:
        super().__init__(f"{product}: {message}")
        self.product = product


class CliMissingValueError(CliParseError):
    """The product does not give the value asked for (``MM``, or no such row)."""


@dataclass(frozen=True, slots=True)
class CliTemperature:
    """One MAXIMUM or MINIMUM row of the temperature table."""

    value_f: int | None  # None only when the product says MM
    time_lst: time | None  # None when the product has no time column or says MM
    record: bool = False  # "R": a record was set or tied
    estimated: bool = False  # "(E)"
    time_missing: bool = False  # the table has a time column and this row says MM

    @property
    def missing(self) -> bool:
        return self.value_f is None


@dataclass(frozen=True, slots=True)
class CliReport:
    product: str  # the caller's product id, else AWIPS id and WMO heading
    awips_id: str
    wmo_heading: str | None
    bbb: str | None  # CCA/CCB... correction, RRA... delayed, AAA... amendment
    issuing_office_id: str | None  # CCCC of the WMO heading, e.g. KOKX
    issuing_office: str
    issued_local: datetime  # aware, in the fixed offset the header names
    std_utc_offset: timedelta  # standard-time offset of that zone (the table's LST)
    station_name: str
    climate_date: date
    period_label: str | None  # TODAY / YESTERDAY
    valid_as_of: time | None  # "VALID TODAY AS OF 0500 PM" -> 17:00 local
    preliminary: bool
    corrected: bool
    maximum: CliTemperature | None  # None: no MAXIMUM row at all (early "as of" reports)
    minimum: CliTemperature | None

    @property
    def issued_utc(self) -> datetime:
        return self.issued_local.astimezone(UTC)

    @property
    def final(self) -> bool:
        return not self.preliminary

    @property
    def wfo(self) -> str | None:
        """The three-letter office id (KOKX -> OKX) for CONUS offices."""
        office = self.issuing_office_id
        if office is None:
            return None
        return office[1:] if office.startswith("K") else office

    @property
    def high_f(self) -> int:
        """The maximum temperature, or ``CliMissingValueError`` if the product lacks it."""
        return _require(self, self.maximum, "MAXIMUM")

    @property
    def low_f(self) -> int:
        return _require(self, self.minimum, "MINIMUM")

    def max_time_utc(self) -> datetime | None:
        """When the maximum occurred, as an aware UTC instant (None if not reported)."""
        if self.maximum is None or self.maximum.time_lst is None:
            return None
        lst = timezone(self.std_utc_offset)
        return datetime.combine(self.climate_date, self.maximum.time_lst, lst).astimezone(UTC)


def _require(report: CliReport, row: CliTemperature | None, name: str) -> int:
    if row is None:
        raise CliMissingValueError(report.product, f"the product has no {name} row")
    if row.value_f is None:
        raise CliMissingValueError(report.product, f"{name} is reported missing (MM)")
    return row.value_f


def parse_cli(text: str, product_id: str | None = None) -> CliReport:
    """Parse one CLI product. Raises ``CliParseError`` naming the product on anything odd."""
    lines = text.replace("\r", "").split("\n")
    awips = _first_match(_AWIPS_RE, lines[:15])
    wmo = _first_match(_WMO_RE, lines[:15])
    parts = [m.group(0).strip() for m in (awips, wmo) if m is not None]
    name = product_id or " ".join(parts) or "CLI product"
    if awips is None:
        raise CliParseError(name, "no CLIxxx AWIPS identifier in the header")
    head = _Header.read(name, lines)
    summary_index, summary = _find_summary(name, lines)
    station, climate_day, summary_tail = summary

    header_index = _find_index(lines, lambda s: s.startswith("WEATHER ITEM"), summary_index)
    if header_index is None:
        raise CliParseError(name, "no WEATHER ITEM table header")
    has_time_column = "TIME" in lines[header_index].split()
    between = " ".join(lines[summary_index + 1 : header_index])
    as_of_time: time | None = None
    has_as_of = bool(_AS_OF_RE.search(between))
    if has_as_of:
        found = _AS_OF_TIME_RE.search(between)
        if found:
            as_of_time = _clock(name, found.group(1), found.group(2), "VALID AS OF")

    label, rows = _temperature_rows(name, lines, header_index)
    maximum = _temperature(name, rows.get("MAXIMUM"), "MAXIMUM", has_time_column)
    minimum = _temperature(name, rows.get("MINIMUM"), "MINIMUM", has_time_column)
    if maximum is None and minimum is None:
        raise CliParseError(name, "the temperature table has neither MAXIMUM nor MINIMUM")
    if (
        maximum is not None
        and minimum is not None
        and maximum.value_f is not None
        and minimum.value_f is not None
        and maximum.value_f < minimum.value_f
    ):
        raise CliParseError(name, f"MAXIMUM {maximum.value_f} below MINIMUM {minimum.value_f}")

    issued_lst = head.issued_local.astimezone(timezone(head.std_offset)).replace(tzinfo=None)
    if climate_day > issued_lst.date():
        raise CliParseError(name, f"climate date {climate_day} after the issuance {issued_lst}")
    # A report is final only once its climate day (midnight to midnight LST) is over.
    day_over = issued_lst >= datetime.combine(climate_day + timedelta(days=1), time(0))
    preliminary = has_as_of or label == "TODAY" or not day_over
    corrected = (
        (head.bbb or "").startswith("CC")
        or head.title_corrected
        or bool(_CORRECTION_RE.search(summary_tail))
    )
    return CliReport(
        product=name,
        awips_id=awips.group(1),
        wmo_heading=wmo.group(0).strip() if wmo else None,
        bbb=head.bbb,
        issuing_office_id=wmo.group(2) if wmo else None,
        issuing_office=head.office,
        issued_local=head.issued_local,
        std_utc_offset=head.std_offset,
        station_name=station,
        climate_date=climate_day,
        period_label=label,
        valid_as_of=as_of_time,
        preliminary=preliminary,
        corrected=corrected,
        maximum=maximum,
        minimum=minimum,
    )


@dataclass(frozen=True, slots=True)
class _Header:
    office: str
    issued_local: datetime
    std_offset: timedelta
    bbb: str | None
    title_corrected: bool

    @classmethod
    def read(cls, name: str, lines: list[str]) -> _Header:
        wmo = _first_match(_WMO_RE, lines[:15])
        office_index = _find_index(lines[:30], lambda s: bool(_OFFICE_RE.match(s)))
        if office_index is None:
            raise CliParseError(name, "no NATIONAL WEATHER SERVICE office line")
        office_match = _OFFICE_RE.match(lines[office_index])
        assert office_match is not None
        issued = _find_index(lines[:40], lambda s: bool(_ISSUED_RE.match(s)), office_index)
        if issued is None:
            raise CliParseError(name, "no issuance time line after the office line")
        match = _ISSUED_RE.match(lines[issued])
        assert match is not None
        clock_text, half, zone, month_text, day_text, year_text = match.groups()
        if zone not in ZONE_OFFSETS:
            raise CliParseError(name, f"unknown time zone {zone!r} in the issuance line")
        offset_h, std_h = ZONE_OFFSETS[zone]
        month = _month(name, month_text)
        clock = _clock(name, clock_text, half, "issuance time")
        try:
            local_day = date(int(year_text), month, int(day_text))
        except ValueError as exc:
            raise CliParseError(name, f"bad issuance date: {lines[issued].strip()!r}") from exc
        issued_local = datetime.combine(local_day, clock, timezone(timedelta(hours=offset_h), zone))
        title = " ".join(lines[: office_index + 1])
        return cls(
            office=office_match.group(1),
            issued_local=issued_local,
            std_offset=timedelta(hours=std_h),
            bbb=wmo.group(4) if wmo else None,
            title_corrected=bool(_CORRECTION_RE.search(title)),
        )


def _find_summary(name: str, lines: list[str]) -> tuple[int, tuple[str, date, str]]:
    for index, line in enumerate(lines):
        match = _SUMMARY_RE.search(line)
        if match:
            station, month_text, day_text, year_text, tail = match.groups()
            try:
                day = date(int(year_text), _month(name, month_text), int(day_text))
            except ValueError as exc:
                raise CliParseError(name, f"bad climate date in {line.strip()!r}") from exc
            return index, (" ".join(station.split()), day, tail)
    raise CliParseError(name, "no '...THE <STATION> CLIMATE SUMMARY FOR <DATE>...' line")


def _temperature_rows(
    name: str, lines: list[str], start: int
) -> tuple[str | None, dict[str, list[str]]]:
    """The period label and the MAXIMUM/MINIMUM/AVERAGE rows of the first temperature table."""
    section = _find_index(lines, lambda s: s.startswith("TEMPERATURE"), start)
    if section is None:
        raise CliParseError(name, "no TEMPERATURE section")
    label: str | None = None
    rows: dict[str, list[str]] = {}
    for line in lines[section + 1 :]:
        tokens = line.split()
        if not tokens:
            continue
        if label is None and not rows and tokens[0] in ("TODAY", "YESTERDAY") and len(tokens) == 1:
            label = tokens[0]
            continue
        if tokens[0] in _ROW_NAMES:
            if tokens[0] in rows:
                raise CliParseError(name, f"two {tokens[0]} rows in the temperature table")
            rows[tokens[0]] = tokens[1:]
            continue
        if all(token.isdigit() for token in tokens):
            continue  # continuation of a row: further record years
        break
    return label, rows


def _temperature(
    name: str, tokens: list[str] | None, row: str, has_time_column: bool
) -> CliTemperature | None:
    if tokens is None:
        return None
    if not tokens:
        raise CliParseError(name, f"{row} row has no value")
    value_text, rest = tokens[0], tokens[1:]
    estimated = False
    if rest and rest[0] == "(E)":  # an estimate flag written apart from the value
        estimated, rest = True, rest[1:]
    if value_text == "MM":
        value: int | None = None
        record = False
    else:
        match = _VALUE_RE.match(value_text)
        if match is None:
            raise CliParseError(name, f"unreadable {row} value {value_text!r}")
        value = int(match.group(1))
        if value not in _PLAUSIBLE_F:
            raise CliParseError(name, f"implausible {row} value {value} F")
        record = bool(match.group(2))
        estimated = estimated or bool(match.group(3))
    when: time | None = None
    time_missing = False
    if has_time_column:
        if not rest:
            raise CliParseError(name, f"{row} row has no time although the table has a column")
        time_missing = rest[0] == "MM"
        if not time_missing:
            if len(rest) < 2 or rest[1] not in ("AM", "PM"):
                raise CliParseError(name, f"unreadable {row} time in {' '.join(tokens)!r}")
            when = _clock(name, rest[0], rest[1], f"{row} time")
    return CliTemperature(
        value_f=value,
        time_lst=when,
        record=record,
        estimated=estimated,
        time_missing=time_missing,
    )


def parse_time_of_day(text: str, what: str = "time of day") -> time:
    """'326 PM', '0151 PM', '11:29 PM' -> a time. ``CliParseError`` if unreadable."""
    parts = text.split()
    if len(parts) != 2 or parts[1] not in ("AM", "PM"):
        raise CliParseError(what, f"unreadable time {text!r}")
    return _clock(what, parts[0], parts[1], "time")


def _clock(name: str, text: str, half: str, what: str) -> time:
    """'418' PM, '0151' PM, '11:29' PM, '5' PM -> a time of day."""
    match = _CLOCK_RE.match(text)
    if match is None:
        raise CliParseError(name, f"unreadable {what} {text!r}")
    if match.group(3) is not None:
        digits = match.group(3)
        hour_text, minute_text = (digits, "0") if len(digits) <= 2 else (digits[:-2], digits[-2:])
    else:
        hour_text, minute_text = match.group(1), match.group(2)
    hour, minute = int(hour_text), int(minute_text)
    if not 1 <= hour <= 12 or not 0 <= minute <= 59:
        raise CliParseError(name, f"impossible {what} {text} {half}")
    hour = hour % 12 + (12 if half == "PM" else 0)
    return time(hour, minute)


def _month(name: str, text: str) -> int:
    for full, number in _MONTHS.items():
        if full.startswith(text):  # JANUARY, JAN, SEPT
            return number
    raise CliParseError(name, f"unknown month {text!r}")


def _first_match(pattern: re.Pattern[str], lines: list[str]) -> re.Match[str] | None:
    for line in lines:
        match = pattern.match(line)
        if match:
            return match
    return None


def _find_index(lines: list[str], test: Callable[[str], bool], start: int = 0) -> int | None:
    """Index of the first line from ``start`` whose stripped text passes ``test``."""
    for index in range(start, len(lines)):
        if test(lines[index].strip()):
            return index
    return None
