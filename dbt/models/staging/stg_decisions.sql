-- Would-trade evaluations. EV: ev_per_contract_micros is per whole contract, count_cq is in
-- hundredths, so the order's expected value in micro-dollars is ev x count_cq / 100.
select
    decision_id,
    evaluated_at,
    market_ticker,
    city,
    climate_day,
    mode,
    would_trade,
    side,
    action,
    liquidity,
    price_cc,
    count_cq,
    {{ cc_to_dollars('price_cc') }} as price,
    {{ cq_to_contracts('count_cq') }} as contracts,
    probability,
    {{ micros_to_dollars('ev_per_contract_micros') }} as ev_per_contract,
    case
        when would_trade
            then cast(ev_per_contract_micros as double precision) * count_cq / 100
    end as expected_value_micros,
    case
        when would_trade
            then {{ micros_to_dollars('ev_per_contract_micros') }} * {{ cq_to_contracts('count_cq') }}
    end as expected_value,
    trim(reason) as reason,
    model_version,
    config_hash
from {{ source('warehouse', 'decisions') }}
