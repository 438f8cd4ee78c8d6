{#- Portable time arithmetic (DuckDB and PostgreSQL agree on these). -#}

{% macro epoch_seconds(expr) -%}
    cast(extract(epoch from {{ expr }}) as double precision)
{%- endmacro %}

{#- The UTC instant (epoch seconds) a climate day ends: midnight local *standard* time
    after `day_expr`, i.e. the next UTC midnight minus the zone's standard offset. -#}
{% macro climate_day_end_epoch(day_expr, std_utc_offset_hours_expr) -%}
    ({{ epoch_seconds('cast(' ~ day_expr ~ ' as timestamp)') }}
        + 86400 - 3600 * {{ std_utc_offset_hours_expr }})
{%- endmacro %}

{#- Lead-time buckets: hours before the end of the climate day (forecasting.md's table). -#}
{% macro lead_bucket(hours_expr) -%}
    case
        when {{ hours_expr }} is null then 'unknown'
        when {{ hours_expr }} < 0 then 'after_day'
        when {{ hours_expr }} < 12 then '00-12h'
        when {{ hours_expr }} < 24 then '12-24h'
        when {{ hours_expr }} < 36 then '24-36h'
        when {{ hours_expr }} < 48 then '36-48h'
        else '48h+'
    end
{%- endmacro %}
