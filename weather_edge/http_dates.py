"""HTTP date headers (RFC 9110): ``Date`` and ``Retry-After``, for every client we run."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def parse_http_date(value: str) -> datetime | None:
    """An HTTP date as aware UTC; None if it is not one."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:  # HTTP dates are GMT; "-0000" parses naive
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date); None if absent or garbage."""
    if header is None or not header.strip():
        return None
    text = header.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    moment = parse_http_date(text)
    if moment is None:
        return None
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
