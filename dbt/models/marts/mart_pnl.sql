-- P&L per climate day, city and mode (shadow or live).
--
-- Realized P&L counts fills on settled markets only: cash paid or received at the fill, plus
-- $1 per contract held on the winning side at settlement, minus fees (all exact micro-dollars).
-- Predicted EV is what the would-trade decisions expected at decision time, for the size they
-- asked for. Cumulative P&L and drawdown (peak-to-date minus cumulative, starting from zero)
-- run per city and mode, and across cities per mode ("mode_" columns).
with fills as (
    select
        m.climate_day,
        m.city,
        f.mode,
        f.signed_cq,
        f.cash_micros,
        f.fee_micros,
        s.is_settled,
        case when s.market_result = f.side then 10000 * f.signed_cq else 0 end as payout_micros
    from {{ ref('stg_fills') }} as f
    inner join {{ ref('stg_markets') }} as m
        on m.market_ticker = f.market_ticker
    left join {{ ref('stg_settlements') }} as s
        on s.market_ticker = f.market_ticker
),

fill_days as (
    select
        climate_day,
        city,
        mode,
        count(*) as n_fills,
        sum(case when is_settled then 0 else 1 end) as n_open_fills,
        sum(abs(signed_cq)) as traded_cq,
        sum(fee_micros) as fees_micros,
        sum(case when is_settled then cash_micros + payout_micros - fee_micros else 0 end)
            as realized_pnl_micros
    from fills
    group by climate_day, city, mode
),

decision_days as (
    select
        climate_day,
        city,
        mode,
        count(*) as n_decisions,
        sum(case when would_trade then 1 else 0 end) as n_would_trade,
        sum(coalesce(expected_value_micros, 0)) as predicted_ev_micros
    from {{ ref('stg_decisions') }}
    group by climate_day, city, mode
),

spine as (
    select climate_day, city, mode from fill_days
    union
    select climate_day, city, mode from decision_days
),

daily as (
    select
        sp.climate_day,
        sp.city,
        sp.mode,
        coalesce(d.n_decisions, 0) as n_decisions,
        coalesce(d.n_would_trade, 0) as n_would_trade,
        coalesce(f.n_fills, 0) as n_fills,
        coalesce(f.n_open_fills, 0) as n_open_fills,
        cast(coalesce(f.traded_cq, 0) as bigint) as traded_cq,
        cast(coalesce(f.fees_micros, 0) as bigint) as fees_micros,
        cast(coalesce(f.realized_pnl_micros, 0) as bigint) as realized_pnl_micros,
        cast(coalesce(d.predicted_ev_micros, 0) as double precision) as predicted_ev_micros
    from spine as sp
    left join fill_days as f
        on f.climate_day = sp.climate_day and f.city = sp.city and f.mode = sp.mode
    left join decision_days as d
        on d.climate_day = sp.climate_day and d.city = sp.city and d.mode = sp.mode
),

city_curve as (
    select
        *,
        {{ running('sum', 'realized_pnl_micros', 'city, mode', 'climate_day') }}
            as cumulative_pnl_micros
    from daily
),

mode_curve as (
    select
        mode,
        climate_day,
        {{ running('sum', 'sum(realized_pnl_micros)', 'mode', 'climate_day') }}
            as mode_cumulative_pnl_micros
    from daily
    group by mode, climate_day
),

mode_drawdown as (
    select
        mode,
        climate_day,
        mode_cumulative_pnl_micros,
        {{ drawdown('mode_cumulative_pnl_micros', 'mode', 'climate_day') }} as mode_drawdown_micros
    from mode_curve
)

select
    c.climate_day,
    c.city,
    c.mode,
    c.n_decisions,
    c.n_would_trade,
    c.n_fills,
    c.n_open_fills,
    c.traded_cq,
    c.fees_micros,
    c.realized_pnl_micros,
    c.predicted_ev_micros,
    cast(c.cumulative_pnl_micros as bigint) as cumulative_pnl_micros,
    cast({{ drawdown('c.cumulative_pnl_micros', 'c.city, c.mode', 'c.climate_day') }} as bigint)
        as drawdown_micros,
    cast(mc.mode_cumulative_pnl_micros as bigint) as mode_cumulative_pnl_micros,
    cast(mc.mode_drawdown_micros as bigint) as mode_drawdown_micros,
    {{ cq_to_contracts('c.traded_cq') }} as traded_contracts,
    {{ micros_to_dollars('c.fees_micros') }} as fees,
    {{ micros_to_dollars('c.realized_pnl_micros') }} as realized_pnl,
    {{ micros_to_dollars('c.predicted_ev_micros') }} as predicted_ev,
    {{ micros_to_dollars('c.cumulative_pnl_micros') }} as cumulative_pnl
from city_curve as c
inner join mode_drawdown as mc
    on mc.mode = c.mode and mc.climate_day = c.climate_day
