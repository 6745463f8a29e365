"""Delivering decision outcomes to a CRM's webhook: signed, logged, retried with backoff.

The request is a POST of the event as JSON with three headers:

    X-RevOps-Event-Id:  the event id (stable across retries: drop what you already have)
    X-RevOps-Timestamp: seconds since the epoch when this attempt was signed
    X-RevOps-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the webhook secret>

Verify it on the receiving side (Python):

    import hashlib, hmac, time

    def verify(secret: str, body: bytes, timestamp: str, signature: str, tolerance=300) -> bool:
        if abs(time.time() - int(timestamp)) > tolerance:
            return False  # too old: a replay
        expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest("v1=" + expected, signature)

Any 2xx answer is a delivery; anything else (or no answer within the timeout) is retried with
exponential backoff for REVOPS["DECISION_WEBHOOK_RETRY_HOURS"] hours, then the event is marked as
given up (an admin can redeliver it). Delivery is at-least-once.
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import DeliveryAttempt, OutboxEvent, OutboxStatus

EVENT_HEADER = "X-RevOps-Event-Id"
TIMESTAMP_HEADER = "X-RevOps-Timestamp"
SIGNATURE_HEADER = "X-RevOps-Signature"


def _conf(name):
    return settings.REVOPS[name]


def body_of(event: OutboxEvent) -> bytes:
    return json.dumps(event.payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, body: bytes, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(secret: str, body: bytes, timestamp: str, signature_header: str, *, tolerance: int = 300) -> bool:
    """The receiving side's check (also used by the tests' CRM server)."""
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, body, timestamp), signature_header)


def backoff_seconds(attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failure: base, 2×base, 4×base… capped at max."""
    base, cap = _conf("DECISION_WEBHOOK_BACKOFF_BASE_SECONDS"), _conf("DECISION_WEBHOOK_BACKOFF_MAX_SECONDS")
    return min(base * 2 ** max(attempts - 1, 0), cap)


@dataclass
class Outcome:
    result: str  # "delivered" | "retry" | "failed" | "skipped"
    retry_in: float = 0.0


def deliver(event_pk: int) -> Outcome:
    """One delivery attempt of one event, if it is due and nobody else holds it.

    The claim pushes `next_attempt_at` a lease ahead: a worker killed mid-request leaves the row
    pending, and the sweep sends it again once the lease has run out."""
    now = timezone.now()
    lease = timedelta(seconds=_conf("DECISION_WEBHOOK_LEASE_SECONDS"))
    claimed = OutboxEvent.objects.filter(pk=event_pk, status=OutboxStatus.PENDING, next_attempt_at__lte=now).update(
        next_attempt_at=now + lease, attempts=F("attempts") + 1
    )
    if not claimed:
        return Outcome("skipped")
    event = OutboxEvent.objects.select_related("integration").get(pk=event_pk)
    integration = event.integration
    body = body_of(event)
    timestamp = str(int(time.time()))
    status_code, error = None, ""
    started = time.monotonic()
    if not integration.webhook_url:
        error = "The integration has no webhook URL any more."
    else:
        request = urllib.request.Request(
            integration.webhook_url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "RevOps-Governance-Webhook/1",
                EVENT_HEADER: str(event.event_id),
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: signature(integration.webhook_secret, body, timestamp),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=_conf("DECISION_WEBHOOK_TIMEOUT_SECONDS")) as response:
                status_code = response.status
        except urllib.error.HTTPError as exc:
            status_code, error = exc.code, f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            error = f"{exc.__class__.__name__}: {getattr(exc, 'reason', exc)}"
    latency_ms = round((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    finished = timezone.now()
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            event=event, attempted_at=now, status_code=status_code, latency_ms=latency_ms, error=error[:2000], ok=ok
        )
        if ok:
            OutboxEvent.objects.filter(pk=event.pk).update(
                status=OutboxStatus.DELIVERED, delivered_at=finished, last_error=""
            )
            return Outcome("delivered")
        delay = backoff_seconds(event.attempts)
        give_up_at = event.created_at + timedelta(hours=_conf("DECISION_WEBHOOK_RETRY_HOURS"))
        if finished + timedelta(seconds=delay) > give_up_at:
            OutboxEvent.objects.filter(pk=event.pk).update(status=OutboxStatus.FAILED, last_error=error)
            return Outcome("failed")
        OutboxEvent.objects.filter(pk=event.pk).update(
            next_attempt_at=finished + timedelta(seconds=delay), last_error=error
        )
        return Outcome("retry", delay)


def due_event_ids(*, now=None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    return list(
        OutboxEvent.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
