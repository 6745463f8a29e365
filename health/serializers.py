"""Output shapes of the health API (input is validated by health.ingest, item by item)."""

from rest_framework import serializers

from .models import Finding, RunEvent


class RunEventOutputSerializer(serializers.ModelSerializer):
    automation = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = RunEvent
        exclude = ["id", "staleness_seconds"]


class FindingOutputSerializer(serializers.ModelSerializer):
    automation = serializers.SlugRelatedField(slug_field="key", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reason = serializers.CharField(read_only=True)

    class Meta:
        model = Finding
        fields = [
            "id",
            "automation",
            "kind",
            "severity",
            "status",
            "reason",
            "evidence",
            "owner",
            "expected_action",
            "due_at",
            "links",
            "opened_at",
            "last_seen_at",
            "resolved_at",
            "resolution_note",
            "suppressed_until",
            "suppression_reason",
        ]


class IngestItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=["created", "duplicate", "error"])
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class IngestResultSerializer(serializers.Serializer):
    summary = serializers.DictField(child=serializers.IntegerField())
    results = IngestItemResultSerializer(many=True)
