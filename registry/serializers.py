"""API shapes of the registry. Input serializers check the shape of a request; the rules are the
services'. Output serializers read annotated querysets from registry.selectors."""

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from revops_gov.models import User

from .choices import DataFieldStatus, RiskTier
from .models import Automation, ChangeEvent, DataField
from .risk import IMPACT_FLAG_FIELDS
from .selectors import CardFacts, card_facts
from .services import AUTOMATION_INPUT_FIELDS, DATAFIELD_FIELDS, DOCUMENTATION_FIELDS, OWNER_FIELDS, SCHEDULE_FIELDS


class PersonField(serializers.SlugRelatedField):
    """A person named by username."""

    def __init__(self, **kwargs):
        kwargs.setdefault("slug_field", "username")
        kwargs.setdefault("queryset", User.objects.filter(is_active=True))
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)


@extend_schema_field(OpenApiTypes.STR)
class DataFieldNameField(serializers.RelatedField):
    """A data dictionary entry named `Object.APIName`, e.g. `Lead.Segment__c`."""

    default_error_messages = {
        "unknown": "“{value}” is not in the data dictionary (use Object.APIName, e.g. Lead.Segment__c).",
        "invalid": "Give the field as a string Object.APIName.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("queryset", DataField.objects.all())
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or "." not in data:
            self.fail("invalid") if not isinstance(data, str) else self.fail("unknown", value=data)
        object_name, _, api_name = data.partition(".")
        field = self.get_queryset().filter(object_name__iexact=object_name, api_name__iexact=api_name).first()
        if field is None:
            self.fail("unknown", value=data)
        return field

    def to_representation(self, value):
        return value.qualified_name


class DataFieldRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="qualified_name")

    class Meta:
        model = DataField
        fields = ("id", "name", "status")


class ControlSerializer(serializers.Serializer):
    tier = serializers.CharField()
    control = serializers.CharField()


class AutomationOutputSerializer(serializers.ModelSerializer):
    rule_owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    system_owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    failure_owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    exception_owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    support_contact = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    data_fields = DataFieldRefSerializer(many=True, read_only=True)
    tags = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    risk_tier_override = serializers.ChoiceField(choices=RiskTier.choices, allow_blank=True, read_only=True)
    risk_tier = serializers.SerializerMethodField()
    risk_tier_floor = serializers.SerializerMethodField()
    risk_tier_reasons = serializers.SerializerMethodField()
    required_controls = serializers.SerializerMethodField()
    review_cadence_days = serializers.SerializerMethodField()
    review_due = serializers.BooleanField(read_only=True)
    uses_untrusted_field = serializers.BooleanField(read_only=True)
    on_hold = serializers.BooleanField(source="has_open_hold", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:automation-detail", lookup_field="key")

    class Meta:
        model = Automation
        fields = (
            "key",
            "url",
            *DOCUMENTATION_FIELDS,
            *OWNER_FIELDS,
            "data_fields",
            "tags",
            *IMPACT_FLAG_FIELDS,
            "risk_tier",
            "risk_tier_floor",
            "risk_tier_reasons",
            "risk_tier_override",
            "risk_tier_override_reason",
            "required_controls",
            "status",
            "version",
            "maturity_stage",
            "review_cadence",
            "review_cadence_days",
            "last_reviewed_at",
            "went_live_at",
            "review_due",
            "uses_untrusted_field",
            "on_hold",
            *SCHEDULE_FIELDS,
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=RiskTier.choices))
    def get_risk_tier(self, obj) -> str:
        return obj.risk_tier.value

    @extend_schema_field(serializers.ChoiceField(choices=RiskTier.choices))
    def get_risk_tier_floor(self, obj) -> str:
        return obj.tier.floor.value

    def get_risk_tier_reasons(self, obj) -> list[str]:
        return list(obj.tier.reasons)

    @extend_schema_field(ControlSerializer(many=True))
    def get_required_controls(self, obj):
        return [{"tier": tier.value, "control": control} for tier, control in obj.tier.controls]

    def get_review_cadence_days(self, obj) -> int:
        return int(obj.effective_review_cadence)


class AutomationDetailOutputSerializer(AutomationOutputSerializer):
    """One automation from `automation_get`: its derived facts come with their reasons."""

    review_due = serializers.SerializerMethodField()
    review_due_reasons = serializers.SerializerMethodField()
    next_review_due_at = serializers.SerializerMethodField()
    uses_untrusted_field = serializers.SerializerMethodField()
    on_hold = serializers.SerializerMethodField()

    class Meta(AutomationOutputSerializer.Meta):
        fields = (*AutomationOutputSerializer.Meta.fields, "review_due_reasons", "next_review_due_at")
        read_only_fields = fields

    def _facts(self, obj) -> CardFacts:
        if getattr(obj, "_card_facts", None) is None:
            obj._card_facts = card_facts(obj)
        return obj._card_facts

    def get_review_due(self, obj) -> bool:
        return self._facts(obj).review.due

    def get_review_due_reasons(self, obj) -> list[str]:
        return self._facts(obj).review.reasons

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_review_due_at(self, obj):
        next_due_at = self._facts(obj).review.next_due_at
        return serializers.DateTimeField().to_representation(next_due_at) if next_due_at else None

    def get_uses_untrusted_field(self, obj) -> bool:
        return bool(self._facts(obj).untrusted_fields)

    def get_on_hold(self, obj) -> bool:
        return bool(self._facts(obj).open_holds)


class AutomationInputSerializer(serializers.ModelSerializer):
    rule_owner = PersonField()
    system_owner = PersonField()
    failure_owner = PersonField()
    exception_owner = PersonField()
    support_contact = PersonField()
    data_fields = DataFieldNameField(many=True, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    change_reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="Why; kept in the history. Required on PATCH."
    )

    # Sent, these are refused by name (400) rather than silently ignored.
    refused = {
        "status": (
            "The lifecycle status is read-only here: a new automation is always proposed, and it moves only "
            "through POST /api/v1/automations/{key}/transition/, with its gate."
        ),
    }

    class Meta:
        model = Automation
        fields = (*(f for f in AUTOMATION_INPUT_FIELDS if f != "status"), "change_reason")
        extra_kwargs = {
            "key": {"validators": []},
            "system": {"required": False, "help_text": "Defaults to the integration token's system."},
        }

    def validate_last_reviewed_at(self, value):
        if value and value > timezone.now():
            raise serializers.ValidationError("The last review cannot be in the future.")
        return value

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            errors = {name: [message] for name, message in self.refused.items() if name in data}
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class AutomationPatchSerializer(AutomationInputSerializer):
    change_reason = serializers.CharField(max_length=500, help_text="Why; kept in the history.")
    refused = {
        **AutomationInputSerializer.refused,
        "key": "The key never changes; register a new automation instead.",
        "last_reviewed_at": "Reviews are recorded by marking the automation reviewed.",
    }

    class Meta(AutomationInputSerializer.Meta):
        fields = tuple(f for f in AutomationInputSerializer.Meta.fields if f not in ("key", "last_reviewed_at"))


class DataFieldSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="qualified_name", read_only=True)
    owner = PersonField()
    automation_count = serializers.IntegerField(read_only=True)
    change_reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500)

    class Meta:
        model = DataField
        fields = (
            "id",
            "name",
            *DATAFIELD_FIELDS,
            "changed_at",
            "automation_count",
            "created_at",
            "updated_at",
            "change_reason",
        )
        read_only_fields = ("changed_at", "created_at", "updated_at")
        extra_kwargs = {"status": {"default": DataFieldStatus.TRUSTED}}
        validators = []


class ChangeEventSerializer(serializers.ModelSerializer):
    automations = serializers.SlugRelatedField(
        slug_field="key", many=True, queryset=Automation.objects.all(), required=False
    )
    data_fields = DataFieldNameField(many=True, required=False)
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ChangeEvent
        fields = (
            "id",
            "kind",
            "title",
            "description",
            "occurred_on",
            "automations",
            "data_fields",
            "recorded_by",
            "recorded_at",
        )
        read_only_fields = ("recorded_by", "recorded_at")
