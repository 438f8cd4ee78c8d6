"""Orders and fills of the trading layer (paper and live), and their warehouse rows.

Every order's ``client_order_id`` is derived from the decision that asked for it and the
leg (``maker``, ``taker``), so placing the same decision twice can only ever name the same
order: the exchange answers 409 to the repeat and reconciliation finds the original.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from weather_edge.kalshi.book import Action, Side
from weather_edge.kalshi.fees import FeeSchedule, Liquidity, maker_fee, taker_fee
from weather_edge.trading.inputs import MarketSpec

CLIENT_ORDER_NAMESPACE = uuid.UUID("6f1d2c1e-57a4-4b8e-9a51-7d0b3f5e2a10")

ORDER_COLUMNS = (
    "client_order_id",
    "order_id",
    "decision_id",
    "market_ticker",
    "side",
    "action",
    "price_cc",
    "count_cq",
    "filled_cq",
    "status",
    "mode",
    "created_at",
    "updated_at",
)
"""The columns of the warehouse ``orders`` table (also attributes of :class:`OrderRecord`)."""

FILL_COLUMNS = (
    "fill_id",
    "client_order_id",
    "order_id",
    "market_ticker",
    "side",
    "action",
    "price_cc",
    "count_cq",
    "fee_micros",
    "is_taker",
    "mode",
    "ts",
)
"""The columns of the warehouse ``fills`` table (also attributes of :class:`FillRecord`)."""


def row_of(record: object, columns: tuple[str, ...]) -> dict[str, Any]:
    """A table row from a record's attributes (enums as their values)."""
    row = {}
    for column in columns:
        value = getattr(record, column)
        row[column] = value.value if isinstance(value, StrEnum) else value
    return row


def client_order_id_for(decision_id: str, leg: Liquidity) -> str:
    """A UUID (the format Kalshi documents) that is a pure function of decision and leg."""
    return str(uuid.uuid5(CLIENT_ORDER_NAMESPACE, f"{decision_id}:{leg}"))


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order to place: a limit on ``spec``'s market, ``price_cc`` on the order's side."""

    spec: MarketSpec
    side: Side
    action: Action
    price_cc: int
    count_cq: int
    liquidity: Liquidity


class OrderStatus(StrEnum):
    PENDING = "pending"  # recorded before sending: the outcome is not known yet
    RESTING = "resting"
    EXECUTED = "executed"
    CANCELED = "canceled"
    FAILED = "failed"  # certainly never reached the book

    @property
    def done(self) -> bool:
        return self in (OrderStatus.EXECUTED, OrderStatus.CANCELED, OrderStatus.FAILED)


@dataclass(slots=True)
class OrderRecord:
    """One order as the trading layer knows it (a row of the ``orders`` table)."""

    client_order_id: str
    market_ticker: str
    side: Side
    action: Action
    price_cc: int
    count_cq: int
    liquidity: Liquidity
    mode: str
    created_at: datetime
    updated_at: datetime
    decision_id: str | None = None
    order_id: str | None = None
    filled_cq: int = 0
    fees_micros: int = 0
    status: OrderStatus = OrderStatus.PENDING
    # maker orders: when to give up resting, and the taker order to send instead
    expires_at: datetime | None = None
    fallback_limit_cc: int | None = None
    fallback_count_cq: int | None = None
    level_filled: dict[int, int] = field(default_factory=dict)

    @classmethod
    def new(
        cls, client_order_id: str, intent: OrderIntent, *, mode: str, now: datetime, **extra: Any
    ) -> OrderRecord:
        """A fresh order (created and last updated ``now``); ``extra`` sets optional fields."""
        return cls(
            client_order_id,
            intent.spec.ticker,
            intent.side,
            intent.action,
            intent.price_cc,
            intent.count_cq,
            intent.liquidity,
            mode,
            now,
            now,
            **extra,
        )

    @property
    def remaining_cq(self) -> int:
        return 0 if self.status.done else self.count_cq - self.filled_cq

    def charge(self, schedule: FeeSchedule, price_cc: int, count_cq: int) -> int:
        """Book a fill of ``count_cq`` at ``price_cc``; returns its fee.

        Kalshi accumulates fees per order and price level: a fill pays
        ``fee(filled at that price so far + count) - fee(filled at that price so far)``.
        """
        fee_of = taker_fee if self.liquidity == "taker" else maker_fee
        before = self.level_filled.get(price_cc, 0)
        fee = fee_of(schedule, price_cc, before + count_cq) - fee_of(schedule, price_cc, before)
        self.level_filled[price_cc] = before + count_cq
        self.filled_cq += count_cq
        self.fees_micros += fee
        return fee

    def to_row(self) -> dict[str, Any]:
        return row_of(self, ORDER_COLUMNS)


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One execution (a row of the ``fills`` table); ``price_cc`` is on the order's side."""

    fill_id: str
    market_ticker: str
    side: Side
    action: Action
    price_cc: int
    count_cq: int
    fee_micros: int
    is_taker: bool
    mode: str
    ts: datetime
    client_order_id: str | None = None
    order_id: str | None = None

    def to_row(self) -> dict[str, Any]:
        return row_of(self, FILL_COLUMNS)
