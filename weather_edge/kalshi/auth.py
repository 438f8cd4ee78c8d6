"""Request signing for Kalshi: RSA-PSS over ``timestamp_ms + METHOD + path``.

* padding PSS with MGF1(SHA-256) and a 32-byte salt (the digest length), hash SHA-256;
* the signed path is the full path from the root, ``/trade-api/v2/...``, without the query
  string; the body is not signed;
* the WebSocket handshake signs ``timestamp_ms + "GET" + "/trade-api/ws/v2"``;
* the signature travels as standard base64 in ``KALSHI-ACCESS-SIGNATURE``, next to
  ``KALSHI-ACCESS-KEY`` (the key id) and ``KALSHI-ACCESS-TIMESTAMP`` (Unix milliseconds).

The private key lives only inside a :class:`KalshiSigner`: its ``repr`` hides it, it refuses
to be pickled or copied, and no exception raised here mentions it. A key file that group or
others can access is refused, like ``ssh`` does.
"""

from __future__ import annotations

import base64
import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from weather_edge.kalshi.config import ENV_KEY_ID, ENV_KEY_PATH, WS_SIGNED_PATH
from weather_edge.kalshi.errors import KalshiKeyError

HEADER_KEY = "KALSHI-ACCESS-KEY"
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"
SIGNED_HEADERS = frozenset({HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE})

_SALT_LENGTH = 32  # = SHA-256 digest length


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=_SALT_LENGTH)


def signing_message(timestamp_ms: int, method: str, path: str) -> bytes:
    """The exact bytes Kalshi verifies: ``b"1703123456789GET/trade-api/v2/portfolio/balance"``.

    ``path`` may be a full URL or carry a query string; only the path part is signed.
    """
    only_path = urlsplit(path).path if "://" in path else path.split("?", 1)[0]
    if not only_path.startswith("/"):
        raise ValueError(f"the signed path must start at the root: {only_path!r}")
    return f"{int(timestamp_ms)}{method.upper()}{only_path}".encode()


def verify_signature(
    public_key: rsa.RSAPublicKey, timestamp_ms: int, method: str, path: str, signature: str
) -> bool:
    """True if ``signature`` (base64) is a valid Kalshi signature of the request."""
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key.verify(raw, signing_message(timestamp_ms, method, path), _pss(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def check_key_file_permissions(path: Path) -> None:
    """Refuse a key file that is not a regular file or that group or others may access."""
    try:
        info = path.stat()
    except OSError as exc:
        raise KalshiKeyError(
            f"cannot read the Kalshi private key file {path}: {exc.strerror}"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise KalshiKeyError(f"the Kalshi private key path {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        who = "readable" if mode & 0o044 else "accessible"
        raise KalshiKeyError(
            f"the Kalshi private key file {path} is {who} by group or others "
            f"(mode {mode:04o}); run `chmod 600 {path}`"
        )


class KalshiSigner:
    """Holds a key id and an RSA private key, and signs requests. Never reveals the key."""

    __slots__ = ("_key", "key_id")

    def __init__(self, key_id: str, private_key: rsa.RSAPrivateKey) -> None:
        if not key_id:
            raise KalshiKeyError("a Kalshi API key id is required")
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise KalshiKeyError("the Kalshi private key must be an RSA key")
        self.key_id = key_id
        self._key = private_key

    @classmethod
    def from_pem(cls, key_id: str, pem: bytes, password: bytes | None = None) -> KalshiSigner:
        try:
            key = serialization.load_pem_private_key(pem, password=password)
        except (ValueError, TypeError) as exc:
            # The message of ``exc`` never contains key bytes, but keep it short and generic.
            raise KalshiKeyError(f"not a usable PEM private key ({type(exc).__name__})") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KalshiKeyError("the Kalshi private key must be an RSA key")
        return cls(key_id, key)

    @classmethod
    def from_file(
        cls, key_id: str, path: str | os.PathLike[str], password: bytes | None = None
    ) -> KalshiSigner:
        key_path = Path(path).expanduser()
        check_key_file_permissions(key_path)
        try:
            pem = key_path.read_bytes()
        except OSError as exc:
            raise KalshiKeyError(
                f"cannot read the Kalshi private key file {key_path}: {exc.strerror}"
            ) from None
        return cls.from_pem(key_id, pem, password)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KalshiSigner:
        """From ``KALSHI_API_KEY_ID`` and ``KALSHI_PRIVATE_KEY_PATH``."""
        env = os.environ if environ is None else environ
        key_id, key_path = env.get(ENV_KEY_ID), env.get(ENV_KEY_PATH)
        if not key_id or not key_path:
            raise KalshiKeyError(f"set {ENV_KEY_ID} and {ENV_KEY_PATH} to sign Kalshi requests")
        return cls.from_file(key_id, key_path)

    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def sign(self, timestamp_ms: int, method: str, path: str) -> str:
        """Base64 RSA-PSS signature of ``timestamp_ms + METHOD + path`` (query string dropped)."""
        message = signing_message(timestamp_ms, method, path)
        return base64.b64encode(self._key.sign(message, _pss(), hashes.SHA256())).decode("ascii")

    def headers(self, method: str, path: str, *, timestamp_ms: int | None = None) -> dict[str, str]:
        """The three authentication headers for one request."""
        ts = time.time_ns() // 1_000_000 if timestamp_ms is None else int(timestamp_ms)
        return {
            HEADER_KEY: self.key_id,
            HEADER_TIMESTAMP: str(ts),
            HEADER_SIGNATURE: self.sign(ts, method, path),
        }

    def ws_headers(
        self, path: str = WS_SIGNED_PATH, *, timestamp_ms: int | None = None
    ) -> dict[str, str]:
        """Headers for the WebSocket handshake: signs ``timestamp + "GET" + path``."""
        return self.headers("GET", path, timestamp_ms=timestamp_ms)

    def __repr__(self) -> str:
        return f"KalshiSigner(key_id={self.key_id!r}, private_key=<hidden>)"

    __str__ = __repr__

    def _refuse(self, *args: object) -> NoReturn:
        raise TypeError("a KalshiSigner holds a private key and cannot be copied or pickled")

    __reduce__ = __reduce_ex__ = __copy__ = __deepcopy__ = __getstate__ = _refuse
