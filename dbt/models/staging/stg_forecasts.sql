-- Every forecast issue of the daily high, with its lead-time bucket.
select
    city,
    climate_day,
    source,
    issued_at,
    forecast_high_f,
    sigma_f,
    lead_hours,
    {{ lead_bucket('lead_hours') }} as lead_bucket,
    suspect,
    retrieved_at
from {{ source('warehouse', 'forecasts') }}
