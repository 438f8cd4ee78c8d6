"""The city registry: cities are data (``cities.toml``), not code."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo


class UnknownCityError(KeyError):
    """A city code or series ticker that is not in the registry."""


@dataclass(frozen=True)
class City:
    code: str
    name: str
    series_ticker: str
    station_id: str
    cli_product: str
    wfo: str
    latitude: float
    longitude: float
    timezone: str
    std_utc_offset_hours: int
    rules_station_names: tuple[str, ...]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def standard_offset(self) -> dt.timedelta:
        return dt.timedelta(hours=self.std_utc_offset_hours)

    @property
    def standard_tz(self) -> dt.timezone:
        """A fixed-offset zone for local *standard* time (what climate days use)."""
        return dt.timezone(self.standard_offset, f"{self.code}-LST")


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "series_ticker": str,
    "station_id": str,
    "cli_product": str,
    "wfo": str,
    "latitude": (int, float),
    "longitude": (int, float),
    "timezone": str,
    "std_utc_offset_hours": int,
}


def _city_from_entry(code: str, entry: dict[str, object]) -> City:
    for key, kind in _REQUIRED.items():
        if key not in entry:
            raise ValueError(f"city {code}: missing field {key!r} in the registry")
        if not isinstance(entry[key], kind):
            raise ValueError(f"city {code}: field {key!r} has the wrong type: {entry[key]!r}")
    ZoneInfo(str(entry["timezone"]))  # fail early on a misspelt zone
    names = entry.get("rules_station_names", [])
    assert isinstance(names, list)
    return City(
        code=code,
        name=str(entry["name"]),
        series_ticker=str(entry["series_ticker"]),
        station_id=str(entry["station_id"]),
        cli_product=str(entry["cli_product"]),
        wfo=str(entry["wfo"]),
        latitude=float(entry["latitude"]),  # type: ignore[arg-type]
        longitude=float(entry["longitude"]),  # type: ignore[arg-type]
        timezone=str(entry["timezone"]),
        std_utc_offset_hours=int(entry["std_utc_offset_hours"]),  # type: ignore[call-overload]
        rules_station_names=tuple(str(n) for n in names),
    )


def load_registry(text: str | None = None) -> dict[str, City]:
    """Parse a registry (the packaged ``cities.toml`` by default) into cities by code."""
    if text is None:
        text = resources.files(__package__).joinpath("cities.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {code: _city_from_entry(code, entry) for code, entry in data.items()}


@cache
def registry() -> dict[str, City]:
    return load_registry()


def city_codes() -> list[str]:
    return list(registry())


def get_city(code: str) -> City:
    try:
        return registry()[code.upper()]
    except KeyError:
        raise UnknownCityError(
            f"unknown city {code!r}; the registry has {', '.join(registry())}"
        ) from None


def city_for_series(series_ticker: str) -> City:
    for city in registry().values():
        if city.series_ticker == series_ticker.upper():
            return city
    raise UnknownCityError(f"no city in the registry trades series {series_ticker!r}")


def ensure_utc(instant: dt.datetime) -> dt.datetime:
    """Refuse naive datetimes; return the instant in UTC."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant!r}: every timestamp must carry its zone")
    return instant.astimezone(dt.UTC)
