"""Request signing: exact message, RSA-PSS parameters, key file hygiene, no key leaks."""

from __future__ import annotations

import base64
import copy
import logging
import os
import pickle
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from weather_edge.kalshi.auth import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    KalshiSigner,
    signing_message,
    verify_signature,
)
from weather_edge.kalshi.errors import KalshiKeyError
from weather_edge_tests.kalshi_client.conftest import KEY_ID, key_markers


def _verify_independently(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> None:
    """Verify with the documented parameters spelled out (raises InvalidSignature if not)."""
    public_key.verify(
        base64.b64decode(signature, validate=True),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_signing_message_is_the_documented_example() -> None:
    message = signing_message(1703123456789, "GET", "/trade-api/v2/portfolio/balance")
    assert message == b"1703123456789GET/trade-api/v2/portfolio/balance"


def test_query_string_and_host_are_not_signed() -> None:
    expected = b"1703123456789GET/trade-api/v2/portfolio/orders"
    assert signing_message(1703123456789, "get", "/trade-api/v2/portfolio/orders?limit=5") == (
        expected
    )
    url = "https://external-api.kalshi.com/trade-api/v2/portfolio/orders?cursor=abc"
    assert signing_message(1703123456789, "GET", url) == expected
    with pytest.raises(ValueError):
        signing_message(1, "GET", "portfolio/orders")


def test_signature_verifies_with_the_public_key(signer: KalshiSigner) -> None:
    signature = signer.sign(1703123456789, "GET", "/trade-api/v2/portfolio/balance")
    _verify_independently(
        signer.public_key(), b"1703123456789GET/trade-api/v2/portfolio/balance", signature
    )
    assert verify_signature(
        signer.public_key(), 1703123456789, "GET", "/trade-api/v2/portfolio/balance", signature
    )
    # anything else signed fails: other time, method, path, or a body is never part of it
    assert not verify_signature(
        signer.public_key(), 1703123456790, "GET", "/trade-api/v2/portfolio/balance", signature
    )
    assert not verify_signature(
        signer.public_key(), 1703123456789, "POST", "/trade-api/v2/portfolio/balance", signature
    )
    assert not verify_signature(signer.public_key(), 1, "GET", "/", "not base64!")


def test_salt_length_is_32(signer: KalshiSigner) -> None:
    signature = signer.sign(1, "GET", "/trade-api/v2/markets")
    with pytest.raises(Exception):  # noqa: B017 - InvalidSignature: salt 20 is not what we used
        signer.public_key().verify(
            base64.b64decode(signature),
            b"1GET/trade-api/v2/markets",
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20),
            hashes.SHA256(),
        )


def test_headers_and_ws_headers(signer: KalshiSigner) -> None:
    headers = signer.headers("POST", "/trade-api/v2/portfolio/orders", timestamp_ms=1700000000123)
    assert headers[HEADER_KEY] == KEY_ID
    assert headers[HEADER_TIMESTAMP] == "1700000000123"
    _verify_independently(
        signer.public_key(),
        b"1700000000123POST/trade-api/v2/portfolio/orders",
        headers[HEADER_SIGNATURE],
    )
    ws = signer.ws_headers(timestamp_ms=1700000000999)
    _verify_independently(
        signer.public_key(), b"1700000000999GET/trade-api/ws/v2", ws[HEADER_SIGNATURE]
    )
    live = signer.headers("GET", "/trade-api/v2/markets")
    assert len(live[HEADER_TIMESTAMP]) == 13  # milliseconds, not seconds


def test_key_file_loading_and_permissions(key_file: Path, tmp_path: Path) -> None:
    signer = KalshiSigner.from_file(KEY_ID, key_file)
    assert signer.key_id == KEY_ID
    for mode in (0o640, 0o644, 0o604):
        os.chmod(key_file, mode)
        with pytest.raises(KalshiKeyError, match="readable by group or others"):
            KalshiSigner.from_file(KEY_ID, key_file)
    os.chmod(key_file, 0o620)
    with pytest.raises(KalshiKeyError, match="group or others"):
        KalshiSigner.from_file(KEY_ID, key_file)
    os.chmod(key_file, 0o400)
    KalshiSigner.from_file(KEY_ID, key_file)
    with pytest.raises(KalshiKeyError, match="cannot read"):
        KalshiSigner.from_file(KEY_ID, tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    os.chmod(garbage, 0o600)
    with pytest.raises(KalshiKeyError, match="not a usable PEM"):
        KalshiSigner.from_file(KEY_ID, garbage)


def test_from_env(key_file: Path) -> None:
    env = {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(key_file)}
    assert KalshiSigner.from_env(env).key_id == KEY_ID
    with pytest.raises(KalshiKeyError, match="KALSHI_API_KEY_ID"):
        KalshiSigner.from_env({})
    os.chmod(key_file, 0o644)
    with pytest.raises(KalshiKeyError, match="chmod 600"):
        KalshiSigner.from_env(env)


def test_no_key_material_in_repr_errors_or_logs(
    private_key: rsa.RSAPrivateKey,
    private_pem: bytes,
    key_file: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    signer = KalshiSigner.from_file(KEY_ID, key_file)
    signer.headers("GET", "/trade-api/v2/portfolio/balance")
    texts = [repr(signer), str(signer), caplog.text]
    os.chmod(key_file, 0o644)
    try:
        KalshiSigner.from_file(KEY_ID, key_file)
    except KalshiKeyError as exc:
        texts += [str(exc), repr(exc)]
    try:
        KalshiSigner.from_pem(KEY_ID, private_pem[:-60])
    except KalshiKeyError as exc:
        texts += [str(exc), repr(exc)]
        assert exc.__cause__ is None and exc.__suppress_context__
    joined = "\n".join(texts)
    for marker in key_markers(private_key, private_pem):
        assert marker not in joined
    assert "hidden" in repr(signer)
    for leak in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError):
            leak(signer)
    assert not hasattr(signer, "__dict__")
