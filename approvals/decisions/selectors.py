"""Reads of the decision queue that pages, the API and the automation panel reuse."""

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from revops_gov.roles import can_govern

from .kinds import DecisionStatus
from .models import Decision, DecisionRequest, DeliveryAttempt, OutboxEvent


def request_queryset(*, system: str | None = None) -> QuerySet[DecisionRequest]:
    """Requests with everything a card or the API shows, in one query."""
    queryset = DecisionRequest.objects.select_related(
        "automation",
        "assignee",
        "assignee__manager",
        "escalated_to",
        "created_by",
        "decision",
        "decision__decided_by",
    )
    return queryset.filter(record_system=system) if system else queryset


def _open(queryset, *, user, team: bool):
    queryset = queryset.filter(status=DecisionStatus.OPEN)
    return queryset if team else queryset.filter(Q(assignee=user) | Q(assignee__manager=user))


def queue_for(
    *, user, kind: str = "", automation: str = "", team: bool = False, overdue: bool = False, now=None
) -> QuerySet[DecisionRequest]:
    """Open requests waiting for the user and for the people who report to them (or, for the
    team view, for everyone), due first: overdue ones come first because they were due earliest.
    `overdue` keeps only those past due at `now`."""
    queryset = _open(request_queryset(), user=user, team=team)
    if overdue:
        queryset = queryset.filter(due_at__lt=now or timezone.now())
    if kind:
        queryset = queryset.filter(kind=kind)
    if automation:
        queryset = queryset.filter(automation__key=automation)
    return queryset.order_by("due_at", "pk")


def queue_counts(*, user, team: bool, now) -> dict[str, int]:
    """What `queue_for` lists, counted in one query: all open ("waiting") and past due ("overdue").
    The dashboard's decision tiles show these numbers and link to the page that lists them."""
    return _open(DecisionRequest.objects.order_by(), user=user, team=team).aggregate(
        waiting=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=now))
    )


def history_for(*, user) -> QuerySet[DecisionRequest]:
    """Closed requests: an admin sees all; others theirs, their reports' and what they decided."""
    queryset = request_queryset().exclude(status=DecisionStatus.OPEN)
    if not can_govern(user):
        queryset = queryset.filter(Q(assignee=user) | Q(assignee__manager=user) | Q(decision__decided_by=user))
    return queryset.order_by("-closed_at", "-pk")


def waiting_count(*, user) -> int:
    return DecisionRequest.objects.filter(
        Q(assignee=user) | Q(assignee__manager=user), status=DecisionStatus.OPEN
    ).count()


@dataclass
class OverrideStats:
    decided: int
    overridden: int
    recent: list[Decision]

    @property
    def rate(self) -> float | None:
        return self.overridden / self.decided if self.decided else None


def override_stats(*, automation, recent: int = 5) -> OverrideStats:
    """How often people went against the automation, and why (two queries)."""
    counts = Decision.objects.filter(request__automation=automation).aggregate(
        decided=Count("pk"), overridden=Count("pk", filter=Q(overrides=True))
    )
    latest = list(
        Decision.objects.filter(request__automation=automation, overrides=True)
        .select_related("decided_by", "request")
        .order_by("-decided_at")[:recent]
    )
    return OverrideStats(decided=counts["decided"], overridden=counts["overridden"], recent=latest)


def outbox_queryset() -> QuerySet[OutboxEvent]:
    return (
        OutboxEvent.objects.select_related("integration", "request", "request__automation")
        .prefetch_related(Prefetch("delivery_attempts", queryset=DeliveryAttempt.objects.order_by("-attempted_at")))
        .order_by("-created_at", "-pk")
    )


def decided_via(request) -> str:
    """Where the request's decision was made: "Slack" (a chat button pressed by the decider that
    decided it) or "" (the web page or the API)."""
    decision = getattr(request, "decision", None)
    if decision is None:
        return ""
    press = request.chat_actions.filter(outcome="decided", user_id=decision.decided_by_id).first()
    return press.source.capitalize() if press else ""
