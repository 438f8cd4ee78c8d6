-- Scores written by the scoring asset, with the lead-time bucket.
select
    city,
    climate_day,
    subject,
    subject_key,
    metric,
    value,
    lead_hours,
    {{ lead_bucket('lead_hours') }} as lead_bucket
from {{ source('warehouse', 'scores') }}
