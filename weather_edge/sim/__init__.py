"""A local Kalshi exchange (and its weather) that speaks the real protocols.

Start one with :func:`run_simulator` (tests, notebooks) or :func:`serve_forever` (the
``weather-edge sim`` command). The parts: :mod:`~weather_edge.sim.matching` (the order book),
:mod:`~weather_edge.sim.exchange` (markets, accounts, settlement),
:mod:`~weather_edge.sim.server` (REST + WebSocket), :mod:`~weather_edge.sim.agents`
(synthetic liquidity), :mod:`~weather_edge.sim.faults` and :mod:`~weather_edge.sim.clock`.

Names are imported lazily, so ``import weather_edge.sim.weather`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from weather_edge.sim.clock import SimClock
    from weather_edge.sim.exchange import Exchange, SeededWeather, WeatherSource
    from weather_edge.sim.faults import FaultConfig
    from weather_edge.sim.server import Simulator, SimulatorConfig, run_simulator, serve_forever

_EXPORTS = {
    "Exchange": "weather_edge.sim.exchange",
    "FaultConfig": "weather_edge.sim.faults",
    "SeededWeather": "weather_edge.sim.exchange",
    "SimClock": "weather_edge.sim.clock",
    "Simulator": "weather_edge.sim.server",
    "SimulatorConfig": "weather_edge.sim.server",
    "WeatherSource": "weather_edge.sim.exchange",
    "run_simulator": "weather_edge.sim.server",
    "serve_forever": "weather_edge.sim.server",
}

__all__ = [
    "Exchange",
    "FaultConfig",
    "SeededWeather",
    "SimClock",
    "Simulator",
    "SimulatorConfig",
    "WeatherSource",
    "run_simulator",
    "serve_forever",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(module), name)
