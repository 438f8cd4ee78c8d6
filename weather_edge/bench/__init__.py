"""Benchmarks behind ``weather-edge bench``."""
