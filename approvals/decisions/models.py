"""The decision queue's records: the request a person decides, the decision (append-only, one per
request), and the outbox that tells the CRM, with every delivery attempt."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from registry.models import Automation
from revops_gov.choices import System
from revops_gov.models import Integration

from .kinds import DecisionKind, DecisionStatus, Option, option_for, options_for

__all__ = ["DecisionRequest", "Decision", "DigestSent", "OutboxEvent", "DeliveryAttempt"]


class DecisionRequest(models.Model):
    """Something an automation proposes that a person must decide, once, with the evidence."""

    automation = models.ForeignKey(
        Automation, on_delete=models.PROTECT, related_name="decision_requests", verbose_name="automation"
    )
    kind = models.CharField("kind", max_length=30, choices=DecisionKind.choices)
    record_system = models.CharField("CRM system", max_length=20, choices=System.choices)
    record_object = models.CharField("CRM object", max_length=80, help_text="e.g. Lead, Account, Opportunity.")
    record_id = models.CharField("CRM record id", max_length=200)
    record_url = models.URLField("link to the record", max_length=500, blank=True)
    why = models.TextField("why it fired", help_text="The reason, in words a manager understands.")
    evidence = models.JSONField("evidence", default=list, blank=True, help_text="A list of {label, value}.")
    proposed_action = models.TextField("proposed action", help_text="What the automation would do, if approved.")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decision_requests", verbose_name="assignee"
    )
    due_at = models.DateTimeField("due")
    expires_at = models.DateTimeField("expires", help_text="Past this moment it expires and the CRM is told.")
    status = models.CharField("status", max_length=20, choices=DecisionStatus.choices, default=DecisionStatus.OPEN)
    escalated_at = models.DateTimeField("escalated", null=True, blank=True)
    escalated_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="escalated to",
    )
    closed_at = models.DateTimeField("closed", null=True, blank=True)
    idempotency_key = models.CharField("idempotency key", max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="created by"
    )
    created_at = models.DateTimeField("created", default=timezone.now)
    updated_at = models.DateTimeField("updated", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["due_at", "pk"]
        verbose_name = "decision request"
        constraints = [
            models.UniqueConstraint(
                fields=["created_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="decisionrequest_unique_idempotency_key",
                violation_error_message="A request with this Idempotency-Key already exists.",
            )
        ]
        indexes = [
            # The queue: open requests of some assignees, by due time.
            models.Index(fields=["assignee", "due_at"], condition=Q(status="open"), name="decision_open_queue_idx"),
            # Escalation and expiry beat tasks scan open requests by due / expiry time.
            models.Index(
                fields=["due_at"], condition=Q(status="open", escalated_at__isnull=True), name="decision_due_idx"
            ),
            models.Index(fields=["expires_at"], condition=Q(status="open"), name="decision_expiry_idx"),
            # Polling: list by updated-since, per system.
            models.Index(fields=["record_system", "updated_at"], name="decision_system_updated_idx"),
            models.Index(fields=["automation", "status"], name="decision_automation_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.record_object} {self.record_id}"

    def get_absolute_url(self):
        return reverse("decisions:detail", args=[self.pk])

    @property
    def options(self) -> tuple[Option, ...]:
        return options_for(self.kind)

    @property
    def is_open(self) -> bool:
        return self.status == DecisionStatus.OPEN

    def is_overdue(self, now=None) -> bool:
        return self.is_open and self.due_at < (now or timezone.now())


class Decision(models.Model):
    """What a person decided. Append-only, and at most one per request (the one-to-one is the
    last line of defence behind the conditional update in `services.decide`)."""

    request = models.OneToOneField(DecisionRequest, on_delete=models.PROTECT, related_name="decision")
    option = models.CharField("option", max_length=40)
    value = models.CharField("value", max_length=200, blank=True)
    reason = models.TextField("reason", blank=True)
    overrides = models.BooleanField("overrides the automation", default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name="decided by"
    )
    decided_at = models.DateTimeField("decided", default=timezone.now)

    class Meta:
        ordering = ["-decided_at"]
        indexes = [models.Index(fields=["decided_at"], name="decision_decided_idx")]

    def __str__(self):
        return f"{self.option} by {self.decided_by}"

    @property
    def option_label(self) -> str:
        option = option_for(self.request.kind, self.option)
        return option.label if option else self.option


class DigestSent(models.Model):
    """One digest per person per day: the unique row is claimed before sending."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField("day")
    count = models.PositiveIntegerField("requests listed", default=0)
    sent_at = models.DateTimeField("sent", default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="decisiondigest_one_per_day")]

    def __str__(self):
        return f"Digest to {self.user_id} on {self.day}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Gave up"


class OutboxEvent(models.Model):
    """An outcome to send to one integration's webhook, written in the same transaction as the
    outcome itself. `event_id` is stable across retries so the CRM can drop duplicates."""

    event_id = models.UUIDField("event id", default=uuid.uuid4, unique=True, editable=False)
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="outbox_events")
    request = models.ForeignKey(DecisionRequest, on_delete=models.PROTECT, related_name="outbox_events")
    event_type = models.CharField("event", max_length=40)
    payload = models.JSONField("payload")
    status = models.CharField("status", max_length=20, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField("attempts", default=0)
    next_attempt_at = models.DateTimeField("next attempt", default=timezone.now)
    delivered_at = models.DateTimeField("delivered", null=True, blank=True)
    last_error = models.TextField("last error", blank=True)
    created_at = models.DateTimeField("created", default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "webhook event"
        indexes = [
            # The sweep: pending rows whose next attempt is due.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="outbox_due_idx"),
        ]

    def __str__(self):
        return f"{self.event_type} {self.event_id}"


class DeliveryAttempt(models.Model):
    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="delivery_attempts")
    attempted_at = models.DateTimeField("attempted", default=timezone.now)
    status_code = models.PositiveSmallIntegerField("HTTP status", null=True, blank=True)
    latency_ms = models.PositiveIntegerField("latency (ms)", default=0)
    error = models.TextField("error", blank=True)
    ok = models.BooleanField("delivered", default=False)

    class Meta:
        ordering = ["-attempted_at", "-pk"]

    def __str__(self):
        return f"Attempt at {self.attempted_at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"


class ChatAction(models.Model):
    """A button pressed in a chat app about a decision request: who (the chat member and the user
    it maps to), which option, and what came of it. The source of decisions made from chat."""

    OUTCOMES = [("decided", "decided"), ("refused", "refused"), ("conflict", "already decided")]

    request = models.ForeignKey(
        DecisionRequest, on_delete=models.CASCADE, related_name="chat_actions", verbose_name="decision request"
    )
    source = models.CharField("source", max_length=10, default="slack")
    member_id = models.CharField("chat member", max_length=40)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="user",
    )
    option = models.CharField("option", max_length=40)
    outcome = models.CharField("outcome", max_length=10, choices=OUTCOMES)
    detail = models.CharField("detail", max_length=500, blank=True)
    at = models.DateTimeField("at", auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.source} {self.member_id}: {self.option} → {self.outcome}"
