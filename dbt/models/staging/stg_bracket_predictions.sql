-- P(bracket wins) per market, snapshot, model and variant.
select
    market_ticker,
    snapshot_at,
    model_version,
    variant,
    model_version || '/' || variant as subject_key,
    city,
    climate_day,
    probability
from {{ source('warehouse', 'bracket_predictions') }}
