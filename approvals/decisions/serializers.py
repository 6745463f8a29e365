"""The decision API's shapes. No rules here: the services decide what is valid."""

from rest_framework import serializers

from registry.models import Automation
from revops_gov.models import User

from .kinds import DecisionKind, DecisionStatus


class EvidenceItemSerializer(serializers.Serializer):
    label = serializers.CharField(allow_blank=True)
    value = serializers.JSONField()


class DecisionRequestInputSerializer(serializers.Serializer):
    automation = serializers.SlugRelatedField(
        slug_field="key", queryset=Automation.objects.all(), help_text="The automation's key in the registry."
    )
    kind = serializers.ChoiceField(choices=DecisionKind.choices)
    record_object = serializers.CharField(max_length=80, help_text="CRM object, e.g. Lead, Account, Opportunity.")
    record_id = serializers.CharField(max_length=200)
    record_url = serializers.URLField(max_length=500, required=False, allow_blank=True)
    why = serializers.CharField(
        allow_blank=True, help_text="Why it fired. Required: an alert that does not explain itself is refused."
    )
    evidence = serializers.JSONField(
        required=False, help_text="An object {label: value} or a list of {label, value}; shown as a readable list."
    )
    proposed_action = serializers.CharField(allow_blank=True, help_text="What the automation proposes. Required.")
    assignee = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="Username; defaults to the automation's exception owner.",
    )
    due_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Defaults by kind.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def __init__(self, *args, system=None, **kwargs):
        super().__init__(*args, **kwargs)
        if system:
            # An integration names only automations of its own system.
            self.fields["automation"].queryset = Automation.objects.filter(system=system)


class DecideInputSerializer(serializers.Serializer):
    option = serializers.CharField(max_length=40, help_text="One of the request's options (see `options`).")
    value = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        help_text="Required by options that name a value (new owner, category, risk, reviewer's username); "
        "refused by the others (400 naming `value`).",
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, help_text="Required by overrides and dismissals; kept."
    )


class OptionSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()
    value_label = serializers.CharField(help_text="What the value names, if the option needs one; else it takes none.")
    needs_reason = serializers.BooleanField()
    acts = serializers.BooleanField(help_text="The CRM acts on it: refused (409) while the permit is not live.")
    closes = serializers.BooleanField(
        help_text="It decides the request; escalate and request review hand it on instead (it stays open)."
    )


class DecisionSerializer(serializers.Serializer):
    option = serializers.CharField()
    option_label = serializers.CharField()
    value = serializers.CharField()
    reason = serializers.CharField()
    overrides = serializers.BooleanField()
    decided_by = serializers.CharField(source="decided_by.username")
    decided_at = serializers.DateTimeField()


class RecordSerializer(serializers.Serializer):
    system = serializers.CharField(source="record_system")
    object = serializers.CharField(source="record_object")
    id = serializers.CharField(source="record_id")
    url = serializers.CharField(source="record_url")


class DecisionRequestOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    automation = serializers.CharField(source="automation.key")
    kind = serializers.ChoiceField(choices=DecisionKind.choices)
    status = serializers.ChoiceField(choices=DecisionStatus.choices)
    record = RecordSerializer(source="*")
    why = serializers.CharField()
    evidence = EvidenceItemSerializer(many=True)
    proposed_action = serializers.CharField()
    assignee = serializers.CharField(source="assignee.username")
    due_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    escalated_at = serializers.DateTimeField(allow_null=True)
    options = OptionSerializer(many=True)
    decision = serializers.SerializerMethodField()
    idempotency_key = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)

    def get_url(self, obj) -> str:
        request = self.context.get("request")
        path = f"/api/v1/decisions/{obj.pk}/"
        return request.build_absolute_uri(path) if request else path

    def get_decision(self, obj) -> dict | None:
        decision = getattr(obj, "decision", None) if obj.status == DecisionStatus.DECIDED else None
        return DecisionSerializer(decision).data if decision else None
