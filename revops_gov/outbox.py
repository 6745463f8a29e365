"""The one outbox: every message to a person or a hook (email now, chat later) is a `Delivery` row.

- Writing: `delivery_enqueue(...)` inserts the row in the caller's transaction (a rolled-back
  change sends nothing) and, after the commit, hands its id to the `outbox.deliver` task. A row
  has a unique `key`: enqueueing the same key again returns the existing row and sends nothing,
  so "one alert per incident per recipient" is a key, not a hope.
- Sending: `deliver(pk)` claims one due row (pushing its next try a lease ahead, so a worker killed
  mid-send leaves it to the sweep), sends it on its channel and records the outcome. Each row is
  sent on its own: one refused recipient or one dropped connection never stops the others, and is
  never marked sent. A failure is retried after REVOPS["OUTBOX_BACKOFF_BASE_SECONDS"], doubling up
  to OUTBOX_BACKOFF_MAX_SECONDS; after OUTBOX_MAX_ATTEMPTS attempts the row is failed (shown on
  /deliveries/, where an admin can resend it).
- The `outbox.sweep` task (beat, every minute) re-enqueues every pending row whose try is due.

Delivery is at-least-once: a worker dying between the mail server's "250 OK" and the row's update
sends that one message again on the next try.
"""

import json
import logging
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from .models import Delivery, DeliveryChannel, DeliveryStatus

log = logging.getLogger(__name__)

# Sent after a delivery is marked sent (receivers get `delivery`): apps record "reminded" then,
# not when they queued the message (health.reminders).
delivery_sent = Signal()


def _conf(name):
    return settings.REVOPS[name]


def backoff_seconds(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failure: base, 2×base, 4×base… capped at max."""
    base, cap = _conf("OUTBOX_BACKOFF_BASE_SECONDS"), _conf("OUTBOX_BACKOFF_MAX_SECONDS")
    return min(base * 2 ** max(attempts - 1, 0), cap)


def delivery_enqueue(
    *,
    kind: str,
    channel: str,
    subject: str,
    payload: dict,
    address: str,
    recipient=None,
    key: str | None = None,
    about: str = "",
    about_url: str = "",
) -> tuple[Delivery, bool]:
    """Queue one message; returns (delivery, created). With a `key` already queued, returns that
    row and queues nothing. A message without an address is stored as failed (visible, never
    silently dropped)."""
    now = timezone.now()
    key = key or f"{kind}:{uuid.uuid4()}"
    existing = Delivery.objects.filter(key=key).first()
    if existing is not None:
        return existing, False
    fields = {
        "kind": kind,
        "channel": channel,
        "subject": subject[:300],
        "payload": payload,
        "address": address or "",
        "recipient": recipient,
        "about": about,
        "about_url": about_url,
        "next_attempt_at": now,
    }
    if not address:
        fields |= {"status": DeliveryStatus.FAILED, "last_error": "No address to send to (the person has no email)."}
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(key=key, **fields)
    except IntegrityError:  # a concurrent run queued the same key first
        return Delivery.objects.get(key=key), False
    if delivery.status == DeliveryStatus.PENDING:
        dispatch([delivery.pk])
    return delivery, True


def dispatch(ids: list[int]) -> None:
    """After the commit, hand the ids to the worker (the sweep covers a broker that is down)."""
    transaction.on_commit(lambda: enqueue_tasks(ids))


def enqueue_tasks(ids) -> None:
    from .tasks import deliver_one

    for pk in ids:
        try:
            deliver_one.apply_async(args=[pk], queue=_conf("OUTBOX_QUEUE"))
        except Exception:  # noqa: BLE001 - the broker being down must not fail the request; the sweep sends it
            log.warning("Delivery %s not handed to the worker; the sweep will send it", pk, exc_info=True)


@dataclass
class Outcome:
    result: str  # "sent" | "retry" | "failed" | "skipped"
    retry_in: float = 0.0


def _send_email(delivery: Delivery) -> None:
    message = EmailMessage(
        subject=delivery.payload.get("subject", delivery.subject),
        body=delivery.payload.get("body", ""),
        to=[delivery.address],
    )
    message.send(fail_silently=False)


def _send_webhook(delivery: Delivery) -> None:
    request = urllib.request.Request(
        delivery.address,
        data=json.dumps(delivery.payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "RevOps-Governance-Outbox/1"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=_conf("OUTBOX_WEBHOOK_TIMEOUT_SECONDS")) as response:
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")


def _send_slack(delivery: Delivery) -> None:
    from .chat import send_slack

    send_slack(delivery)


def _send_teams(delivery: Delivery) -> None:
    from .chat import send_teams

    send_teams(delivery)


SENDERS = {
    DeliveryChannel.EMAIL: _send_email,
    DeliveryChannel.WEBHOOK: _send_webhook,
    DeliveryChannel.SLACK: _send_slack,
    DeliveryChannel.TEAMS: _send_teams,
}


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    text = str(getattr(exc, "recipients", "") or getattr(exc, "reason", "") or exc)
    return f"{exc.__class__.__name__}: {text}"[:2000]


def deliver(pk: int, *, now: datetime | None = None) -> Outcome:
    """One attempt at one delivery, if it is due and nobody else holds it."""
    now = now or timezone.now()
    lease = timedelta(seconds=_conf("OUTBOX_LEASE_SECONDS"))
    claimed = Delivery.objects.filter(pk=pk, status=DeliveryStatus.PENDING, next_attempt_at__lte=now).update(
        next_attempt_at=now + lease, attempts=F("attempts") + 1
    )
    if not claimed:
        return Outcome("skipped")
    delivery = Delivery.objects.get(pk=pk)
    try:
        SENDERS[delivery.channel](delivery)
    except Exception as exc:  # noqa: BLE001 - whatever the channel raised, this row is not sent; the others go on
        error = _error_text(exc)
        log.warning("Delivery %s (%s to %s) failed: %s", pk, delivery.kind, delivery.address, error)
        if delivery.attempts >= _conf("OUTBOX_MAX_ATTEMPTS"):
            Delivery.objects.filter(pk=pk).update(status=DeliveryStatus.FAILED, last_error=error)
            return Outcome("failed")
        delay = backoff_seconds(delivery.attempts)
        if getattr(exc, "seconds", None) is not None:  # chat.RetryAfter: the service said when (429 Retry-After)
            delay = max(float(exc.seconds), 1.0)
        Delivery.objects.filter(pk=pk).update(next_attempt_at=now + timedelta(seconds=delay), last_error=error)
        return Outcome("retry", delay)
    sent_at = timezone.now()
    with transaction.atomic():
        Delivery.objects.filter(pk=pk).update(status=DeliveryStatus.SENT, sent_at=sent_at, last_error="")
        delivery.status, delivery.sent_at = DeliveryStatus.SENT, sent_at
        delivery_sent.send(sender=Delivery, delivery=delivery)
    return Outcome("sent")


def due_ids(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def deliver_due(*, now: datetime | None = None) -> dict[str, int]:
    """Try every due delivery once, in this process (the worker's sweep uses tasks instead)."""
    counts: dict[str, int] = {}
    for pk in due_ids(now=now):
        result = deliver(pk, now=now).result
        counts[result] = counts.get(result, 0) + 1
    return counts


@transaction.atomic
def delivery_resend(*, delivery: Delivery, by) -> Delivery:
    """Queue a delivery again, now, with a fresh count of attempts (an admin's resend)."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.channel == DeliveryChannel.EMAIL and delivery.recipient_id:
        delivery.address = delivery.recipient.email  # the person may have fixed their address since
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.attempts = 0
    delivery.sent_at = None
    delivery.last_error = f"Resend asked by {by}" + (f" (was: {delivery.last_error})" if delivery.last_error else "")
    delivery.save(update_fields=["address", "status", "next_attempt_at", "attempts", "sent_at", "last_error"])
    dispatch([delivery.pk])
    return delivery
