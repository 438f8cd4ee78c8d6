-- Top of book in dollars and contracts.
select
    market_ticker,
    source_id,
    ts,
    received_at,
    {{ cc_to_dollars('yes_bid_cc') }} as yes_bid,
    {{ cq_to_contracts('yes_bid_size_cq') }} as yes_bid_size,
    {{ cc_to_dollars('yes_ask_cc') }} as yes_ask,
    {{ cq_to_contracts('yes_ask_size_cq') }} as yes_ask_size,
    {{ cc_to_dollars('yes_bid_cc + yes_ask_cc') }} / 2 as yes_mid,
    {{ cc_to_dollars('yes_ask_cc - yes_bid_cc') }} as spread,
    source
from {{ source('warehouse', 'quotes') }}
