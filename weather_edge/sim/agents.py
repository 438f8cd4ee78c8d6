"""Synthetic liquidity: seeded market makers and takers around a hidden true probability.

For every open bracket the agents know a *true* probability, the chance the weather
source's forecast distribution of the high gives the bracket at that instant. They trade
around a *market fair* derived from it:

* a favourite-longshot bias (the probability weighting ``w(p) = p^g / (p^g + (1-p)^g)^(1/g)``
  with ``g < 1``): long shots trade rich and favourites cheap, as on Kalshi;
* a slowly mean-reverting noise, so the market is not a clean function of the forecast.

Makers (three per market) each keep a ladder of post-only bids on both sides below the fair:
the top a cent or two from it (spreads of 1-3 cents, like the real captures), then a
stable per-level preference of whether to quote each price and how much (log-normal sizes,
median 40 contracts, a tenth of them fractional), so depth looks like the real
``raw_orderbooks`` (tens to hundreds of contracts per level, thousands at the 1¢/99¢ tails).
A maker re-quotes when the fair moves its top price and now and then at random.

Takers arrive at random (more often as the climate day nears) with immediate-or-cancel
orders at the best ask, leaning towards the side the true probability favours, which moves
prices towards the truth as the day resolves.

Everything is drawn from random streams seeded by (seed, market), and the agents act on a
fixed grid of simulated time (``ExchangeSettings.step_seconds``), so a seed and the same
clock steps reproduce the same books and trades.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from weather_edge.money import ONE_CENT_CC, ONE_DOLLAR_CC
from weather_edge.sim.exchange import (
    Exchange,
    HighForecast,
    MarketState,
    OrderRequest,
    seeded_rng,
)
from weather_edge.sim.matching import Action, Order, OrderRejected, Side, TimeInForce
from weather_edge.weather.climate_day import hours_to_climate_day_end

MIN_PRICE = ONE_CENT_CC
MAX_PRICE = ONE_DOLLAR_CC - ONE_CENT_CC


@dataclass(frozen=True)
class AgentSettings:
    makers_per_market: int = 3
    takers: int = 4
    maker_half_spreads_cents: tuple[float, ...] = (0.2, 1.0, 1.5)  # each maker's top: fair -
    ladder_depth_cents: int = 18  # how far below its top a maker quotes
    level_presence: float = 0.6  # chance a maker quotes a given price of its ladder
    size_median: float = 20.0  # contracts per maker and level (levels add up to ~40)
    size_sigma: float = 1.3
    tail_size_factor: float = 6.0  # more size at 1¢ and 99¢
    fractional_share: float = 0.05
    requote_probability: float = 0.05  # per maker and step, besides fair moves
    activity: float = 0.3  # chance a market's makers look at it in a step, far from the day
    activity_near: float = 0.8  # ... and during the climate day
    take_rate: float = 0.04  # taker arrivals per market and step, far from the day
    take_rate_near: float = 0.25  # ... and during the climate day
    taker_size_median: float = 12.0
    informed_weight: float = 3.0  # how strongly takers lean to the true side
    longshot_gamma: float = 0.85
    noise_sigma: float = 0.002  # per step, in probability
    noise_reversion: float = 0.99


def longshot_weight(p: float, gamma: float) -> float:
    """The probability weighting function: overweights small probabilities when gamma < 1."""
    p = min(max(p, 1e-9), 1 - 1e-9)
    a, b = p**gamma, (1 - p) ** gamma
    return float(a / (a + b) ** (1 / gamma))


@dataclass
class _MarketAgents:
    rng: random.Random
    noise: float = 0.0
    tops: dict[int, tuple[int, int]] = field(default_factory=dict)  # maker -> (yes, no) top
    orders: dict[int, dict[tuple[Side, int], str]] = field(default_factory=dict)  # order ids
    preferences: dict[tuple[int, Side, int], tuple[bool, int]] = field(default_factory=dict)
    ladders: dict[tuple[int, tuple[int, int]], dict[tuple[Side, int], int]] = field(
        default_factory=dict
    )


class AgentPool:
    """All background agents of one exchange. ``attach()`` hooks them to its step grid."""

    def __init__(
        self, exchange: Exchange, seed: int = 0, settings: AgentSettings | None = None
    ) -> None:
        self.exchange = exchange
        self.seed = seed
        self.settings = settings or AgentSettings()
        self.makers = [f"sim-maker-{k + 1}" for k in range(self.settings.makers_per_market)]
        self.takers = [f"sim-taker-{k + 1}" for k in range(self.settings.takers)]
        self._markets: dict[str, _MarketAgents] = {}
        self._forecasts: dict[tuple[str, datetime], HighForecast] = {}

    def attach(self) -> None:
        for key_id in (*self.makers, *self.takers):
            self.exchange.register_account(key_id, unlimited=True)
        self.exchange.add_step_hook(self.step)

    # ------------------------------------------------------------------ probabilities

    def true_probability(self, market: MarketState, now: datetime) -> float:
        """The hidden probability of YES: the forecast's mass on the bracket at ``now``."""
        key = (market.event_ticker, now.replace(second=0, microsecond=0))  # a minute's cache
        forecast = self._forecasts.get(key)
        if forecast is None:
            if len(self._forecasts) > 4096:
                self._forecasts.clear()
            forecast = self.exchange.weather.forecast(market.city, market.day, now)
            self._forecasts[key] = forecast
        low, high = market.bracket
        return forecast.probability(low, high)

    def fair_price(self, market: MarketState, now: datetime) -> float:
        """The market's consensus probability: biased, noisy, kept inside (0, 1)."""
        state = self._state(market)
        biased = longshot_weight(self.true_probability(market, now), self.settings.longshot_gamma)
        return min(max(biased + state.noise, 0.002), 0.998)

    def _state(self, market: MarketState) -> _MarketAgents:
        state = self._markets.get(market.ticker)
        if state is None:
            state = _MarketAgents(rng=seeded_rng(self.seed, "agents", market.ticker))
            self._markets[market.ticker] = state
        return state

    # ------------------------------------------------------------------ the step

    def step(self, now: datetime) -> None:
        for market in list(self.exchange.markets.values()):
            if market.is_open and now < market.close_time:
                self._step_market(market, now)
            elif market.ticker in self._markets and now >= market.close_time:
                del self._markets[market.ticker]  # closed for good: forget its quotes

    def _step_market(self, market: MarketState, now: datetime) -> None:
        cfg = self.settings
        state = self._state(market)
        rng = state.rng
        state.noise = state.noise * cfg.noise_reversion + rng.gauss(0.0, cfg.noise_sigma)
        lead_h = hours_to_climate_day_end(market.city, market.day, now)
        nearness = math.exp(-max(lead_h, 0.0) / 12.0)
        if not state.tops or rng.random() < _between(cfg.activity, cfg.activity_near, nearness):
            self._quote(market, state, now)
        if rng.random() < _between(cfg.take_rate, cfg.take_rate_near, nearness):
            self._take(market, state, now)

    def _quote(self, market: MarketState, state: _MarketAgents, now: datetime) -> None:
        cfg = self.settings
        fair = self.fair_price(market, now)
        requotes: dict[int, dict[tuple[Side, int], int]] = {}
        for maker in range(len(self.makers)):
            half = cfg.maker_half_spreads_cents[maker % len(cfg.maker_half_spreads_cents)]
            top = _tops(fair, half)
            if (
                state.tops.get(maker) != top
                or self._top_taken(market, state, maker, top)
                or state.rng.random() < cfg.requote_probability
            ):
                state.tops[maker] = top
                requotes[maker] = self._ladder(market, state, maker, top)
        if requotes:
            self._requote(market, state, requotes)

    def _ladder(
        self, market: MarketState, state: _MarketAgents, maker: int, top: tuple[int, int]
    ) -> dict[tuple[Side, int], int]:
        """The quotes a maker wants: (side, price) -> size in cq."""
        cached = state.ladders.get((maker, top))
        if cached is not None:
            return cached
        desired: dict[tuple[Side, int], int] = {}
        for side, best in zip((Side.YES, Side.NO), top, strict=True):
            low = max(MIN_PRICE, best - self.settings.ladder_depth_cents * ONE_CENT_CC)
            for price in range(best, low - 1, -ONE_CENT_CC):
                present, size = self._preference(market, state, maker, side, price)
                if present or price == best:  # a maker always shows its top
                    desired[(side, price)] = size
        state.ladders[(maker, top)] = desired
        return desired

    def _top_taken(
        self, market: MarketState, state: _MarketAgents, maker: int, top: tuple[int, int]
    ) -> bool:
        """Has a taker filled this maker's best quote on either side (time to refill)?"""
        orders = state.orders.get(maker, {})
        for side, best in zip((Side.YES, Side.NO), top, strict=True):
            order_id = orders.get((side, best))
            if order_id is None or market.engine.resting(order_id) is None:
                return True
        return False

    def _requote(
        self,
        market: MarketState,
        state: _MarketAgents,
        requotes: dict[int, dict[tuple[Side, int], int]],
    ) -> None:
        """Bring makers' quotes to what they want: (side, price) -> size, per maker.

        Every maker's stale quotes go first, so that a maker's new top never meets another
        maker's stale quote on the other side (a post-only order would be refused).
        """
        for maker, desired in requotes.items():
            orders = state.orders.setdefault(maker, {})
            for key, order_id in list(orders.items()):
                if market.engine.resting(order_id) is None:
                    del orders[key]
                elif key not in desired:
                    del orders[key]
                    self.exchange.cancel_order(self.makers[maker], order_id)
        for maker, desired in requotes.items():
            orders = state.orders[maker]
            for (side, price), size in desired.items():
                if (side, price) in orders:
                    continue
                order = self._send(
                    self.makers[maker],
                    OrderRequest(
                        ticker=market.ticker,
                        side=side,
                        action=Action.BUY,
                        count=size,
                        yes_price=price if side is Side.YES else ONE_DOLLAR_CC - price,
                        post_only=True,
                    ),
                )
                if order is not None and order.is_resting:
                    orders[(side, price)] = order.order_id

    def _preference(
        self, market: MarketState, state: _MarketAgents, maker: int, side: Side, price: int
    ) -> tuple[bool, int]:
        """Whether this maker quotes ``price`` and how much (cq): stable per level."""
        key = (maker, side, price)
        preference = state.preferences.get(key)
        if preference is None:
            cfg = self.settings
            rng = seeded_rng(self.seed, "level", market.ticker, maker, side.value, price)
            at_tail = price in (MIN_PRICE, MAX_PRICE)
            present = at_tail or rng.random() < cfg.level_presence
            median = cfg.size_median * (cfg.tail_size_factor if at_tail else 1.0)
            size = _draw_size(rng, median, cfg.size_sigma, cfg.fractional_share)
            preference = state.preferences[key] = (present, size)
        return preference

    def _take(self, market: MarketState, state: _MarketAgents, now: datetime) -> None:
        cfg = self.settings
        rng = state.rng
        yes_bid = market.engine.best_bid(Side.YES)
        no_bid = market.engine.best_bid(Side.NO)
        if yes_bid is None or no_bid is None:
            return
        mid = (yes_bid + ONE_DOLLAR_CC - no_bid) / 2 / ONE_DOLLAR_CC
        edge = self.true_probability(market, now) - mid
        buy_yes = rng.random() < min(max(0.5 + cfg.informed_weight * edge, 0.1), 0.9)
        sweep = ONE_CENT_CC * rng.choice((0, 0, 0, 1, 2))
        size = _draw_size(rng, cfg.taker_size_median, 1.1, cfg.fractional_share)
        taker = rng.choice(self.takers)
        if buy_yes:
            side, price = Side.YES, min(ONE_DOLLAR_CC - no_bid + sweep, MAX_PRICE)
            yes_price = price
        else:
            side, price = Side.NO, min(ONE_DOLLAR_CC - yes_bid + sweep, MAX_PRICE)
            yes_price = ONE_DOLLAR_CC - price
        self._send(
            taker,
            OrderRequest(
                ticker=market.ticker,
                side=side,
                action=Action.BUY,
                count=size,
                yes_price=yes_price,
                time_in_force=TimeInForce.IMMEDIATE_OR_CANCEL,
            ),
        )

    def _send(self, account: str, request: OrderRequest) -> Order | None:
        try:
            return self.exchange.place_order(account, request)
        except OrderRejected:
            return None  # a post-only quote that would cross, a market that just closed


def _between(far: float, near: float, nearness: float) -> float:
    return far + (near - far) * nearness


def _tops(fair: float, half_spread_cents: float) -> tuple[int, int]:
    """A maker's best YES and NO bids (cc) around ``fair``; they never cross each other."""
    fair_cc = fair * ONE_DOLLAR_CC
    spread = half_spread_cents * ONE_CENT_CC
    yes = math.floor((fair_cc - spread) / ONE_CENT_CC) * ONE_CENT_CC
    no = math.floor((ONE_DOLLAR_CC - fair_cc - spread) / ONE_CENT_CC) * ONE_CENT_CC
    yes = min(max(yes, MIN_PRICE), MAX_PRICE)
    no = min(max(no, MIN_PRICE), MAX_PRICE)
    while yes + no >= ONE_DOLLAR_CC:
        if yes > no:
            yes -= ONE_CENT_CC
        else:
            no -= ONE_CENT_CC
    return yes, no


def _draw_size(rng: random.Random, median: float, sigma: float, fractional_share: float) -> int:
    """A log-normal size in cq: whole contracts, or with cents ``fractional_share`` of the time."""
    contracts = median * math.exp(rng.gauss(0.0, sigma))
    if rng.random() < fractional_share:
        return max(1, round(contracts * 100))
    return max(1, round(contracts)) * 100
