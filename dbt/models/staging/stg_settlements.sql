-- Settlement per market. `outcome` is what pays: the market's result once Kalshi settles,
-- before that the result the CLI value implies (`expected_result`).
select
    market_ticker,
    city,
    climate_day,
    market_result,
    expected_result,
    coalesce(market_result, expected_result) as outcome,
    coalesce(market_result in ('yes', 'no'), false) as is_settled,
    cli_high_f,
    agrees,
    settled_at,
    later_cli_high_f
from {{ source('warehouse', 'settlements') }}
