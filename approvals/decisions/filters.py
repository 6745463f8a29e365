"""The decision list's filters (API polling and pages)."""

import django_filters

from revops_gov.filters import UTCIsoDateTimeFilter

from .kinds import DecisionKind, DecisionStatus
from .models import DecisionRequest


class DecisionRequestFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DecisionStatus.choices)
    kind = django_filters.ChoiceFilter(choices=DecisionKind.choices)
    automation = django_filters.CharFilter(field_name="automation__key", help_text="An automation's key.")
    updated_since = UTCIsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Only requests changed at or after this time (ISO 8601)."
    )

    class Meta:
        model = DecisionRequest
        fields = ["status", "kind", "automation", "updated_since"]
