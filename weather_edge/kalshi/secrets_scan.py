"""Find traces of a Kalshi private key or request signatures in text.

Used by the security tests to search logs, journals, run config and event logs; usable by an
operator over any file before sharing it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import rsa

# A signature header with a value: what a leaked request would look like in a log line.
_SIGNATURE_HEADER = re.compile(
    r"KALSHI-ACCESS-SIGNATURE['\"]?\s*[:=,]\s*['\"]?[A-Za-z0-9+/]{40,}", re.IGNORECASE
)


def key_fingerprints(private_key: rsa.RSAPrivateKey, private_pem: bytes) -> list[str]:
    """Fragments that would betray the key wherever they appear."""
    numbers = private_key.private_numbers()
    body = b"".join(private_pem.splitlines()[1:-1]).decode()
    return [
        "PRIVATE KEY-----",
        body[:40],
        body[-40:],
        str(numbers.d)[:30],
        str(numbers.p)[:30],
        format(numbers.d, "x")[:30],
    ]


def find_secrets(
    text: str, fingerprints: Sequence[str], signatures: Sequence[str] = ()
) -> list[str]:
    """What in ``text`` gives a secret away (empty when nothing does)."""
    found = [f"key fragment {f[:12]}..." for f in fingerprints if f and f in text]
    found += [f"signature {s[:12]}..." for s in signatures if s and s in text]
    found += [f"signature header: {m.group(0)[:40]}..." for m in _SIGNATURE_HEADER.finditer(text)]
    return found
