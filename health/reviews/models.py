"""The monthly health review: one `HealthReview` per calendar month (the unique month is the
claim that makes it exactly once), one `HealthReviewRow` per automation reviewed. A row keeps the
month's numbers (re-computed while late events arrive), what the registry said, the recommendation
decided from them (a column, to filter and count by) and the admin's confirmation, which a
re-computation never touches. The reasons are derived from the same numbers and facts with the
review's thresholds whenever they are shown (health.reviews.rules), never stored."""

from functools import cached_property

from django.conf import settings
from django.db import models
from django.urls import reverse
from simple_history.models import HistoricalRecords

from registry.models import Automation

from . import rules
from .choices import Recommendation

__all__ = ["HealthReview", "HealthReviewRow", "Recommendation"]


class HealthReview(models.Model):
    """The review of one calendar month."""

    month = models.DateField("month", help_text="The first day of the month reviewed.")
    created_at = models.DateTimeField("created")
    computed_at = models.DateTimeField("numbers computed")
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name="computed by"
    )
    computations = models.PositiveIntegerField("times computed", default=1)
    thresholds = models.JSONField(
        "thresholds", default=dict, blank=True, help_text="The recommendation thresholds it was computed with."
    )

    class Meta:
        ordering = ["-month"]
        verbose_name = "health review"
        constraints = [
            models.UniqueConstraint(
                fields=["month"],
                name="healthreview_one_per_month",
                violation_error_message="This month already has its health review.",
            )
        ]

    def __str__(self):
        return f"Health review {self.month:%B %Y}"

    def get_absolute_url(self):
        return reverse("reviews:detail", kwargs={"year": self.month.year, "month": self.month.month})


class HealthReviewRow(models.Model):
    """One automation in one month's review."""

    review = models.ForeignKey(HealthReview, models.CASCADE, related_name="rows", verbose_name="review")
    automation = models.ForeignKey(
        Automation, models.PROTECT, related_name="health_review_rows", verbose_name="automation"
    )
    status = models.CharField(
        "lifecycle status at the month's end",
        max_length=20,
        help_text="Read from the lifecycle moves: the status it had when the month ended.",
    )

    # The month's numbers (health run events, findings, decision requests), re-computed in place.
    runs = models.PositiveIntegerField("runs", default=0)
    failures = models.PositiveIntegerField("failures", default=0)
    overrides = models.PositiveIntegerField("overrides", default=0, help_text="Runs overridden + decisions overridden.")
    decision_requests = models.PositiveIntegerField("decision requests", default=0)
    decisions_made = models.PositiveIntegerField("decisions made", default=0)
    alerts_sent = models.PositiveIntegerField("alerts sent", default=0)
    alerts_ignored = models.PositiveIntegerField("alerts ignored", default=0)
    tasks_created = models.PositiveIntegerField("tasks created", default=0)
    tasks_completed = models.PositiveIntegerField("tasks completed", default=0)
    manual_corrections = models.PositiveIntegerField("manual corrections", default=0)
    exceptions = models.PositiveIntegerField("exceptions", default=0)
    findings_opened = models.PositiveIntegerField("findings opened", default=0)
    duplicate_runs = models.PositiveIntegerField("runs duplicating another automation", default=0)
    # Value (the guide's "Measuring automation value").
    avg_response_seconds = models.PositiveIntegerField("average response time (s)", null=True, blank=True)
    sla_measured = models.PositiveIntegerField("runs with an SLA", default=0)
    sla_met = models.PositiveIntegerField("SLA met", default=0)
    duplicates_found = models.PositiveIntegerField("duplicates found", default=0)
    handoffs_measured = models.PositiveIntegerField("handoffs", default=0)
    handoffs_complete = models.PositiveIntegerField("handoffs complete", default=0)
    data_quality_issues = models.PositiveIntegerField("data-quality issues", default=0)
    maintenance_minutes = models.PositiveIntegerField("admin maintenance (min)", default=0)
    bad_data_failures = models.PositiveIntegerField("failures reporting a data-quality issue", default=0)
    # What the registry said when computed (owners, fields, change events, duplicates), and the
    # recommendation decided from it and the numbers.
    facts = models.JSONField("registry facts", default=dict, blank=True)
    noisy = models.BooleanField("noisy", default=False, help_text="More alerts than decisions or actions.")
    recommendation = models.CharField("recommendation", max_length=10, choices=Recommendation.choices)

    # The admin's confirmation: never touched by a re-computation.
    decision = models.CharField("confirmed action", max_length=10, choices=Recommendation.choices, blank=True)
    note = models.TextField("note", blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="confirmed by"
    )
    confirmed_at = models.DateTimeField("confirmed", null=True, blank=True)
    lifecycle_move = models.CharField("lifecycle move made", max_length=100, blank=True)
    confirmed_thresholds = models.JSONField(
        "thresholds confirmed with",
        null=True,
        blank=True,
        help_text="The reasons of a confirmed row are derived with these.",
    )
    # A confirmed row is frozen: a re-computation writes its new figures here, beside it, and flags
    # the difference; the confirmed numbers, facts, recommendation and reasons never change.
    recomputed = models.JSONField("figures re-computed after the confirmation", null=True, blank=True)
    recomputed_at = models.DateTimeField("re-computed after the confirmation", null=True, blank=True)
    figures_changed = models.BooleanField(
        "figures changed since confirmed", default=False, help_text="The latest re-computation differs from the row."
    )
    history = HistoricalRecords(excluded_fields=["facts", "recomputed"])

    class Meta:
        ordering = ["automation__name"]
        verbose_name = "health review row"
        constraints = [
            models.UniqueConstraint(
                fields=["review", "automation"],
                name="healthreviewrow_one_per_automation",
                violation_error_message="This automation is already in this month's review.",
            )
        ]
        indexes = [
            # The trend reads one automation's rows across months.
            models.Index(fields=["automation", "review"], name="reviewrow_automation_idx"),
            models.Index(fields=["review", "recommendation"], name="reviewrow_recommendation_idx"),
        ]

    def __str__(self):
        return f"{self.automation} in {self.review}"

    def get_absolute_url(self):
        return reverse("reviews:row", args=[self.pk])

    # --- rates, derived from the counts (never stored) -----------------------------------
    @staticmethod
    def _share(part, whole):
        return part / whole if whole else None

    @property
    def failure_rate(self):
        return self._share(self.failures, self.runs)

    @property
    def override_rate(self):
        return self._share(self.overrides, self.runs + self.decisions_made)

    @property
    def ignored_rate(self):
        return self._share(self.alerts_ignored, self.alerts_sent + self.decision_requests)

    @property
    def sla_rate(self):
        return self._share(self.sla_met, self.sla_measured)

    @property
    def handoff_rate(self):
        return self._share(self.handoffs_complete, self.handoffs_measured)

    @property
    def is_confirmed(self) -> bool:
        return bool(self.confirmed_at)

    @property
    def review_input(self) -> rules.ReviewInput:
        """The row's counts and facts as the rules read them."""
        return rules.review_input(
            counts={name: getattr(self, name) for name in rules.COUNT_FIELDS},
            facts=self.facts,
            status=self.status,
            month_label=f"{self.review.month:%B %Y}",
        )

    @property
    def limits(self) -> dict | None:
        """The thresholds the reasons are derived with: those it was confirmed with (frozen), else
        the review's."""
        return (self.confirmed_thresholds if self.is_confirmed else self.review.thresholds) or None

    @cached_property
    def verdict(self) -> rules.Verdict:
        """The recommendation's reasons, derived from the row with its thresholds (self.limits)."""
        return rules.recommend(self.review_input, self.limits)

    @property
    def reasons(self) -> list:
        """Every reason, strongest first: the first produced the recommendation."""
        return self.verdict.reasons

    @property
    def questions(self) -> list[dict]:
        """The review questions, answered from this row's numbers and facts (health.reviews.rules)."""
        return rules.questions(self.review_input, self.recommendation)

    @property
    def recomputed_changes(self) -> list[dict]:
        """What the latest re-computation after the confirmation found different, as (label, confirmed,
        now) — the confirmed figures themselves never change."""
        if not (self.figures_changed and self.recomputed):
            return []
        figures = self.recomputed.get("figures", {})
        out = []
        for name in self.recomputed.get("differs", []):
            if name == "recommendation":
                label, was, now = "recommendation", self.get_recommendation_display(), Recommendation(
                    self.recomputed["recommendation"]).label  # fmt: skip
            elif name in figures:
                label, was, now = self._meta.get_field(name).verbose_name, getattr(self, name), figures[name]
            else:
                label, was, now = name.replace("_", " "), self.facts.get(name), self.recomputed["facts"].get(name)
            out.append({"name": name, "label": label, "confirmed": was, "now": now})
        return out
