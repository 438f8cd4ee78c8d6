"""The keeper sensor against a real Dagster instance: starts, skips, restarts with backoff."""

from __future__ import annotations

import uuid

import dagster as dg
import pytest

from weather_edge.defs.ingestion import INGESTION_TAG, quote_ingestion, quote_ingestion_keeper
from weather_edge.ingest.keeper import KeeperCursor


@pytest.fixture
def instance():  # type: ignore[no-untyped-def]
    with dg.instance_for_test() as inst:
        yield inst


def add_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(dg.DagsterRun(job_name=quote_ingestion.name, run_id=run_id, status=status))
    return run_id


def evaluate(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor)
    result = quote_ingestion_keeper(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_requests_one_run_when_none_is_alive(instance: dg.DagsterInstance) -> None:
    result = evaluate(instance, None)
    assert result.run_requests is not None and len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.tags[INGESTION_TAG] == "quote_stream"
    assert request.run_key


def test_skips_while_a_run_is_starting_or_running(instance: dg.DagsterInstance) -> None:
    for status in (dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED):
        run_id = add_run(instance, status)
        result = evaluate(instance, None)
        assert not result.run_requests
        assert result.skip_reason is not None and run_id in str(result.skip_reason.skip_message)
        instance.delete_run(run_id)


def test_restarts_after_a_failure_with_backoff(instance: dg.DagsterInstance) -> None:
    add_run(instance, dg.DagsterRunStatus.FAILURE)
    first = evaluate(instance, None)
    assert not first.run_requests
    assert "backing off" in str(first.skip_reason.skip_message)  # type: ignore[union-attr]
    assert first.cursor is not None
    assert KeeperCursor.loads(first.cursor).consecutive_failures == 1
    # once the backoff has passed (cursor says the failure is old news), it restarts
    instance.wipe()
    later = evaluate(instance, first.cursor)
    assert later.run_requests


def test_the_job_carries_the_concurrency_tag() -> None:
    assert quote_ingestion.tags[INGESTION_TAG] == "quote_stream"
