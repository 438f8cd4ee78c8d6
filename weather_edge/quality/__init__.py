"""Data quality: Great Expectations 1.x suites over pandas frames, no Dagster.

Each ``validate_*`` returns a ``QualityResult`` (success, failed expectations with counts and
sample rows) that the Dagster layer turns into asset-check results. GX is imported on the
first validation, not with this package.
"""

from weather_edge.quality.engine import FailedExpectation, QualityResult
from weather_edge.quality.suites import (
    climatology_bounds,
    implied_result,
    validate_decisions,
    validate_forecasts,
    validate_predictions,
    validate_quotes,
    validate_settlements,
)

__all__ = [
    "FailedExpectation",
    "QualityResult",
    "climatology_bounds",
    "implied_result",
    "validate_decisions",
    "validate_forecasts",
    "validate_predictions",
    "validate_quotes",
    "validate_settlements",
]
