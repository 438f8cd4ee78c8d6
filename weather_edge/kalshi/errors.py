"""Typed errors of the Kalshi client.

No error carries request headers, signatures or key material: an API error holds the HTTP
method, the path (no query string), the status and Kalshi's ``{code, message, details}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec


class KalshiError(Exception):
    """Base class of everything the Kalshi client raises."""


class KalshiConfigError(KalshiError):
    """Bad configuration: unknown environment, missing URL or credentials."""


class KalshiKeyError(KalshiConfigError):
    """The private key cannot be used: missing, unreadable, not RSA, or too widely readable."""


class KalshiProtocolError(KalshiError):
    """A response or message that does not have the documented shape."""


class KalshiTransportError(KalshiError):
    """The request failed in the network.

    ``sent`` is False when the request certainly never reached the server (connection
    refused, connect timeout) and True when it may have (read timeout, reset mid-response):
    for an order command the latter is an *unknown* outcome, never a reason to resend.
    """

    def __init__(self, message: str, *, method: str, path: str, sent: bool) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.sent = sent

    def __str__(self) -> str:
        where = "after sending" if self.sent else "before sending"
        return f"{self.method} {self.path}: {self.args[0]} ({where})"


class KalshiAPIError(KalshiError):
    """An HTTP error answer from Kalshi: status plus the error body's code and message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: str = "",
        method: str = "",
        path: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.method = method
        self.path = path
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"{self.method} {self.path} " if self.method else ""
        extra = f" ({self.details})" if self.details else ""
        return f"{where}-> {self.status} {self.code}: {self.message}{extra}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, code={self.code!r}, path={self.path!r})"
        )


class BadRequestError(KalshiAPIError):
    """400: the request was invalid; it had no effect."""


class UnauthorizedError(KalshiAPIError):
    """401: missing or bad signature, unknown key, clock skew."""


class ForbiddenError(KalshiAPIError):
    """403: the key may not do this."""


class NotFoundError(KalshiAPIError):
    """404: no such market, event, series or order."""


class ConflictError(KalshiAPIError):
    """409: e.g. an order whose ``client_order_id`` was already used."""


class RateLimitedError(KalshiAPIError):
    """429: too many requests; ``retry_after`` (seconds) when the server said."""


class ServerError(KalshiAPIError):
    """5xx: the exchange failed; for a write its effect is unknown."""


_BY_STATUS: Mapping[int, type[KalshiAPIError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}


class KalshiWSCommandError(KalshiError):
    """The WebSocket server answered a command with ``type: error`` (codes 1-22)."""

    def __init__(self, code: int, message: str, *, command: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.command = command

    def __str__(self) -> str:
        return f"{self.command}: error {self.code}: {self.message}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


def api_error(
    status: int,
    body: bytes,
    *,
    method: str = "",
    path: str = "",
    retry_after: float | None = None,
) -> KalshiAPIError:
    """The typed error for an HTTP error answer.

    Kalshi's body is ``{"error": {"code", "message", "details"}}``; the flat form
    ``{"code", "message", "details"}`` of the OpenAPI ``ErrorResponse`` is accepted too, and
    a body that is not JSON becomes the message (truncated).
    """
    code, message, details = "", "", ""
    try:
        data = msgspec.json.decode(body) if body else {}
    except msgspec.DecodeError:
        data = None
        message = body[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        inner = data.get("error", data)
        if isinstance(inner, dict):
            code = _text(inner.get("code"))
            message = _text(inner.get("message"))
            details = _text(inner.get("details"))
        elif isinstance(inner, str):
            message = inner
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else KalshiAPIError)
    return cls(
        status,
        code or str(status),
        message or "HTTP error",
        details=details,
        method=method,
        path=path,
        retry_after=retry_after,
    )
