"""Scarce alerts: one email when a finding opens (and a webhook POST if configured), nothing
while it stays open or suppressed, one reminder when it is overdue, one escalation to the owner's
manager after that, and a daily digest per person.

Each send happens inside the transaction that marks it sent, holding the finding's row (or the
digest's unique row): a task run twice or by two workers sends nothing twice (the second skips the
locked row, then finds it marked), and a worker killed mid-send, or a mail server that refuses,
marks nothing — the transaction dies with it and the next pass sends it. Never lost; sent twice
only if the worker dies in the instant between the mail server accepting and the commit."""

import json
import logging
import smtplib
import urllib.error
import urllib.request
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from revops_gov.notifications import Line, Section, absolute_url, send_digest, send_notice

from .choices import FindingStatus
from .models import DigestSent, Finding

log = logging.getLogger(__name__)


SEND_ERRORS = (smtplib.SMTPException, OSError)


def _send_once(finding_id: int, column: str, now: datetime, send, **condition) -> bool:
    """Call send(finding) and set `column`, in one transaction holding the finding's row; False
    when another worker holds it, it is already marked, or the condition no longer holds. A send
    that fails (the mail server is down) marks nothing: the next pass tries again."""
    try:
        with transaction.atomic():
            finding = (
                Finding.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("automation", "owner", "owner__manager")
                .filter(pk=finding_id, **{f"{column}__isnull": True}, **condition)
                .first()
            )
            if finding is None:
                return False
            send(finding)
            Finding.objects.filter(pk=finding_id).update(**{column: now})
    except SEND_ERRORS as exc:
        log.warning("Finding %s: %s not sent, retried on the next pass: %s", finding_id, column, exc)
        return False
    return True


def _lines(finding: Finding) -> list[Line]:
    return [
        Line(f"{finding.get_kind_display()} — {finding.automation.name} ({finding.get_severity_display()} severity)"),
        Line(f"Why: {finding.reason}"),
        Line(f"Expected action: {finding.expected_action}"),
        Line(f"Due: {finding.due_at:%Y-%m-%d %H:%M} UTC"),
        Line("Open the finding", finding.get_absolute_url()),
    ]


def finding_payload(finding: Finding) -> dict:
    return {
        "id": finding.pk,
        "automation": finding.automation.key,
        "kind": finding.kind,
        "severity": finding.severity,
        "reason": finding.reason,
        "evidence": finding.evidence,
        "expected_action": finding.expected_action,
        "due_at": finding.due_at.isoformat(),
        "owner": finding.owner.username if finding.owner else None,
        "url": absolute_url(finding.get_absolute_url()),
    }


def webhook_post(url: str, payload: dict) -> bool:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, TimeoutError) as exc:
        log.warning("Findings webhook %s failed: %s", url, exc)
        return False


def findings_alert(*, now: datetime | None = None) -> dict:
    """Send what is due, once: opened, overdue reminder, escalation."""
    now = now or timezone.now()
    sent = {"opened": 0, "reminded": 0, "escalated": 0}
    base = Finding.objects.select_related("automation", "owner", "owner__manager")
    webhook = settings.REVOPS.get("HEALTH_FINDINGS_WEBHOOK_URL")

    def opened(finding):
        if finding.owner:
            send_notice(
                user=finding.owner,
                subject=f"{finding.get_kind_display()}: {finding.automation.name}",
                intro="A health monitor opened a finding on an automation you own. You get this email once.",
                lines=_lines(finding),
            )
        if webhook:
            webhook_post(webhook, finding_payload(finding))

    def reminded(finding):
        send_notice(
            user=finding.owner,
            subject=f"Overdue: {finding.get_kind_display()} on {finding.automation.name}",
            intro="This finding is past its due date. Next, it goes to your manager.",
            lines=_lines(finding),
        )

    def escalated(finding):
        send_notice(
            user=finding.owner.manager,
            subject=f"Escalated: {finding.get_kind_display()} on {finding.automation.name}",
            intro=f"{finding.owner} was reminded and the finding is still open past its due date.",
            lines=_lines(finding),
        )

    for pk in base.filter(status=FindingStatus.OPEN, notified_at__isnull=True).values_list("pk", flat=True):
        sent["opened"] += _send_once(pk, "notified_at", now, opened, status=FindingStatus.OPEN)
    active = (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED)
    for pk in base.filter(
        status__in=active, due_at__lt=now, reminded_at__isnull=True, notified_at__isnull=False, owner__isnull=False
    ).values_list("pk", flat=True):
        sent["reminded"] += _send_once(pk, "reminded_at", now, reminded, status__in=active)
    escalate_before = now - settings.REVOPS["HEALTH_DEFAULTS"]["escalate_after"]
    for pk in base.filter(
        status__in=active,
        reminded_at__lt=escalate_before,
        escalated_at__isnull=True,
        owner__manager__isnull=False,
    ).values_list("pk", flat=True):
        sent["escalated"] += _send_once(pk, "escalated_at", now, escalated, status__in=active)
    return sent


def findings_digest(*, now: datetime | None = None) -> int:
    """One email per person listing their unresolved findings, at most once a day."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    by_owner: dict = {}
    for finding in (
        Finding.objects.filter(status__in=(FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED), owner__isnull=False)
        .select_related("automation", "owner")
        .order_by("due_at")
    ):
        by_owner.setdefault(finding.owner, []).append(finding)
    sent = 0
    for owner, findings in by_owner.items():
        lines = [
            Line(
                f"{f.get_kind_display()} — {f.automation.name}: {f.reason} (due {f.due_at:%Y-%m-%d})",
                f.get_absolute_url(),
            )
            for f in findings
        ]
        # The unique row and the send in one transaction: a second worker waits on the row, then
        # skips; a failed or interrupted send leaves no row, so the next run sends the digest.
        try:
            with transaction.atomic():
                DigestSent.objects.create(user=owner, day=day)
                sent += send_digest(
                    user=owner,
                    subject=f"{len(findings)} open health finding{'s' if len(findings) != 1 else ''}",
                    sections=[Section("Your open findings", lines)],
                )
        except IntegrityError:
            continue
        except SEND_ERRORS as exc:
            log.warning("Findings digest for %s not sent, retried on the next run: %s", owner, exc)
    return sent
