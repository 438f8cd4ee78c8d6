{#- Running aggregates over a time-ordered partition, and the drawdown of a cumulative P&L
    curve: its peak to date (never below the zero it starts from) minus its current value. -#}

{% macro running(agg, expr, partition_by, order_by) -%}
    {{ agg }}({{ expr }}) over (
        partition by {{ partition_by }} order by {{ order_by }}
        rows between unbounded preceding and current row
    )
{%- endmacro %}

{% macro drawdown(cumulative_expr, partition_by, order_by) -%}
    (greatest({{ running('max', cumulative_expr, partition_by, order_by) }}, 0)
        - {{ cumulative_expr }})
{%- endmacro %}
