"""Shared test fixtures: paths to the real data beside the repo, and the database backends."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
SHARED_DATA = SHARED_DIR / "data"
SHARED_FIXTURES = SHARED_DIR / "fixtures"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the real data is expected at {SHARED_DATA} (../shared beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.fail(f"the fixtures are expected at {SHARED_FIXTURES} (../shared beside the repo)")
    return SHARED_FIXTURES


# --- a throwaway RSA key for the Kalshi protocol (never a real one) ---------------------------

KEY_ID = "test-key-0001"


@pytest.fixture(scope="session")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def private_pem(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="session")
def public_pem(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture
def key_file(tmp_path: Path, private_pem: bytes) -> Path:
    path = tmp_path / "kalshi.pem"
    path.write_bytes(private_pem)
    os.chmod(path, 0o600)
    return path



POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _postgres_available() -> bool:
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A fresh, empty warehouse URL on each backend; PostgreSQL gets a schema of its own."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
        return
    if not _postgres_available():
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_URL}: start it (see README)")
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{POSTGRES_URL}?schema={schema}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def warehouse(warehouse_url: str):  # type: ignore[no-untyped-def]
    """A migrated warehouse on each backend."""
    from weather_edge.storage import open_warehouse

    wh = open_warehouse(warehouse_url)
    wh.migrate()
    yield wh
    wh.close()
