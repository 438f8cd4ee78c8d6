"""The simulator over a real loopback socket: REST with httpx, WebSocket with websockets."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from weather_edge.kalshi.fees import FeeSchedule
from weather_edge.money import parse_price, parse_size
from weather_edge.sim.exchange import OrderRequest, SimulatedWeatherSource
from weather_edge.sim.matching import Action, Side
from weather_edge.sim.server import WS_ERRORS, Simulator, config_from_args

from .conftest import Api, Signer, command, recv, ws_connect

Make = Callable[..., Simulator]
OTHER = "other-trader"


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return body["error"]  # type: ignore[no-any-return]


def _bid(sim: Simulator, ticker: str, side: str, cents: int, contracts: float) -> None:
    """Another account rests a bid, straight on the exchange."""
    sim.exchange.register_account(OTHER)
    yes = cents if side == "yes" else 100 - cents
    request = OrderRequest(ticker, Side(side), Action.BUY, round(contracts * 100), yes * 100)
    sim.exchange.place_order(OTHER, request)


def _ticker(sim: Simulator, index: int = 2) -> str:
    return sim.exchange.events["KXHIGHNY-26AUG24"].markets[index]


def test_market_data_endpoints(make_sim: Make) -> None:
    sim = make_sim()
    api = Api(sim, None)  # market data needs no key
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 5, "series_ticker": "KXHIGHNY"}
        if cursor:
            params["cursor"] = cursor
        page = api.get("/markets", params=params).json()
        seen += [m["ticker"] for m in page["markets"]]
        cursor = page["cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 12
    opened = api.get("/markets", params={"event_ticker": "KXHIGHNY-26AUG24", "status": "open"})
    assert len(opened.json()["markets"]) == 6
    assert api.get("/markets", params={"status": "settled"}).json()["markets"] == []
    ticker = _ticker(sim)
    market = api.get(f"/markets/{ticker}").json()["market"]
    assert market["ticker"] == ticker and market["yes_ask_dollars"] == "1.0000"
    series = api.get("/series/KXHIGHNY").json()
    assert FeeSchedule.from_series(series) == FeeSchedule("quadratic")
    events = api.get("/events", params={"with_nested_markets": "true"}).json()["events"]
    assert [len(e["markets"]) for e in events] == [6, 6]
    detail = api.get("/events/KXHIGHNY-26AUG24").json()
    assert detail["event"]["mutually_exclusive"] and len(detail["markets"]) == 6
    _bid(sim, ticker, "yes", 40, 10)
    _bid(sim, ticker, "yes", 42, 2.5)
    _bid(sim, ticker, "no", 55, 7)
    book = api.get(f"/markets/{ticker}/orderbook").json()["orderbook_fp"]
    assert book == {
        "yes_dollars": [["0.4000", "10.00"], ["0.4200", "2.50"]],
        "no_dollars": [["0.5500", "7.00"]],
    }
    top = api.get(f"/markets/{ticker}/orderbook", params={"depth": 1}).json()["orderbook_fp"]
    assert top["yes_dollars"] == [["0.4200", "2.50"]]
    missing = api.get("/markets/KXHIGHNY-26AUG24-B1.5")
    assert missing.status_code == 404 and _error(missing)["code"] == "not_found"


def test_auth_refusals_answer_401_in_kalshi_error_json(make_sim: Make, signer: Signer) -> None:
    sim = make_sim(auth_skew_seconds=5)
    api = Api(sim, signer)
    path = "/trade-api/v2/portfolio/balance"
    unsigned = Api(sim, None).get("/portfolio/balance")
    assert unsigned.status_code == 401 and _error(unsigned)["code"] == "unauthorized"
    wrong_path = api.http.get(path, headers=signer.headers("GET", "/trade-api/v2/markets"))
    stale = api.http.get(
        path, headers=signer.headers("GET", path, timestamp_ms=int(time.time() * 1000) - 60_000)
    )
    unknown = api.http.get(path, headers={**signer.headers("GET", path), "KALSHI-ACCESS-KEY": "x"})
    for refused, why in ((wrong_path, "signature"), (stale, "too old"), (unknown, "unknown")):
        assert refused.status_code == 401
        assert why in _error(refused)["details"]
    ok = api.get("/portfolio/balance", params={"ignored": "query strings are not signed"})
    assert ok.status_code == 200
    assert ok.json()["balance"] == 1_000_000 and ok.json()["portfolio_value"] == 0
    # the WebSocket handshake is refused the same way
    bad = signer.headers("GET", "/trade-api/ws/v2", timestamp_ms=int(time.time() * 1000) - 60_000)
    with pytest.raises(InvalidStatus) as info:
        from websockets.sync.client import connect

        connect(sim.ws_url, additional_headers=bad, open_timeout=5)
    assert info.value.response.status_code == 401
    assert b'"unauthorized"' in info.value.response.body


def test_rate_limit_answers_429_with_retry_after(make_sim: Make, signer: Signer) -> None:
    sim = make_sim(rate_limit=5.0)
    api = Api(sim, signer)
    statuses = [api.get("/portfolio/balance") for _ in range(12)]
    limited = [r for r in statuses if r.status_code == 429]
    assert len(limited) >= 5 and statuses[0].status_code == 200
    assert int(limited[0].headers["Retry-After"]) >= 1
    assert _error(limited[0])["code"] == "too_many_requests"
    assert Api(sim, None).get("/exchange/status").status_code == 200  # anonymous: own bucket


def test_order_lifecycle_over_rest(make_sim: Make, signer: Signer) -> None:
    sim = make_sim()
    api = Api(sim, signer)
    ticker = _ticker(sim)
    body = {
        "ticker": ticker,
        "side": "yes",
        "action": "buy",
        "count": 10,
        "yes_price": 35,
        "client_order_id": "c-1",
    }
    created = api.post("/portfolio/orders", body)
    assert created.status_code == 201
    order = created.json()["order"]
    assert order["status"] == "resting" and order["remaining_count_fp"] == "10.00"
    again = api.post("/portfolio/orders", body)
    assert again.status_code == 409 and _error(again)["code"] == "order_already_exists"
    order_id = order["order_id"]
    assert api.get(f"/portfolio/orders/{order_id}").json()["order"]["client_order_id"] == "c-1"
    amended = api.post(
        f"/portfolio/orders/{order_id}/amend",
        {
            "ticker": ticker,
            "side": "yes",
            "action": "buy",
            "yes_price_dollars": "0.3600",
            "count": 8,
        },
    ).json()
    assert amended["old_order"]["yes_price_dollars"] == "0.3500"
    assert amended["order"]["yes_price_dollars"] == "0.3600"
    assert amended["order"]["remaining_count_fp"] == "8.00"
    decreased = api.post(f"/portfolio/orders/{order_id}/decrease", {"reduce_by_fp": "2.50"})
    assert decreased.json()["order"]["remaining_count_fp"] == "5.50"
    # another trader takes 4 of them: a fill, a position, fees on the taker only
    _bid(sim, ticker, "no", 64, 4)
    fills = api.get("/portfolio/fills").json()["fills"]
    assert [(f["count_fp"], f["is_taker"], f["fee_cost"]) for f in fills] == [
        ("4.00", False, "0.0000")
    ]
    positions = api.get("/portfolio/positions").json()
    assert positions["market_positions"][0]["position_fp"] == "4.00"
    assert positions["market_positions"][0]["resting_orders_count"] == 1
    assert positions["event_positions"][0]["event_ticker"] == "KXHIGHNY-26AUG24"
    canceled = api.delete(f"/portfolio/orders/{order_id}").json()
    assert canceled["order"]["status"] == "canceled" and canceled["reduced_by_fp"] == "1.50"
    assert api.get("/portfolio/orders", params={"status": "resting"}).json()["orders"] == []
    balance = api.get("/portfolio/balance").json()
    assert balance["balance"] == 10_000_00 - 4 * 36  # 4 contracts at 36 cents, no maker fee
    assert balance["portfolio_value"] > 0


def test_batched_orders(make_sim: Make, signer: Signer) -> None:
    sim = make_sim()
    api = Api(sim, signer)
    ticker = _ticker(sim)
    good = {"ticker": ticker, "side": "no", "action": "buy", "count_fp": "1.25", "no_price": 20}
    answer = api.post(
        "/portfolio/orders/batched",
        {
            "orders": [
                {**good, "client_order_id": "b-1"},
                {**good, "client_order_id": "b-1"},
                {**good, "ticker": "KXHIGHNY-26AUG24-NOPE", "client_order_id": "b-3"},
            ]
        },
    )
    assert answer.status_code == 201
    items = answer.json()["orders"]
    assert [i["client_order_id"] for i in items] == ["b-1", "b-1", "b-3"]
    assert items[0]["order"]["initial_count_fp"] == "1.25" and items[0]["error"] is None
    assert items[1]["error"]["code"] == "order_already_exists"
    assert items[2]["error"]["code"] == "not_found"
    order_id = items[0]["order"]["order_id"]
    cancel = api.delete("/portfolio/orders/batched", {"ids": [order_id, "missing"]}).json()
    assert cancel["orders"][0]["reduced_by_fp"] == "1.25"
    assert cancel["orders"][1]["error"]["code"] == "not_found"
    too_many = api.post("/portfolio/orders/batched", {"orders": [good] * 21})
    assert too_many.status_code == 400


def test_settlement_over_rest(make_sim: Make, signer: Signer) -> None:
    sim = make_sim()
    api = Api(sim, signer)
    event = sim.exchange.events["KXHIGHNY-26AUG23"]
    high = sim.exchange.weather.true_high(event.city, event.day)
    winner = next(t for t in event.markets if sim.exchange.markets[t].wins(high))
    _bid(sim, winner, "no", 80, 3)
    taken = api.post(
        "/portfolio/orders",
        {"ticker": winner, "side": "yes", "action": "buy", "count": 3, "yes_price": 20},
    )
    assert taken.json()["order"]["status"] == "executed"
    before = api.get("/portfolio/balance").json()["balance"]
    sim.advance(timedelta(hours=22))  # past close, determination and settlement
    after = api.get("/portfolio/balance").json()["balance"]
    assert after == before + 300
    settled = api.get("/portfolio/settlements").json()["settlements"]
    assert [(s["ticker"], s["market_result"], s["revenue"]) for s in settled] == [
        (winner, "yes", 300)
    ]
    market = api.get(f"/markets/{winner}").json()["market"]
    assert market["status"] == "finalized" and market["result"] == "yes"
    assert market["settlement_value_dollars"] == "1.0000"


def test_candlesticks_and_trades(make_sim: Make, signer: Signer) -> None:
    sim = make_sim()
    api = Api(sim, signer)
    ticker = _ticker(sim)
    _bid(sim, ticker, "no", 60, 5)
    start = sim.clock.now()
    api.post(
        "/portfolio/orders",
        {"ticker": ticker, "side": "yes", "action": "buy", "count": 2, "yes_price": 40},
    )
    sim.advance(3600)
    trades = Api(sim, None).get("/markets/trades", params={"ticker": ticker}).json()["trades"]
    assert [(t["yes_price_dollars"], t["count_fp"], t["taker_side"]) for t in trades] == [
        ("0.4000", "2.00", "yes")
    ]
    candles = api.get(
        f"/series/KXHIGHNY/markets/{ticker}/candlesticks",
        params={
            "start_ts": int(start.timestamp()) - 3600,
            "end_ts": int(start.timestamp()) + 3600,
            "period_interval": 60,
        },
    ).json()["candlesticks"]
    traded = [c for c in candles if c["volume_fp"] != "0.00"]
    assert len(traded) == 1 and traded[0]["price"]["close_dollars"] == "0.4000"
    assert traded[0]["yes_ask"]["high_dollars"] == "0.4000"


def test_orderbook_subscription_snapshot_then_deltas(make_sim: Make, signer: Signer) -> None:
    sim = make_sim()
    ticker = _ticker(sim)
    _bid(sim, ticker, "yes", 30, 5)
    api = Api(sim, signer)
    with ws_connect(sim, signer) as ws:
        command(ws, 1, "subscribe", channels=["orderbook_delta"], market_tickers=[ticker])
        assert recv(ws)["type"] == "subscribed"
        snapshot = recv(ws)
        assert snapshot["type"] == "orderbook_snapshot" and snapshot["seq"] == 1
        assert snapshot["msg"]["yes_dollars_fp"] == [["0.3000", "5.00"]]
        assert "no_dollars_fp" not in snapshot["msg"]  # an empty side is left out
        book = {("yes", "0.3000"): parse_size("5.00")}
        _bid(sim, ticker, "no", 60, 2)
        _bid(sim, ticker, "yes", 31, 1.5)
        mine = {"ticker": ticker, "side": "no", "action": "buy", "count": 3, "yes_price": 30}
        api.post("/portfolio/orders", {**mine, "client_order_id": "mine-1"})  # takes 3 @ 0.30
        seqs, own = [], []
        for _ in range(4):
            delta = recv(ws)
            assert delta["type"] == "orderbook_delta" and delta["sid"] == snapshot["sid"]
            seqs.append(delta["seq"])
            msg = delta["msg"]
            key = (msg["side"], msg["price_dollars"])
            book[key] = book.get(key, 0) + parse_size(msg["delta_fp"])
            own.append(msg.get("client_order_id"))
        assert seqs == [2, 3, 4, 5]
        assert own.count("mine-1") == 0 and own[-1] is None  # the resting order's change
        truth = sim.exchange.book(ticker)
        rebuilt = {
            side: sorted((parse_price(p), s) for (sd, p), s in book.items() if sd == side and s)
            for side in ("yes", "no")
        }
        assert rebuilt == {"yes": truth[Side.YES], "no": truth[Side.NO]}


def test_own_order_deltas_carry_the_client_order_id(make_sim: Make, signer: Signer) -> None:
    sim = make_sim()
    ticker = _ticker(sim)
    api = Api(sim, signer)
    with ws_connect(sim, signer) as ws, ws_connect(sim) as anonymous:
        command(ws, 1, "subscribe", channels=["orderbook_delta"], market_tickers=[ticker])
        command(anonymous, 1, "subscribe", channels=["ticker"], market_tickers=[ticker])
        recv(ws), recv(ws), recv(anonymous)
        body = {"ticker": ticker, "side": "yes", "action": "buy", "count": 1, "yes_price": 20}
        api.post("/portfolio/orders", {**body, "client_order_id": "own-7"})
        assert recv(ws)["msg"]["client_order_id"] == "own-7"
        tick = recv(anonymous)
        assert tick["type"] == "ticker" and tick["msg"]["yes_bid_dollars"] == "0.2000"


def test_private_channels_and_command_errors(make_sim: Make, signer: Signer) -> None:
    sim = make_sim()
    ticker, other = _ticker(sim), _ticker(sim, 3)
    api = Api(sim, signer)
    with ws_connect(sim) as anonymous:
        command(anonymous, 1, "subscribe", channels=["fill"])
        assert recv(anonymous)["msg"]["code"] == 9
        command(anonymous, 2, "subscribe", channels=["orderbook_delta"], market_tickers=[ticker])
        assert recv(anonymous)["msg"]["code"] == 9
    with ws_connect(sim, signer) as ws:
        command(ws, 1, "subscribe", channels=["weather"])
        error = recv(ws)
        assert (error["id"], error["type"], error["msg"]["code"]) == (1, "error", 8)
        assert error["msg"]["msg"].startswith(WS_ERRORS[8])
        command(ws, 2, "subscribe", channels=["fill", "market_positions", "trade"])
        sids = [recv(ws)["msg"]["sid"] for _ in range(3)]
        command(ws, 3, "subscribe", channels=["fill"])
        assert recv(ws)["msg"]["code"] == 6
        command(ws, 4, "subscribe", channels=["orderbook_delta"])
        assert recv(ws)["msg"]["code"] == 14
        command(ws, 5, "subscribe", channels=["ticker"], market_tickers=["NOPE"])
        assert recv(ws)["msg"]["code"] == 16
        command(ws, 6, "unsubscribe", sids=[999])
        assert recv(ws)["msg"]["code"] == 7
        command(ws, 7, "dance")
        assert recv(ws)["msg"]["code"] == 5
        ws.send("not json")
        assert recv(ws)["msg"]["code"] == 1
        _bid(sim, ticker, "no", 70, 2)
        api.post(
            "/portfolio/orders",
            {"ticker": ticker, "side": "yes", "action": "buy", "count": 2, "yes_price": 30},
        )
        messages = {m["type"]: m for m in (recv(ws) for _ in range(3))}
        assert messages["fill"]["msg"]["post_position_fp"] == "2.00"
        assert messages["fill"]["msg"]["is_taker"] is True
        assert messages["market_position"]["msg"]["position_cost"] == 6000  # $0.60 in cc
        assert messages["trade"]["msg"]["taker_side"] == "yes"
        command(ws, 8, "subscribe", channels=["orderbook_delta"], market_tickers=[ticker])
        book_sid = recv(ws)["msg"]["sid"]
        assert recv(ws)["type"] == "orderbook_snapshot"
        command(
            ws, 9, "update_subscription", sid=book_sid, action="add_markets", market_tickers=[other]
        )
        assert recv(ws)["msg"]["market_tickers"] == sorted([ticker, other])
        added = recv(ws)
        assert added["type"] == "orderbook_snapshot" and added["seq"] == 2
        assert added["msg"]["market_ticker"] == other
        command(ws, 10, "update_subscription", sids=[1, 2], action="add_markets")
        assert recv(ws)["msg"]["code"] == 12
        command(ws, 11, "list_subscriptions")
        listed = recv(ws)["msg"]
        assert sorted(s["sid"] for s in listed) == sorted([*sids, book_sid])
        command(ws, 12, "unsubscribe", sids=[sids[0]])
        assert recv(ws) == {"id": 12, "sid": sids[0], "type": "unsubscribed", "msg": {}}


def test_lifecycle_channel(make_sim: Make) -> None:
    sim = make_sim()
    with ws_connect(sim) as ws:
        command(ws, 1, "subscribe", channels=["market_lifecycle_v2"])
        recv(ws)
        sim.advance(timedelta(hours=23))  # lists 26AUG25, closes and determines 26AUG23
        kinds = []
        while True:
            try:
                message = recv(ws, timeout=1.0)
            except TimeoutError:
                break
            kinds.append(message["msg"].get("event_type") or message["type"])
        assert kinds.count("event_lifecycle") == 1
        assert kinds.count("created") == kinds.count("activated") == 6
        assert kinds.count("determined") == 6


def test_heartbeat_pings(make_sim: Make, caplog: pytest.LogCaptureFixture) -> None:
    sim = make_sim(ping_interval=0.2)
    caplog.set_level(logging.DEBUG, logger="websockets.client")
    with ws_connect(sim) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.7)  # idle: only pings, which the client answers
        command(ws, 1, "list_subscriptions")
        assert recv(ws)["msg"] == []
    pings = [r.getMessage() for r in caplog.records if "PING" in r.getMessage()]
    assert len(pings) >= 2 and all("heartbeat" in p for p in pings)


def test_the_same_process_serves_the_nws_api_of_the_settling_weather(make_sim: Make) -> None:
    sim = make_sim()
    assert sim.nws_url is not None
    api = Api(sim, None)
    observations = api.http.get(
        sim.nws_url + "/stations/KNYC/observations", params={"limit": 3}
    ).json()["features"]
    newest = datetime.fromisoformat(observations[0]["properties"]["timestamp"])
    assert sim.clock.now() - timedelta(hours=1) <= newest <= sim.clock.now()
    event = sim.exchange.events["KXHIGHNY-26AUG23"]
    weather = sim.exchange.weather
    assert isinstance(weather, SimulatedWeatherSource)
    assert weather.true_high(event.city, event.day) == weather.weather.true_high("NYC", event.day)


def test_command_line_arguments() -> None:
    config = config_from_args(
        [
            "--port=0",
            "--seed=4",
            "--city=nyc",
            "--day=2026-08-24",
            "--speed=60",
            "--start=2026-08-23T15:00:00+00:00",
            "--fault=ws_skip_seq_rate=0.1",
            "--fault=ws-stall-after-messages=5",
        ]
    )
    assert (config.seed, config.cities, config.clock_speed) == (4, ("NYC",), 60.0)
    assert config.days == (date(2026, 8, 24),)
    assert config.faults.ws_skip_seq_rate == 0.1 and config.faults.ws_stall_after_messages == 5
