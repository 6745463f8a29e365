"""The backlog's filters, shared by the board, the CSV export and the API."""

import django_filters
from django.db.models import Q

from registry.choices import Team
from registry.filters import CompactFilterForm
from revops_gov.choices import System

from .choices import BOARD_STATUSES, CandidateStatus, Flag, Group
from .models import Candidate
from .rules import flag_q


class CandidateFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    team = django_filters.ChoiceFilter(choices=Team.choices)
    system = django_filters.ChoiceFilter(choices=System.choices)
    requester = django_filters.CharFilter(
        field_name="requester__username", lookup_expr="iexact", label="Requested by (username)"
    )
    flag = django_filters.ChoiceFilter(choices=Flag.choices, method="filter_flag", label="Flag")
    group = django_filters.ChoiceFilter(choices=Group.choices, field_name="group_key", label="Group")
    status = django_filters.ChoiceFilter(
        choices=CandidateStatus.choices, empty_label="Open (new or triaged)", method="filter_status"
    )

    class Meta:
        model = Candidate
        fields = []
        form = CompactFilterForm

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(title__icontains=value) | Q(pain_point__icontains=value) | Q(notes__icontains=value))

    def filter_flag(self, queryset, name, value):
        return queryset.filter(flag_q(value))

    def filter_status(self, queryset, name, value):
        return queryset.filter(status=value)

    @property
    def qs(self):
        queryset = super().qs
        if not (self.form.is_bound and self.form.is_valid() and self.form.cleaned_data.get("status")):
            queryset = queryset.filter(status__in=BOARD_STATUSES) if self.default_open else queryset
        return queryset

    default_open = True
