-- Temperature distributions (the JSON stays in the warehouse; marts use the brackets).
select
    city,
    climate_day,
    snapshot_at,
    model_version,
    variant,
    median_f,
    inputs_hash
from {{ source('warehouse', 'predictions') }}
