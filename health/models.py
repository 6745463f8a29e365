"""Run events reported by the CRMs, the per-automation monitor thresholds, and the findings the
monitors keep (health.monitors). Findings carry their own evidence, so deleting old raw run
events (retention) never changes a finding."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from registry.models import Automation

from .choices import (
    UNRESOLVED,
    FactKind,
    FactSource,
    FindingKind,
    FindingStatus,
    RunMode,
    RunOutcome,
    Severity,
)

# The outcomes the runs page's second index serves (success, the bulk, is read from the first).
RARE_OUTCOMES = (RunOutcome.FAILURE, RunOutcome.SKIPPED, RunOutcome.RUNNING, RunOutcome.TIMED_OUT)


class RunEvent(models.Model):
    """One run of an automation as the CRM reported it. Raw facts only; rates and findings are
    derived from them (health.monitors, health.selectors).

    A run is identified by (automation, event_id), never by its surrogate id: a later report with
    the same event id adds facts to it (health.ingest.merge_facts), and every late fact is kept as
    a RunEventFact keyed the same way, so the identity survives partitioning the table by month."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="run_events")
    event_id = models.CharField(
        "event id", max_length=200, help_text="The CRM's id for this run: sent twice, stored once."
    )
    started_at = models.DateTimeField("started")
    finished_at = models.DateTimeField("finished", null=True, blank=True)
    outcome = models.CharField("outcome", max_length=10, choices=RunOutcome.choices)
    mode = models.CharField("mode", max_length=10, choices=RunMode.choices, default=RunMode.LIVE)
    trigger_key = models.CharField(
        "trigger window",
        max_length=200,
        blank=True,
        help_text="What triggered the run (record + window); two runs for one trigger ran twice.",
    )
    action = models.CharField(
        "action", max_length=200, blank=True, help_text="What the automation did (or, in shadow, would have done)."
    )
    human_outcome = models.CharField(
        "human's outcome", max_length=200, blank=True, help_text="In shadow mode: what the human did."
    )
    records_affected = models.PositiveIntegerField("records affected", null=True, blank=True)
    fields_changed = models.JSONField("fields changed", default=list, blank=True)
    reporting_critical_changed = models.BooleanField(
        "changed a reporting-critical field", default=False, help_text="Set at ingest from the data dictionary."
    )
    owner_assigned = models.CharField("owner assigned", max_length=200, blank=True)
    overridden = models.BooleanField("overridden", default=False)
    override_reason = models.TextField("override reason", blank=True)
    alerts_sent = models.PositiveIntegerField("alerts sent", default=0)
    data_as_of = models.DateTimeField("data as of", null=True, blank=True)
    staleness_seconds = models.PositiveIntegerField(
        "data age at start (s)", null=True, blank=True, help_text="started − data as of, computed at ingest."
    )
    error = models.TextField("error message", blank=True)
    # Value metrics (the guide's "Measuring automation value"), all optional.
    response_time_seconds = models.PositiveIntegerField("response time (s)", null=True, blank=True)
    sla_met = models.BooleanField("SLA met", null=True, blank=True)
    manual_reassignment = models.BooleanField("manually reassigned", default=False)
    duplicate_found = models.BooleanField("duplicate found", null=True, blank=True)
    handoff_complete = models.BooleanField("handoff complete", null=True, blank=True)
    data_quality_issue = models.BooleanField("data-quality issue", null=True, blank=True)
    task_created = models.BooleanField("task created", null=True, blank=True)
    task_completed = models.BooleanField("task completed", null=True, blank=True)
    task_completed_at = models.DateTimeField(
        "task completed at", null=True, blank=True, help_text="Often reported days after the run, as a late fact."
    )
    maintenance_minutes = models.PositiveIntegerField("admin maintenance (min)", null=True, blank=True)
    received_at = models.DateTimeField("received", auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = "run event"
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "event_id"],
                name="runevent_unique_event_per_automation",
                violation_error_message="This event was already reported.",
            )
        ]
        indexes = [
            # Every monitor and the automation panel read one automation's runs by time; the runs
            # page pages through them newest first by (started_at, id), the keyset.
            models.Index(fields=["automation", "started_at", "id"], name="runevent_auto_started_id_idx"),
            # The runs page filtered by a rare outcome finds its rows without reading the successes.
            models.Index(
                fields=["automation", "outcome", "started_at", "id"],
                condition=Q(outcome__in=RARE_OUTCOMES),
                name="runevent_auto_rare_outcome_idx",
            ),
            # The monitors' window scans and the retention purge read by time across automations.
            models.Index(fields=["started_at"], name="runevent_started_idx"),
            # "Running too long" reads the runs that started and never ended.
            models.Index(fields=["started_at"], condition=Q(outcome="running"), name="runevent_running_idx"),
        ]

    def __str__(self):
        return f"{self.automation_id}:{self.event_id}"

    @property
    def duration_label(self) -> str:
        """How long it took, as a person says it: "2 s", "3 min 5 s", "2 h 10 min"; "" if unfinished."""
        if not self.finished_at:
            return ""
        seconds = int((self.finished_at - self.started_at).total_seconds())
        if seconds < 60:
            return f"{seconds} s"
        if seconds < 3600:
            return f"{seconds // 60} min {seconds % 60} s" if seconds % 60 else f"{seconds // 60} min"
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class RunEventFact(models.Model):
    """A fact about a run that arrived after the run was first stored — its end, a task completed
    a week later, an override, a correction of its outcome — or one the product inferred (timed
    out). Append-only: what was stored before, what replaced it, who said so, when. Keyed by the
    run's identity (automation, event_id), not its row id (see RunEvent)."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="run_event_facts")
    event_id = models.CharField("event id", max_length=200)
    run_started_at = models.DateTimeField("run started", help_text="The run's start: the retention purge reads it.")
    field = models.CharField("fact", max_length=50)
    kind = models.CharField("kind", max_length=10, choices=FactKind.choices)
    old_value = models.JSONField("was", null=True, blank=True)
    new_value = models.JSONField("now", null=True, blank=True)
    source = models.CharField("reported through", max_length=10, choices=FactSource.choices)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="reported by",
        help_text="The person, or the integration's service user, whose report it was.",
    )
    recorded_at = models.DateTimeField("recorded")

    class Meta:
        ordering = ["recorded_at", "id"]
        verbose_name = "late run fact"
        indexes = [
            models.Index(fields=["automation", "event_id"], name="runeventfact_run_idx"),
            # The monthly review looks for late facts about a month's runs recorded since it was computed.
            models.Index(fields=["run_started_at", "recorded_at"], name="runeventfact_started_idx"),
        ]

    def __str__(self):
        return f"{self.event_id}.{self.field}: {self.old_value!r} → {self.new_value!r}"


class HealthThresholds(models.Model):
    """Per-automation monitor thresholds; an empty field follows REVOPS["HEALTH"] defaults."""

    automation = models.OneToOneField(Automation, on_delete=models.CASCADE, related_name="health_thresholds")
    expected_duration = models.DurationField("expected duration", null=True, blank=True)
    max_duration = models.DurationField(
        "maximum duration",
        null=True,
        blank=True,
        help_text="A run still running this long after its start is marked timed out.",
    )
    allowed_staleness = models.DurationField("allowed data age", null=True, blank=True)
    override_rate = models.FloatField("wrong-owner rate threshold", null=True, blank=True)
    override_window_runs = models.PositiveIntegerField("wrong-owner window (runs)", null=True, blank=True)
    alert_budget_day = models.PositiveIntegerField("alert budget per day", null=True, blank=True)
    alert_budget_week = models.PositiveIntegerField("alert budget per week", null=True, blank=True)
    expected_records_per_run = models.PositiveIntegerField("expected records per run", null=True, blank=True)
    volume_factor = models.FloatField("volume factor", null=True, blank=True)
    failure_rate_margin = models.FloatField("failure-rate margin", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "health thresholds"
        verbose_name_plural = "health thresholds"

    def __str__(self):
        return f"Thresholds of {self.automation_id}"


class Finding(models.Model):
    """What a monitor found about one automation: one unresolved finding per automation and kind;
    a monitor that fires again updates it. Evidence is kept here, not re-read from raw runs."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField("kind", max_length=30, choices=FindingKind.choices)
    severity = models.CharField("severity", max_length=10, choices=Severity.choices)
    status = models.CharField("status", max_length=15, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    reason = models.TextField("reason")
    evidence = models.JSONField("evidence", default=dict)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="health_findings",
        verbose_name="owner",
    )
    expected_action = models.TextField("expected action")
    due_at = models.DateTimeField("due")
    links = models.JSONField("links", default=list, blank=True)
    opened_at = models.DateTimeField("opened")
    last_seen_at = models.DateTimeField("last confirmed by its monitor")
    resolved_at = models.DateTimeField("resolved", null=True, blank=True)
    resolution_note = models.TextField("resolution note", blank=True)
    suppressed_until = models.DateTimeField("suppressed until", null=True, blank=True)
    suppression_reason = models.TextField("suppression reason", blank=True)
    acknowledged_at = models.DateTimeField("acknowledged", null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="acknowledged by",
    )
    # The incident loop (issue 16 §1): the owner says what was fixed; the monitor verifies it.
    fixed_at = models.DateTimeField("fixed", null=True, blank=True)
    fixed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="fixed by"
    )
    fix_note = models.TextField("what was fixed", blank=True)
    verified_at = models.DateTimeField("verified", null=True, blank=True)
    no_recent_evidence = models.BooleanField(
        "no recent evidence",
        default=False,
        help_text="Its monitor no longer sees the failures in its window; the incident stays open until verified.",
    )
    holds_automation = models.BooleanField("placed a hold", default=False)
    hold_released_at = models.DateTimeField("hold released by an admin", null=True, blank=True)
    hold_released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="hold released by",
    )
    hold_release_reason = models.TextField("why the hold was released", blank=True)
    suppressed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="suppressed by",
    )
    # The alert outbox: each is claimed once by a conditional update (health.alerts).
    notified_at = models.DateTimeField("owner notified", null=True, blank=True)
    reminded_at = models.DateTimeField("overdue reminder sent", null=True, blank=True)
    escalated_at = models.DateTimeField("escalated to manager", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "kind"],
                condition=Q(status__in=UNRESOLVED),
                name="finding_one_unresolved_per_kind",
                violation_error_message="This automation already has an open finding of this kind.",
            )
        ]
        indexes = [
            models.Index(fields=["status", "kind"], name="finding_status_kind_idx"),
            models.Index(fields=["owner", "status"], name="finding_owner_status_idx"),
            # The alert task reads the unnotified open findings.
            models.Index(fields=["opened_at"], condition=Q(notified_at__isnull=True), name="finding_unnotified_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.automation}"

    def get_absolute_url(self):
        return reverse("health:finding-detail", args=[self.pk])

    @property
    def is_unresolved(self) -> bool:
        return self.status in UNRESOLVED

    @property
    def is_incident(self) -> bool:
        """A failure finding, or one that placed a hold: it closes only when verified."""
        return self.holds_automation or self.kind in settings.REVOPS["HEALTH_INCIDENT_KINDS"]


class DigestSent(models.Model):
    """One daily findings digest per person: the unique key makes a second send impossible."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="health_digest_once_per_day")]

    def __str__(self):
        return f"Digest for {self.user_id} on {self.day}"


class MonitorLock(models.Model):
    """A single row locked for the duration of a monitor pass, so two workers never run it at once."""

    name = models.CharField(max_length=50, unique=True)

    def __str__(self):
        return self.name


class ReviewReminder(models.Model):
    """The reminder of one review-due cycle of one automation: sent once to the rule owner, then
    once to their manager after the grace period. A cycle starts at the automation's last review
    (or its registration, never reviewed), so recording a review starts a new cycle and the
    automation can be reminded again when it next falls due. The unique key makes a second
    reminder of the same cycle impossible, whatever beat or a second worker does."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="review_reminders")
    cycle_start = models.DateTimeField(
        "cycle start", help_text="The review this cycle runs from (the last review, or the registration)."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+", verbose_name="rule owner reminded"
    )
    reasons = models.JSONField("why the review was due", default=list)
    # Set when the reminder's delivery was sent (health.receivers), not when it was queued.
    reminded_at = models.DateTimeField("rule owner reminded", null=True, blank=True)
    delivery = models.ForeignKey(
        "revops_gov.Delivery",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="the reminder's email",
    )
    escalated_at = models.DateTimeField("escalated to the manager", null=True, blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="manager escalated to",
    )

    class Meta:
        ordering = ["-cycle_start", "-pk"]
        verbose_name = "review reminder"
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "cycle_start"],
                name="reviewreminder_once_per_cycle",
                violation_error_message="This review cycle was already reminded.",
            )
        ]
        indexes = [
            # The reminder task looks for the reminders still waiting to be escalated.
            models.Index(
                fields=["reminded_at"], condition=Q(escalated_at__isnull=True), name="reviewreminder_unescalated_idx"
            ),
        ]

    def __str__(self):
        return f"Review reminder of {self.automation_id} (cycle from {self.cycle_start:%Y-%m-%d})"

    def is_current(self, automation: Automation) -> bool:
        """Still the open cycle: no review recorded since it was sent."""
        return (automation.last_reviewed_at or automation.created_at) == self.cycle_start


class PlannedHoldWindow(models.Model):
    """A planned time when an automation is not expected to run (a quarter-end freeze, a CRM
    migration, a maintenance weekend): the did-not-run monitor stays quiet inside it and its
    clock restarts at the window's end (issue 16 §1). Planned by the failure owner, the system
    owner or an admin, with a reason, for at most REVOPS["HEALTH_HOLD_WINDOW_MAX_DAYS"];
    cancelling keeps the row (who, when, why)."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="planned_hold_windows")
    starts_at = models.DateTimeField("starts")
    ends_at = models.DateTimeField("ends")
    reason = models.TextField("why")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name="planned by"
    )
    created_at = models.DateTimeField("planned", auto_now_add=True)
    cancelled_at = models.DateTimeField("cancelled", null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="cancelled by"
    )
    cancel_reason = models.TextField("why cancelled", blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at", "pk"]
        verbose_name = "planned hold window"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="holdwindow_ends_after_start",
                violation_error_message="A hold window ends after it starts.",
            )
        ]
        indexes = [
            # The monitor pass reads the windows not cancelled that have not ended long ago.
            models.Index(fields=["ends_at"], condition=Q(cancelled_at__isnull=True), name="holdwindow_active_idx"),
        ]

    def __str__(self):
        return f"Hold window of {self.automation_id}: {self.starts_at:%Y-%m-%d %H:%M} – {self.ends_at:%Y-%m-%d %H:%M}"

    def covers(self, moment) -> bool:
        """The moment is inside the window (from its start, up to but not including its end)."""
        return self.cancelled_at is None and self.starts_at <= moment < self.ends_at

    @property
    def state_label(self) -> str:
        """Planned, in progress, ended or cancelled, now."""
        now = timezone.now()
        if self.cancelled_at:
            return "cancelled"
        if now < self.starts_at:
            return "planned"
        return "in progress" if now < self.ends_at else "ended"


# The monthly review (health/reviews/) keeps its models in its own package.
from .reviews.models import *  # noqa: E402, F403
