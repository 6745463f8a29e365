from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.urls import reverse
from simple_history.models import HistoricalRecords

from registry.choices import DataFieldStatus, Team, WorkflowType
from revops_gov.choices import System

from .choices import Answer, CandidateStatus, ScoringMethod
from .rules import (
    AGAINST,
    FACTOR_NAMES,
    FACTORS,
    JUDGMENT_FLAGS,
    MAINTENANCE_MEANT,
    QUESTIONS,
    GroupDerivation,
    RaisedFlag,
    Score,
    compute_score,
    derive_flags,
    derive_group,
    signed_weights,
)

ONE_TO_FIVE = [MinValueValidator(1), MaxValueValidator(5)]


class ScoringModel(models.Model):
    """One version of the prioritization weights. Append-only: a change is a new version, with
    who and why; each candidate's score names the version that produced it."""

    version = models.PositiveIntegerField("version", unique=True)
    weight_volume = models.DecimalField("volume weight", max_digits=4, decimal_places=2)
    weight_risk = models.DecimalField("risk weight", max_digits=4, decimal_places=2)
    weight_rule_clarity = models.DecimalField("rule clarity weight", max_digits=4, decimal_places=2)
    weight_data_readiness = models.DecimalField("data readiness weight", max_digits=4, decimal_places=2)
    weight_exception_clarity = models.DecimalField("exception clarity weight", max_digits=4, decimal_places=2)
    weight_user_impact = models.DecimalField("user impact weight", max_digits=4, decimal_places=2)
    weight_maintenance_cost = models.DecimalField("maintenance weight", max_digits=4, decimal_places=2)
    method = models.CharField(
        "method",
        max_length=20,
        choices=ScoringMethod.choices,
        default=ScoringMethod.GUIDE,
        help_text="How the weights are signed; versions before issue 15 §5 counted risk and maintenance against.",
    )
    reason = models.TextField("why this version")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="created by"
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    rescored = models.PositiveIntegerField("candidates re-scored", default=0)

    class Meta:
        ordering = ["-version"]
        verbose_name = "scoring model"

    def __str__(self):
        return f"Scoring model v{self.version}"

    @property
    def weights(self) -> dict[str, Decimal]:
        return {name: getattr(self, f"weight_{name}") for name in FACTOR_NAMES}

    @property
    def counts_against(self) -> frozenset[str]:
        return AGAINST[ScoringMethod(self.method)]

    def weight_rows(self) -> list[tuple]:
        """(factor, signed weight) as this version applies them."""
        signed = signed_weights(self.weights, self.method)
        return [(f, signed[f.name]) for f in FACTORS]

    @property
    def maintenance_meant(self) -> str:
        return MAINTENANCE_MEANT[ScoringMethod(self.method)]


# Kept by name: services write a candidate's version themselves, after its data fields are set,
# so one edit is one version (as registry.models.AUTOMATION_HISTORY).
CANDIDATE_HISTORY = HistoricalRecords(m2m_fields=["data_fields"])


class Candidate(models.Model):
    """A requested automation, scored before anyone builds it (the guide's automation backlog)."""

    # What and why
    title = models.CharField("workflow", max_length=200, help_text="The workflow to automate, in a few words.")
    workflow_type = models.CharField("workflow type", max_length=30, choices=WorkflowType.choices)
    pain_point = models.TextField("pain point", help_text="What goes wrong today, and for whom.")
    team = models.CharField("team", max_length=20, choices=Team.choices)
    system = models.CharField("system", max_length=20, choices=System.choices)
    trigger = models.TextField("trigger", blank=True, help_text="When it would start.")
    rule = models.TextField("rule", blank=True, help_text="What condition and what action, in one sentence.")
    exception_path = models.TextField(
        "exception path", blank=True, help_text="What happens to edge cases, and who resolves them."
    )
    notes = models.TextField("notes", blank=True)

    # People
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="requested_candidates", verbose_name="requested by"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="rule owner"
    )
    maintenance_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="maintenance owner",
    )
    exception_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="exception owner",
        help_text="Named owner for edge cases.",
    )

    # Volume and expected value, each with its unit
    volume_per_month = models.PositiveIntegerField("volume (runs per month)", default=0)
    time_saved_hours_per_month = models.DecimalField(
        "time saved (hours per month)", max_digits=8, decimal_places=1, default=Decimal("0")
    )
    sla_improvement_hours = models.DecimalField(
        "SLA improvement (hours faster)", max_digits=8, decimal_places=1, default=Decimal("0")
    )
    errors_avoided_per_month = models.PositiveIntegerField("errors avoided (records per month)", default=0)
    risk_reduction_per_year = models.DecimalField(
        "risk reduction (revenue at risk per year)",
        max_digits=12,
        decimal_places=0,
        default=Decimal("0"),
        help_text="Revenue, renewal or finance exposure the automation protects, per year.",
    )
    data_fields = models.ManyToManyField(
        "registry.DataField", blank=True, related_name="candidates", verbose_name="data fields it would use"
    )

    status = models.CharField("status", max_length=20, choices=CandidateStatus.choices, default=CandidateStatus.NEW)
    status_reason = models.TextField("why (decline, defer, reopen)", blank=True)

    # Decision matrix: each question answered yes / partly / no ("" = not answered yet), with a note
    rule_clear = models.CharField(QUESTIONS[0].label, max_length=10, choices=Answer.choices, blank=True)
    rule_clear_note = models.TextField("note on the rule", blank=True)
    data_reliable = models.CharField(QUESTIONS[1].label, max_length=10, choices=Answer.choices, blank=True)
    data_reliable_note = models.TextField("note on the data", blank=True)
    data_override_reason = models.TextField(
        "why the data counts as reliable despite an untrusted field",
        blank=True,
        help_text="Only when a linked field is unstable or deprecated and you still answer yes.",
    )
    exception_known = models.CharField(QUESTIONS[2].label, max_length=10, choices=Answer.choices, blank=True)
    exception_known_note = models.TextField("note on exceptions", blank=True)
    value_measurable = models.CharField(QUESTIONS[3].label, max_length=10, choices=Answer.choices, blank=True)
    value_measurable_note = models.TextField("note on the value", blank=True)

    # Judgment flags (rules.JUDGMENT_FLAGS): any of them keeps the work human
    judgment_strategy = models.BooleanField(JUDGMENT_FLAGS[0].label, default=False)
    judgment_complex_deal = models.BooleanField(JUDGMENT_FLAGS[1].label, default=False)
    judgment_customer_relationship = models.BooleanField(JUDGMENT_FLAGS[2].label, default=False)
    judgment_discount_exception = models.BooleanField(JUDGMENT_FLAGS[3].label, default=False)
    judgment_icp_change = models.BooleanField(JUDGMENT_FLAGS[4].label, default=False)
    judgment_forecast_override = models.BooleanField(JUDGMENT_FLAGS[5].label, default=False)
    judgment_sensitive_communication = models.BooleanField(JUDGMENT_FLAGS[6].label, default=False)
    judgment_unaudited_data_change = models.BooleanField(JUDGMENT_FLAGS[7].label, default=False)
    human_assist = models.TextField(
        "human-assist suggestion",
        blank=True,
        help_text="For work that stays human: a summary, a template or a reminder that helps.",
    )

    # Prioritization factors, 1–5 (empty = not scored yet)
    factor_volume = models.PositiveSmallIntegerField("volume", null=True, blank=True, validators=ONE_TO_FIVE)
    factor_risk = models.PositiveSmallIntegerField("risk", null=True, blank=True, validators=ONE_TO_FIVE)
    factor_rule_clarity = models.PositiveSmallIntegerField(
        "rule clarity", null=True, blank=True, validators=ONE_TO_FIVE
    )
    factor_data_readiness = models.PositiveSmallIntegerField(
        "data readiness", null=True, blank=True, validators=ONE_TO_FIVE
    )
    factor_exception_clarity = models.PositiveSmallIntegerField(
        "exception clarity", null=True, blank=True, validators=ONE_TO_FIVE
    )
    factor_user_impact = models.PositiveSmallIntegerField("user impact", null=True, blank=True, validators=ONE_TO_FIVE)
    # Named "cost" before issue 15 §5; the guide's criterion is supportability: 5 = easy to
    # support after launch (scores of older versions keep their own reading, see ScoringModel.method).
    factor_maintenance_cost = models.PositiveSmallIntegerField(
        "maintenance", null=True, blank=True, validators=ONE_TO_FIVE
    )

    # The score is stored so the board sorts in SQL; it is re-computed (set-based) whenever the
    # factors or the weights change, and `scoring_model` says which weights produced it.
    score = models.DecimalField("score", max_digits=8, decimal_places=2, null=True, blank=True)
    scoring_model = models.ForeignKey(
        ScoringModel, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="scored with"
    )

    automation = models.OneToOneField(
        "registry.Automation",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="backlog_candidate",
        verbose_name="promoted to",
    )
    promoted_at = models.DateTimeField("promoted", null=True, blank=True)
    promoted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="promoted by"
    )

    created_at = models.DateTimeField("requested", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    history = CANDIDATE_HISTORY

    class Meta:
        ordering = [F("score").desc(nulls_last=True), "-time_saved_hours_per_month", "-risk_reduction_per_year", "pk"]
        indexes = [
            # The board's filters and its sort.
            models.Index(fields=["status", "score"], name="candidate_status_score_idx"),
            models.Index(fields=["team"], name="candidate_team_idx"),
            models.Index(fields=["system"], name="candidate_system_idx"),
            models.Index(fields=["requester"], name="candidate_requester_idx"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("backlog:candidate-detail", args=[self.pk])

    # --- derived facts for one row (the SQL forms are in rules.group_expression / flag_q) ----
    @property
    def is_open(self) -> bool:
        return self.status in (CandidateStatus.NEW, CandidateStatus.TRIAGED, CandidateStatus.DEFERRED)

    @property
    def factors(self) -> dict[str, int | None]:
        return {name: getattr(self, f"factor_{name}") for name in FACTOR_NAMES}

    @property
    def untrusted_fields(self) -> list:
        """Reads `data_fields.all()`, so prefetch it for lists."""
        return [f for f in self.data_fields.all() if f.status != DataFieldStatus.TRUSTED]

    @property
    def derivation(self) -> GroupDerivation:
        return derive_group(
            judgment={flag.field: getattr(self, flag.field) for flag in JUDGMENT_FLAGS},
            answers={q.field: getattr(self, q.field) for q in QUESTIONS},
            untrusted_fields=[(f.qualified_name, f.get_status_display()) for f in self.untrusted_fields],
            data_override_reason=self.data_override_reason,
            exception_owner_named=self.exception_owner_id is not None,
        )

    @property
    def group(self):
        return self.derivation.group

    @property
    def flags(self) -> list[RaisedFlag]:
        return derive_flags(factors=self.factors, risk_reduction=self.risk_reduction_per_year)

    @property
    def score_breakdown(self) -> Score:
        """The stored score's arithmetic, with the weights of the version that produced it."""
        if self.scoring_model_id is None:
            return compute_score(self.factors, {name: Decimal("0") for name in FACTOR_NAMES})
        model = self.scoring_model
        return compute_score(self.factors, model.weights, version=model.version, method=model.method)

    def score_with(self, model: "ScoringModel") -> Score:
        """What this candidate's factors give under `model` (the current version, beside the
        stored score of an older one)."""
        return compute_score(self.factors, model.weights, version=model.version, method=model.method)

    @property
    def override(self) -> "PromotionOverride | None":
        """The promotion's override of the defer / avoid flags, if there was one."""
        try:
            return self.promotion_override
        except PromotionOverride.DoesNotExist:
            return None

    def answers(self) -> list[tuple]:
        return [(q, getattr(self, q.field), getattr(self, f"{q.field}_note")) for q in QUESTIONS]

    def judgment_flags(self) -> list[str]:
        return [flag.label for flag in JUDGMENT_FLAGS if getattr(self, flag.field)]


class PromotionOverride(models.Model):
    """A promotion despite the guide's defer or avoid flag: who decided it, when, why, and which
    flags were raised at that moment. Written by services.candidate_promote, never edited."""

    candidate = models.OneToOneField(
        Candidate, models.PROTECT, related_name="promotion_override", verbose_name="candidate"
    )
    flags = models.JSONField("flags overridden", help_text="The flags raised when it was promoted (defer, avoid).")
    rules = models.JSONField("the rules that raised them", default=list)
    reason = models.TextField("why promote despite the flags")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name="overridden by"
    )
    created_at = models.DateTimeField("overridden", auto_now_add=True)

    class Meta:
        verbose_name = "promotion override"

    def __str__(self):
        return f"Override of {', '.join(self.flags)} for candidate #{self.candidate_id}"
