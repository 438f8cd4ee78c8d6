-- Public trades in dollars and contracts.
select
    trade_id,
    market_ticker,
    ts,
    {{ cc_to_dollars('yes_price_cc') }} as yes_price,
    {{ cc_to_dollars('no_price_cc') }} as no_price,
    {{ cq_to_contracts('count_cq') }} as contracts,
    taker_side,
    source
from {{ source('warehouse', 'trades') }}
