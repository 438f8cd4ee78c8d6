"""Fault injection for the simulator, switchable per run and deterministic for a seed.

WebSocket (per connection, on the data stream after ``seq`` numbers were assigned):

* ``ws_drop_every_seconds``: the server drops the connection (TCP abort, no close frame)
  every N real seconds after it opened;
* ``ws_skip_seq_rate``: an ``orderbook_delta`` is not sent, so its ``seq`` is missing;
* ``ws_duplicate_rate``: an ``orderbook_delta`` is sent twice;
* ``ws_reorder_rate``: an ``orderbook_delta`` is held back and sent after the next one;
* ``ws_malformed_rate``: a frame of broken JSON is sent before a data message;
* ``ws_stall_after_messages`` / ``ws_stall_seconds``: after N data messages on a
  connection, that message's subscription goes silent for a while (its messages are held,
  then delivered late in one burst) while the rest of the connection stays healthy.

REST (per request, in the order requests arrive):

* ``rest_429_rate`` / ``rest_500_rate``: answered 429 (with ``Retry-After``) or 500
  without being processed;
* ``rest_500_after_rate``: a write (POST/DELETE) is *processed*, then answered 500, the
  case where the client cannot know whether its order exists;
* ``ack_delay_seconds``: write acknowledgements (orders, cancels, ...) are held this long.

Every random decision comes from a stream seeded by (seed, what, connection number), so
the same seed and the same traffic give the same faults.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from weather_edge.sim.exchange import seeded_rng

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
HOLD_REORDERED_SECONDS = 0.25  # a held-back message goes out by itself after this long


@dataclass(frozen=True)
class FaultConfig:
    seed: int | None = None  # None: the simulator's seed
    ws_drop_every_seconds: float | None = None
    ws_skip_seq_rate: float = 0.0
    ws_duplicate_rate: float = 0.0
    ws_reorder_rate: float = 0.0
    ws_malformed_rate: float = 0.0
    ws_stall_after_messages: int | None = None
    ws_stall_seconds: float = 5.0
    rest_429_rate: float = 0.0
    rest_500_rate: float = 0.0
    rest_500_after_rate: float = 0.0
    ack_delay_seconds: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            "ws_skip_seq_rate",
            "ws_duplicate_rate",
            "ws_reorder_rate",
            "ws_malformed_rate",
            "rest_429_rate",
            "rest_500_rate",
            "rest_500_after_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {value}")
        if self.rest_429_rate + self.rest_500_rate > 1.0:
            raise ValueError("rest_429_rate + rest_500_rate cannot exceed 1")


@dataclass(frozen=True)
class Frame:
    """One outgoing WebSocket text frame and what it belongs to."""

    text: str
    sid: int | None = None
    droppable: bool = False  # an orderbook_delta: may be skipped, duplicated or reordered


class RestFaults:
    """Decides, request by request, whether the REST server misbehaves."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.config = config
        self._rng = seeded_rng(config.seed if config.seed is not None else seed, "rest")
        self._lock = threading.Lock()
        self.injected: list[tuple[str, str, str]] = []  # (method, path, fault)

    def before(self, method: str, path: str) -> int | None:
        """429 or 500 to answer *instead of* processing the request, or None."""
        cfg = self.config
        if not (cfg.rest_429_rate or cfg.rest_500_rate):
            return None
        with self._lock:
            roll = self._rng.random()
        status = None
        if roll < cfg.rest_429_rate:
            status = 429
        elif roll < cfg.rest_429_rate + cfg.rest_500_rate:
            status = 500
        if status is not None:
            self.injected.append((method, path, f"{status}-before"))
        return status

    def after(self, method: str, path: str) -> int | None:
        """500 to answer *after* processing a write, or None."""
        if not self.config.rest_500_after_rate or method not in WRITE_METHODS:
            return None
        with self._lock:
            hit = self._rng.random() < self.config.rest_500_after_rate
        if hit:
            self.injected.append((method, path, "500-after"))
            return 500
        return None

    def ack_delay(self, method: str) -> float:
        return self.config.ack_delay_seconds if method in WRITE_METHODS else 0.0


@dataclass
class _Stall:
    sid: int
    until: float
    held: list[str] = field(default_factory=list)


class WsFaults:
    """The faults of one WebSocket connection: turns the data stream into the frames sent."""

    def __init__(self, config: FaultConfig, seed: int, connection_number: int) -> None:
        self.config = config
        base = config.seed if config.seed is not None else seed
        self._rng = seeded_rng(base, "ws", connection_number)
        self._data_messages = 0
        self._stall: _Stall | None = None
        self._stalled_once = False
        self._held: tuple[str, float] | None = None  # a reordered message and when it was held
        self.injected: list[tuple[str, int | None]] = []  # (fault, sid)

    @property
    def drop_every(self) -> float | None:
        return self.config.ws_drop_every_seconds

    def outgoing(self, frame: Frame, now: float) -> list[str]:
        """The frames to send now for ``frame`` (monotonic ``now`` in seconds)."""
        cfg = self.config
        out: list[str] = []
        if frame.sid is None:  # a command reply: never tampered with
            return [frame.text]
        self._data_messages += 1
        if (
            cfg.ws_stall_after_messages is not None
            and not self._stalled_once
            and self._data_messages >= cfg.ws_stall_after_messages
        ):
            self._stalled_once = True
            self._stall = _Stall(frame.sid, now + cfg.ws_stall_seconds)
            self.injected.append(("stall", frame.sid))
        if self._stall is not None and self._stall.sid == frame.sid:
            self._stall.held.append(frame.text)
            return out
        if cfg.ws_malformed_rate and self._rng.random() < cfg.ws_malformed_rate:
            out.append(frame.text[: max(1, len(frame.text) // 2)] + "\x00}{")
            self.injected.append(("malformed", frame.sid))
        if not frame.droppable:
            return [*out, frame.text]
        if cfg.ws_skip_seq_rate and self._rng.random() < cfg.ws_skip_seq_rate:
            self.injected.append(("skip", frame.sid))
            return [*out, *self._release_held()]
        if cfg.ws_duplicate_rate and self._rng.random() < cfg.ws_duplicate_rate:
            self.injected.append(("duplicate", frame.sid))
            return [*out, frame.text, frame.text, *self._release_held()]
        if self._held is None and cfg.ws_reorder_rate and self._rng.random() < cfg.ws_reorder_rate:
            self._held = (frame.text, now)
            self.injected.append(("reorder", frame.sid))
            return out
        return [*out, frame.text, *self._release_held()]

    def _release_held(self) -> list[str]:
        if self._held is None:
            return []
        text, self._held = self._held[0], None
        return [text]

    def due(self, now: float) -> list[str]:
        """Frames whose hold is over: a stalled subscription's backlog, a reordered message."""
        out: list[str] = []
        if self._held is not None and now - self._held[1] >= HOLD_REORDERED_SECONDS:
            out += self._release_held()
        if self._stall is not None and now >= self._stall.until:
            out += self._stall.held
            self._stall = None
        return out

    def next_deadline(self) -> float | None:
        """The monotonic time of the next :meth:`due` release, if any."""
        deadlines = []
        if self._held is not None:
            deadlines.append(self._held[1] + HOLD_REORDERED_SECONDS)
        if self._stall is not None:
            deadlines.append(self._stall.until)
        return min(deadlines) if deadlines else None
