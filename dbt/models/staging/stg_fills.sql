-- Fills with exact signed quantities: price_cc is the price of the contract on `side`
-- (YES price for a YES fill, NO price for a NO fill); buys add to the position, sells
-- subtract. cash_micros is what the fill moved in cash before fees (negative for a buy).
select
    fill_id,
    client_order_id,
    order_id,
    market_ticker,
    side,
    action,
    mode,
    is_taker,
    ts,
    price_cc,
    case when action = 'sell' then -count_cq else count_cq end as signed_cq,
    case when action = 'sell' then 1 else -1 end * price_cc * count_cq as cash_micros,
    fee_micros,
    {{ cc_to_dollars('price_cc') }} as price,
    {{ cq_to_contracts('count_cq') }} as contracts,
    {{ micros_to_dollars('fee_micros') }} as fee
from {{ source('warehouse', 'fills') }}
