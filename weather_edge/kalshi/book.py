"""Order books of Kalshi markets: exact levels, fast WebSocket updates, top-of-book changes.

A Kalshi book holds **bids only**: YES bids and NO bids. A NO bid at ``p`` is a YES ask at
``1 - p``, so the best YES ask is ``1 - best NO bid`` and the best NO ask ``1 - best YES bid``.
Prices are ``int`` centi-cents (cc) and sizes ``int`` centi-contracts (cq), see
:mod:`weather_edge.money`; an empty side has no best price (``None``).

Three wire shapes carry levels, all ``[[price_dollars, size], ...]`` of strings:

* REST ``GET /markets/{ticker}/orderbook`` -> ``{"orderbook_fp": {"yes_dollars", "no_dollars"}}``,
  each array ascending (best bid **last**): :func:`parse_rest_orderbook`;
* WS ``orderbook_snapshot`` -> ``msg.yes_dollars_fp`` / ``msg.no_dollars_fp`` (a side may be
  absent when empty) and WS ``orderbook_delta`` -> ``msg.price_dollars`` / ``msg.delta_fp``
  (signed) / ``msg.side``: :func:`decode_book_message`, then :class:`BookStore`.

The WebSocket path is the hot one (every book change of every market goes through it), so it
decodes envelopes straight into msgspec structs, keeps levels in ``dict[int, int]`` and caches
each side's best price; the text-to-integer conversions are memoised because a market only
ever quotes a few hundred distinct price strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, Protocol

import msgspec

from weather_edge.kalshi.errors import KalshiError, KalshiProtocolError
from weather_edge.money import (
    ONE_DOLLAR_CC,
    FixedPointError,
    format_price,
    format_size,
    parse_price,
    parse_size,
)

Side = Literal["yes", "no"]
Action = Literal["buy", "sell"]
Level = tuple[int, int]  # (price_cc, size_cq)
SIDES: tuple[Side, Side] = ("yes", "no")

_EMPTY = 0  # best-price sentinel of an empty side: no bid can be at $0


class BookIntegrityError(KalshiError):
    """The local book can no longer be trusted: it must be rebuilt from a new snapshot."""

    def __init__(self, market_ticker: str, reason: str) -> None:
        super().__init__(f"{market_ticker}: {reason}")
        self.market_ticker = market_ticker
        self.reason = reason


class SequenceGapError(BookIntegrityError):
    """A WebSocket ``seq`` gap on a subscription: every book it feeds is stale until resnapshot."""

    def __init__(self, sid: int, expected: int, got: int, stale_markets: Sequence[str]) -> None:
        super().__init__(
            ",".join(stale_markets) or f"sid {sid}",
            f"sequence gap on sid {sid}: expected seq {expected}, got {got}",
        )
        self.sid = sid
        self.expected = expected
        self.got = got
        self.stale_markets = tuple(stale_markets)


# --- exact parsing of wire strings ---------------------------------------------------------

_PRICE_CACHE: dict[str, int] = {}
_SIZE_CACHE: dict[str, int] = {}
_CACHE_LIMIT = 1 << 16  # bounds memory if a feed ever sends unbounded distinct strings


def clear_parse_caches() -> None:
    """Forget memoised strings (for benchmarks that must start cold)."""
    _PRICE_CACHE.clear()
    _SIZE_CACHE.clear()


def bid_price_cc(text: str) -> int:
    """A bid's dollar string ("0.5500" or "0.55") -> centi-cents, strictly inside (0, 1) dollar."""
    cc = _PRICE_CACHE.get(text)
    if cc is None:
        try:
            cc = parse_price(text)
        except FixedPointError as exc:
            raise KalshiProtocolError(str(exc)) from None
        if not 0 < cc < ONE_DOLLAR_CC:
            raise KalshiProtocolError(f"a bid must be strictly between $0 and $1, got {text!r}")
        if len(_PRICE_CACHE) < _CACHE_LIMIT:
            _PRICE_CACHE[text] = cc
    return cc


def size_cq(text: str) -> int:
    """A (possibly signed) contract-count string ("-12.50") -> centi-contracts."""
    cq = _SIZE_CACHE.get(text)
    if cq is None:
        cq = _size_cq_uncached(text)
        if len(_SIZE_CACHE) < _CACHE_LIMIT:
            _SIZE_CACHE[text] = cq
    return cq


def _size_cq_uncached(text: str) -> int:
    # Kalshi always sends sizes as "-?digits.dd": read those as one integer, skipping the
    # Decimal round trip; anything else takes the general exact parser.
    whole, _, frac = text.partition(".")
    digits = whole[1:] if whole[:1] == "-" else whole
    if len(frac) == 2 and digits and text.isascii() and digits.isdigit() and frac.isdigit():
        return int(whole + frac)
    try:
        return parse_size(text)
    except FixedPointError as exc:
        raise KalshiProtocolError(str(exc)) from None


def parse_levels(pairs: Iterable[Sequence[str]] | None) -> list[Level]:
    """``[[price_dollars, size], ...]`` -> ``[(price_cc, size_cq), ...]`` in the given order.

    Refuses a non-positive size and a price listed twice: either means the payload is not
    the aggregated book we think it is.
    """
    levels: list[Level] = []
    seen: set[int] = set()
    for pair in pairs or ():
        if len(pair) != 2:
            raise KalshiProtocolError(f"a book level is [price, size], got {pair!r}")
        price, size = bid_price_cc(pair[0]), size_cq(pair[1])
        if size <= 0:
            raise KalshiProtocolError(f"book level {pair!r} has a non-positive size")
        if price in seen:
            raise KalshiProtocolError(f"book lists price {pair[0]!r} twice")
        seen.add(price)
        levels.append((price, size))
    return levels


def parse_rest_orderbook(payload: Mapping[str, Any]) -> tuple[list[Level], list[Level]]:
    """YES and NO levels of a REST ``orderbook_fp`` payload (the response or its inner object).

    The arrays are ascending, so the best bid is the last element; an empty side may be
    ``[]``, ``null`` or missing.
    """
    inner = payload.get("orderbook_fp", payload)
    if not isinstance(inner, Mapping):
        raise KalshiProtocolError("an orderbook response needs an 'orderbook_fp' object")
    return parse_levels(inner.get("yes_dollars")), parse_levels(inner.get("no_dollars"))


# --- WebSocket messages --------------------------------------------------------------------


class DeltaBody(msgspec.Struct, frozen=True, gc=False):
    """``msg`` of an ``orderbook_delta``: one price level of one side changes by ``delta_fp``."""

    market_ticker: str
    price_dollars: str
    delta_fp: str
    side: Side
    ts: str | int | None = None
    client_order_id: str | None = None
    market_id: str | None = None


class SnapshotBody(msgspec.Struct, frozen=True, gc=False):
    """``msg`` of an ``orderbook_snapshot``: the whole book of one market."""

    market_ticker: str
    yes_dollars_fp: list[tuple[str, str]] | None = None
    no_dollars_fp: list[tuple[str, str]] | None = None
    market_id: str | None = None

    def levels(self) -> tuple[list[Level], list[Level]]:
        return parse_levels(self.yes_dollars_fp), parse_levels(self.no_dollars_fp)


class DeltaMessage(msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="orderbook_delta"):
    sid: int
    msg: DeltaBody
    seq: int | None = None


class SnapshotMessage(
    msgspec.Struct, frozen=True, gc=False, tag_field="type", tag="orderbook_snapshot"
):
    sid: int
    msg: SnapshotBody
    seq: int | None = None


BookMessage = DeltaMessage | SnapshotMessage
BOOK_MESSAGE_TYPES = frozenset({"orderbook_delta", "orderbook_snapshot"})


class _TypeOnly(msgspec.Struct, gc=False):
    type: str = ""


_BOOK_DECODER = msgspec.json.Decoder(BookMessage)
_TYPE_DECODER = msgspec.json.Decoder(_TypeOnly)


def decode_book_message(raw: bytes | str) -> BookMessage | None:
    """Decode a WS frame: a :class:`DeltaMessage`, a :class:`SnapshotMessage`, or ``None``
    for any other message type (ticker, trade, subscribed, ...).

    A book message that does not have the documented shape raises
    :class:`~weather_edge.kalshi.errors.KalshiProtocolError`.
    """
    try:
        return _BOOK_DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        _refuse_broken_book_message(raw, exc)
        return None


def _refuse_broken_book_message(raw: bytes | str, exc: msgspec.DecodeError) -> None:
    """Raise for a broken book frame; return quietly for a well-formed frame of another type."""
    if not isinstance(exc, msgspec.ValidationError):
        raise KalshiProtocolError(f"not a JSON message: {exc}") from None
    try:
        kind = _TYPE_DECODER.decode(raw).type
    except msgspec.DecodeError as whole:  # the tag was read, but the frame breaks further on
        raise KalshiProtocolError(f"not a JSON message: {whole}") from None
    if kind in BOOK_MESSAGE_TYPES:
        raise KalshiProtocolError(f"malformed {kind} message: {exc}") from None


# --- the book ------------------------------------------------------------------------------


class Quotes(Protocol):
    """Anything that knows the best prices (cc, ``None`` when that side is empty)."""

    @property
    def yes_bid_cc(self) -> int | None: ...
    @property
    def yes_ask_cc(self) -> int | None: ...
    @property
    def no_bid_cc(self) -> int | None: ...
    @property
    def no_ask_cc(self) -> int | None: ...


def _complement(price_cc: int | None) -> int | None:
    return None if price_cc is None else ONE_DOLLAR_CC - price_cc


@dataclass(frozen=True, slots=True)
class TopOfBook:
    """The best YES and NO bids of one market (cc and cq; price ``None`` and size 0 if empty).

    Asks follow from the other side's bid: a NO bid at p is a YES ask at 1 - p.
    """

    market_ticker: str
    yes_bid_cc: int | None
    yes_bid_cq: int
    no_bid_cc: int | None
    no_bid_cq: int

    @property
    def yes_ask_cc(self) -> int | None:
        return _complement(self.no_bid_cc)

    @property
    def yes_ask_cq(self) -> int:
        return self.no_bid_cq

    @property
    def no_ask_cc(self) -> int | None:
        return _complement(self.yes_bid_cc)

    @property
    def no_ask_cq(self) -> int:
        return self.yes_bid_cq

    @property
    def yes_spread_cc(self) -> int | None:
        """YES ask - YES bid (the NO spread is the same number); negative when crossed."""
        if self.yes_bid_cc is None or self.no_bid_cc is None:
            return None
        return ONE_DOLLAR_CC - self.no_bid_cc - self.yes_bid_cc

    @property
    def yes_mid_cc(self) -> Fraction | None:
        """Exact YES mid (half a centi-cent is possible on sub-cent grids)."""
        if self.yes_bid_cc is None or self.no_bid_cc is None:
            return None
        return Fraction(self.yes_bid_cc + ONE_DOLLAR_CC - self.no_bid_cc, 2)

    @property
    def yes_mid_probability(self) -> float | None:
        """The YES mid as a probability, for models only."""
        mid = self.yes_mid_cc
        return None if mid is None else float(mid / ONE_DOLLAR_CC)

    @property
    def crossed(self) -> bool:
        """YES bid >= YES ask: impossible on the exchange, so the local book has gone wrong."""
        return (
            self.yes_bid_cc is not None
            and self.no_bid_cc is not None
            and self.yes_bid_cc + self.no_bid_cc >= ONE_DOLLAR_CC
        )


# A frozen dataclass builds itself through object.__setattr__ per field (about 1 µs here),
# too slow for one event per book change: the hot path fills the slots directly instead.
_new_object = object.__new__
_set_ticker, _set_yes_bid, _set_yes_size, _set_no_bid, _set_no_size = (
    TopOfBook.__dict__[name].__set__
    for name in ("market_ticker", "yes_bid_cc", "yes_bid_cq", "no_bid_cc", "no_bid_cq")
)


def _make_top(
    market_ticker: str,
    yes_bid_cc: int | None,
    yes_bid_cq: int,
    no_bid_cc: int | None,
    no_bid_cq: int,
) -> TopOfBook:
    top = _new_object(TopOfBook)
    _set_ticker(top, market_ticker)
    _set_yes_bid(top, yes_bid_cc)
    _set_yes_size(top, yes_bid_cq)
    _set_no_bid(top, no_bid_cc)
    _set_no_size(top, no_bid_cq)
    return top


@dataclass(frozen=True, slots=True)
class DepthFill:
    """What an immediate order of ``requested_cq`` would take from the book right now.

    Prices are in the terms of the order's own ``side`` (a YES buy pays YES prices), levels
    best first; ``notional_micros`` is the exact cost (buy) or proceeds (sell) before fees.
    """

    side: Side
    action: Action
    requested_cq: int
    filled_cq: int
    notional_micros: int
    levels: tuple[Level, ...]

    @property
    def complete(self) -> bool:
        return self.filled_cq == self.requested_cq

    @property
    def average_price_cc(self) -> Fraction | None:
        return Fraction(self.notional_micros, self.filled_cq) if self.filled_cq else None

    @property
    def worst_price_cc(self) -> int | None:
        return self.levels[-1][0] if self.levels else None


class OrderBook:
    """The aggregated book of one market, kept exactly from a snapshot and deltas.

    ``apply_snapshot`` and ``apply_delta`` return whether the top of book (best price or its
    size, on either side) changed, so a caller can emit top-of-book events without comparing
    books. A level that would go negative marks the book ``needs_resync`` and raises
    :class:`BookIntegrityError`; so does any delta until a snapshot arrives. A crossed book
    (YES bid >= YES ask) is reported by :attr:`crossed`, not raised: it is the caller's
    signal to resnapshot.
    """

    __slots__ = (
        "_best_no",
        "_best_yes",
        "_no",
        "_yes",
        "market_ticker",
        "needs_resync",
        "resync_reason",
        "sid",
    )

    def __init__(self, market_ticker: str) -> None:
        self.market_ticker = market_ticker
        self._yes: dict[int, int] = {}
        self._no: dict[int, int] = {}
        self._best_yes = _EMPTY
        self._best_no = _EMPTY
        self.needs_resync = False
        self.resync_reason: str | None = None
        self.sid: int | None = None  # the WS subscription that feeds it, if any

    # -- updates --------------------------------------------------------------------------

    def apply_snapshot(self, yes_levels: Iterable[Level], no_levels: Iterable[Level]) -> bool:
        """Replace the whole book (clears ``needs_resync``). Zero-size levels are dropped."""
        before = self._top_key()
        self._yes = self._side_from_levels(yes_levels)
        self._no = self._side_from_levels(no_levels)
        self._best_yes = max(self._yes, default=_EMPTY)
        self._best_no = max(self._no, default=_EMPTY)
        self.needs_resync = False
        self.resync_reason = None
        return self._top_key() != before

    def _side_from_levels(self, levels: Iterable[Level]) -> dict[int, int]:
        side: dict[int, int] = {}
        for price, size in levels:
            if not 0 < price < ONE_DOLLAR_CC:
                raise ValueError(
                    f"{self.market_ticker}: bid price {price} cc outside (0, 1) dollar"
                )
            if size < 0:
                raise ValueError(f"{self.market_ticker}: negative size {size} cq at {price} cc")
            if price in side:
                raise ValueError(f"{self.market_ticker}: price {price} cc listed twice")
            if size:
                side[price] = size
        return side

    def apply_delta(self, side: str, price_cc: int, delta_cq: int) -> bool:
        """Change the ``side`` level at ``price_cc`` by ``delta_cq``; True if the top changed."""
        if self.needs_resync:
            raise BookIntegrityError(
                self.market_ticker, f"stale ({self.resync_reason}); waiting for a snapshot"
            )
        if side == "yes":
            levels, best = self._yes, self._best_yes
        elif side == "no":
            levels, best = self._no, self._best_no
        else:
            raise ValueError(f"side must be 'yes' or 'no', got {side!r}")
        if not delta_cq:
            return False
        size = levels.get(price_cc, 0) + delta_cq
        if size > 0:
            levels[price_cc] = size
            if price_cc < best:
                return False
            if price_cc > best:
                if side == "yes":
                    self._best_yes = price_cc
                else:
                    self._best_no = price_cc
            return True
        if size == 0:
            del levels[price_cc]
            if price_cc != best:
                return False
            if side == "yes":
                self._best_yes = max(levels, default=_EMPTY)
            else:
                self._best_no = max(levels, default=_EMPTY)
            return True
        self.mark_stale(
            f"{side} level at {format_price(price_cc)} would go to {format_size(size)} contracts"
        )
        raise BookIntegrityError(self.market_ticker, self.resync_reason or "negative level")

    def mark_stale(self, reason: str) -> None:
        """Distrust the book until the next snapshot (e.g. after a sequence gap)."""
        self.needs_resync = True
        self.resync_reason = reason

    # -- reading --------------------------------------------------------------------------

    def _top_key(self) -> tuple[int, int, int, int]:
        return (
            self._best_yes,
            self._yes.get(self._best_yes, 0),
            self._best_no,
            self._no.get(self._best_no, 0),
        )

    def top(self) -> TopOfBook:
        best_yes, best_no = self._best_yes, self._best_no
        return _make_top(
            self.market_ticker,
            best_yes or None,
            self._yes.get(best_yes, 0),
            best_no or None,
            self._no.get(best_no, 0),
        )

    @property
    def yes_bid_cc(self) -> int | None:
        return self._best_yes or None

    @property
    def no_bid_cc(self) -> int | None:
        return self._best_no or None

    @property
    def yes_ask_cc(self) -> int | None:
        return _complement(self.no_bid_cc)

    @property
    def no_ask_cc(self) -> int | None:
        return _complement(self.yes_bid_cc)

    @property
    def yes_spread_cc(self) -> int | None:
        return self.top().yes_spread_cc

    @property
    def yes_mid_cc(self) -> Fraction | None:
        return self.top().yes_mid_cc

    @property
    def crossed(self) -> bool:
        return self.top().crossed

    def size_at(self, side: Side, price_cc: int) -> int:
        return self._side(side).get(price_cc, 0)

    def levels(self, side: Side) -> list[Level]:
        """The bids of one side, best (highest) first."""
        return sorted(self._side(side).items(), reverse=True)

    def depth(self, side: Side) -> int:
        """Total size bid on one side (cq)."""
        return sum(self._side(side).values())

    def _side(self, side: Side) -> dict[int, int]:
        if side == "yes":
            return self._yes
        if side == "no":
            return self._no
        raise ValueError(f"side must be 'yes' or 'no', got {side!r}")

    def depth_to(self, side: Side, action: Action, size_cq: int) -> DepthFill:
        """Walk the book for an immediate order of ``size_cq`` on ``side``.

        Buying YES lifts NO bids (at 1 - p), selling YES hits YES bids; buying NO lifts YES
        bids (at 1 - p), selling NO hits NO bids.
        """
        if size_cq < 0:
            raise ValueError(f"size must be non-negative, got {size_cq} cq")
        if action not in ("buy", "sell"):
            raise ValueError(f"action must be 'buy' or 'sell', got {action!r}")
        other: Side = "no" if side == "yes" else "yes"
        buying = action == "buy"
        book_levels = self.levels(other if buying else side)
        taken: list[Level] = []
        remaining = size_cq
        notional = 0
        for bid_cc, available in book_levels:
            if not remaining:
                break
            qty = min(available, remaining)
            price = ONE_DOLLAR_CC - bid_cc if buying else bid_cc
            taken.append((price, qty))
            notional += price * qty
            remaining -= qty
        return DepthFill(side, action, size_cq, size_cq - remaining, notional, tuple(taken))

    def __repr__(self) -> str:
        top = self.top()
        stale = ", STALE" if self.needs_resync else ""
        return (
            f"OrderBook({self.market_ticker}: yes {top.yes_bid_cc}x{top.yes_bid_cq}, "
            f"no {top.no_bid_cc}x{top.no_bid_cq}{stale})"
        )


def book_from_levels(
    market_ticker: str, yes_levels: Iterable[Level], no_levels: Iterable[Level]
) -> OrderBook:
    book = OrderBook(market_ticker)
    book.apply_snapshot(yes_levels, no_levels)
    return book


class BookStore:
    """The books of every subscribed market, fed raw WebSocket frames.

    :meth:`on_message` returns the new :class:`TopOfBook` when a frame changed the top of its
    market (always after a snapshot), else ``None``; other message types are ignored. It
    checks ``seq`` per ``sid``: on a gap every book of that subscription is marked stale and
    :class:`SequenceGapError` is raised (after the frame itself was applied, so a snapshot
    still refreshes its market); deltas to a stale book are dropped until its snapshot.
    ``last_message`` is the last decoded book message (for its ``ts``, ``seq``...).
    """

    __slots__ = ("_expected_seq", "books", "last_message")

    def __init__(self) -> None:
        self.books: dict[str, OrderBook] = {}
        self._expected_seq: dict[int, int] = {}
        self.last_message: BookMessage | None = None

    def on_message(self, raw: bytes | str) -> TopOfBook | None:
        try:  # decode_book_message, inlined: this is the per-frame hot path
            message = _BOOK_DECODER.decode(raw)
        except msgspec.DecodeError as exc:
            _refuse_broken_book_message(raw, exc)
            return None
        return self.apply_message(message)

    def apply_message(self, message: BookMessage) -> TopOfBook | None:
        self.last_message = message
        gap: tuple[int, int] | None = None
        seq = message.seq
        if seq is not None:
            expected = self._expected_seq.get(message.sid)
            self._expected_seq[message.sid] = seq + 1
            if expected is not None and seq != expected:
                gap = (expected, seq)
                self._mark_sid_stale(message.sid, f"seq gap: expected {expected}, got {seq}")
        top: TopOfBook | None = None
        if isinstance(message, DeltaMessage):
            body = message.msg
            book = self.books.get(body.market_ticker)
            if book is None:
                raise BookIntegrityError(body.market_ticker, "delta before any snapshot")
            if not book.needs_resync:
                # The memo lookups of bid_price_cc / size_cq, inlined (one call fewer each).
                price = _PRICE_CACHE.get(body.price_dollars) or bid_price_cc(body.price_dollars)
                delta = _SIZE_CACHE.get(body.delta_fp)
                if delta is None:
                    delta = size_cq(body.delta_fp)
                if book.apply_delta(body.side, price, delta):
                    top = book.top()
        else:
            snapshot = message.msg
            book = self.books.get(snapshot.market_ticker)
            if book is None:
                book = self.books[snapshot.market_ticker] = OrderBook(snapshot.market_ticker)
            book.sid = message.sid
            book.apply_snapshot(*snapshot.levels())
            top = book.top()
        if gap is not None:
            stale = sorted(
                t for t, b in self.books.items() if b.sid == message.sid and b.needs_resync
            )
            raise SequenceGapError(message.sid, gap[0], gap[1], stale)
        return top

    def _mark_sid_stale(self, sid: int, reason: str) -> None:
        for book in self.books.values():
            if book.sid == sid:
                book.mark_stale(reason)

    def forget_sid(self, sid: int) -> None:
        """Drop the sequence state of a subscription (after unsubscribe or reconnect)."""
        self._expected_seq.pop(sid, None)

    def stale_markets(self) -> list[str]:
        return sorted(t for t, b in self.books.items() if b.needs_resync)
