"""Approval packets and their reviews, the readiness checklist, the test plan and its runs,
shadow observations and the record of lifecycle moves.

Reviews and lifecycle moves are domain facts: written once by a service, never edited or deleted."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from registry.models import AppendOnly, Automation, LifecycleMove  # noqa: F401 - LifecycleMove: the registry owns it now

from .choices import PacketState, ReadinessItem, TestKind, TrainingStep, Verdict

# The packet's sections, in the guide's order ("Automation approval packet").
PACKET_SECTIONS = (
    "workflow_step",
    "trigger",
    "rule",
    "owner",
    "exception_path",
    "audit_trail",
    "rollback_steps",
    "rollback_runner",
)


class ApprovalPacket(models.Model):
    """One version of what approvers are asked to approve for an automation."""

    automation = models.ForeignKey(Automation, models.PROTECT, related_name="packets", verbose_name="automation")
    number = models.PositiveIntegerField("packet version")
    state = models.CharField("state", max_length=20, choices=PacketState.choices, default=PacketState.DRAFT)
    automation_version = models.PositiveIntegerField(
        "automation version", null=True, blank=True, help_text="The registry version the packet was submitted for."
    )
    workflow_step = models.TextField(
        "workflow step changed", blank=True, help_text="Which step of the process changes."
    )
    trigger = models.TextField("trigger", blank=True, help_text="When the automation starts.")
    rule = models.TextField("rule", blank=True, help_text="What condition must be true.")
    owner = models.TextField("owner", blank=True, help_text="Who maintains the rule.")
    exception_path = models.TextField("exception path", blank=True, help_text="What happens when the rule fails.")
    audit_trail = models.TextField("audit trail", blank=True, help_text="Where actions are logged.")
    rollback_steps = models.TextField(
        "rollback plan", blank=True, help_text="How to turn it off or revert, step by step."
    )
    rollback_runner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="who runs the rollback",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", null=True)
    created_at = models.DateTimeField("created", auto_now_add=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", null=True, blank=True, verbose_name="submitted by"
    )
    submitted_at = models.DateTimeField("submitted", null=True, blank=True)
    decided_at = models.DateTimeField("decided", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["automation", "-number"]
        verbose_name = "approval packet"
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "number"],
                name="packet_unique_version",
                violation_error_message="This packet version already exists.",
            ),
            models.UniqueConstraint(
                fields=["automation"],
                condition=Q(state="draft"),
                name="packet_one_draft",
                violation_error_message="The automation already has an open draft packet.",
            ),
        ]
        indexes = [
            # The "waiting for me" queue and the gate both look for packets by state.
            models.Index(fields=["state"], name="packet_state_idx"),
            models.Index(fields=["automation", "state", "automation_version"], name="packet_gate_idx"),
        ]

    def __str__(self):
        return f"{self.automation} packet v{self.number}"

    def get_absolute_url(self):
        return reverse("approvals:packet-detail", args=[self.automation.key, self.number])

    @property
    def sections(self) -> dict[str, str]:
        values = {name: getattr(self, name) for name in PACKET_SECTIONS if name != "rollback_runner"}
        values["rollback_runner"] = str(self.rollback_runner) if self.rollback_runner_id else ""
        return values

    @property
    def is_stale(self) -> bool:
        """Submitted for a registry version the automation has since left."""
        return self.automation_version is not None and self.automation_version != self.automation.version


class PacketReview(AppendOnly):
    """One approver's verdict on one packet version: who, when, what, why."""

    packet = models.ForeignKey(ApprovalPacket, models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    verdict = models.CharField("verdict", max_length=20, choices=Verdict.choices)
    comment = models.TextField("comment", blank=True)
    created_at = models.DateTimeField("when", auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "packet review"
        constraints = [
            models.UniqueConstraint(
                fields=["packet", "reviewer"],
                name="review_once_per_person",
                violation_error_message="You have already reviewed this packet version.",
            )
        ]

    def __str__(self):
        return f"{self.get_verdict_display()} by {self.reviewer_id} on packet {self.packet_id}"


class ReadinessTick(models.Model):
    """A person's confirmation of a checklist item or a training step that data cannot prove."""

    automation = models.ForeignKey(Automation, models.PROTECT, related_name="readiness_ticks")
    item = models.CharField("item", max_length=30, choices=[*ReadinessItem.choices, *TrainingStep.choices])
    note = models.TextField("note", help_text="What proves it (a link, a date, who was trained).")
    ticked_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    ticked_at = models.DateTimeField("ticked", auto_now=True)
    automation_version = models.PositiveIntegerField(
        "automation version", help_text="The registry version it was confirmed for; a later version needs it again."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["automation", "item"]
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "item"],
                name="readiness_tick_once",
                violation_error_message="This item is already ticked.",
            )
        ]

    def __str__(self):
        return f"{self.get_item_display()} ticked"


class TestCaseQuerySet(models.QuerySet):
    def with_runs(self):
        """Each case with `run_history`: all its runs, newest first, with who ran them (one more
        query). gates.test_plan and the readiness page read it instead of asking per case."""
        return self.prefetch_related(
            models.Prefetch(
                "runs",
                queryset=TestRun.objects.select_related("run_by").order_by("-run_at", "-pk"),
                to_attr="run_history",
            )
        )


class TestCase(models.Model):
    """One case of the test plan: the situation and the expected result. Its results are its runs
    (TestRun), each against one registry version of the automation."""

    __test__ = False  # not a pytest class

    automation = models.ForeignKey(Automation, models.PROTECT, related_name="test_cases")
    kind = models.CharField("kind", max_length=20, choices=TestKind.choices)
    description = models.TextField("case", help_text="The situation tested.")
    expected = models.TextField("expected result")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    updated_at = models.DateTimeField("updated", auto_now=True)
    history = HistoricalRecords()
    objects = TestCaseQuerySet.as_manager()

    class Meta:
        ordering = ["automation", "kind", "pk"]
        verbose_name = "test case"

    def __str__(self):
        return f"{self.get_kind_display()}: {self.description[:60]}"

    def runs_newest_first(self) -> list["TestRun"]:
        if hasattr(self, "run_history"):
            return self.run_history
        return list(self.runs.select_related("run_by").order_by("-run_at", "-pk"))

    def latest_run(self, version: int) -> "TestRun | None":
        """The latest run against registry version `version` (None: not run for that version)."""
        return next((r for r in self.runs_newest_first() if r.automation_version == version), None)


class TestRun(AppendOnly):
    """One run of a test case against one registry version: who, when, passed or failed, what
    actually happened. Evidence for a version counts for that version only."""

    __test__ = False

    case = models.ForeignKey(TestCase, models.PROTECT, related_name="runs", verbose_name="test case")
    automation_version = models.PositiveIntegerField("automation version")
    passed = models.BooleanField("passed")
    actual = models.TextField("actual result")
    run_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name="run by")
    run_at = models.DateTimeField("run", default=timezone.now)

    class Meta:
        ordering = ["-run_at", "-pk"]
        verbose_name = "test run"
        indexes = [models.Index(fields=["case", "automation_version"], name="testrun_case_version_idx")]

    def __str__(self):
        return f"{'Passed' if self.passed else 'Failed'} at v{self.automation_version} ({self.case_id})"


class ShadowObservation(models.Model):
    """A shadow run: what the automation would have done next to what the human did."""

    automation = models.ForeignKey(Automation, models.PROTECT, related_name="shadow_observations")
    automation_version = models.PositiveIntegerField("automation version")
    event_id = models.CharField("event id", max_length=200)
    automation_action = models.TextField("what the automation would have done")
    human_action = models.TextField("what the human did")
    agreed = models.BooleanField("agreed")
    observed_at = models.DateTimeField("observed")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", null=True)
    created_at = models.DateTimeField("recorded", auto_now_add=True)

    class Meta:
        ordering = ["-observed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "event_id"],
                name="shadow_event_once",
                violation_error_message="This event is already recorded.",
            )
        ]
        indexes = [
            # The live gate aggregates one automation version's observations.
            models.Index(fields=["automation", "automation_version"], name="shadow_version_idx"),
        ]

    def __str__(self):
        return f"Shadow run {self.event_id}"


# The decision queue (approvals/decisions/) keeps its models in its own package.
from .decisions.models import *  # noqa: E402, F403
