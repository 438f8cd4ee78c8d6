"""The Dagster layer only: assets, checks, jobs, sensors, schedules and resources.

Each asset body is a few lines calling domain code; `weather_edge/definitions.py` assembles them.
"""
