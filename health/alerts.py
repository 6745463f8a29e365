"""Scarce alerts: one email to each recipient when a finding opens (and a webhook POST if
configured), nothing while it stays open or suppressed, one reminder when it is overdue, one
escalation to the owner's manager after that, and a daily digest per person listing only what
changed since their last digest.

Every message is a delivery in the one outbox (revops_gov.outbox) with a unique key
"health.finding:<id>:<alert|reminder|escalation>:<user:<id>|webhook>" (`finding_delivery_enqueue`,
the one way to send about a finding): a pass run twice, by two workers, or after a crash queues
nothing twice. The finding's column (notified_at…) is set in the transaction that writes the
deliveries, holding the finding's row; a worker sends them after the commit and retries what the
mail server or the webhook refuses, so a failure is never swallowed and never marked sent."""

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from revops_gov.models import Delivery, DeliveryChannel
from revops_gov.notifications import Line, Section, absolute_url, send_digest, send_notice
from revops_gov.outbox import delivery_enqueue
from revops_gov.roles import GOVERN

from .choices import FindingStatus
from .models import DigestSent, Finding

log = logging.getLogger(__name__)

DIGEST_KIND = "findings_digest"
SUBJECTS = {
    "alert": "{kind}: {name}",
    "reminder": "Overdue: {kind} on {name}",
    "escalation": "Escalated: {kind} on {name}",
}


def admins() -> list:
    """The active RevOps admins (the govern capability, or superusers), the last resort."""
    app_label, codename = GOVERN.split(".")
    perm = Q(content_type__app_label=app_label, codename=codename)
    governing = Permission.objects.filter(perm)
    return list(
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__permissions__in=governing) | Q(user_permissions__in=governing))
        .distinct()
        .order_by("pk")
    )


def finding_recipients(finding: Finding) -> tuple[list, str]:
    """Who is told about a finding and why (issue 16 §1): its failure owner, else the system
    owner, else the rule owner, else the admins — never nobody."""
    automation = finding.automation
    roles = (
        ("failure owner", automation.failure_owner_id),
        ("system owner", automation.system_owner_id),
        ("rule owner", automation.rule_owner_id),
    )
    missing = []
    if finding.owner is not None and finding.owner.is_active:
        for label, pk in roles:
            if pk == finding.owner_id:
                break
            if pk is None:
                missing.append(label)
        else:
            return [finding.owner], "the finding's owner"
        why = f"the {label}" + (f" (no {' or '.join(missing)} named)" if missing else "")
        return [finding.owner], why
    for label, person in (
        ("failure owner", automation.failure_owner),
        ("system owner", automation.system_owner),
        ("rule owner", automation.rule_owner),
    ):
        if person is not None and person.is_active:
            why = f"the {label}" + (f" (no {' or '.join(missing)} named)" if missing else "")
            return [person], why
        missing.append(label)
    people = admins()
    if not people:
        log.error("Finding %s reaches nobody: no owner and no active RevOps admin", finding.pk)
    return people, "the RevOps admins (no failure, system or rule owner named)"


def alert_recipients(finding: Finding) -> list:
    """Who is told about a finding (the opening alert and the overdue reminder)."""
    return finding_recipients(finding)[0]


def delivery_key(finding: Finding, kind: str, recipient=None) -> str:
    """The unique key of one message about one finding to one recipient (None: the webhook)."""
    return f"health.finding:{finding.pk}:{kind}:{f'user:{recipient.pk}' if recipient else 'webhook'}"


def finding_delivery_enqueue(*, finding: Finding, kind: str, recipient=None, intro: str = "") -> bool:
    """Queue the `kind` message ("alert", "reminder", "escalation") about `finding` to `recipient`
    (a user; None: the findings webhook), once ever: True when it was queued now."""
    key = delivery_key(finding, kind, recipient)
    about, about_url = f"health.finding:{finding.pk}", finding.get_absolute_url()
    if recipient is None:
        _, created = delivery_enqueue(
            kind=kind,
            channel=DeliveryChannel.WEBHOOK,
            address=settings.REVOPS.get("HEALTH_FINDINGS_WEBHOOK_URL") or "",
            subject=f"Finding {finding.pk} {kind}",
            payload=finding_payload(finding),
            key=key,
            about=about,
            about_url=about_url,
        )
        return created
    subject = SUBJECTS[kind].format(kind=finding.get_kind_display(), name=finding.automation.name)
    return send_notice(
        user=recipient,
        subject=subject,
        intro=intro,
        lines=_lines(finding),
        key=key,
        kind=kind,
        about=about,
        about_url=about_url,
    )


def _mark_once(finding_id: int, column: str, now: datetime, send, **condition) -> bool:
    """Call send(finding) (which queues its deliveries) and set `column`, in one transaction
    holding the finding's row; False when another worker holds it, it is already marked, or the
    condition no longer holds."""
    with transaction.atomic():
        finding = (
            Finding.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related(
                "automation",
                "owner",
                "owner__manager",
                "automation__failure_owner",
                "automation__system_owner",
                "automation__rule_owner",
            )
            .filter(pk=finding_id, **{f"{column}__isnull": True}, **condition)
            .first()
        )
        if finding is None:
            return False
        send(finding)
        Finding.objects.filter(pk=finding_id).update(**{column: now})
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


def findings_alert(*, now: datetime | None = None) -> dict:
    """Send what is due, once: opened, overdue reminder, escalation."""
    now = now or timezone.now()
    sent = {"opened": 0, "reminded": 0, "escalated": 0}
    base = Finding.objects.select_related("automation", "owner", "owner__manager")
    webhook = settings.REVOPS.get("HEALTH_FINDINGS_WEBHOOK_URL")

    def opened(finding):
        people, why = finding_recipients(finding)
        for person in people:
            finding_delivery_enqueue(
                finding=finding,
                kind="alert",
                recipient=person,
                intro=f"A health monitor opened a finding on an automation; you are told as {why}. "
                "You get this email once.",
            )
        if webhook:
            finding_delivery_enqueue(finding=finding, kind="alert", recipient=None)

    def reminded(finding):
        for person in alert_recipients(finding):
            finding_delivery_enqueue(
                finding=finding,
                kind="reminder",
                recipient=person,
                intro="This finding is past its due date. Next, it goes to your manager.",
            )

    def escalated(finding):
        finding_delivery_enqueue(
            finding=finding,
            kind="escalation",
            recipient=finding.owner.manager,
            intro=f"{finding.owner} was reminded and the finding is still open past its due date.",
        )

    for pk in base.filter(status=FindingStatus.OPEN, notified_at__isnull=True).values_list("pk", flat=True):
        sent["opened"] += _mark_once(pk, "notified_at", now, opened, status=FindingStatus.OPEN)
    active = (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED)
    for pk in base.filter(
        status__in=active, due_at__lt=now, reminded_at__isnull=True, notified_at__isnull=False
    ).values_list("pk", flat=True):
        sent["reminded"] += _mark_once(pk, "reminded_at", now, reminded, status__in=active)
    escalate_before = now - settings.REVOPS["HEALTH_DEFAULTS"]["escalate_after"]
    for pk in base.filter(
        status__in=active,
        reminded_at__lt=escalate_before,
        escalated_at__isnull=True,
        owner__manager__isnull=False,
    ).values_list("pk", flat=True):
        sent["escalated"] += _mark_once(pk, "escalated_at", now, escalated, status__in=active)
    return sent


def _told(user, finding: Finding, kind: str) -> bool:
    return Delivery.objects.filter(key=delivery_key(finding, kind, user)).exists()


def digest_changes(*, user, since: datetime | None, now: datetime) -> list[Line]:
    """What changed on `user`'s findings since their last digest (`since`; None: never had one),
    leaving out what an alert or a reminder already told them: one line per finding."""

    def after(moment) -> bool:
        return moment is not None and moment <= now and (since is None or moment > since)

    lines = []
    findings = (
        Finding.objects.filter(owner=user)
        .select_related("automation", "acknowledged_by", "fixed_by")
        .order_by("due_at", "pk")
    )
    for finding in findings:
        changes = []
        if after(finding.opened_at) and finding.is_unresolved and not _told(user, finding, "alert"):
            changes.append("opened")
        if after(finding.acknowledged_at):
            changes.append(f"acknowledged by {finding.acknowledged_by or 'someone'}")
        if finding.is_unresolved and after(finding.due_at) and not _told(user, finding, "reminder"):
            changes.append("past its due date")
        if after(finding.fixed_at):
            changes.append(f"marked fixed by {finding.fixed_by or 'someone'}: {finding.fix_note}")
        if finding.status in (FindingStatus.RESOLVED, FindingStatus.VERIFIED) and after(finding.resolved_at):
            changes.append("resolved" + (f": {finding.resolution_note}" if finding.resolution_note else ""))
        if changes:
            lines.append(
                Line(
                    f"{finding.get_kind_display()} — {finding.automation.name}: {', '.join(changes)} "
                    f"(due {finding.due_at:%Y-%m-%d})",
                    finding.get_absolute_url(),
                )
            )
    return lines


def findings_digest(*, now: datetime | None = None) -> int:
    """One email per person, at most once a day, listing what changed on their findings since
    their last digest; none when nothing changed. Returns how many were queued."""
    now = now or timezone.now()
    day = timezone.localdate(now)
    owners = get_user_model().objects.filter(pk__in=Finding.objects.values("owner")).order_by("pk")
    sent = 0
    for owner in owners:
        key = f"{DIGEST_KIND}:user:{owner.pk}:{day.isoformat()}"
        since = (
            Delivery.objects.filter(kind=DIGEST_KIND, recipient=owner)
            .exclude(key=key)
            .aggregate(last=Max("created_at"))["last"]
        )
        lines = digest_changes(user=owner, since=since, now=now)
        if not lines:
            continue
        # The unique row and the queued delivery in one transaction: a second run skips.
        try:
            with transaction.atomic():
                DigestSent.objects.create(user=owner, day=day)
                sent += send_digest(
                    user=owner,
                    subject=f"{len(lines)} health finding{'s' if len(lines) != 1 else ''} changed",
                    sections=[Section("Changed since your last digest", lines)],
                    key=key,
                    kind=DIGEST_KIND,
                )
        except IntegrityError:
            continue
    return sent
