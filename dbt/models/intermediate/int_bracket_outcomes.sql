-- Each bracket probability with its outcome and lead time (hours before the climate day ends,
-- in local standard time), scored: Brier (p - o)^2 and log loss -ln(p if o else 1 - p), with
-- p clipped to [1e-6, 1 - 1e-6] so a confident miss costs ~13.8 nats, not infinity.
with scored as (
    select
        bp.market_ticker,
        bp.snapshot_at,
        bp.model_version,
        bp.variant,
        bp.subject_key,
        bp.city,
        bp.climate_day,
        bp.probability,
        case when s.outcome = 'yes' then 1 else 0 end as outcome,
        (
            {{ climate_day_end_epoch('bp.climate_day', 'c.std_utc_offset_hours') }}
            - {{ epoch_seconds('bp.snapshot_at') }}
        ) / 3600 as lead_hours,
        greatest(least(bp.probability, 1 - 1e-6), 1e-6) as clipped_probability
    from {{ ref('stg_bracket_predictions') }} as bp
    inner join {{ ref('stg_settlements') }} as s
        on s.market_ticker = bp.market_ticker
    inner join {{ ref('city_registry') }} as c
        on c.city = bp.city
    where s.outcome in ('yes', 'no')
)

select
    market_ticker,
    snapshot_at,
    model_version,
    variant,
    subject_key,
    city,
    climate_day,
    probability,
    outcome,
    lead_hours,
    {{ lead_bucket('lead_hours') }} as lead_bucket,
    (probability - outcome) * (probability - outcome) as brier,
    case
        when outcome = 1 then -ln(clipped_probability)
        else -ln(1 - clipped_probability)
    end as log_loss
from scored
