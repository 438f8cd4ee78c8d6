"""weather_edge: data and shadow-trading platform for Kalshi daily-high temperature markets."""

__version__ = "0.1.0"
