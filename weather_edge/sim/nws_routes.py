"""api.weather.gov-shaped routes served from :class:`SimulatedWeather`.

The weather clients (``weather_edge.weather.nws``) run unchanged against these routes: mount
them in any Starlette app (at the root, or under a prefix with ``Mount``) and point the
client's base URL there. Served, in the real shapes:

* ``GET /points/{lat},{lon}``                        (a registry city's coordinates)
* ``GET /gridpoints/{wfo}/{x},{y}/forecast/hourly``  (the forecast cycle in force now)
* ``GET /gridpoints/{wfo}/{x},{y}``                  (raw grid: temperature, maxTemperature)
* ``GET /stations/{id}/observations?start=&end=&limit=``  (newest first, never after now)
* ``GET /products/types/CLI/locations/{loc}``        (products issued in the last 14 days)
* ``GET /products/{id}``                             (the CLI text, once it is issued)

Time comes from ``clock.now()``: nothing issued or observed after it is ever served.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from weather_edge.sim.weather import CLIMATES, SimulatedWeather, wmo_collective_id
from weather_edge.weather.cities import City, ensure_utc, registry
from weather_edge.weather.nws import round_half_up

GEO_JSON = "application/geo+json"
LD_JSON = "application/ld+json"
HOURLY_PERIODS = 156  # the real hourly forecast reaches six and a half days
GRID_DAYS = 7
PRODUCT_HISTORY = timedelta(days=14)
DEFAULT_OBSERVATION_WINDOW = timedelta(days=1)
MAX_OBSERVATION_LIMIT = 500
ONE_HOUR = timedelta(hours=1)
_CONTEXT: list[Any] = [
    "https://geojson.org/geojson-ld/geojson-context.jsonld",
    {
        "@version": "1.1",
        "wx": "https://api.weather.gov/ontology#",
        "unit": "http://codes.wmo.int/common/unit/",
        "@vocab": "https://api.weather.gov/ontology#",
    },
]


class Clock(Protocol):
    def now(self) -> datetime: ...


def grid_cell(city: City) -> tuple[int, int]:
    """A stable, made-up grid cell for the city (the real ones need the NWS grids)."""
    return round((city.longitude + 180.0) * 10) % 250, round((city.latitude + 90.0) * 10) % 250


class _Forecast(NamedTuple):
    city: City
    now: datetime
    issued: datetime
    hours: list[tuple[datetime, float]]


class _Problem(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _problem_response(request: Request, problem: _Problem) -> Response:
    title = {400: "Bad Request", 404: "Not Found"}.get(problem.status, "Error")
    body = {
        "correlationId": uuid.uuid4().hex[:8],
        "title": title,
        "type": f"https://api.weather.gov/problems/{title.replace(' ', '')}",
        "status": problem.status,
        "detail": problem.detail,
        "instance": str(request.url),
    }
    return JSONResponse(body, problem.status, media_type="application/problem+json")


def _handler(method: Callable[[Request], Any], media_type: str) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(method(request), media_type=media_type)
        except _Problem as problem:
            return _problem_response(request, problem)

    return endpoint


def _instant_param(request: Request, name: str) -> datetime | None:
    text = request.query_params.get(name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Problem(400, f"Parameter {name} is not a valid ISO 8601 time: {text}") from None
    if moment.utcoffset() is None:
        raise _Problem(400, f"Parameter {name} must carry a time zone offset: {text}")
    return ensure_utc(moment)


class _NwsApi:
    def __init__(self, weather: SimulatedWeather, clock: Clock) -> None:
        self.weather = weather
        self.clock = clock
        self.cities = [city for city in registry().values() if city.code in CLIMATES]

    def now(self) -> datetime:
        return ensure_utc(self.clock.now())

    # -- lookups

    def _city_at(self, coords: str) -> City:
        try:
            lat_text, lon_text = coords.split(",")
            lat, lon = float(lat_text), float(lon_text)
        except ValueError:
            raise _Problem(400, f"Invalid coordinates: {coords}") from None
        for city in self.cities:
            if abs(city.latitude - lat) < 1e-3 and abs(city.longitude - lon) < 1e-3:
                return city
        raise _Problem(404, f"Unable to provide data for requested point {coords}")

    def _city_on_grid(self, request: Request) -> City:
        wfo, xy = request.path_params["wfo"], request.path_params["xy"]
        for city in self.cities:
            x, y = grid_cell(city)
            if city.wfo == wfo and xy == f"{x},{y}":
                return city
        raise _Problem(404, f"Grid point {wfo}/{xy} is not simulated")

    def _city_with_station(self, station_id: str) -> City:
        for city in self.cities:
            if city.station_id == station_id.upper():
                return city
        raise _Problem(404, f"Station {station_id} not found")

    # -- endpoints

    def points(self, request: Request) -> dict[str, Any]:
        city = self._city_at(request.path_params["coords"])
        x, y = grid_cell(city)
        xy = f"{x},{y}"
        grid = str(request.url_for("nws_gridpoint", wfo=city.wfo, xy=xy))
        here = str(request.url)
        return {
            "@context": _CONTEXT,
            "id": here,
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [city.longitude, city.latitude]},
            "properties": {
                "@id": here,
                "@type": "wx:Point",
                "cwa": city.wfo,
                "forecastOffice": f"https://api.weather.gov/offices/{city.wfo}",
                "gridId": city.wfo,
                "gridX": x,
                "gridY": y,
                "forecast": f"{grid}/forecast",
                "forecastHourly": str(request.url_for("nws_hourly", wfo=city.wfo, xy=xy)),
                "forecastGridData": grid,
                "observationStations": f"{grid}/stations",
                "timeZone": city.timezone,
                "radarStation": None,
            },
        }

    def _forecast(self, request: Request, hours: int) -> _Forecast:
        """The grid cell's city and the forecast in force now, from this hour on."""
        city = self._city_on_grid(request)
        now = self.now()
        first = now.replace(minute=0, second=0, microsecond=0)
        values = self.weather.forecast_temperatures(city.code, now, first, first + hours * ONE_HOUR)
        return _Forecast(city, now, self.weather.latest_issue_time(now), values)

    def hourly_forecast(self, request: Request) -> dict[str, Any]:
        city, now, issued, hours = self._forecast(request, HOURLY_PERIODS)
        periods = []
        for number, (start, temp_f) in enumerate(hours, start=1):
            local = start.astimezone(city.zone)
            periods.append(
                {
                    "number": number,
                    "name": "",
                    "startTime": local.isoformat(),
                    "endTime": (start + ONE_HOUR).astimezone(city.zone).isoformat(),
                    "isDaytime": 6 <= local.hour < 18,
                    "temperature": round_half_up(temp_f),
                    "temperatureUnit": "F",
                    "temperatureTrend": "",
                    "probabilityOfPrecipitation": {"unitCode": "wmoUnit:percent", "value": 0},
                    "dewpoint": {"unitCode": "wmoUnit:degC", "value": None},
                    "relativeHumidity": {"unitCode": "wmoUnit:percent", "value": None},
                    "windSpeed": "5 mph",
                    "windDirection": "S",
                    "icon": "https://api.weather.gov/icons/land/day/few?size=small",
                    "shortForecast": "Mostly Clear",
                    "detailedForecast": "",
                }
            )
        return {
            "@context": _CONTEXT,
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [city.longitude, city.latitude]},
            "properties": {
                "units": "us",
                "forecastGenerator": "HourlyForecastGenerator",
                "generatedAt": now.isoformat(),
                "updateTime": issued.isoformat(),
                "validTimes": f"{issued.isoformat()}/P7DT12H",
                "elevation": {"unitCode": "wmoUnit:m", "value": 10.0},
                "periods": periods,
            },
        }

    def grid_data(self, request: Request) -> dict[str, Any]:
        city, _, issued, hours = self._forecast(request, GRID_DAYS * 24)
        first = hours[0][0]
        temperature = [
            {"validTime": f"{start.isoformat()}/PT1H", "value": round((f - 32) / 1.8, 2)}
            for start, f in hours
        ]
        # NDFD MaxT covers 7 AM - 7 PM local clock time of each date.
        by_start = dict(hours)
        maxima = []
        local_day = first.astimezone(city.zone).date()
        for offset in range(GRID_DAYS):
            day = local_day + timedelta(days=offset)
            begin = datetime.combine(day, time(7), city.zone).astimezone(first.tzinfo)
            slots = [begin + k * ONE_HOUR for k in range(12)]
            if all(slot in by_start for slot in slots):
                window = [by_start[slot] for slot in slots]
                maxima.append(
                    {"validTime": f"{begin.isoformat()}/PT12H", "value": (max(window) - 32) / 1.8}
                )
        x, y = grid_cell(city)
        return {
            "@context": _CONTEXT,
            "id": str(request.url),
            "type": "Feature",
            "properties": {
                "@id": str(request.url),
                "@type": "wx:Gridpoint",
                "updateTime": issued.isoformat(),
                "validTimes": f"{issued.isoformat()}/P7DT12H",
                "elevation": {"unitCode": "wmoUnit:m", "value": 10.0},
                "forecastOffice": f"https://api.weather.gov/offices/{city.wfo}",
                "gridId": city.wfo,
                "gridX": str(x),
                "gridY": str(y),
                "temperature": {"uom": "wmoUnit:degC", "values": temperature},
                "maxTemperature": {"uom": "wmoUnit:degC", "values": maxima},
            },
        }

    def observations(self, request: Request) -> dict[str, Any]:
        station = request.path_params["station_id"]
        city = self._city_with_station(station)
        now = self.now()
        end = min(_instant_param(request, "end") or now, now)
        start = _instant_param(request, "start") or end - DEFAULT_OBSERVATION_WINDOW
        try:
            limit = int(request.query_params.get("limit", MAX_OBSERVATION_LIMIT))
        except ValueError:
            raise _Problem(400, "Parameter limit must be an integer") from None
        if not 1 <= limit <= MAX_OBSERVATION_LIMIT:
            raise _Problem(400, f"Parameter limit must be 1 to {MAX_OBSERVATION_LIMIT}")
        obs = self.weather.observations_between(city.code, start, end)
        station_url = str(request.url_for("nws_station", station_id=city.station_id))
        features = []
        for ob in reversed(obs[-limit:]):  # newest first, like the real API
            ob_id = f"{station_url}/observations/{ob.timestamp_utc.isoformat()}"
            features.append(
                {
                    "id": ob_id,
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [city.longitude, city.latitude]},
                    "properties": {
                        "@id": ob_id,
                        "@type": "wx:ObservationStation",
                        "elevation": {"unitCode": "wmoUnit:m", "value": 10},
                        "station": station_url,
                        "timestamp": ob.timestamp_utc.isoformat(),
                        "rawMessage": ob.raw_message,
                        "textDescription": "Clear",
                        "presentWeather": [],
                        "temperature": {
                            "unitCode": "wmoUnit:degC",
                            "value": ob.temp_c,
                            "qualityControl": "V",
                        },
                        "dewpoint": {
                            "unitCode": "wmoUnit:degC",
                            "value": round(ob.temp_c - 5.0, 1),
                            "qualityControl": "V",
                        },
                        "maxTemperatureLast24Hours": {"unitCode": "wmoUnit:degC", "value": None},
                        "minTemperatureLast24Hours": {"unitCode": "wmoUnit:degC", "value": None},
                    },
                }
            )
        return {"@context": _CONTEXT, "type": "FeatureCollection", "features": features}

    def station(self, request: Request) -> dict[str, Any]:
        city = self._city_with_station(request.path_params["station_id"])
        return {
            "@context": _CONTEXT,
            "id": str(request.url),
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [city.longitude, city.latitude]},
            "properties": {
                "@id": str(request.url),
                "@type": "wx:ObservationStation",
                "stationIdentifier": city.station_id,
                "name": city.name,
                "timeZone": city.timezone,
            },
        }

    def cli_list(self, request: Request) -> dict[str, Any]:
        location = request.path_params["location"].upper()
        matches = [c for c in self.cities if c.cli_product == f"CLI{location}"]
        if not matches:
            raise _Problem(404, f"Location {location} has no CLI products")
        city, now = matches[0], self.now()
        graph = []
        for issuance in self.weather.cli_issuances(city.code, now - PRODUCT_HISTORY, now):
            product_id = cli_product_id(self.weather, city, issuance.day, issuance.final)
            graph.append(_product_summary(request, city, product_id, issuance.issued_utc))
        return {"@context": {"@version": "1.1"}, "@graph": graph}

    def product(self, request: Request) -> dict[str, Any]:
        product_id = request.path_params["product_id"]
        decoded = decode_cli_product_id(self.weather, product_id)
        if decoded is None:
            raise _Problem(404, f"Product {product_id} not found")
        city, day, final = decoded
        issued = self.weather.cli_issued_at(city.code, day, final)
        if issued > self.now():
            raise _Problem(404, f"Product {product_id} not found")  # not issued yet
        body = _product_summary(request, city, product_id, issued)
        body["@context"] = {"@version": "1.1"}
        body["productText"] = self.weather.cli_text(city.code, day, final)
        return body


def _product_summary(
    request: Request, city: City, product_id: str, issued: datetime
) -> dict[str, Any]:
    return {
        "@id": str(request.url_for("nws_product", product_id=product_id)),
        "id": product_id,
        "wmoCollectiveId": wmo_collective_id(city),
        "issuingOffice": f"K{city.wfo}",
        "issuanceTime": issued.isoformat(),
        "productCode": "CLI",
        "productName": "Climatological Report (Daily)",
    }


def cli_product_id(weather: SimulatedWeather, city: City, day: date, final: bool) -> str:
    """A UUID-shaped id (like the real ones) that encodes city, day and kind, with a check."""
    index = list(registry()).index(city.code)
    payload = (index << 23) | (day.toordinal() << 1) | int(final)
    check = hashlib.blake2b(f"{weather.seed}:{payload}".encode(), digest_size=12).digest()
    return str(uuid.UUID(int=(payload << 96) | int.from_bytes(check, "big")))


def decode_cli_product_id(
    weather: SimulatedWeather, product_id: str
) -> tuple[City, date, bool] | None:
    try:
        value = uuid.UUID(product_id).int
    except ValueError:
        return None
    payload = value >> 96
    cities = list(registry().values())
    index, ordinal, final = payload >> 23, (payload >> 1) & ((1 << 22) - 1), bool(payload & 1)
    if index >= len(cities) or not 1 <= ordinal <= date.max.toordinal():
        return None
    city, day = cities[index], date.fromordinal(ordinal)
    if cli_product_id(weather, city, day, final) != product_id:
        return None
    return city, day, final


def nws_routes(weather: SimulatedWeather, clock: Clock) -> list[Route]:
    """The NWS-shaped routes for ``weather`` as of ``clock.now()``."""
    api = _NwsApi(weather, clock)
    table = [  # path, handler, media type, route name (used by url_for)
        ("/points/{coords}", api.points, GEO_JSON, "nws_points"),
        ("/gridpoints/{wfo}/{xy}/forecast/hourly", api.hourly_forecast, GEO_JSON, "nws_hourly"),
        ("/gridpoints/{wfo}/{xy}", api.grid_data, GEO_JSON, "nws_gridpoint"),
        ("/stations/{station_id}/observations", api.observations, GEO_JSON, "nws_observations"),
        ("/stations/{station_id}", api.station, GEO_JSON, "nws_station"),
        ("/products/types/CLI/locations/{location}", api.cli_list, LD_JSON, "nws_cli_list"),
        ("/products/{product_id}", api.product, LD_JSON, "nws_product"),
    ]
    return [Route(path, _handler(method, media), name=name) for path, method, media, name in table]
