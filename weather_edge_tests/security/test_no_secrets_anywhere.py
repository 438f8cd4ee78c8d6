"""No secret reaches the logs, the journal, run config or the Dagster event log."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from weather_edge.defs.ingestion import quote_ingestion
from weather_edge.defs.resources import WarehouseResource, kalshi_resource_from_env
from weather_edge.kalshi.auth import KalshiSigner
from weather_edge.kalshi.secrets_scan import find_secrets, key_fingerprints
from weather_edge_tests.conftest import KEY_ID
from weather_edge_tests.ingest.simhelp import advancing, simulator


class SignatureRecorder(KalshiSigner):
    """Remembers every signature it makes, so the test can look for each one."""

    made: list[str] = []  # noqa: RUF012 - shared on purpose: the job builds its own signer

    def sign(self, timestamp_ms: int, method: str, path: str) -> str:
        signature = super().sign(timestamp_ms, method, path)
        SignatureRecorder.made.append(signature)
        return signature


def test_an_ingestion_run_leaves_no_secret_behind(
    public_pem: bytes,
    private_pem: bytes,
    private_key: rsa.RSAPrivateKey,
    key_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, including websockets' handshake headers
    monkeypatch.setattr("weather_edge.defs.resources.KalshiSigner", SignatureRecorder)
    home = tmp_path / "dagster_home"
    home.mkdir()
    data = tmp_path / "data"
    with simulator(public_pem, cities=("NYC",)) as sim:
        monkeypatch.setenv("KALSHI_ENV", "custom")
        monkeypatch.setenv("KALSHI_REST_URL", sim.rest_url)
        monkeypatch.setenv("KALSHI_WS_URL", sim.ws_url)
        monkeypatch.setenv("KALSHI_API_KEY_ID", KEY_ID)
        monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(key_file))
        kalshi = kalshi_resource_from_env()  # the key id and path come in through EnvVar
        with dg.DagsterInstance.local_temp(str(home)) as instance, advancing(sim, 2.0):
            result = quote_ingestion.execute_in_process(
                run_config={"ops": {"stream_quotes": {"config": {"duration_s": 3.0}}}},
                resources={
                    "kalshi": kalshi,
                    "warehouse": WarehouseResource(
                        url=f"duckdb:///{data / 'warehouse.duckdb'}", data_dir=str(data)
                    ),
                },
                instance=instance,
            )
            assert result.success
            run = instance.get_run_by_id(result.run_id)
            assert run is not None
            places: dict[str, str] = {
                "run config": repr(run.run_config),
                "run tags": repr(run.tags),
                "event log": "\n".join(repr(e) for e in instance.all_logs(result.run_id)),
            }
    assert SignatureRecorder.made, "the run signed its requests"
    places["captured logs"] = caplog.text
    places["journal"] = "\n".join(
        p.read_bytes().decode("utf-8", errors="replace") for p in (data / "journal").glob("*")
    )
    places["Dagster storage"] = "\n".join(
        p.read_bytes().decode("utf-8", errors="replace") for p in home.rglob("*") if p.is_file()
    )
    fingerprints = key_fingerprints(private_key, private_pem)
    leaks: dict[str, Any] = {
        where: found
        for where, text in places.items()
        if (found := find_secrets(text, fingerprints, SignatureRecorder.made))
    }
    assert not leaks, leaks
    assert places["journal"], "the journal was searched, not skipped"


def test_the_scanner_finds_what_it_is_looking_for(
    private_key: rsa.RSAPrivateKey, private_pem: bytes
) -> None:
    fingerprints = key_fingerprints(private_key, private_pem)
    assert find_secrets(private_pem.decode(), fingerprints)
    assert find_secrets("headers={'KALSHI-ACCESS-SIGNATURE': '" + "A" * 60 + "'}", [])
    assert not find_secrets("KALSHI-ACCESS-SIGNATURE: <redacted>", fingerprints)
