"""Every fault visibly happens on the wire, and the fault streams are seeded."""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from weather_edge.sim.exchange import OrderRequest
from weather_edge.sim.faults import FaultConfig, Frame, RestFaults, WsFaults
from weather_edge.sim.matching import Action, Side
from weather_edge.sim.server import Simulator

from .conftest import Api, Signer, command, recv, ws_connect

Make = Callable[..., Simulator]


@contextlib.contextmanager
def _book_stream(sim: Simulator, signer: Signer) -> Iterator[tuple[ClientConnection, str]]:
    """A connection subscribed to one market's book, its snapshot already read."""
    ticker = sim.exchange.events["KXHIGHNY-26AUG24"].markets[2]
    with ws_connect(sim, signer) as ws:
        command(ws, 1, "subscribe", channels=["orderbook_delta"], market_tickers=[ticker])
        assert recv(ws)["type"] == "subscribed"
        assert recv(ws)["type"] == "orderbook_snapshot"
        yield ws, ticker


def _make_deltas(sim: Simulator, ticker: str, count: int) -> None:
    """``count`` resting bids from another account: one delta each."""
    sim.exchange.register_account("flow")
    for i in range(count):
        price = (10 + i % 30) * 100
        sim.exchange.place_order("flow", OrderRequest(ticker, Side.YES, Action.BUY, 100, price))


def _drain(ws: ClientConnection, quiet: float = 0.6) -> list[tuple[float, str]]:
    """Every frame until the connection has been quiet for ``quiet`` seconds."""
    frames = []
    while True:
        try:
            frames.append((time.monotonic(), str(ws.recv(timeout=quiet))))
        except TimeoutError:
            return frames


def _seqs(frames: list[tuple[float, str]]) -> list[int]:
    out = []
    for _, text in frames:
        try:
            out.append(json.loads(text)["seq"])
        except ValueError:
            continue
    return out


def _gaps(seqs: list[int]) -> bool:
    missing = set(range(2, 42)) - set(seqs)
    return seqs == sorted(set(seqs)) and 3 <= len(missing) <= 25


def _repeats(seqs: list[int]) -> bool:
    return set(seqs) == set(range(2, 42)) and len(seqs) - len(set(seqs)) >= 3


def _swaps(seqs: list[int]) -> bool:
    descents = sum(1 for a, b in itertools.pairwise(seqs) if b < a)
    return sorted(seqs) == list(range(2, 42)) and descents >= 3


@pytest.mark.parametrize(
    ("faults", "visible"),
    [
        (FaultConfig(ws_skip_seq_rate=0.3), _gaps),
        (FaultConfig(ws_duplicate_rate=0.3), _repeats),
        (FaultConfig(ws_reorder_rate=0.3), _swaps),
    ],
    ids=["skip-seq", "duplicate", "reorder"],
)
def test_sequence_faults(
    make_sim: Make, signer: Signer, faults: FaultConfig, visible: Callable[[list[int]], bool]
) -> None:
    sim = make_sim(faults=faults)
    with _book_stream(sim, signer) as (ws, ticker):
        _make_deltas(sim, ticker, 40)
        seqs = _seqs(_drain(ws))
    assert visible(seqs), seqs


def test_malformed_frames(make_sim: Make, signer: Signer) -> None:
    sim = make_sim(faults=FaultConfig(ws_malformed_rate=0.3))
    with _book_stream(sim, signer) as (ws, ticker):
        _make_deltas(sim, ticker, 30)
        frames = _drain(ws)
    broken = 0
    for _, text in frames:
        try:
            json.loads(text)
        except ValueError:
            broken += 1
    assert broken >= 3
    assert sorted(_seqs(frames)) == list(range(2, 32))  # the real messages all still came


def test_stalled_subscription_goes_quiet_then_bursts(make_sim: Make, signer: Signer) -> None:
    sim = make_sim(faults=FaultConfig(ws_stall_after_messages=3, ws_stall_seconds=1.0))
    with _book_stream(sim, signer) as (ws, ticker):  # the snapshot was data message 1
        command(ws, 2, "subscribe", channels=["trade"])
        assert recv(ws)["type"] == "subscribed"
        _make_deltas(sim, ticker, 6)  # message 3 stalls the book subscription
        first = _drain(ws, quiet=0.4)
        assert _seqs(first) == [2]
        command(ws, 3, "list_subscriptions")  # the connection itself is healthy meanwhile
        assert recv(ws, timeout=0.5)["id"] == 3
        late = _drain(ws, quiet=1.5)
    assert _seqs(late) == [3, 4, 5, 6, 7]


def test_connection_is_dropped_periodically(make_sim: Make, signer: Signer) -> None:
    sim = make_sim(faults=FaultConfig(ws_drop_every_seconds=0.5))
    with ws_connect(sim, signer) as ws:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as info:
            while time.monotonic() - started < 5:
                ws.recv(timeout=5)
        assert 0.4 < time.monotonic() - started < 3
        assert info.value.rcvd is None  # no close frame: the TCP connection was cut
    deadline = time.monotonic() + 2
    while not any(c.close_reason == "fault: drop" for c in sim.connections()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with ws_connect(sim, signer) as again:  # a reconnect works and gets fresh sids
        command(again, 1, "subscribe", channels=["ticker"])
        assert recv(again)["msg"]["sid"] >= 1


def test_rest_429_and_500_fractions_are_seeded(make_sim: Make, signer: Signer) -> None:
    faults = FaultConfig(rest_429_rate=0.25, rest_500_rate=0.15, seed=99)
    runs = []
    for _ in range(2):
        sim = make_sim(faults=faults)
        api = Api(sim, None)
        runs.append([api.get("/exchange/status").status_code for _ in range(40)])
    first, second = runs
    assert first == second
    assert {200, 429, 500} == set(first)
    assert 4 <= first.count(429) <= 20 and 1 <= first.count(500) <= 14


def test_500_after_processing_leaves_the_order_in_place(make_sim: Make, signer: Signer) -> None:
    sim = make_sim(faults=FaultConfig(rest_500_after_rate=1.0))
    api = Api(sim, signer)
    ticker = sim.exchange.events["KXHIGHNY-26AUG24"].markets[2]
    body = {
        "ticker": ticker,
        "side": "yes",
        "action": "buy",
        "count": 1,
        "yes_price": 10,
        "client_order_id": "unknown-outcome",
    }
    assert api.post("/portfolio/orders", body).status_code == 500
    orders = api.get("/portfolio/orders").json()["orders"]
    assert [o["client_order_id"] for o in orders] == ["unknown-outcome"]  # it exists
    assert api.post("/portfolio/orders", body).status_code in (409, 500)
    assert len(sim.exchange.accounts[signer.key_id].orders) == 1


def test_acknowledgements_are_delayed(make_sim: Make, signer: Signer) -> None:
    sim = make_sim(faults=FaultConfig(ack_delay_seconds=0.4))
    api = Api(sim, signer)
    ticker = sim.exchange.events["KXHIGHNY-26AUG24"].markets[2]
    started = time.monotonic()
    api.get("/portfolio/balance")
    read = time.monotonic() - started
    started = time.monotonic()
    api.post(
        "/portfolio/orders",
        {"ticker": ticker, "side": "yes", "action": "buy", "count": 1, "yes_price": 10},
    )
    assert time.monotonic() - started >= 0.4 > read


def _frames(n: int) -> list[Frame]:
    return [Frame(json.dumps({"seq": i}), sid=1, droppable=True) for i in range(n)]


def _replay(faults: WsFaults) -> list[Any]:
    out = []
    for frame in _frames(200):
        out += faults.outgoing(frame, 0.0)
    return out + faults.due(10.0)


def test_fault_streams_are_deterministic_for_a_seed() -> None:
    config = FaultConfig(
        ws_skip_seq_rate=0.1, ws_duplicate_rate=0.1, ws_reorder_rate=0.1, ws_malformed_rate=0.1
    )
    assert _replay(WsFaults(config, 1, 1)) == _replay(WsFaults(config, 1, 1))
    assert _replay(WsFaults(config, 1, 1)) != _replay(WsFaults(config, 2, 1))
    assert _replay(WsFaults(config, 1, 1)) != _replay(WsFaults(config, 1, 2))
    rest = FaultConfig(rest_429_rate=0.3)
    one, two = RestFaults(rest, 4), RestFaults(rest, 4)
    assert [one.before("GET", "/x") for _ in range(50)] == [
        two.before("GET", "/x") for _ in range(50)
    ]
    with pytest.raises(ValueError):
        FaultConfig(rest_429_rate=1.5)
