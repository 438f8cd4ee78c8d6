"""Simulated weather for the local simulator: a pure, seeded model.

Everything is a function of ``(seed, city, time)``: no state advances, so any day can be
asked for in any order and the same seed always gives the same weather.

* **Climatology**: rough 1991-2020 normal highs, diurnal ranges and day-to-day spread by
  month for every registry city, interpolated between mid-month values.
* **Anomalies**: a standardised AR(1) process per city (phi = 0.75), computed as a truncated
  moving sum of hashed innovations so that any day is reachable directly.
* **Hourly temperatures**: a smooth diurnal curve through the day's minimum near 06:00 LST and
  maximum mid-afternoon (13:30-16:30 LST), cosine-interpolated between those points. Fronts
  come for free: after a warm day the curve can still be falling at midnight, so a climate
  day's high may fall at 00:00 LST, as real CLIs sometimes report.
* **The true high** of a climate day is the maximum of that curve sampled every minute over
  [00:00, 24:00) LST, rounded half up to whole °F - the same rule the CLI applies to the
  station's one-minute data, and consistent with every hourly value and observation.
* **Forecast issues** every three hours from a week before the day until it ends, each with
  a mean and sigma. The errors form a martingale (each issue refines the previous one), so a
  Gaussian with the published sigma is calibrated; sigma shrinks with lead time, ~2.5 °F the
  day before and ~1 °F on the afternoon of the day.
* **Observations** at HH:51 UTC (routine METAR time) in tenths of °C, and **CLI reports** in
  the real text format, preliminary (as of 5 PM local) and final.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

from weather_edge.weather.cities import City, ensure_utc, get_city
from weather_edge.weather.climate_day import climate_day_bounds, climate_day_of
from weather_edge.weather.nws import c_to_f, round_half_up

ONE_MINUTE = timedelta(minutes=1)
ONE_HOUR = timedelta(hours=1)
ONE_DAY = timedelta(days=1)

PHI = 0.75  # day-to-day persistence of the anomaly
_AR_TERMS = 64  # PHI**64 ~ 1e-8: the truncated sum is the AR(1) process to float precision
MIN_HOUR_LST = 6.0
PEAK_HOUR_LST = 15.0
FORECAST_CADENCE = timedelta(hours=3)
FORECAST_HORIZON = timedelta(days=7)
SIGMA_FLOOR_F = 0.5
SIGMA_PER_HOUR_F = 0.066  # sigma(lead) = 0.5 + 0.066 * hours to the end of the climate day
SIGMA_CAP_F = 6.0
OBSERVATION_MINUTE = 51
PRELIMINARY_LOCAL_HOUR = 17  # "VALID TODAY AS OF 0500 PM LOCAL TIME"
PUBLISH_DELAY = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class CityClimate:
    """Monthly (Jan..Dec) climatology of one station, in °F."""

    normal_high: tuple[float, ...]
    diurnal_range: tuple[float, ...]
    anomaly_sd: tuple[float, ...]  # spread of the daily high around normal

    def __post_init__(self) -> None:
        for name in ("normal_high", "diurnal_range", "anomaly_sd"):
            if len(getattr(self, name)) != 12:
                raise ValueError(f"{name} needs one value per month")


# Rough 1991-2020 normals for the settlement stations (from memory of the NOAA normals; good
# to a degree or two, which is all a simulator needs).
CLIMATES: dict[str, CityClimate] = {
    "NYC": CityClimate(
        (39.5, 42.2, 49.9, 61.8, 71.4, 79.7, 84.9, 83.3, 76.2, 64.5, 54.0, 44.3),
        (12.6, 13.3, 14.9, 17.0, 17.4, 16.1, 15.0, 14.4, 13.9, 13.3, 12.6, 11.5),
        (8.5, 8.5, 8.5, 8.0, 7.0, 6.0, 5.0, 5.0, 5.5, 6.5, 7.5, 8.0),
    ),
    "CHI": CityClimate(
        (32.8, 37.0, 48.1, 60.5, 71.8, 81.7, 85.7, 83.9, 77.1, 64.1, 49.9, 37.5),
        (13.3, 14.1, 16.4, 18.9, 19.7, 19.4, 18.0, 17.4, 18.5, 17.3, 14.5, 12.9),
        (10.0, 10.0, 10.5, 10.0, 9.0, 7.0, 6.0, 6.0, 7.0, 8.5, 9.5, 10.0),
    ),
    "MIA": CityClimate(
        (76.3, 78.3, 80.2, 83.0, 86.6, 89.3, 90.8, 91.1, 89.7, 86.4, 81.8, 78.4),
        (14.3, 14.7, 14.0, 13.2, 12.7, 12.6, 13.1, 13.2, 12.7, 12.2, 13.0, 13.8),
        (4.5, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 2.0, 2.2, 3.0, 4.0, 4.5),
    ),
    "AUS": CityClimate(
        (62.5, 66.5, 73.7, 80.3, 87.0, 93.1, 96.6, 97.9, 91.7, 82.5, 71.4, 63.4),
        (23.9, 24.1, 24.4, 24.0, 22.2, 22.1, 23.7, 25.1, 24.6, 24.9, 24.1, 23.3),
        (9.0, 9.0, 8.5, 7.0, 5.0, 4.0, 3.5, 3.5, 4.5, 6.5, 8.0, 9.0),
    ),
    "DEN": CityClimate(
        (44.9, 46.2, 54.6, 61.2, 70.9, 82.4, 88.9, 86.7, 78.4, 65.2, 53.0, 44.5),
        (27.1, 26.5, 27.8, 27.6, 27.6, 29.3, 29.4, 29.1, 30.0, 29.4, 28.4, 26.9),
        (11.0, 11.0, 11.0, 10.5, 9.0, 7.0, 5.5, 6.0, 8.0, 10.0, 11.0, 11.0),
    ),
    "LAX": CityClimate(
        (66.0, 65.5, 66.0, 67.7, 69.3, 72.0, 75.3, 76.6, 76.5, 74.4, 70.9, 66.0),
        (17.5, 15.8, 14.5, 13.7, 11.6, 11.4, 11.3, 11.8, 13.0, 15.0, 18.0, 17.8),
        (5.0, 5.0, 5.0, 5.5, 5.0, 4.0, 3.5, 3.5, 5.5, 6.0, 6.0, 5.5),
    ),
    "PHL": CityClimate(
        (41.3, 44.7, 53.1, 64.6, 74.3, 83.2, 87.9, 86.0, 79.1, 67.6, 56.5, 46.1),
        (14.8, 16.3, 18.1, 19.4, 19.4, 18.6, 17.7, 17.3, 17.6, 18.0, 17.1, 15.1),
        (8.5, 8.5, 9.0, 8.5, 7.5, 6.0, 5.0, 5.0, 5.5, 7.0, 8.0, 8.5),
    ),
}

# For the CLI text: office names as the products print them.
_OFFICE_NAMES = {
    "OKX": "NEW YORK NY",
    "LOT": "CHICAGO IL",
    "MFL": "MIAMI FL",
    "EWX": "AUSTIN/SAN ANTONIO TX",
    "BOU": "DENVER CO",
    "LOX": "LOS ANGELES/OXNARD CA",
    "PHI": "MOUNT HOLLY NJ",
}
_CDUS_REGION = {
    "America/New_York": 1,
    "America/Chicago": 3,
    "America/Denver": 5,
    "America/Los_Angeles": 6,
}


class ForecastIssue(NamedTuple):
    issued_utc: datetime
    mean_high_f: float
    sigma_f: float


@dataclass(frozen=True, slots=True)
class SimObservation:
    timestamp_utc: datetime
    temp_c: float  # tenths of a degree, as a METAR T-group carries it
    raw_message: str

    @property
    def temp_f(self) -> float:
        return c_to_f(self.temp_c)


@dataclass(frozen=True, slots=True)
class Extreme:
    value_f: float
    at_utc: datetime


@dataclass(frozen=True, slots=True)
class CliIssuance:
    city_code: str
    day: date
    final: bool
    issued_utc: datetime


def sigma_for_lead(hours_to_day_end: float) -> float:
    """Forecast sigma (°F) of the daily high, by hours from the issue to the day's end."""
    return min(SIGMA_CAP_F, SIGMA_FLOOR_F + SIGMA_PER_HOUR_F * max(0.0, hours_to_day_end))


def _monthly(values: tuple[float, ...], day: date) -> float:
    """Linear interpolation between mid-month values (the 15th), wrapping over the year."""
    anchor = date(day.year, day.month, 15)
    if day >= anchor:
        nxt = date(day.year + (day.month == 12), day.month % 12 + 1, 15)
        lo, hi, a, b = anchor, nxt, values[day.month - 1], values[day.month % 12]
    else:
        prev = date(day.year - (day.month == 1), (day.month - 2) % 12 + 1, 15)
        lo, hi, a, b = prev, anchor, values[(day.month - 2) % 12], values[day.month - 1]
    frac = (day - lo).days / (hi - lo).days
    return a + (b - a) * frac


def _cosine(a: float, b: float, frac: float) -> float:
    return a + (b - a) * (1.0 - math.cos(math.pi * frac)) / 2.0


class SimulatedWeather:
    """Deterministic weather for every registry city, from one integer seed."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self._eps: dict[tuple[str, str, int], float] = {}
        self._keys: dict[tuple[str, date], tuple[float, float, float, float]] = {}
        self._forecasts: dict[tuple[str, date], list[tuple[datetime, float, float]]] = {}

    def __repr__(self) -> str:
        return f"SimulatedWeather(seed={self.seed})"

    # ------------------------------------------------------------ randomness

    def _rng(self, *key: object) -> random.Random:
        """A generator fixed by (seed, key): the source of all randomness."""
        digest = hashlib.blake2b(repr((self.seed, *key)).encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def _normal(self, *key: object) -> float:
        return self._rng(*key).gauss(0.0, 1.0)

    def _innovation(self, code: str, kind: str, ordinal: int) -> float:
        key = (code, kind, ordinal)
        if key not in self._eps:
            self._eps[key] = self._normal(*key)
        return self._eps[key]

    # ------------------------------------------------------------ the daily curve

    @staticmethod
    def climate(city_code: str) -> CityClimate:
        code = get_city(city_code).code
        if code not in CLIMATES:
            raise ValueError(f"no simulated climate for city {code}: add it to CLIMATES")
        return CLIMATES[code]

    def anomaly(self, city_code: str, day: date) -> float:
        """The day's departure of the high from normal (°F), an AR(1) in standardised units."""
        code = get_city(city_code).code
        n = day.toordinal()
        z = sum(PHI**k * self._innovation(code, "anomaly", n - k) for k in range(_AR_TERMS))
        return math.sqrt(1.0 - PHI**2) * z * _monthly(self.climate(code).anomaly_sd, day)

    def _key_points(self, code: str, day: date) -> tuple[float, float, float, float]:
        """(hour of the minimum, minimum, hour of the maximum, maximum) of ``day``: LST, °F.

        The minimum falls around 06:00 LST and the maximum mid-afternoon (13:30-16:30 LST),
        each on a whole minute so that the minute-sampled extremes are exact.
        """
        cache_key = (code, day)
        if cache_key not in self._keys:
            climate = self.climate(code)
            n = day.toordinal()
            peak = _monthly(climate.normal_high, day) + self.anomaly(code, day)
            spread = 1.0 + 0.2 * self._innovation(code, "range", n)
            swing = _monthly(climate.diurnal_range, day) * min(1.5, max(0.5, spread))
            timing = self._rng(code, "timing", n)
            peak_hour = round((PEAK_HOUR_LST + timing.uniform(-1.5, 1.5)) * 60) / 60
            min_hour = round((MIN_HOUR_LST + timing.uniform(-1.0, 1.0)) * 60) / 60
            self._keys[cache_key] = (min_hour, peak - swing, peak_hour, peak)
        return self._keys[cache_key]

    def temperature_f(self, city_code: str, instant: datetime) -> float:
        """The true (station) temperature at an instant, °F."""
        city = get_city(city_code)
        lst = (ensure_utc(instant) + city.standard_offset).replace(tzinfo=None)
        day = lst.date()
        hour = (lst - datetime.combine(day, time(0))) / ONE_HOUR
        min_hour, low, peak_hour, high = self._key_points(city.code, day)
        if hour < min_hour:  # still falling from yesterday's peak to this morning's minimum
            _, _, last_peak_hour, last_high = self._key_points(city.code, day - ONE_DAY)
            begin, a, b, length = last_peak_hour - 24.0, last_high, low, min_hour
        elif hour < peak_hour:
            begin, a, b, length = min_hour, low, high, peak_hour
        else:
            next_min_hour, next_low, _, _ = self._key_points(city.code, day + ONE_DAY)
            begin, a, b, length = peak_hour, high, next_low, next_min_hour + 24.0
        return _cosine(a, b, (hour - begin) / (length - begin))

    def _candidates(self, city: City, day: date, until: datetime | None) -> list[datetime]:
        """Instants where the minute-sampled curve of ``day`` (up to ``until``) peaks or dips.

        Between key points the curve is monotone, so its extremes over any interval lie at
        the key points inside it or at the interval's ends.
        """
        start, end = climate_day_bounds(city, day)
        last = end - ONE_MINUTE
        if until is not None:
            last = min(last, ensure_utc(until).replace(second=0, microsecond=0))
        min_hour, _, peak_hour, _ = self._key_points(city.code, day)
        points = [start, start + min_hour * ONE_HOUR, start + peak_hour * ONE_HOUR, last]
        return [p for p in points if start <= p <= last]

    def _extreme(self, city_code: str, day: date, until: datetime | None, high: bool) -> Extreme:
        city = get_city(city_code)
        points = self._candidates(city, day, until)
        if not points:
            raise ValueError(f"{city.code} {day}: nothing observed before {until}")
        values = [(self.temperature_f(city.code, p), p) for p in points]
        value, at = (max if high else min)(values, key=lambda pair: pair[0])
        return Extreme(value, at)

    def high_extreme(self, city_code: str, day: date, until: datetime | None = None) -> Extreme:
        """The continuous maximum of the climate day (so far, with ``until``) and its time."""
        return self._extreme(city_code, day, until, high=True)

    def low_extreme(self, city_code: str, day: date, until: datetime | None = None) -> Extreme:
        return self._extreme(city_code, day, until, high=False)

    def true_high(self, city_code: str, day: date) -> int:
        """The settlement value: the climate day's maximum in whole °F, as the CLI reports it."""
        return round_half_up(self.high_extreme(city_code, day).value_f)

    def normal_high(self, city_code: str, day: date) -> float:
        return _monthly(self.climate(city_code).normal_high, day)

    def hourly_temperatures(
        self, city_code: str, start_utc: datetime, end_utc: datetime
    ) -> list[tuple[datetime, float]]:
        """(instant, °F) on every whole UTC hour in [start, end)."""
        return [(t, self.temperature_f(city_code, t)) for t in _hours(start_utc, end_utc)]

    # ------------------------------------------------------------ forecasts

    def _issue_times(self, city: City, day: date) -> list[datetime]:
        start, end = climate_day_bounds(city, day)
        first = _ceil_to(start - FORECAST_HORIZON, FORECAST_CADENCE)
        times = []
        moment = first
        while moment < end:
            times.append(moment)
            moment += FORECAST_CADENCE
        return times

    def _forecast_path(self, city_code: str, day: date) -> list[tuple[datetime, float, float]]:
        """Every (issue time, error, sigma) for the day, with error = continuous high - mean.

        The forecaster starts from climatology (normal high, the month's spread) and each
        issue adds a noisy look at the high whose precision brings the posterior sigma down
        to ``sigma_for_lead``. The mean is the Gaussian posterior mean, so the high given an
        issue is N(mean, sigma^2): calibrated by construction, and refining with lead.
        """
        city = get_city(city_code)
        key = (city.code, day)
        if key not in self._forecasts:
            _, end = climate_day_bounds(city, day)
            prior_mean = self.normal_high(city.code, day)
            prior_sd = _monthly(self.climate(city.code).anomaly_sd, day)
            high = self.high_extreme(city.code, day).value_f
            precision, weighted = 1.0 / prior_sd**2, prior_mean / prior_sd**2
            path = []
            for i, issued in enumerate(self._issue_times(city, day)):
                sigma = min(prior_sd, sigma_for_lead((end - issued) / ONE_HOUR))
                gain = 1.0 / sigma**2 - precision  # the precision this issue's look adds
                if gain > 1e-12:
                    noise = self._normal(city.code, "forecast", day.toordinal(), i)
                    weighted += gain * (high + noise / math.sqrt(gain))
                    precision += gain
                path.append((issued, high - weighted / precision, math.sqrt(1.0 / precision)))
            self._forecasts[key] = path
        return self._forecasts[key]

    def forecast_issues(self, city_code: str, day: date, as_of: datetime) -> list[ForecastIssue]:
        """Every forecast of the day's high issued at or before ``as_of``, oldest first."""
        cutoff = ensure_utc(as_of)
        high = self.high_extreme(city_code, day).value_f
        return [
            ForecastIssue(issued, high - error, sigma)
            for issued, error, sigma in self._forecast_path(city_code, day)
            if issued <= cutoff
        ]

    def latest_forecast(self, city_code: str, day: date, as_of: datetime) -> ForecastIssue | None:
        issues = self.forecast_issues(city_code, day, as_of)
        return issues[-1] if issues else None

    def latest_issue_time(self, as_of: datetime) -> datetime:
        """The forecast cycle in force at ``as_of`` (cycles run every three hours UTC)."""
        return _floor_to(ensure_utc(as_of), FORECAST_CADENCE)

    def forecast_temperatures(
        self, city_code: str, as_of: datetime, start_utc: datetime, end_utc: datetime
    ) -> list[tuple[datetime, float]]:
        """The hourly forecast (instant, °F) in [start, end) as issued at or before ``as_of``.

        Each hour is the true curve shifted by its climate day's forecast error at that
        issue, so the maximum over a climate day's hours is the issue's forecast high.
        """
        city = get_city(city_code)
        out = []
        for moment in _hours(start_utc, end_utc):
            path = self._forecast_path(city.code, climate_day_of(city, moment))
            known = [error for issued, error, _ in path if issued <= ensure_utc(as_of)]
            error = known[-1] if known else 0.0
            out.append((moment, self.temperature_f(city.code, moment) - error))
        return out

    # ------------------------------------------------------------ observations

    def observations_between(
        self, city_code: str, start_utc: datetime, end_utc: datetime
    ) -> list[SimObservation]:
        """Routine METARs (HH:51 UTC) with ``start <= time <= end``, oldest first."""
        city = get_city(city_code)
        first = _floor_to(ensure_utc(start_utc), ONE_HOUR) + OBSERVATION_MINUTE * ONE_MINUTE
        out = []
        moment = first
        while moment <= ensure_utc(end_utc):
            if moment >= ensure_utc(start_utc):
                out.append(self._observation(city, moment))
            moment += ONE_HOUR
        return out

    def observations_until(
        self, city_code: str, instant: datetime, since: datetime | None = None
    ) -> list[SimObservation]:
        """Observations from ``since`` (default: the start of the climate day) to ``instant``."""
        city = get_city(city_code)
        if since is None:
            since, _ = climate_day_bounds(city, climate_day_of(city, instant))
        return self.observations_between(city.code, since, instant)

    def _observation(self, city: City, moment: datetime) -> SimObservation:
        celsius = (self.temperature_f(city.code, moment) - 32.0) / 1.8  # the inverse of c_to_f
        tenths = math.floor(celsius * 10.0 + 0.5)
        dew_tenths = tenths - 50  # a plausible dew point 5 °C lower; not modelled
        return SimObservation(
            timestamp_utc=moment,
            temp_c=tenths / 10.0,
            raw_message=_metar(city.station_id, moment, tenths, dew_tenths),
        )

    # ------------------------------------------------------------ CLI reports

    def cli_issued_at(self, city_code: str, day: date, final: bool) -> datetime:
        """When the day's preliminary (5 PM local) or final (after midnight LST) CLI goes out."""
        city = get_city(city_code)
        if final:
            return climate_day_bounds(city, day)[1] + PUBLISH_DELAY
        return self._preliminary_as_of(city, day) + PUBLISH_DELAY

    @staticmethod
    def _preliminary_as_of(city: City, day: date) -> datetime:
        local = datetime.combine(day, time(PRELIMINARY_LOCAL_HOUR), city.zone)
        return local.astimezone(UTC)

    def cli_issuances(self, city_code: str, since: datetime, until: datetime) -> list[CliIssuance]:
        """Every CLI product issued in (since, until], newest first."""
        city = get_city(city_code)
        lo, hi = ensure_utc(since), ensure_utc(until)
        out = []
        day = climate_day_of(city, hi)
        while True:
            batch = [
                CliIssuance(city.code, day, final, self.cli_issued_at(city.code, day, final))
                for final in (True, False)
            ]
            kept = [i for i in batch if lo < i.issued_utc <= hi]
            out.extend(kept)
            if all(i.issued_utc <= lo for i in batch):
                break
            day -= ONE_DAY
        return out

    def cli_text(self, city_code: str, day: date, final: bool) -> str:
        """The day's Daily Climate Report in the NWS text format (see the shared fixtures)."""
        city = get_city(city_code)
        issued = self.cli_issued_at(city.code, day, final)
        as_of = None if final else self._preliminary_as_of(city, day)
        high = self.high_extreme(city.code, day, as_of)
        low = self.low_extreme(city.code, day, as_of)
        normal_high = round_half_up(self.normal_high(city.code, day))
        normal_low = round_half_up(
            self.normal_high(city.code, day) - _monthly(self.climate(city.code).diurnal_range, day)
        )
        hi_f, lo_f = round_half_up(high.value_f), round_half_up(low.value_f)
        local = issued.astimezone(city.zone)
        summary = (
            f"...THE {_station_name(city)} CLIMATE SUMMARY FOR {day:%B} {day.day} {day.year}..."
        )
        lines = [
            "000",
            f"{wmo_collective_id(city)} K{city.wfo} {issued:%d%H%M}",
            city.cli_product,
            "",
            "CLIMATE REPORT",
            f"NATIONAL WEATHER SERVICE {_OFFICE_NAMES.get(city.wfo, city.wfo)}",
            f"{_clock_text(local.time())} {local:%Z %a %b} {local.day} {local.year}".upper(),
            "",
            "...................................",
            "",
            summary.upper(),
        ]
        if not final:
            lines.append("VALID TODAY AS OF 0500 PM LOCAL TIME.")
        label = "YESTERDAY" if final else "TODAY"
        lines += [
            "",
            "CLIMATE NORMAL PERIOD 1991 TO 2020",
            "",
            "WEATHER ITEM   OBSERVED TIME   NORMAL DEPARTURE",
            "                VALUE   (LST)  VALUE  FROM",
            "                                      NORMAL",
            "...................................................",
            "TEMPERATURE (F)",
            f" {label}",
            _row("MAXIMUM", hi_f, _lst_time(city, high.at_utc), normal_high),
            _row("MINIMUM", lo_f, _lst_time(city, low.at_utc), normal_low),
            _row(
                "AVERAGE",
                round_half_up((hi_f + lo_f) / 2),
                None,
                round_half_up((normal_high + normal_low) / 2),
            ),
            "",
            "PRECIPITATION (IN)",
            f"  {label:<14}0.00",
            "...................................................",
            "",
            "-  INDICATES NEGATIVE NUMBERS.",
            "R  INDICATES RECORD WAS SET OR TIED.",
            "MM INDICATES DATA IS MISSING.",
            "",
            "$$",
            "",
        ]
        return "\n".join(lines)


# ---------------------------------------------------------------- helpers


def _hours(start_utc: datetime, end_utc: datetime) -> Iterator[datetime]:
    moment = _ceil_to(ensure_utc(start_utc), ONE_HOUR)
    end = ensure_utc(end_utc)
    while moment < end:
        yield moment
        moment += ONE_HOUR


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _floor_to(instant: datetime, step: timedelta) -> datetime:
    return _EPOCH + (instant - _EPOCH) // step * step


def _ceil_to(instant: datetime, step: timedelta) -> datetime:
    floor = _floor_to(instant, step)
    return floor if floor == instant else floor + step


def wmo_collective_id(city: City) -> str:
    """The CLI's WMO heading (CDUS4n, n by region), as the sim's products carry it."""
    return f"CDUS4{_CDUS_REGION.get(city.timezone, 0)}"


def _station_name(city: City) -> str:
    return (city.rules_station_names[0] if city.rules_station_names else city.name).upper()


def _clock_text(moment: time) -> str:
    """13:05 -> '105 PM', as the CLI tables and headers print times."""
    hour = moment.hour % 12 or 12
    return f"{hour}{moment.minute:02d} {'PM' if moment.hour >= 12 else 'AM'}"


def _lst_time(city: City, instant: datetime) -> str:
    return _clock_text((ensure_utc(instant) + city.standard_offset).time())


def _row(name: str, value: int, when: str | None, normal: int) -> str:
    return f"  {name:<8}{value:>8}   {when or '':>7}{normal:>4}{value - normal:>7}"


def _metar(station: str, moment: datetime, temp_tenths: int, dew_tenths: int) -> str:
    def whole(tenths: int) -> str:
        degrees = math.floor(abs(tenths) / 10.0 + 0.5)
        return f"M{degrees:02d}" if tenths < 0 else f"{degrees:02d}"

    def group(tenths: int) -> str:
        return f"{1 if tenths < 0 else 0}{abs(tenths):03d}"

    return (
        f"{station} {moment:%d%H%M}Z AUTO 00000KT 10SM CLR {whole(temp_tenths)}/"
        f"{whole(dew_tenths)} A3000 RMK AO2 T{group(temp_tenths)}{group(dew_tenths)}"
    )
