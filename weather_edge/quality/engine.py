"""Great Expectations 1.x, called directly, behind a small result type.

One ephemeral, in-memory data context per process (created on first use and cached; no files,
no analytics, no progress bars), one pandas data source and one whole-frame batch definition
reused by every suite, so a validation costs tens of milliseconds after the first import of
GX (~4 s, paid lazily: importing this module does not import GX).

Callers get a ``QualityResult``: success, and for each failed expectation its type, column,
a sentence saying what was expected, how many rows broke it out of how many, and a few sample
rows (with their identifying columns) to look at. ``metadata()`` is JSON-friendly for Dagster.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd
import polars as pl

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.expectations.expectation import Expectation

Frame: TypeAlias = pd.DataFrame | pl.DataFrame
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation that did not hold on a batch."""

    expectation: str
    column: str | None
    description: str
    unexpected_count: int
    element_count: int
    sample_values: tuple[Any, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "column": self.column,
            "description": self.description,
            "unexpected_count": self.unexpected_count,
            "element_count": self.element_count,
            "sample_values": list(self.sample_values),
        }


@dataclass(frozen=True)
class QualityResult:
    """The outcome of one suite on one batch (turn it into a Dagster asset-check result)."""

    suite: str
    rows: int
    evaluated: int
    failures: tuple[FailedExpectation, ...] = field(default_factory=tuple)

    @property
    def success(self) -> bool:
        return not self.failures

    @property
    def failed_expectations(self) -> list[str]:
        return [f.description for f in self.failures]

    def metadata(self) -> dict[str, Any]:
        """Plain JSON values: rows, evaluated, failed, failures (list of dicts)."""
        return {
            "suite": self.suite,
            "rows": self.rows,
            "evaluated": self.evaluated,
            "failed": len(self.failures),
            "failures": [f.as_dict() for f in self.failures],
        }

    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: {self.evaluated} expectations passed on {self.rows} rows"
        lines = [f"{self.suite}: {len(self.failures)} of {self.evaluated} expectations failed"]
        for f in self.failures:
            lines.append(
                f"- {f.description}: {f.unexpected_count} of {f.element_count} rows, "
                f"e.g. {list(f.sample_values)[:3]}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class Check:
    """Expectations to run on one frame (a suite may check a raw frame and derived ones).

    ``ids`` are the identifying columns reported with each sample (ticker, city, day, ...).
    """

    frame: pd.DataFrame
    expectations: Sequence[Expectation]
    ids: Sequence[str] = ()
    required: Sequence[str] = ()


_LOCK = threading.Lock()


@cache
def _batch_definition() -> BatchDefinition:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    source = context.data_sources.add_pandas("weather_edge")
    asset = source.add_dataframe_asset("frame")
    return asset.add_batch_definition_whole_dataframe("whole")


def to_pandas(frame: Frame) -> pd.DataFrame:
    return frame.to_pandas() if isinstance(frame, pl.DataFrame) else frame


def _plain(value: Any) -> Any:
    """numpy / pandas scalars -> JSON-friendly Python values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _column_of(kwargs: Mapping[str, Any]) -> str | None:
    if "column" in kwargs:
        return str(kwargs["column"])
    if "column_A" in kwargs:
        return f"{kwargs['column_A']} vs {kwargs['column_B']}"
    return None


def _run(suite: str, check: Check) -> tuple[int, list[FailedExpectation]]:
    missing = [c for c in (*check.required, *check.ids) if c not in check.frame.columns]
    if missing:
        failure = FailedExpectation(
            expectation="expect_columns_to_exist",
            column=", ".join(missing),
            description=f"the batch has the columns {', '.join(missing)}",
            unexpected_count=len(missing),
            element_count=len(check.frame),
        )
        return 1, [failure]
    import great_expectations as gx

    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": SAMPLE_SIZE,
        **({"unexpected_index_column_names": list(check.ids)} if check.ids else {}),
    }
    with _LOCK:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": check.frame})
        suite_def = gx.ExpectationSuite(name=suite, expectations=list(check.expectations))
        validation = batch.validate(suite_def, result_format=result_format)
    failures = []
    for outcome in validation.results:
        if outcome.success:
            continue
        config = outcome.expectation_config
        kwargs = dict(config.kwargs) if config is not None else {}
        result = outcome.result or {}
        samples = result.get("partial_unexpected_index_list") or result.get(
            "partial_unexpected_list", []
        )
        failures.append(
            FailedExpectation(
                expectation=config.type if config is not None else "unknown",
                column=_column_of(kwargs),
                description=(config.description if config is not None else None)
                or f"{config.type if config else 'expectation'} {kwargs}",
                unexpected_count=int(result.get("unexpected_count", len(check.frame))),
                element_count=int(result.get("element_count", len(check.frame))),
                sample_values=tuple(_plain(s) for s in samples[:SAMPLE_SIZE]),
            )
        )
    return len(check.expectations), failures


def validate(suite: str, checks: Sequence[Check], rows: int) -> QualityResult:
    """Run every check of a suite; ``rows`` is the size of the batch the caller handed in."""
    evaluated = 0
    failures: list[FailedExpectation] = []
    for check in checks:
        count, failed = _run(suite, check)
        evaluated += count
        failures.extend(failed)
    return QualityResult(suite=suite, rows=rows, evaluated=evaluated, failures=tuple(failures))
