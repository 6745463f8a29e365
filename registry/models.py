from datetime import timedelta

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from revops_gov.choices import System

from .cadence import cadence_refusal
from .choices import (
    DEFAULT_CADENCE_BY_TIER,
    ChangeEventKind,
    DataFieldStatus,
    LifecycleStatus,
    MaturityStage,
    ReviewCadence,
    RiskTier,
    ScheduleKind,
    Team,
    WorkflowType,
)
from .risk import (
    IMPACT_FLAGS,
    TierDerivation,
    cadence_days_expression,
    derive_tier,
    floor_rank_expression,
    tier_rank_expression,
)

slug_validator = RegexValidator(
    r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$",
    "Use lowercase letters, digits and single hyphens or underscores (for example lead-routing-emea).",
)


class Tag(models.Model):
    name = models.SlugField("name", max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class DataField(models.Model):
    """An entry of the revenue data dictionary: what a CRM field means and whether to trust it."""

    object_name = models.CharField("object", max_length=80, help_text="CRM object, e.g. Lead, Account, Opportunity.")
    api_name = models.CharField("API name", max_length=120, help_text="The field's API name, e.g. Segment__c.")
    label = models.CharField("label", max_length=200)
    definition = models.TextField("definition", help_text="What the field means, in plain language.")
    source_of_truth = models.CharField(
        "source-of-truth system", max_length=20, choices=System.choices, help_text="Which system wins on conflict."
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_data_fields",
        verbose_name="owner",
    )
    status = models.CharField("status", max_length=20, choices=DataFieldStatus.choices, default=DataFieldStatus.TRUSTED)
    reporting_critical = models.BooleanField(
        "reporting-critical", default=False, help_text="Feeds forecast, board or executive reporting."
    )
    changed_at = models.DateTimeField(
        "definition or status last changed",
        null=True,
        blank=True,
        help_text="Every automation using the field is due for review after this moment.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["object_name", "api_name"]
        verbose_name = "data field"
        constraints = [
            models.UniqueConstraint(
                fields=["object_name", "api_name"],
                name="datafield_unique_object_api_name",
                violation_error_message="This field is already in the data dictionary.",
            )
        ]
        indexes = [models.Index(fields=["status"], name="datafield_status_idx")]

    def __str__(self):
        return self.qualified_name

    def get_absolute_url(self):
        return reverse("registry:datafield-detail", args=[self.pk])

    @property
    def qualified_name(self) -> str:
        return f"{self.object_name}.{self.api_name}"

    @property
    def is_trusted(self) -> bool:
        return self.status == DataFieldStatus.TRUSTED


# Kept by name: services write an object's creation version themselves, after its many-to-many
# sets, so the first version is "created" and already lists its fields (registry.services).
AUTOMATION_HISTORY = HistoricalRecords(m2m_fields=["data_fields", "tags"])
CHANGE_EVENT_HISTORY = HistoricalRecords(m2m_fields=["automations", "data_fields"])


# The longest expected interval or grace period: beyond a year the "did not run" monitor has
# nothing to watch, and much longer durations overflow the database's interval.
MAX_SCHEDULE_DURATION = timedelta(days=366)


class AutomationQuerySet(models.QuerySet):
    def active(self):
        return self.exclude(status=LifecycleStatus.RETIRED)


class Automation(models.Model):
    """One CRM automation, documented in plain language (the guide's registry card)."""

    # Identity
    key = models.SlugField(
        "key",
        max_length=100,
        unique=True,
        validators=[slug_validator],
        help_text="Stable identifier used by the API and integrations; never changes.",
    )
    name = models.CharField("name", max_length=200)
    business_purpose = models.TextField("business purpose", help_text="Why it exists, in one or two sentences.")
    workflow_type = models.CharField("workflow type", max_length=30, choices=WorkflowType.choices)
    team = models.CharField("team", max_length=20, choices=Team.choices)
    system = models.CharField("system", max_length=20, choices=System.choices)
    external_id = models.CharField(
        "external id", max_length=200, blank=True, help_text="The automation's id in the CRM (flow, workflow, rule)."
    )

    # Documentation standard
    trigger = models.TextField("trigger", help_text="When it starts.")
    rule = models.TextField("rule", help_text="What condition must be true.")
    record_changed = models.TextField("record changed", blank=True, help_text="What record it changes.")
    output_recipient = models.TextField("who receives the output", blank=True)
    expected_user_action = models.TextField("expected user action", blank=True)
    override_method = models.TextField("how to override", blank=True)
    override_log_location = models.TextField("where overrides are logged", blank=True)
    downstream_effect = models.TextField("downstream effect", blank=True)
    exception_path = models.TextField(
        "exception path",
        blank=True,
        help_text="What happens when the rule fails or data is missing, and who resolves it.",
    )
    suppression_rule = models.TextField(
        "suppression rule", blank=True, help_text="How repeated alerts or tasks are suppressed."
    )

    # People
    rule_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="rule owner"
    )
    system_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="system owner"
    )
    failure_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="failure owner"
    )
    exception_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="exception owner",
    )
    support_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="support contact",
    )

    data_fields = models.ManyToManyField(
        DataField, blank=True, related_name="automations", verbose_name="data fields used"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="automations", verbose_name="tags")

    # Impact flags (see registry.risk.IMPACT_FLAGS for what each means and the tier it implies)
    affects_customer_communication = models.BooleanField(IMPACT_FLAGS[0].label, default=False)
    affects_forecast_or_board_metrics = models.BooleanField(IMPACT_FLAGS[1].label, default=False)
    reassigns_strategic_ownership = models.BooleanField(IMPACT_FLAGS[2].label, default=False)
    triggers_pricing_workflow = models.BooleanField(IMPACT_FLAGS[3].label, default=False)
    affects_revenue_recognition = models.BooleanField(IMPACT_FLAGS[4].label, default=False)
    merges_records = models.BooleanField(IMPACT_FLAGS[5].label, default=False)
    flags_churn_in_exec_reporting = models.BooleanField(IMPACT_FLAGS[6].label, default=False)
    creates_expansion_pipeline = models.BooleanField(IMPACT_FLAGS[7].label, default=False)
    uses_ai = models.BooleanField(IMPACT_FLAGS[8].label, default=False)
    assigns_ownership = models.BooleanField(IMPACT_FLAGS[9].label, default=False)
    updates_noncritical_fields = models.BooleanField(IMPACT_FLAGS[10].label, default=False)
    creates_internal_tasks = models.BooleanField(IMPACT_FLAGS[11].label, default=False)

    risk_tier_override = models.CharField(
        "risk tier raised to",
        max_length=10,
        choices=RiskTier.choices,
        blank=True,
        help_text="Only ever above the derived tier.",
    )
    risk_tier_override_reason = models.TextField("why the tier was raised", blank=True)
    # Computed by the database from the flags (registry.risk), for filters, sorting and counts;
    # one row's tier and its reasons come from `Automation.tier`.
    risk_floor_rank = models.GeneratedField(
        expression=floor_rank_expression(),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
        verbose_name="derived risk rank (1 low, 3 high)",
    )
    risk_tier_rank = models.GeneratedField(
        expression=tier_rank_expression(),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
        verbose_name="risk rank (1 low, 3 high)",
    )

    # Lifecycle and maturity
    status = models.CharField(
        "lifecycle status", max_length=20, choices=LifecycleStatus.choices, default=LifecycleStatus.PROPOSED
    )
    version = models.PositiveIntegerField(
        "version", default=1, help_text="Goes up with every material change (rule, trigger, fields, impact flags)."
    )
    maturity_stage = models.PositiveSmallIntegerField(
        "maturity stage", choices=MaturityStage.choices, default=MaturityStage.TRIGGERED
    )

    # Review
    review_cadence = models.PositiveSmallIntegerField(
        "review cadence",
        choices=ReviewCadence.choices,
        null=True,
        blank=True,
        help_text="Leave empty to follow the tier's default (high monthly, medium quarterly, low twice a year); "
        "never longer than the tier allows.",
    )
    review_cadence_days = models.GeneratedField(
        expression=cadence_days_expression(),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
        verbose_name="review cadence in days",
    )
    last_reviewed_at = models.DateTimeField("last reviewed", null=True, blank=True)
    last_reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="last reviewed by",
    )
    went_live_at = models.DateTimeField(
        "went live",
        null=True,
        blank=True,
        editable=False,
        help_text="When it last went live (not a resume from paused); a post-launch review is due two weeks later.",
    )

    # Expected run schedule (read by the "did not run" monitor)
    schedule_kind = models.CharField(
        "expected schedule", max_length=10, choices=ScheduleKind.choices, default=ScheduleKind.NONE
    )
    schedule_interval = models.DurationField(
        "runs every", null=True, blank=True, help_text="For example 1:00:00 for hourly."
    )
    schedule_cron = models.CharField(
        "cron expression", max_length=100, blank=True, help_text="For example 0 7 * * 1-5."
    )
    schedule_grace = models.DurationField(
        "grace period", default=timedelta(hours=1), help_text="How late a run may be before it counts as missed."
    )

    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    history = AUTOMATION_HISTORY
    objects = AutomationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            # Each list-page filter and sort has an index.
            models.Index(fields=["team"], name="automation_team_idx"),
            models.Index(fields=["system"], name="automation_system_idx"),
            models.Index(fields=["workflow_type"], name="automation_workflow_idx"),
            models.Index(fields=["status"], name="automation_status_idx"),
            models.Index(fields=["name"], name="automation_name_idx"),
            models.Index(fields=["updated_at"], name="automation_updated_idx"),
            models.Index(fields=["last_reviewed_at"], name="automation_reviewed_idx"),
            models.Index(fields=["risk_tier_rank"], name="automation_tier_idx"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("registry:automation-detail", args=[self.key])

    # --- derived facts for one row (the SQL forms live in registry.selectors) ---------------
    @property
    def impact_flags(self) -> dict[str, bool]:
        return {flag.field: getattr(self, flag.field) for flag in IMPACT_FLAGS}

    @property
    def tier(self) -> TierDerivation:
        """Why the risk tier is what it is: derived from the flags, possibly raised by hand."""
        return derive_tier(self.impact_flags, self.risk_tier_override)

    @property
    def risk_tier(self) -> RiskTier:
        return self.tier.tier

    @property
    def effective_review_cadence(self) -> ReviewCadence:
        if self.review_cadence:
            return ReviewCadence(self.review_cadence)
        return DEFAULT_CADENCE_BY_TIER[self.risk_tier]

    @property
    def owners(self) -> dict[str, object]:
        return {
            "rule_owner": self.rule_owner,
            "system_owner": self.system_owner,
            "failure_owner": self.failure_owner,
            "exception_owner": self.exception_owner,
            "support_contact": self.support_contact,
        }

    def clean(self):
        errors = {}
        if self.schedule_kind == ScheduleKind.INTERVAL and not self.schedule_interval:
            errors["schedule_interval"] = "Say how often it runs, or choose another schedule kind."
        if self.schedule_interval is not None and self.schedule_interval <= timedelta(0):
            errors["schedule_interval"] = "The interval must be longer than zero."
        for name in ("schedule_interval", "schedule_grace"):
            value = getattr(self, name)
            if value is not None and value > MAX_SCHEDULE_DURATION:
                errors[name] = f"At most {MAX_SCHEDULE_DURATION.days} days."
        if self.schedule_kind == ScheduleKind.CRON:
            if not self.schedule_cron:
                errors["schedule_cron"] = "Give the cron expression, for example 0 7 * * 1-5."
            elif not croniter.is_valid(self.schedule_cron):
                errors["schedule_cron"] = (
                    f"“{self.schedule_cron}” is not a valid cron expression (five fields: m h dom mon dow)."
                )
        if self.schedule_grace is not None and self.schedule_grace < timedelta(0):
            errors["schedule_grace"] = "The grace period cannot be negative."
        if refusal := cadence_refusal(self.risk_tier, self.review_cadence):
            errors["review_cadence"] = refusal
        if errors:
            raise ValidationError(errors)


class AutomationReview(models.Model):
    """One review of an automation, as its reviewer recorded it. Append-only: the automation's
    `last_reviewed_at` is the latest of these; the notes say what the review found."""

    automation = models.ForeignKey(Automation, on_delete=models.CASCADE, related_name="reviews")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name="reviewed by"
    )
    reviewed_at = models.DateTimeField("reviewed")
    notes = models.TextField("what the review found")

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        verbose_name = "automation review"
        indexes = [models.Index(fields=["automation", "reviewed_at"], name="automationreview_auto_idx")]

    def __str__(self):
        return f"Review of {self.automation_id} on {self.reviewed_at:%Y-%m-%d}"


class ChangeEvent(models.Model):
    """A business change that demands review of the automations it touches (the guide's Maintenance list)."""

    kind = models.CharField("kind", max_length=30, choices=ChangeEventKind.choices)
    title = models.CharField("what changed", max_length=200)
    description = models.TextField("details", blank=True)
    occurred_on = models.DateField("date of the change")
    automations = models.ManyToManyField(Automation, related_name="change_events", verbose_name="affected automations")
    data_fields = models.ManyToManyField(
        DataField, blank=True, related_name="change_events", verbose_name="data fields changed"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name="recorded by"
    )
    recorded_at = models.DateTimeField("recorded", auto_now_add=True)
    history = CHANGE_EVENT_HISTORY

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = "change event"
        indexes = [models.Index(fields=["recorded_at"], name="changeevent_recorded_idx")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("registry:changeevent-detail", args=[self.pk])


class Hold(models.Model):
    """A stop on an automation placed by a higher layer (a critical health finding) or an admin.

    While any hold is open the permit check answers "blocked"; the registry never needs to know
    which app placed it, only the source and reason."""

    automation = models.ForeignKey(Automation, on_delete=models.PROTECT, related_name="holds")
    source = models.CharField("source", max_length=100, help_text="Who placed it, e.g. manual or health.finding:42.")
    reason = models.TextField("reason")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name="opened by")
    opened_at = models.DateTimeField("opened", auto_now_add=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="released by"
    )
    released_at = models.DateTimeField("released", null=True, blank=True)
    release_note = models.TextField("release note", blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "source"],
                condition=Q(released_at__isnull=True),
                name="hold_one_open_per_source",
                violation_error_message="This source already holds the automation.",
            )
        ]
        indexes = [
            # The permit check asks "any open hold for this automation?".
            models.Index(fields=["automation"], condition=Q(released_at__isnull=True), name="hold_open_idx"),
        ]

    def __str__(self):
        return f"Hold on {self.automation_id} by {self.source}"

    @property
    def is_open(self) -> bool:
        return self.released_at is None


class AppendOnly(models.Model):
    """Refuses updates and deletes: a review or a move, once written, is history."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise PermissionError(f"A {self._meta.verbose_name} is append-only: it is never edited.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(f"A {self._meta.verbose_name} is append-only: it is never deleted.")


class LifecycleMove(AppendOnly):
    """One change of an automation's lifecycle status: from, to, who, why and which gates were
    checked. Written by the one writer of the status (registry.services), every change, whatever
    its path: a lifecycle move through its gate, or a material change sending it back to design."""

    automation = models.ForeignKey(Automation, models.PROTECT, related_name="lifecycle_moves")
    from_status = models.CharField("from", max_length=20, choices=LifecycleStatus.choices)
    to_status = models.CharField("to", max_length=20, choices=LifecycleStatus.choices)
    automation_version = models.PositiveIntegerField("automation version")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", null=True)
    reason = models.TextField("reason")
    gates_checked = models.JSONField(
        "gates checked",
        default=list,
        blank=True,
        help_text="The conditions of the move's gate, each met when it moved.",
    )
    created_at = models.DateTimeField("when", auto_now_add=True)

    class Meta:
        # The table the approvals app created before the registry owned the status's history.
        db_table = "approvals_lifecyclemove"
        ordering = ["-created_at", "-pk"]
        verbose_name = "lifecycle move"
        indexes = [models.Index(fields=["automation", "to_status"], name="move_automation_to_idx")]

    def __str__(self):
        return f"{self.from_status} → {self.to_status}"
