{#- Generic test: within each `group_by` group the column sums to 1 within `tolerance`
    (bracket probabilities of one event, one snapshot, one model). -#}
{% test sums_to_one(model, column_name, group_by, tolerance=0.000001) %}
select {{ group_by | join(', ') }}, sum({{ column_name }}) as total
from {{ model }}
group by {{ group_by | join(', ') }}
having abs(sum({{ column_name }}) - 1) > {{ tolerance }}
{% endtest %}
