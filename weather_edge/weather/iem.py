"""Iowa Environmental Mesonet (IEM) client: the history of CLI reports, observations, MOS.

Shapes, from the IEM's own service code (github.com/akrherz/iem, iem-web-services):

* ``GET /json/cli.py?station=KNYC&year=2025`` -> ``{"results": [{station, valid: "YYYY-MM-DD",
  name, wfo, high, high_time: "326 PM", low, low_time, product:
  "202501020639-KOKX-CDUS41-CLINYC", link: "/api/1/nwstext/<product>", ...}],
  "generated_at"}``; missing numbers are the string ``"M"``.
* ``GET /api/1/nwstext/{product_id}`` -> the raw product text (``text/plain``). The id is
  ``YYYYMMDDHHMM-CCCC-TTAAII-PIL[-BBB]``; with a BBB (``CCA``...) it names a correction.
* ``GET /cgi-bin/request/asos.py?station=NYC&data=tmpf&data=metar&sts=&ets=&tz=UTC&format=
  onlycomma&missing=M&report_type=3&report_type=4`` -> CSV ``station,valid,tmpf,metar`` with
  ``valid`` as ``YYYY-MM-DD HH:MM`` in ``tz`` and ``tmpf`` with two decimals.
* ``GET /api/1/mos.json?station=KNYC&model=NBS[&runtime=]`` -> a pandas "table" JSON
  ``{"schema": {...}, "data": [{station, model, runtime, ftime, tmp, n_x, txn, ...}]}``
  with ``runtime``/``ftime`` as ``YYYY-MM-DD HH:MM`` UTC.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from weather_edge.weather.cities import City, ensure_utc
from weather_edge.weather.cli_report import CliParseError, CliReport, parse_cli, parse_time_of_day
from weather_edge.weather.climate_day import climate_day_bounds
from weather_edge.weather.http import (
    Params,
    ResponseShapeError,
    SingleHostClient,
    json_list,
    json_object,
    json_str,
)
from weather_edge.weather.nws import Observation, metar_precision_c

ENV_IEM_URL = "WEATHER_EDGE_IEM_URL"
DEFAULT_IEM_URL = "https://mesonet.agron.iastate.edu"

_PRODUCT_ID = re.compile(r"^(\d{12})-([A-Z0-9]{4})-([A-Z0-9]{6})-([A-Z0-9]{3,6})(?:-([A-Z]{3}))?$")


@dataclass(frozen=True, slots=True)
class IemProductId:
    """An IEM product id: ``YYYYMMDDHHMM-CCCC-TTAAII-PIL[-BBB]``."""

    text: str
    issued_utc: datetime
    source: str
    ttaaii: str
    pil: str
    bbb: str | None

    @classmethod
    def parse(cls, text: str) -> IemProductId:
        match = _PRODUCT_ID.match(text)
        if match is None:
            raise ValueError(f"not an IEM product id: {text!r}")
        stamp, source, ttaaii, pil, bbb = match.groups()
        issued = datetime.strptime(stamp, "%Y%m%d%H%M").replace(tzinfo=UTC)
        return cls(text, issued, source, ttaaii, pil, bbb)

    @property
    def corrected(self) -> bool:
        return (self.bbb or "").startswith("CC")


@dataclass(frozen=True, slots=True)
class IemCliDay:
    """One row of /json/cli.py: the values IEM parsed out of the day's CLI."""

    station: str
    day: date
    name: str | None
    wfo: str | None
    high_f: int | None
    high_time_lst: time | None
    low_f: int | None
    low_time_lst: time | None
    product: IemProductId | None
    preliminary: bool  # the product was issued before the climate day ended


@dataclass(frozen=True, slots=True)
class MosRow:
    """One forecast hour of station MOS / NBM text guidance (°F)."""

    station: str
    model: str
    runtime_utc: datetime
    ftime_utc: datetime
    tmp_f: float | None
    # The max/min column: ``n_x`` for GFS/NAM MOS, ``txn`` for NBM (NBS/NBE). At 00Z it is
    # the daytime maximum (7 AM - 7 PM local), at 12Z the overnight minimum: not the
    # climate-day high.
    max_min_f: float | None


class IemClient(SingleHostClient):
    """Synchronous IEM client (the base URL is configuration)."""

    DEFAULT_URL = DEFAULT_IEM_URL
    URL_ENV = ENV_IEM_URL

    def cli_year(self, city: City, year: int) -> list[IemCliDay]:
        """IEM's parsed CLI values for the city's station, one row per climate day."""
        payload = self.http.get_json("/json/cli.py", {"station": city.station_id, "year": year})
        rows = json_list(json_object(payload, "json/cli.py").get("results"), "results")
        return sorted((_cli_day(city, row) for row in rows), key=lambda r: r.day)

    def product_text(self, product_id: str) -> str:
        """The raw text of one product (a correction when the id carries its BBB)."""
        IemProductId.parse(product_id)  # refuse a malformed id before asking
        return self.http.get_text(f"/api/1/nwstext/{product_id}")

    def cli_report(self, product_id: str) -> CliReport:
        return parse_cli(self.product_text(product_id), product_id=product_id)

    def asos_observations(self, city: City, start: datetime, end: datetime) -> list[Observation]:
        """Routine and special METARs of the city's station with start <= valid < end."""
        params: Params = {
            "station": city.station_id,
            "data": ["tmpf", "metar"],
            "sts": _z(start),
            "ets": _z(end),
            "tz": "UTC",
            "format": "onlycomma",
            "latlon": "no",
            "missing": "M",
            "trace": "T",
            "report_type": [3, 4],
        }
        return parse_asos_csv(self.http.get_text("/cgi-bin/request/asos.py", params))

    def mos(self, station: str, model: str, runtime: datetime | None = None) -> list[MosRow]:
        """One MOS/NBM run (the latest when ``runtime`` is None), ordered by forecast hour."""
        params: Params = {"station": station, "model": model}
        if runtime is not None:
            params = {**params, "runtime": _z(runtime)}
        payload = self.http.get_json("/api/1/mos.json", params)
        rows = json_list(json_object(payload, "mos.json").get("data"), "mos.json data")
        return sorted((_mos_row(row) for row in rows), key=lambda r: r.ftime_utc)


def _z(moment: datetime) -> str:
    return ensure_utc(moment).strftime("%Y-%m-%dT%H:%MZ")


def _int_or_missing(value: Any, what: str) -> int | None:
    if value in ("M", None):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ResponseShapeError(f"{what}: expected an integer or 'M', got {value!r}")


def _time_or_missing(value: Any, what: str) -> time | None:
    if value in ("M", None, ""):
        return None
    try:
        return parse_time_of_day(str(value).strip(), what)
    except CliParseError as exc:
        raise ResponseShapeError(str(exc)) from exc


def _cli_day(city: City, raw: Any) -> IemCliDay:
    row = json_object(raw, "json/cli.py result")
    day = date.fromisoformat(json_str(row.get("valid"), "cli valid"))
    product_text = row.get("product")
    try:
        product = IemProductId.parse(product_text) if isinstance(product_text, str) else None
    except ValueError as exc:
        raise ResponseShapeError(f"json/cli.py {day}: {exc}") from exc
    _, end = climate_day_bounds(city, day)
    name, wfo = row.get("name"), row.get("wfo")
    return IemCliDay(
        station=json_str(row.get("station"), "cli station"),
        day=day,
        name=name if isinstance(name, str) else None,
        wfo=wfo if isinstance(wfo, str) else None,
        high_f=_int_or_missing(row.get("high"), f"{day} high"),
        high_time_lst=_time_or_missing(row.get("high_time"), f"{day} high_time"),
        low_f=_int_or_missing(row.get("low"), f"{day} low"),
        low_time_lst=_time_or_missing(row.get("low_time"), f"{day} low_time"),
        product=product,
        # Without a product we can not tell; treat it as not final.
        preliminary=product is None or product.issued_utc < end,
    )


def _utc_minute(text: Any, what: str) -> datetime:
    """'2025-01-02 06:51' (UTC) or ISO 8601 -> aware UTC."""
    value = json_str(text, what)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ResponseShapeError(f"{what}: unreadable time {value!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_asos_csv(text: str) -> list[Observation]:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"station", "valid", "tmpf"} - set(reader.fieldnames or ())
    if missing:
        raise ResponseShapeError(f"asos.py CSV lacks columns {sorted(missing)}")
    out = []
    for row in reader:
        if row["tmpf"] in ("M", "", None):
            continue
        try:
            fahrenheit = float(row["tmpf"])
        except ValueError as exc:
            raise ResponseShapeError(f"asos.py tmpf {row['tmpf']!r}") from exc
        metar = (row.get("metar") or "").strip() or None
        # IEM derives tmpf from the METAR's °C (tenths with a T-group): undo that exactly.
        celsius = round((fahrenheit - 32.0) / 1.8, 1)
        out.append(
            Observation(
                timestamp_utc=_utc_minute(row["valid"], "asos valid"),
                temp_c=celsius,
                precision_c=metar_precision_c(celsius, metar),
                quality_control=None,
                raw_message=metar,
            )
        )
    return sorted(out, key=lambda ob: ob.timestamp_utc)


def _mos_number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    raise ResponseShapeError(f"mos.json: expected a number, got {value!r}")


def _mos_row(raw: Any) -> MosRow:
    row = json_object(raw, "mos.json row")
    model = json_str(row.get("model"), "mos model")
    extreme = row.get("txn") if model in ("NBS", "NBE") else row.get("n_x")
    return MosRow(
        station=json_str(row.get("station"), "mos station"),
        model=model,
        runtime_utc=_utc_minute(row.get("runtime"), "mos runtime"),
        ftime_utc=_utc_minute(row.get("ftime"), "mos ftime"),
        tmp_f=_mos_number(row.get("tmp")),
        max_min_f=_mos_number(extreme),
    )


def mos_daytime_maxima(rows: list[MosRow]) -> dict[date, float]:
    """The guidance's daytime maximum per local date (the value at 00Z closes the day).

    For US stations the 00Z max/min value is the maximum over the preceding daytime, so it
    belongs to the UTC date before ``ftime``. A feature, not a climate-day high.
    """
    return {
        (row.ftime_utc - timedelta(days=1)).date(): row.max_min_f
        for row in rows
        if row.ftime_utc.hour == 0 and row.max_min_f is not None
    }
