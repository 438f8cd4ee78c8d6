"""Reports for people (no Dagster): the nightly calibration report."""

from weather_edge.reporting.calibration import (
    PANELS,
    CalibrationReport,
    render_calibration_report,
)

__all__ = ["PANELS", "CalibrationReport", "render_calibration_report"]
