"""Review reminders: when an automation's review is past due (registry.review: cadence passed,
post-launch review owed, a change event or a field change since the last review), its rule owner
gets one reminder; if nobody records a review within the grace period
(REVOPS["HEALTH_REVIEW_ESCALATE_AFTER"]), the owner's manager is told, once. Everything one run
sends to one person goes in ONE digest email.

Idempotent: each cycle's reminder is a `ReviewReminder` row whose unique key (automation, cycle
start) is claimed by an insert, and each escalation by a conditional update, all in one
transaction with the digests' deliveries in the outbox (revops_gov.outbox); a second run, or a
second worker at the same time, finds them taken and queues nothing. The outbox sends the
digests after the commit and retries what the mail server refuses; a reminder is recorded as sent
(`reminded_at`, which the escalation's grace period counts from) only when its delivery was sent
(health.receivers)."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, Exists, F, OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone

from registry.models import Automation
from registry.review import annotate_review_due, review_status
from registry.selectors import automation_queryset
from revops_gov.models import Delivery, DeliveryStatus
from revops_gov.notifications import Line, Section, send_digest

from .models import ReviewReminder


@dataclass
class _Digest:
    reminders: list[Line] = field(default_factory=list)
    reminder_ids: list[int] = field(default_factory=list)
    escalations: list[Line] = field(default_factory=list)


def _due_automations(now: datetime):
    return annotate_review_due(Automation.objects.order_by(), now=now).filter(review_due=True)


def _remind(now: datetime, digests: dict) -> int:
    """Claim the reminder of every overdue cycle not yet reminded; returns how many."""
    already = ReviewReminder.objects.filter(automation=OuterRef("pk"), cycle_start=OuterRef("review_base"))
    due = (
        automation_queryset(now=now)
        .filter(review_due=True, rule_owner__isnull=False)
        .exclude(Exists(already))
        .prefetch_related("change_events")
        .order_by("name")
    )
    count = 0
    for automation in due:
        reasons = review_status(automation, now=now).reasons
        try:
            with transaction.atomic():
                reminder = ReviewReminder.objects.create(
                    automation=automation,
                    cycle_start=automation.review_base,
                    owner=automation.rule_owner,
                    reasons=reasons,
                )
        except IntegrityError:
            continue  # another run reminded this cycle first
        digests[automation.rule_owner].reminder_ids.append(reminder.pk)
        digests[automation.rule_owner].reminders.append(
            Line(f"{automation.name}: {'; '.join(reasons)}", automation.get_absolute_url())
        )
        count += 1
    return count


def _escalate(now: datetime, digests: dict) -> int:
    """Escalate, once, every reminder of a still-open, still-due cycle older than the grace period."""
    grace = settings.REVOPS["HEALTH_REVIEW_ESCALATE_AFTER"]
    waiting = (
        ReviewReminder.objects.filter(
            escalated_at__isnull=True,
            reminded_at__lte=now - grace,
            owner__manager__isnull=False,
            automation__in=_due_automations(now).values("pk"),
        )
        .annotate(
            current_base=Coalesce(
                "automation__last_reviewed_at", "automation__created_at", output_field=DateTimeField()
            )
        )
        .filter(cycle_start=F("current_base"))
        .select_related("automation", "owner__manager")
        .order_by("automation__name")
    )
    count = 0
    for reminder in waiting:
        manager = reminder.owner.manager
        claimed = ReviewReminder.objects.filter(pk=reminder.pk, escalated_at__isnull=True).update(
            escalated_at=now, escalated_to=manager
        )
        if claimed != 1:
            continue
        automation = reminder.automation
        digests[manager].escalations.append(
            Line(
                f"{automation.name} — rule owner {reminder.owner}, reminded {reminder.reminded_at:%Y-%m-%d}, "
                f"still not reviewed: {'; '.join(reminder.reasons)}",
                automation.get_absolute_url(),
            )
        )
        count += 1
    return count


def _send(digests: dict, now: datetime) -> None:
    grace_days = settings.REVOPS["HEALTH_REVIEW_ESCALATE_AFTER"].days
    for person, digest in digests.items():
        n = len(digest.reminders) + len(digest.escalations)
        key = f"review_reminders:user:{person.pk}:{now.isoformat()}:{min(digest.reminder_ids, default=0)}"
        send_digest(
            user=person,
            subject=f"{n} automation review{'s' if n != 1 else ''} overdue",
            intro=(
                "Each automation below is due for review. Open it, check the rule still matches the business, "
                "and record the review with what you found."
            ),
            sections=[
                Section(
                    f"You own these rules (your manager is told if they are not reviewed within {grace_days} days)",
                    digest.reminders,
                ),
                Section("Escalated to you: your reports were reminded and have not reviewed", digest.escalations),
            ],
            key=key,
            kind="review_reminders",
        )
        delivery = Delivery.objects.get(key=key)
        ReviewReminder.objects.filter(pk__in=digest.reminder_ids).update(delivery=delivery)
        if delivery.status == DeliveryStatus.SENT:  # an outbox that tries at once sent it before the link
            ReviewReminder.objects.filter(pk__in=digest.reminder_ids).update(reminded_at=delivery.sent_at)


def review_reminders_send(*, now: datetime | None = None) -> dict:
    """Remind, escalate and send the digests of one run; safe to run twice or concurrently."""
    now = now or timezone.now()
    digests: dict = defaultdict(_Digest)
    with transaction.atomic():
        reminded = _remind(now, digests)
        escalated = _escalate(now, digests)
        # In the same transaction: a rolled-back run queues no email; the outbox sends after the commit.
        _send(digests, now)
    return {"reminded": reminded, "escalated": escalated, "digests": len(digests)}


def review_reminders_for(*, automation: Automation, limit: int = 5) -> list[ReviewReminder]:
    """The latest reminders of one automation (the panel on its page), one query."""
    return list(ReviewReminder.objects.filter(automation=automation).select_related("owner", "escalated_to")[:limit])
