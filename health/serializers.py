"""Shapes of the health API. Run events are validated by health.ingest, item by item (a batch of
1,000 must validate in milliseconds); RunEventInputSerializer is their schema in OpenAPI, so a
generated client has a typed model for them."""

from rest_framework import serializers

from .choices import RunMode, RunOutcome
from .models import Finding, PlannedHoldWindow, RunEvent

INGEST_STATUSES = ["created", "merged", "duplicate", "error"]
PING_STATUSES = ["created", "merged", "duplicate"]


class RunEventOutputSerializer(serializers.ModelSerializer):
    automation = serializers.SlugRelatedField(slug_field="key", read_only=True)

    class Meta:
        model = RunEvent
        exclude = ["id", "staleness_seconds"]


class RunEventInputSerializer(serializers.Serializer):
    """One run event as a CRM reports it (the schema; health.ingest validates). A first report
    needs automation, event_id, started_at and outcome; a later report of the same event needs only
    automation and event_id and the facts it adds (health/README.md, "Late facts")."""

    automation = serializers.CharField(max_length=100, help_text="The automation's key.")
    event_id = serializers.CharField(max_length=200, help_text="The CRM's id for this run: its identity.")
    started_at = serializers.DateTimeField(
        required=False, help_text="Required in the first report of an event; never changes."
    )
    finished_at = serializers.DateTimeField(required=False, allow_null=True)
    outcome = serializers.ChoiceField(
        choices=RunOutcome.choices, required=False, help_text="Required in the first report of an event."
    )
    mode = serializers.ChoiceField(choices=RunMode.choices, required=False, help_text="Default live; never changes.")
    trigger_key = serializers.CharField(max_length=200, required=False, allow_null=True)
    action = serializers.CharField(max_length=200, required=False, allow_null=True)
    human_outcome = serializers.CharField(max_length=200, required=False, allow_null=True)
    records_affected = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    fields_changed = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, allow_null=True, help_text="Object.Field names."
    )
    owner_assigned = serializers.CharField(max_length=200, required=False, allow_null=True)
    overridden = serializers.BooleanField(required=False, allow_null=True)
    override_reason = serializers.CharField(max_length=10_000, required=False, allow_null=True)
    alerts_sent = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    data_as_of = serializers.DateTimeField(required=False, allow_null=True)
    error = serializers.CharField(max_length=10_000, required=False, allow_null=True)
    response_time_seconds = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    sla_met = serializers.BooleanField(required=False, allow_null=True)
    manual_reassignment = serializers.BooleanField(required=False, allow_null=True)
    duplicate_found = serializers.BooleanField(required=False, allow_null=True)
    handoff_complete = serializers.BooleanField(required=False, allow_null=True)
    data_quality_issue = serializers.BooleanField(required=False, allow_null=True)
    task_created = serializers.BooleanField(required=False, allow_null=True)
    task_completed = serializers.BooleanField(required=False, allow_null=True)
    task_completed_at = serializers.DateTimeField(
        required=False, allow_null=True, help_text="When the task the run created was done; implies task_completed."
    )
    maintenance_minutes = serializers.IntegerField(min_value=0, required=False, allow_null=True)


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
            "no_recent_evidence",
            "fixed_at",
            "fix_note",
            "verified_at",
            "holds_automation",
        ]


class CorrectionSerializer(serializers.Serializer):
    """A fact of a later report that contradicted the stored one: it replaced it, and both are kept."""

    field = serializers.CharField()
    was = serializers.JSONField(allow_null=True)
    now = serializers.JSONField(allow_null=True)


class IngestItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's position in the batch (0 for a single event).")
    event_id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=INGEST_STATUSES)
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Status error: each field at fault and what is wrong with it.",
    )
    merged = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Status merged: the facts added (not known before)."
    )
    corrected = CorrectionSerializer(many=True, required=False, help_text="Status merged: the facts corrected.")


class IngestSummarySerializer(serializers.Serializer):
    created = serializers.IntegerField()
    merged = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    error = serializers.IntegerField()


class IngestResultSerializer(serializers.Serializer):
    summary = IngestSummarySerializer()
    results = IngestItemResultSerializer(many=True)


class PingBodySerializer(serializers.Serializer):
    """A failure ping's body as JSON (the same as sending the error text as text/plain)."""

    error = serializers.CharField(max_length=10_000, required=False, allow_blank=True)


class PingResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=PING_STATUSES, help_text="created (a new run), merged (facts added to it) or duplicate (nothing new)."
    )
    merged = serializers.ListField(child=serializers.CharField(), help_text="The facts the ping added.")
    corrected = CorrectionSerializer(many=True, help_text="The facts the ping corrected (e.g. success → failure).")
    run = RunEventOutputSerializer()


class HoldWindowOutputSerializer(serializers.ModelSerializer):
    automation = serializers.SlugRelatedField(slug_field="key", read_only=True)
    created_by = serializers.StringRelatedField()
    cancelled_by = serializers.StringRelatedField()
    state = serializers.CharField(source="state_label", help_text="planned, in progress, ended or cancelled")

    class Meta:
        model = PlannedHoldWindow
        fields = [
            "id",
            "automation",
            "starts_at",
            "ends_at",
            "reason",
            "state",
            "created_by",
            "created_at",
            "cancelled_at",
            "cancelled_by",
            "cancel_reason",
        ]


class HoldWindowInputSerializer(serializers.Serializer):
    automation = serializers.SlugField(help_text="The automation's key.")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=2000)


class HoldWindowCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
