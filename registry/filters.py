"""The registry's filters, shared by the list page, the CSV export and the API."""

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from revops_gov.api import token_system
from revops_gov.choices import System

from .choices import TIER_RANK, DataFieldStatus, LifecycleStatus, OwnerRole, RiskTier, Team, WorkflowType
from .models import Automation, ChangeEvent, DataField


class YesNoField(django_filters.fields.ChoiceField):
    """`yes`/`no` are read as `true`/`false` (links people type or share say yes and no)."""

    ALIASES = {"yes": "true", "no": "false"}

    def to_python(self, value):
        value = super().to_python(value)
        return self.ALIASES.get(value.lower(), value.lower()) if isinstance(value, str) and value else value


@extend_schema_field(OpenApiTypes.BOOL)
class YesNoFilter(django_filters.ChoiceFilter):
    """A boolean filter that accepts `true`/`false` or `yes`/`no` (anything else is a 400 naming it)."""

    field_class = YesNoField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("choices", (("true", "Yes"), ("false", "No")))
        kwargs.setdefault("empty_label", "Any")
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in ("", None):
            return qs
        return qs.filter(**{self.field_name: value == "true"})


class CompactFilterForm(forms.Form):
    """Filter forms sit above lists: small Bootstrap controls."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] = "form-select form-select-sm" if is_select else "form-control form-control-sm"


class AutomationFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    team = django_filters.ChoiceFilter(choices=Team.choices)
    system = django_filters.ChoiceFilter(choices=System.choices)
    workflow_type = django_filters.ChoiceFilter(choices=WorkflowType.choices, label="Workflow type")
    tier = django_filters.ChoiceFilter(choices=RiskTier.choices, method="filter_tier", label="Risk tier")
    status = django_filters.ChoiceFilter(choices=LifecycleStatus.choices, label="Lifecycle status")
    owner = django_filters.CharFilter(method="filter_owner", label="Owner (username, any role)")
    missing_owner = django_filters.ChoiceFilter(
        choices=OwnerRole.choices, method="filter_missing_owner", label="Missing owner"
    )
    retired = YesNoFilter(method="filter_retired", label="Retired")
    packet = django_filters.ChoiceFilter(
        choices=(
            ("approved", "Approved for the current version"),
            ("missing", "None approved for the current version"),
        ),
        method="filter_packet",
        label="Approval packet",
    )
    review_due = YesNoFilter(label="Review due")
    uses_untrusted_field = YesNoFilter(label="Uses an untrusted field")
    on_hold = YesNoFilter(field_name="has_open_hold", label="On hold")
    tag = django_filters.CharFilter(field_name="tags__name", label="Tag")
    data_field = django_filters.ModelChoiceFilter(
        field_name="data_fields", queryset=DataField.objects.order_by("object_name", "api_name"), label="Uses field"
    )
    ordering = django_filters.OrderingFilter(
        fields=(
            ("name", "name"),
            ("key", "key"),
            ("team", "team"),
            ("system", "system"),
            ("risk_tier_rank", "tier"),
            ("status", "status"),
            ("last_reviewed_at", "last_reviewed"),
            ("updated_at", "updated"),
        ),
        label="Sort by",
    )

    class Meta:
        model = Automation
        fields = []
        form = CompactFilterForm

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(name__icontains=value)
            | Q(key__icontains=value)
            | Q(business_purpose__icontains=value)
            | Q(external_id__iexact=value)
        )

    def filter_tier(self, queryset, name, value):
        return queryset.filter(risk_tier_rank=TIER_RANK[RiskTier(value)])

    def filter_owner(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        q = Q()
        for role in OwnerRole:
            q |= Q(**{f"{role.value}__username__iexact": value})
        return queryset.filter(q)

    def filter_missing_owner(self, queryset, name, value):
        return queryset.filter(**{f"{value}__isnull": True})

    def filter_retired(self, queryset, name, value):
        retired = Q(status=LifecycleStatus.RETIRED)
        return queryset.filter(retired) if value == "true" else queryset.exclude(retired)

    def filter_packet(self, queryset, name, value):
        """`approved`: an approved packet covers the automation's current version (what live and
        shadow need); `missing`: none does."""
        from approvals.choices import PacketState
        from approvals.models import ApprovalPacket

        approved = Exists(
            ApprovalPacket.objects.filter(
                automation=OuterRef("pk"), state=PacketState.APPROVED, automation_version=OuterRef("version")
            )
        )
        return queryset.filter(approved if value == "approved" else ~approved)


class DataFieldFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    object_name = django_filters.CharFilter(lookup_expr="iexact", label="Object")
    status = django_filters.ChoiceFilter(choices=DataFieldStatus.choices)
    source_of_truth = django_filters.ChoiceFilter(choices=System.choices, label="Source of truth")

    class Meta:
        model = DataField
        fields = []
        form = CompactFilterForm

    def search(self, queryset, name, value):
        value = value.strip()
        return (
            queryset.filter(Q(api_name__icontains=value) | Q(label__icontains=value) | Q(object_name__icontains=value))
            if value
            else queryset
        )


class ChangeEventFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ChangeEvent._meta.get_field("kind").choices)
    automation = django_filters.CharFilter(method="filter_automation", label="Automation key")

    class Meta:
        model = ChangeEvent
        fields = []
        form = CompactFilterForm

    def filter_automation(self, queryset, name, value):
        # An integration token finds events only by its own system's automations: asking for
        # another system's key must not tell it which events touched that automation.
        match = Q(automations__key=value)
        if system := token_system(self.request):
            match &= Q(automations__system=system)
        return queryset.filter(pk__in=ChangeEvent.objects.filter(match).values("pk"))
