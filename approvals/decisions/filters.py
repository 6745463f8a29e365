"""The decision list's filters (API polling and pages)."""

from datetime import UTC

import django_filters

from .kinds import DecisionKind, DecisionStatus
from .models import DecisionRequest


class DecisionRequestFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DecisionStatus.choices)
    kind = django_filters.ChoiceFilter(choices=DecisionKind.choices)
    automation = django_filters.CharFilter(field_name="automation__key", help_text="An automation's key.")
    updated_since = django_filters.IsoDateTimeFilter(
        method="filter_updated_since", help_text="Only requests changed at or after this time (ISO 8601)."
    )

    class Meta:
        model = DecisionRequest
        fields = ["status", "kind", "automation", "updated_since"]

    def filter_updated_since(self, queryset, name, value):
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 (and Python) allow.
        return queryset.filter(updated_at__gte=value.astimezone(UTC)) if value else queryset
