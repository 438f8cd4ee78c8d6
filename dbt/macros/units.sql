{#- Units for people. The warehouse keeps exact integers (see weather_edge/money.py):
    *_cc centi-cents = 1/10,000 dollar, *_cq centi-contracts = 1/100 contract,
    *_micros micro-dollars = 1/1,000,000 dollar. Marts show dollars and contracts as doubles
    and keep the exact *_micros integers beside them for sums that must add up. -#}

{% macro scaled(expr, scale) -%}
    (cast({{ expr }} as double precision) / {{ scale }})
{%- endmacro %}

{% macro cc_to_dollars(expr) -%}
    {{ scaled(expr, 10000) }}
{%- endmacro %}

{% macro cq_to_contracts(expr) -%}
    {{ scaled(expr, 100) }}
{%- endmacro %}

{% macro micros_to_dollars(expr) -%}
    {{ scaled(expr, 1000000) }}
{%- endmacro %}
