"""Forecasting the daily high: history loaders, features, models, baselines and scores.

Everything here is plain Python (no Dagster); every feature is built *as of* a snapshot time
and reads only rows issued or observed at or before it.
"""
