"""What the migrations create, as data the code can use: each table's key columns.

The key is what an upsert conflicts on; a test checks this against the live databases so the
two cannot drift apart.
"""

from __future__ import annotations

TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "series": ("series_ticker",),
    "markets": ("ticker",),
    "quotes": ("market_ticker", "source_id"),
    "trades": ("trade_id",),
    "lifecycle_events": ("market_ticker", "event_type", "ts"),
    "forecasts": ("city", "climate_day", "source", "issued_at"),
    "observations": ("station_id", "observed_at", "source"),
    "climate_reports": ("city", "climate_day", "product_id"),
    "predictions": ("city", "climate_day", "snapshot_at", "model_version", "variant"),
    "bracket_predictions": ("market_ticker", "snapshot_at", "model_version", "variant"),
    "decisions": ("decision_id",),
    "orders": ("client_order_id",),
    "fills": ("fill_id",),
    "settlements": ("market_ticker",),
    "scores": ("city", "climate_day", "subject", "subject_key", "metric"),
    "journal_progress": ("segment",),
}


def key_of(table: str) -> tuple[str, ...]:
    try:
        return TABLE_KEYS[table]
    except KeyError:
        raise KeyError(f"unknown warehouse table {table!r}") from None
