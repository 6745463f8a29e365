"""Output shapes of the monthly review API (read-only)."""

from rest_framework import serializers

from .models import HealthReview, HealthReviewRow, Recommendation


class HealthReviewOutputSerializer(serializers.ModelSerializer):
    month = serializers.DateField(format="%Y-%m")
    computed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    rows = serializers.IntegerField(source="rows_total", read_only=True)
    confirmed = serializers.IntegerField(source="rows_confirmed", read_only=True)
    recommendations = serializers.SerializerMethodField()

    class Meta:
        model = HealthReview
        fields = ["id", "month", "created_at", "computed_at", "computed_by", "computations", "rows", "confirmed",
                  "recommendations"]  # fmt: skip

    def get_recommendations(self, review) -> dict[str, int]:
        return {value: getattr(review, f"rows_{value}") for value in Recommendation.values}


class ReasonSerializer(serializers.Serializer):
    rule = serializers.CharField()
    action = serializers.ChoiceField(choices=Recommendation.choices)
    text = serializers.CharField()


class QuestionSerializer(serializers.Serializer):
    question = serializers.CharField()
    answer = serializers.CharField()
    from_data = serializers.BooleanField(help_text="False: the answer needs a person.")


class HealthReviewRowOutputSerializer(serializers.ModelSerializer):
    month = serializers.DateField(source="review.month", format="%Y-%m")
    automation = serializers.SlugRelatedField(slug_field="key", read_only=True)
    failure_rate = serializers.FloatField(allow_null=True)
    override_rate = serializers.FloatField(allow_null=True)
    ignored_rate = serializers.FloatField(allow_null=True)
    reasons = ReasonSerializer(many=True, read_only=True)
    questions = QuestionSerializer(many=True, read_only=True)
    confirmed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = HealthReviewRow
        exclude = ["review", "facts"]
