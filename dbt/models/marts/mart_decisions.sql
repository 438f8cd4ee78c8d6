-- Would-trade counts and no-trade reasons per climate day, city and mode.
select
    climate_day,
    city,
    mode,
    would_trade,
    reason,
    count(*) as n_decisions,
    count(distinct market_ticker) as n_markets,
    avg(probability) as mean_probability,
    sum(expected_value) as expected_value,
    min(evaluated_at) as first_evaluated_at,
    max(evaluated_at) as last_evaluated_at
from {{ ref('stg_decisions') }}
group by climate_day, city, mode, would_trade, reason
