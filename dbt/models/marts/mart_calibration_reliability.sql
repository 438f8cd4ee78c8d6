-- Reliability diagram bins: ten equal-width probability bins per city, lead-time bucket and
-- model; a calibrated model has observed_frequency ~= mean_predicted in every bin.
with binned as (
    select
        city,
        lead_bucket,
        subject_key,
        least(cast(floor(probability * 10) as integer), 9) as bin_index,
        probability,
        outcome
    from {{ ref('int_bracket_outcomes') }}
)

select
    city,
    lead_bucket,
    'model' as subject,
    subject_key,
    bin_index,
    cast(bin_index as double precision) / 10 as bin_lower,
    cast(bin_index + 1 as double precision) / 10 as bin_upper,
    count(*) as n,
    avg(probability) as mean_predicted,
    avg(cast(outcome as double precision)) as observed_frequency
from binned
group by city, lead_bucket, subject_key, bin_index
