"""Weather rows for the warehouse: live answers of the clients and the archived history.

Both paths write the same three tables (``forecasts``, ``observations``, ``climate_reports``)
through :meth:`Warehouse.upsert`, keyed so that storing the same thing twice adds nothing.

Rules every row obeys:

* times are aware UTC; a climate day is the local-standard-time date (``climate_day``);
* a forecast is never issued after the moment it was known: ``issued_at <= retrieved_at``
  (:class:`LookAheadError` otherwise), and never after its climate day ended;
* ``lead_hours`` is, for every source, the hours from the issue to the *end* of the climate
  day (the lead time the scores are bucketed by);
* every issue is its own row (key ``city, climate_day, source, issued_at``); every CLI
  product is its own row (key ``city, climate_day, product_id``), so a correction sits
  beside the report it corrects.

Sources (the ``source`` column):

=============================  =============================================================
``nws_hourly``                 NWS hourly forecast: max over the 24 hours of the climate day
``nws_hourly_remaining``       NWS hourly forecast for the day under way: the max over the
                               hours still to come (the API drops past hours); combine with
                               the running max of ``observations``
``open_meteo``                 Open-Meteo ``best_match`` (as archived); other models
                               ``open_meteo_<model>``. Issue time = fetch time
``ndfd``                       archived NWS NDFD issues (history only)
``nws_api``                    station observations and CLI products from api.weather.gov
``iem_cli``                    IEM's parse of the CLI (when api.weather.gov no longer lists it)
``iem_cli_archive``            the archived KNYC CLI highs (history only)
``open_meteo_analysis_proxy``  Open-Meteo's model analysis of past days (history only): a
                               proxy for observations, published the next morning
=============================  =============================================================
"""

from __future__ import annotations

import time as walltime
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from weather_edge.forecasting import history
from weather_edge.sim.weather import CLIMATES
from weather_edge.storage import Warehouse
from weather_edge.weather.cities import City, ensure_utc, get_city
from weather_edge.weather.cli_report import CliReport
from weather_edge.weather.climate_day import climate_day_bounds, hours_to_climate_day_end
from weather_edge.weather.http import Closing, HttpSettings, WeatherHttpError
from weather_edge.weather.iem import IemCliDay, IemClient
from weather_edge.weather.nws import (  # _REJECTED_QC: the QC rule observed_max applies
    _REJECTED_QC,
    HourlyForecast,
    NwsClient,
    Observation,
    ObservedMax,
    forecast_highs,
    observed_max,
)
from weather_edge.weather.openmeteo import ModelSeries, OpenMeteoClient

NWS_HOURLY = "nws_hourly"
NWS_HOURLY_REMAINING = "nws_hourly_remaining"
OPEN_METEO = "open_meteo"
OPEN_METEO_DEFAULT_MODEL = "best_match"
NDFD = "ndfd"
NWS_API = "nws_api"
IEM_CLI = "iem_cli"
IEM_CLI_ARCHIVE = "iem_cli_archive"
OPEN_METEO_ANALYSIS_PROXY = "open_meteo_analysis_proxy"

# Open-Meteo's /v1/forecast reaches this many days ahead and back.
OPEN_METEO_MAX_FORECAST_DAYS = 16
OPEN_METEO_MAX_PAST_DAYS = 92
# The final CLI goes out in the small hours; by 10 AM LST the next morning it is overdue.
FINAL_CLI_DUE_AFTER_DAY_END = timedelta(hours=10)
# The plausible band of a temperature: the month's normal high (and its normal low, the high
# less the diurnal range) widened by this many day-to-day spreads plus a fixed margin.
PLAUSIBLE_SPREADS = 5.0
PLAUSIBLE_MARGIN_F = 10.0

FORECAST_COLUMNS = (
    "city",
    "climate_day",
    "source",
    "issued_at",
    "forecast_high_f",
    "sigma_f",
    "lead_hours",
    "suspect",
    "retrieved_at",
)

Row = dict[str, Any]


class LookAheadError(ValueError):
    """A forecast claimed to be known before it was issued."""


class WeatherSourceError(RuntimeError):
    """One or more weather sources failed; what the others gave was stored."""


# ---------------------------------------------------------------- rows (pure)


def forecast_row(
    city: City,
    day: date,
    source: str,
    issued_at: datetime,
    high_f: float,
    retrieved_at: datetime,
    *,
    sigma_f: float | None = None,
    suspect: bool = False,
) -> Row:
    """One ``forecasts`` row; refuses an issue later than its retrieval (look-ahead)."""
    issued, retrieved = ensure_utc(issued_at), ensure_utc(retrieved_at)
    if issued > retrieved:
        raise LookAheadError(
            f"{city.code} {day} {source}: issued {issued.isoformat()} after it was retrieved "
            f"{retrieved.isoformat()}"
        )
    return {
        "city": city.code,
        "climate_day": day,
        "source": source,
        "issued_at": issued,
        "forecast_high_f": float(high_f),
        "sigma_f": sigma_f,
        "lead_hours": hours_to_climate_day_end(city, day, issued),
        "suspect": suspect,
        "retrieved_at": retrieved,
    }


def nws_forecast_rows(
    city: City, forecast: HourlyForecast, day: date, retrieved_at: datetime
) -> list[Row]:
    """The NWS hourly forecast's high for ``day`` (none once the day is over).

    A whole day gives ``nws_hourly``; the day under way (the API serves hours from now on)
    gives ``nws_hourly_remaining``; a day cut off by the end of the forecast gives nothing.
    """
    _, end = climate_day_bounds(city, day)
    if forecast.issued_utc >= end:
        return []
    high = next((h for h in forecast_highs(city, forecast) if h.day == day), None)
    if high is None:
        return []
    if high.complete:
        source = NWS_HOURLY
    elif forecast.periods and forecast.periods[-1].end_utc >= end:
        source = NWS_HOURLY_REMAINING
    else:
        return []
    return [forecast_row(city, day, source, high.issued_utc, high.high_f, retrieved_at)]


def open_meteo_source(model: str) -> str:
    return OPEN_METEO if model == OPEN_METEO_DEFAULT_MODEL else f"{OPEN_METEO}_{model}"


def open_meteo_forecast_rows(city: City, series: Iterable[ModelSeries], day: date) -> list[Row]:
    """Each model's max over the climate day's hours (23 of 24 at least), issued when fetched.

    Only latest-run series count: a ``previous_dayN`` series mixes many runs.
    """
    _, end = climate_day_bounds(city, day)
    rows = []
    for one in series:
        if one.previous_day != 0 or one.fetched_at >= end:
            continue
        for m in one.daily_highs(city):
            if m.day == day and m.samples >= history.MIN_HOURS_PER_DAY:
                source = open_meteo_source(one.model)
                rows.append(
                    forecast_row(city, day, source, one.fetched_at, m.high_f, one.fetched_at)
                )
    return rows


def usable_observations(
    city: City, day: date, observations: Iterable[Observation], as_of: datetime
) -> list[Observation]:
    """The observations inside the climate day, at or before ``as_of``, not QC-rejected."""
    start, end = climate_day_bounds(city, day)
    cutoff = min(end, ensure_utc(as_of) + timedelta(microseconds=1))
    kept = [
        ob
        for ob in observations
        if start <= ob.timestamp_utc < cutoff and ob.quality_control not in _REJECTED_QC
    ]
    return sorted(kept, key=lambda ob: ob.timestamp_utc)


def observation_rows(
    city: City, day: date, observations: Iterable[Observation], as_of: datetime
) -> list[Row]:
    """``observations`` rows of the city's station with the running max so far (°F).

    ``temperature_f`` is the METAR's °C converted without rounding; the CLI's whole °F can
    differ from it by rounding (see :class:`ObservedMax`).
    """
    rows, running = [], float("-inf")
    for ob in usable_observations(city, day, observations, as_of):
        running = max(running, ob.temp_f)
        rows.append(
            {
                "station_id": city.station_id,
                "observed_at": ob.timestamp_utc,
                "city": city.code,
                "climate_day": day,
                "temperature_f": ob.temp_f,
                "running_max_f": running,
                "source": NWS_API,
            }
        )
    return rows


def cli_clock(moment: time | None) -> str | None:
    """13:05 -> '105 PM', the way CLI tables print times (local standard time)."""
    if moment is None:
        return None
    hour = moment.hour % 12 or 12
    return f"{hour}{moment.minute:02d} {'PM' if moment.hour >= 12 else 'AM'}"


def climate_report_row(
    city: City, product_id: str, issued_at: datetime, report: CliReport, source: str = NWS_API
) -> Row:
    """One ``climate_reports`` row from a parsed CLI product."""
    if report.awips_id != city.cli_product:
        raise ValueError(f"product {product_id} is {report.awips_id}, not {city.cli_product}")
    return {
        "city": city.code,
        "climate_day": report.climate_date,
        "product_id": product_id,
        "issued_at": ensure_utc(issued_at),
        "high_f": None if report.maximum is None else report.maximum.value_f,
        "high_time_local": None if report.maximum is None else cli_clock(report.maximum.time_lst),
        "low_f": None if report.minimum is None else report.minimum.value_f,
        "preliminary": report.preliminary,
        "correction": report.corrected,
        "source": source,
    }


def iem_climate_report_row(city: City, day: IemCliDay) -> Row | None:
    """One ``climate_reports`` row from IEM's parse of a CLI (None without a product id)."""
    if day.product is None:
        return None
    return {
        "city": city.code,
        "climate_day": day.day,
        "product_id": day.product.text,
        "issued_at": day.product.issued_utc,
        "high_f": day.high_f,
        "high_time_local": cli_clock(day.high_time_lst),
        "low_f": day.low_f,
        "preliminary": day.preliminary,
        "correction": day.product.corrected,
        "source": IEM_CLI,
    }


# ---------------------------------------------------------------- live sources


@dataclass
class WeatherClients(Closing):
    """The three live sources, configured once (base URLs are configuration)."""

    nws: NwsClient
    iem: IemClient
    open_meteo: OpenMeteoClient
    models: tuple[str, ...] = (OPEN_METEO_DEFAULT_MODEL,)

    @classmethod
    def connect(
        cls,
        *,
        nws_url: str,
        iem_url: str,
        open_meteo_url: str,
        user_agent: str,
        models: Sequence[str] = (OPEN_METEO_DEFAULT_MODEL,),
    ) -> WeatherClients:
        settings = HttpSettings(user_agent=user_agent)
        return cls(
            NwsClient(nws_url, settings),
            IemClient(iem_url, settings),
            OpenMeteoClient(open_meteo_url, settings=settings),
            tuple(models),
        )

    def close(self) -> None:
        for client in (self.nws, self.iem, self.open_meteo):
            client.close()


def _gather(fetchers: Sequence[tuple[str, Callable[[], list[Row]]]]) -> tuple[list[Row], list[str]]:
    """Run each fetcher; a failing source is noted, the others still count."""
    rows: list[Row] = []
    failures: list[str] = []
    for name, fetch in fetchers:
        try:
            rows.extend(fetch())
        except WeatherHttpError as exc:
            failures.append(f"{name}: {exc}")
    return rows, failures


def _raise_failures(what: str, failures: list[str]) -> None:
    if failures:
        raise WeatherSourceError(f"{what}: " + "; ".join(failures))


def fetch_nws_forecast(
    clients: WeatherClients, city: City, day: date, as_of: datetime
) -> list[Row]:
    return nws_forecast_rows(city, clients.nws.hourly_forecast(city), day, as_of)


def fetch_open_meteo_forecast(
    clients: WeatherClients, city: City, day: date, as_of: datetime
) -> list[Row]:
    """The latest run of each configured model, asked for enough days to cover ``day``."""
    today = ensure_utc(as_of).date()
    ahead = (day - today).days + 2  # GMT dates: the climate day ends on the next one
    past = max(0, (today - day).days) + 1  # the day's elapsed hours, as the archive has them
    if ahead > OPEN_METEO_MAX_FORECAST_DAYS or past > OPEN_METEO_MAX_PAST_DAYS:
        return []
    series = clients.open_meteo.forecast(
        city, clients.models, past_days=past, forecast_days=max(1, ahead), now=as_of
    )
    return open_meteo_forecast_rows(city, series, day)


@dataclass(frozen=True)
class StoredSummary:
    """What a refresh wrote and what the warehouse now holds for the partition."""

    written: int
    metadata: dict[str, Any] = field(default_factory=dict)


def refresh_forecasts(
    clients: WeatherClients, warehouse: Warehouse, city: City, day: date, as_of: datetime
) -> StoredSummary:
    """Store every forecast issue for ``day`` known at ``as_of`` (none once the day is over).

    A source that fails does not stop the others: what they gave is stored, then
    :class:`WeatherSourceError` names the failures.
    """
    _, end = climate_day_bounds(city, day)
    fetchers: list[tuple[str, Callable[[], list[Row]]]] = []
    if ensure_utc(as_of) < end:
        fetchers = [
            ("nws", lambda: fetch_nws_forecast(clients, city, day, as_of)),
            ("open_meteo", lambda: fetch_open_meteo_forecast(clients, city, day, as_of)),
        ]
    rows, failures = _gather(fetchers)
    written = warehouse.upsert("forecasts", rows)
    _raise_failures(f"forecasts {city.code} {day}", failures)
    return StoredSummary(written, forecast_metadata(warehouse, city, day, written))


def forecast_metadata(warehouse: Warehouse, city: City, day: date, written: int) -> dict[str, Any]:
    by_source = warehouse.query(
        "SELECT source, COUNT(*) FROM forecasts WHERE city = ? AND climate_day = ? "
        "GROUP BY source ORDER BY source",
        (city.code, day),
    )
    latest = warehouse.query(
        "SELECT source, issued_at, forecast_high_f, lead_hours FROM forecasts "
        "WHERE city = ? AND climate_day = ? ORDER BY issued_at DESC, source LIMIT 1",
        (city.code, day),
    )
    meta: dict[str, Any] = {
        "issues_known": sum(int(n) for _, n in by_source),
        "new_issues": written,
        "by_source": ", ".join(f"{s}: {n}" for s, n in by_source) or "none",
    }
    if latest:
        source, issued, high, lead = latest[0]
        meta |= {
            "latest_issue": ensure_utc(issued).isoformat(),
            "latest_source": source,
            "latest_high_f": round(float(high), 1),
            "latest_lead_hours": round(float(lead), 1),
        }
    return meta


def refresh_observations(
    clients: WeatherClients, warehouse: Warehouse, city: City, day: date, as_of: datetime
) -> StoredSummary:
    """Store the station's observations so far in ``day`` with their running max.

    Re-running recomputes the running max of every stored row (a late report can land
    between earlier ones).
    """
    start, end = climate_day_bounds(city, day)
    until = min(end - timedelta(seconds=1), ensure_utc(as_of))
    fetched = [] if until < start else clients.nws.observations(city.station_id, start, until)
    rows = observation_rows(city, day, fetched, as_of)
    written = warehouse.upsert("observations", rows, update=True)
    seen = observed_max(city.station_id, city, day, fetched, as_of)
    return StoredSummary(written, observation_metadata(city, day, rows, seen, as_of))


def observation_metadata(
    city: City, day: date, rows: list[Row], seen: ObservedMax | None, as_of: datetime
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "station": city.station_id,
        "observations": len(rows),
        "as_of": ensure_utc(as_of).isoformat(),
    }
    if seen is None:
        return meta | {"running_max_f": "none yet"}
    return meta | {
        "running_max_f": round(seen.max_f, 2),
        "running_max_at": seen.at_utc.isoformat(),
        "likely_cli_high_so_far_f": seen.likely_high_so_far_f,
        "cli_high_at_least_f": seen.floor_f,
        "rounding_f": round(seen.rounding_f, 2),
        "rounding_caveat": (
            "temperature_f is the METAR's °C converted without rounding; the CLI's whole °F "
            f"can differ by up to {seen.rounding_f:.2f} °F, so the final high is at least "
            f"{seen.floor_f} °F"
        ),
        "latest_observation": rows[-1]["observed_at"].isoformat(),
    }


def fetch_nws_climate_reports(
    clients: WeatherClients, city: City, day: date, as_of: datetime
) -> list[Row]:
    cutoff = ensure_utc(as_of)
    return [
        climate_report_row(city, p.ref.product_id, p.ref.issued_utc, p.report)
        for p in clients.nws.cli_reports(city, day)
        if p.ref.issued_utc <= cutoff
    ]


def fetch_iem_climate_report(
    clients: WeatherClients, city: City, day: date, as_of: datetime
) -> list[Row]:
    found = [d for d in clients.iem.cli_year(city, day.year) if d.day == day]
    rows = [r for d in found if (r := iem_climate_report_row(city, d)) is not None]
    return [r for r in rows if r["issued_at"] <= ensure_utc(as_of)]


def refresh_climate_reports(
    clients: WeatherClients, warehouse: Warehouse, city: City, day: date, as_of: datetime
) -> StoredSummary:
    """Store every CLI product for ``day`` issued by ``as_of``: preliminary, final, corrections.

    api.weather.gov lists only recent products; for a finished day it no longer lists with a
    final report, IEM's parse of the CLI fills in.
    """
    rows, failures = _gather(
        [("nws", lambda: fetch_nws_climate_reports(clients, city, day, as_of))]
    )
    _, end = climate_day_bounds(city, day)
    if ensure_utc(as_of) >= end and not any(not r["preliminary"] for r in rows):
        more, failed = _gather(
            [("iem", lambda: fetch_iem_climate_report(clients, city, day, as_of))]
        )
        rows, failures = rows + more, failures + failed
    written = warehouse.upsert("climate_reports", rows)
    _raise_failures(f"climate reports {city.code} {day}", failures)
    return StoredSummary(written, climate_report_metadata(warehouse, city, day, written))


def _reports(warehouse: Warehouse, city: City, day: date) -> list[tuple[Any, ...]]:
    """(product_id, issued_at, high_f, preliminary, correction, source), oldest first."""
    return warehouse.query(
        "SELECT product_id, issued_at, high_f, preliminary, correction, source "
        "FROM climate_reports WHERE city = ? AND climate_day = ? ORDER BY issued_at, product_id",
        (city.code, day),
    )


def climate_report_metadata(
    warehouse: Warehouse, city: City, day: date, written: int
) -> dict[str, Any]:
    reports = _reports(warehouse, city, day)
    finals = [r for r in reports if not r[3]]
    meta: dict[str, Any] = {
        "reports": len(reports),
        "new_reports": written,
        "final_reports": len(finals),
        "preliminary_reports": len(reports) - len(finals),
        "corrections": sum(1 for r in reports if r[4]),
        "status": "final" if finals else ("preliminary" if reports else "none yet"),
    }
    settling = (finals or reports)[-1:]
    if settling:
        product, issued, high, _, _, source = settling[0]
        meta |= {
            "high_f": "MM" if high is None else int(high),
            "product": product,
            "issued_at": ensure_utc(issued).isoformat(),
            "source": source,
        }
    return meta


# ---------------------------------------------------------------- checks (pure over the warehouse)


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    metadata: dict[str, Any]


def plausible_range_f(city_code: str, month: int) -> tuple[float, float]:
    """A wide band for any temperature at the city's station in ``month`` (°F).

    From the simulator's climatology (``sim.weather.CLIMATES``: normal high, diurnal range,
    day-to-day spread by month): over the month and its two neighbours, the normal low less
    and the normal high plus ``PLAUSIBLE_SPREADS`` spreads and ``PLAUSIBLE_MARGIN_F``.
    NYC: July 23.6..119.9 °F, January -25.6..94.7 °F - records stay inside, typos do not.
    """
    climate = CLIMATES[get_city(city_code).code]
    months = [(month - 2) % 12, month - 1, month % 12]
    margins = [PLAUSIBLE_SPREADS * climate.anomaly_sd[m] + PLAUSIBLE_MARGIN_F for m in months]
    low = min(
        climate.normal_high[m] - climate.diurnal_range[m] - w
        for m, w in zip(months, margins, strict=True)
    )
    high = max(climate.normal_high[m] + w for m, w in zip(months, margins, strict=True))
    return round(low, 1), round(high, 1)


def check_observations_plausible(warehouse: Warehouse, city: City, day: date) -> CheckOutcome:
    """Every observation of the partition lies in its station's band for the month."""
    rows = warehouse.query(
        "SELECT station_id, observed_at, temperature_f, source FROM observations "
        "WHERE city = ? AND climate_day = ? ORDER BY observed_at",
        (city.code, day),
    )
    low, high = plausible_range_f(city.code, day.month)
    bad = [r for r in rows if not low <= float(r[2]) <= high]
    return CheckOutcome(
        passed=not bad,
        metadata={
            "observations": len(rows),
            "implausible": len(bad),
            "band_f": f"{low:g} .. {high:g} ({city.station_id}, month {day.month})",
            "examples": "; ".join(
                f"{s} {ensure_utc(t).isoformat()} {float(v):.1f} °F ({src})"
                for s, t, v, src in bad[:5]
            )
            or "none",
        },
    )


def check_forecasts_not_after_retrieval(
    warehouse: Warehouse, city: City, day: date
) -> CheckOutcome:
    """No forecast of the partition was issued after it was retrieved, or after its day ended."""
    rows = warehouse.query(
        "SELECT source, issued_at, retrieved_at, lead_hours FROM forecasts "
        "WHERE city = ? AND climate_day = ? ORDER BY issued_at",
        (city.code, day),
    )
    _, end = climate_day_bounds(city, day)
    look_ahead = [r for r in rows if ensure_utc(r[1]) > ensure_utc(r[2])]
    after_day = [r for r in rows if ensure_utc(r[1]) >= end]
    return CheckOutcome(
        passed=not look_ahead and not after_day,
        metadata={
            "forecasts": len(rows),
            "issued_after_retrieval": len(look_ahead),
            "issued_after_day_end": len(after_day),
            "examples": "; ".join(
                f"{s} issued {ensure_utc(i).isoformat()} retrieved {ensure_utc(r).isoformat()}"
                for s, i, r, _ in (look_ahead + after_day)[:5]
            )
            or "none",
        },
    )


def final_cli_due(city: City, day: date) -> datetime:
    """When the day's final CLI is overdue: 10 AM local standard time the next morning."""
    return climate_day_bounds(city, day)[1] + FINAL_CLI_DUE_AFTER_DAY_END


def check_final_cli(warehouse: Warehouse, city: City, day: date, now: datetime) -> CheckOutcome:
    """The final CLI of the day is stored once it is due; before then, 'not yet due'."""
    finals = [r for r in _reports(warehouse, city, day) if not r[3]]
    due = final_cli_due(city, day)
    if finals:
        product, issued, high, _, _, source = finals[-1]
        return CheckOutcome(
            True,
            {
                "status": "final present",
                "high_f": "MM" if high is None else int(high),
                "product": product,
                "issued_at": ensure_utc(issued).isoformat(),
                "source": source,
            },
        )
    late = ensure_utc(now) >= due
    hours = abs(ensure_utc(now) - due).total_seconds() / 3600
    status = f"overdue by {hours:.1f} h" if late else f"not yet due (due in {hours:.1f} h)"
    return CheckOutcome(not late, {"status": status, "due_at": due.isoformat()})


# ---------------------------------------------------------------- history


@dataclass(frozen=True)
class HistoryStep:
    """A progress report of :func:`load_history`: one table of one city done."""

    step: int
    steps: int
    city: str
    table: str
    source: str
    rows: int
    written: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"[{self.step}/{self.steps}] {self.city} {self.table} ({self.source}): "
            f"{self.rows:,} rows, {self.written:,} new, {self.seconds:.1f} s"
        )


Progress = Callable[[HistoryStep], None]


@dataclass(frozen=True)
class HistorySummary:
    """What :func:`load_history` read and wrote, step by step."""

    data_dir: Path
    steps: tuple[HistoryStep, ...]
    seconds: float

    @property
    def cities(self) -> list[str]:
        return sorted({s.city for s in self.steps})

    def rows(self, table: str, source: str | None = None) -> int:
        return sum(s.rows for s in self._select(table, source))

    def written(self, table: str | None = None, source: str | None = None) -> int:
        return sum(s.written for s in self._select(table, source))

    def _select(self, table: str | None, source: str | None) -> list[HistoryStep]:
        return [
            s
            for s in self.steps
            if (table is None or s.table == table) and (source is None or s.source == source)
        ]

    def __str__(self) -> str:
        lines = [str(s) for s in self.steps]
        lines.append(
            f"{self.written():,} new rows for {', '.join(self.cities) or 'no city'} "
            f"in {self.seconds:.1f} s"
        )
        return "\n".join(lines)


def _utc_hours(delta: pl.Expr) -> pl.Expr:
    return delta.dt.total_microseconds() / 3_600_000_000


CLI_EXTRA_COLUMNS = ("cli_product_id", "cli_high_time_local", "cli_low_f")


def _cli_extras(paths: Sequence[Path]) -> pl.DataFrame:
    """Product id, time of the high and low per climate day, from the CLI files (as text)."""
    frames = []
    for path in paths:
        raw = pl.read_csv(path, infer_schema_length=0)
        frames.append(
            raw.select(
                pl.col("date").str.to_date("%Y-%m-%d").alias("climate_day"),
                *(
                    (pl.col(c) if c in raw.columns else pl.lit(None, pl.String)).alias(c)
                    for c in CLI_EXTRA_COLUMNS
                ),
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={"climate_day": pl.Date, **dict.fromkeys(CLI_EXTRA_COLUMNS, pl.String)}
        )
    return pl.concat(frames).unique("climate_day", keep="last", maintain_order=True)


def cli_history_rows(data_dir: str | Path, city: str) -> pl.DataFrame:
    """The archived CLI highs as ``climate_reports`` rows (source ``iem_cli_archive``).

    Values and flags come from :func:`history.load_cli_highs`: ``preliminary`` when the
    product went out before the day ended (the archive's same-day reports), ``correction``
    when the product id carries a CC* suffix or the value came from a report published long
    after the day (``late_report``, e.g. 2021-02-07). Product ids, the high's time and the
    low come from the same files.
    """
    code = get_city(city).code
    highs = history.load_cli_highs(data_dir, code)
    extra = _cli_extras(history.discover(data_dir).cli.get(code, []))
    product = pl.col("cli_product_id")
    fallback_id = pl.format(f"{IEM_CLI_ARCHIVE}:{code}:{{}}", pl.col("climate_day"))
    low = pl.col("cli_low_f").cast(pl.Float64, strict=False).round().cast(pl.Int64)
    return highs.join(extra, on="climate_day", how="left").select(
        pl.col("city"),
        pl.col("climate_day"),
        pl.coalesce(product, fallback_id).alias("product_id"),
        pl.col("report_utc").alias("issued_at"),
        pl.col("high_f").cast(pl.Int64),
        pl.col("cli_high_time_local").replace("MM", None).alias("high_time_local"),
        low.alias("low_f"),
        pl.col("preliminary"),
        (product.str.contains(r"-CC[A-Z]$").fill_null(False) | pl.col("late_report")).alias(
            "correction"
        ),
        pl.lit(IEM_CLI_ARCHIVE).alias("source"),
    )


def _forecast_frame(frame: pl.DataFrame, source: str, high: str, suspect: pl.Expr) -> pl.DataFrame:
    """``forecasts`` rows from (city, climate_day, issued_utc, <high>): archived issues were
    known when issued, so ``retrieved_at`` is the issue time; issues after the day are dropped."""
    end = history.climate_day_end(frame)
    return (
        frame.select(
            pl.col("city"),
            pl.col("climate_day"),
            pl.lit(source).alias("source"),
            pl.col("issued_utc").alias("issued_at"),
            pl.col(high).cast(pl.Float64).alias("forecast_high_f"),
            pl.lit(None, pl.Float64).alias("sigma_f"),
            _utc_hours(end - pl.col("issued_utc")).alias("lead_hours"),
            suspect.alias("suspect"),
            pl.col("issued_utc").alias("retrieved_at"),
        )
        .filter(pl.col("lead_hours") > 0)
        .select(FORECAST_COLUMNS)
    )


def ndfd_history_rows(data_dir: str | Path, city: str) -> pl.DataFrame:
    """Archived NDFD issues as ``forecasts`` rows (source ``ndfd``); the 18:xx UTC issues
    whose valid time falls early on the target day are ``suspect`` (see the data README)."""
    issues = history.load_ndfd_issues(data_dir, get_city(city).code)
    return _forecast_frame(issues, NDFD, "high_f", pl.col("suspect"))


def open_meteo_history_rows(data_dir: str | Path, city: str) -> pl.DataFrame:
    """Archived hourly Open-Meteo issues as ``forecasts`` rows (source ``open_meteo``): per
    issue, the max over each LST climate day it covers (23+ hours), lead to the day's end."""
    hourly = history.load_hourly_issues(data_dir, get_city(city).code)
    daily = history.daily_max_by_issue(hourly)
    return _forecast_frame(daily, OPEN_METEO, "max_f", pl.lit(False))


def past_days_history_rows(data_dir: str | Path, city: str) -> pl.DataFrame:
    """Open-Meteo's past-days values as ``observations`` (source ``open_meteo_analysis_proxy``).

    These are a **model analysis proxy**, not station observations: Open-Meteo's hourly
    analysis at the city's grid point, published only the next morning (05:00 local time).
    Its daily max differs from the CLI high by -0.57 °F on average (MAE 1.45 °F). The rows
    carry the city's settlement station id so they sit beside the station's reports, with
    the source saying what they are; ``running_max_f`` is the max so far in the climate day.
    """
    code = get_city(city).code
    past = history.load_past_days(data_dir, code)
    return (
        history.with_climate_day(past, "valid_utc")
        .sort("valid_utc")
        .select(
            pl.lit(get_city(code).station_id).alias("station_id"),
            pl.col("valid_utc").alias("observed_at"),
            pl.col("city"),
            pl.col("climate_day"),
            pl.col("temp_f").alias("temperature_f"),
            pl.col("temp_f").cum_max().over("city", "climate_day").alias("running_max_f"),
            pl.lit(OPEN_METEO_ANALYSIS_PROXY).alias("source"),
        )
    )


HISTORY_TABLES: tuple[tuple[str, str, Callable[[str | Path, str], pl.DataFrame]], ...] = (
    ("climate_reports", IEM_CLI_ARCHIVE, cli_history_rows),
    ("forecasts", NDFD, ndfd_history_rows),
    ("forecasts", OPEN_METEO, open_meteo_history_rows),
    ("observations", OPEN_METEO_ANALYSIS_PROXY, past_days_history_rows),
)


def history_cities(data_dir: str | Path) -> list[str]:
    """Every registry city with at least one history file under ``data_dir``."""
    found = history.discover(data_dir)
    return sorted(
        set(found.cli) | set(found.ndfd) | set(found.hourly_issues) | set(found.past_days)
    )


def load_history(
    data_dir: str | Path, warehouse: Warehouse, progress: Progress | None = None
) -> HistorySummary:
    """Load the real weather history under ``data_dir`` (laid out like ``shared/data``).

    Per city found: CLI highs -> ``climate_reports``, NDFD issues and archived Open-Meteo
    issues -> ``forecasts``, Open-Meteo past days -> ``observations`` (a model analysis
    proxy). The same tables and keys as live data; idempotent: a second load adds no row.
    ``progress`` hears about each (city, table, source) step as it finishes.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no history directory at {root}")
    began = walltime.perf_counter()
    plan = [(code, *entry) for code in history_cities(root) for entry in HISTORY_TABLES]
    done: list[HistoryStep] = []
    for number, (code, table, source, build) in enumerate(plan, start=1):
        started = walltime.perf_counter()
        frame = build(root, code)
        written = warehouse.upsert(table, frame)
        step = HistoryStep(
            number,
            len(plan),
            code,
            table,
            source,
            frame.height,
            written,
            walltime.perf_counter() - started,
        )
        done.append(step)
        if progress is not None:
            progress(step)
    return HistorySummary(root, tuple(done), walltime.perf_counter() - began)
