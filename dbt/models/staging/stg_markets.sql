-- One row per bracket market; the bracket wins when wins_low_f <= CLI high <= wins_high_f
-- (a null bound is open-ended).
select
    ticker as market_ticker,
    event_ticker,
    series_ticker,
    city,
    climate_day,
    strike_type,
    floor_strike,
    cap_strike,
    wins_low_f,
    wins_high_f,
    status,
    result,
    close_time
from {{ source('warehouse', 'markets') }}
