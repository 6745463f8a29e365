"""API shapes of the backlog. Input serializers check shapes; the rules are the services'."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from registry.serializers import DataFieldNameField, DataFieldRefSerializer, PersonField

from .choices import Answer, Group, ScoringMethod
from .models import Candidate, ScoringModel
from .rules import FACTOR_FIELDS, FACTOR_NAMES, JUDGMENT_FLAG_FIELDS
from .services import MATRIX_FIELDS, REQUEST_FIELDS


class ContributionSerializer(serializers.Serializer):
    factor = serializers.CharField(help_text="Factor name.")
    label = serializers.CharField()
    value = serializers.IntegerField(help_text="The factor's score, 1–5.")
    weight = serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        help_text="Signed as the version applies it: negative only in versions before issue 15 §5.",
    )
    contribution = serializers.DecimalField(max_digits=8, decimal_places=2, help_text="value × weight")


class ArithmeticSerializer(serializers.Serializer):
    scoring_model_version = serializers.IntegerField(allow_null=True)
    method = serializers.ChoiceField(choices=ScoringMethod.choices, help_text="How the version signs its weights.")
    contributions = ContributionSerializer(many=True)
    unscored = serializers.ListField(child=serializers.CharField(), help_text="Factors not scored yet.")
    total = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)
    formula = serializers.CharField()


class FlagSerializer(serializers.Serializer):
    flag = serializers.CharField()
    rule = serializers.CharField()
    reason = serializers.CharField()


class PromotionOverrideSerializer(serializers.Serializer):
    flags = serializers.ListField(child=serializers.CharField(), help_text="The flags raised when it was promoted.")
    rules = serializers.ListField(child=serializers.CharField())
    reason = serializers.CharField()
    by = serializers.CharField(help_text="Username of the admin who overrode the flags.")
    at = serializers.DateTimeField()


class CandidateOutputSerializer(serializers.ModelSerializer):
    requester = serializers.SlugRelatedField(slug_field="username", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    maintenance_owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    exception_owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    data_fields = DataFieldRefSerializer(many=True, read_only=True)
    group = serializers.SerializerMethodField()
    group_reasons = serializers.SerializerMethodField()
    missing = serializers.SerializerMethodField()
    arithmetic = serializers.SerializerMethodField()
    flags = serializers.SerializerMethodField()
    promotion_override = serializers.SerializerMethodField()
    automation = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:candidate-detail")
    # "" is "not answered yet".
    rule_clear = serializers.ChoiceField(choices=Answer.choices, allow_blank=True, read_only=True)
    data_reliable = serializers.ChoiceField(choices=Answer.choices, allow_blank=True, read_only=True)
    exception_known = serializers.ChoiceField(choices=Answer.choices, allow_blank=True, read_only=True)
    value_measurable = serializers.ChoiceField(choices=Answer.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Candidate
        fields = (
            "id",
            "url",
            *REQUEST_FIELDS,
            "requester",
            "data_fields",
            "status",
            "status_reason",
            *MATRIX_FIELDS,
            *JUDGMENT_FLAG_FIELDS,
            "human_assist",
            *FACTOR_FIELDS,
            "score",
            "arithmetic",
            "flags",
            "group",
            "group_reasons",
            "missing",
            "automation",
            "promoted_at",
            "promotion_override",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Group.choices))
    def get_group(self, obj) -> str:
        return obj.group.value

    def get_group_reasons(self, obj) -> list[str]:
        return obj.derivation.reasons

    def get_missing(self, obj) -> list[str]:
        return obj.derivation.missing

    @extend_schema_field(ArithmeticSerializer)
    def get_arithmetic(self, obj):
        score = obj.score_breakdown
        return {
            "scoring_model_version": score.version,
            "method": score.method,
            "contributions": [
                {
                    "factor": c.factor.name,
                    "label": c.factor.label,
                    "value": c.value,
                    "weight": f"{c.weight:.2f}",
                    "contribution": f"{c.points:.2f}",
                }
                for c in score.contributions
            ],
            "unscored": score.unscored,
            "total": None if score.total is None else f"{score.total:.2f}",
            "formula": score.arithmetic,
        }

    @extend_schema_field(FlagSerializer(many=True))
    def get_flags(self, obj):
        return [{"flag": f.flag.value, "rule": f.rule, "reason": f.reason} for f in obj.flags]

    @extend_schema_field(PromotionOverrideSerializer(allow_null=True))
    def get_promotion_override(self, obj):
        override = obj.override
        if override is None:
            return None
        return PromotionOverrideSerializer(
            {
                "flags": override.flags,
                "rules": override.rules,
                "reason": override.reason,
                "by": override.created_by.username,
                "at": override.created_at,
            }
        ).data


class CandidateInputSerializer(serializers.ModelSerializer):
    """A request for an automation (POST): anyone with a role."""

    owner = PersonField()
    maintenance_owner = PersonField()
    exception_owner = PersonField()
    data_fields = DataFieldNameField(many=True, required=False)

    class Meta:
        model = Candidate
        fields = (*REQUEST_FIELDS, "data_fields")


class CandidatePatchSerializer(CandidateInputSerializer):
    """Edit, answer the matrix, flag and score (PATCH): admins, with a change reason."""

    change_reason = serializers.CharField(max_length=500, help_text="Why; kept in the history.")

    class Meta(CandidateInputSerializer.Meta):
        fields = (*REQUEST_FIELDS, "data_fields", *MATRIX_FIELDS, *JUDGMENT_FLAG_FIELDS, "human_assist", *FACTOR_FIELDS)
        fields = (*fields, "change_reason")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            refused = {
                "status": "The status changes through promote, decline, defer or reopen.",
                "score": "The score is computed from the factors and the scoring model.",
                "requester": "The requester never changes.",
            }
            errors = {name: [message] for name, message in refused.items() if name in data}
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class PromoteInputSerializer(serializers.Serializer):
    override_reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Needed when the candidate is flagged defer or avoid: why promote anyway (kept with your name).",
    )


class PromoteOutputSerializer(serializers.Serializer):
    automation = serializers.CharField(help_text="The registry automation's key.")
    url = serializers.URLField()
    candidate = serializers.IntegerField()


class ScoringModelSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ScoringModel
        fields = (
            "id",
            "version",
            "method",
            *(f"weight_{n}" for n in FACTOR_NAMES),
            "reason",
            "created_by",
            "created_at",
            "rescored",
        )
        read_only_fields = ("id", "version", "method", "created_by", "created_at", "rescored")
        extra_kwargs = {f"weight_{n}": {"min_value": 0, "max_value": 10} for n in FACTOR_NAMES}
