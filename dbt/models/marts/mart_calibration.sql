-- Mean scores per city, lead-time bucket, subject and metric, over all settled days, from two
-- sources side by side: the bracket probabilities scored here against settlements
-- (source = 'bracket_predictions', subject = 'model') and the `scores` table the scoring
-- asset writes (model, market and blend; brier, log_loss, crps, rps, pit, ...).
with bracket_long as (
    select city, climate_day, lead_bucket, subject_key, 'brier' as metric, brier as value
    from {{ ref('int_bracket_outcomes') }}
    union all
    select city, climate_day, lead_bucket, subject_key, 'log_loss' as metric, log_loss as value
    from {{ ref('int_bracket_outcomes') }}
),

all_scores as (
    select
        'bracket_predictions' as source,
        city,
        climate_day,
        lead_bucket,
        'model' as subject,
        subject_key,
        metric,
        value
    from bracket_long
    union all
    select
        'scores' as source,
        city,
        climate_day,
        lead_bucket,
        subject,
        subject_key,
        metric,
        value
    from {{ ref('stg_scores') }}
)

select
    source,
    city,
    lead_bucket,
    subject,
    subject_key,
    metric,
    count(*) as n,
    avg(value) as mean_value,
    min(climate_day) as first_day,
    max(climate_day) as last_day
from all_scores
group by source, city, lead_bucket, subject, subject_key, metric
