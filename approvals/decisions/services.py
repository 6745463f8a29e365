"""Every write of the decision queue. Keyword arguments, one transaction each, the actor and the
reason kept in history; an outcome (decided, expired, cancelled) writes its webhook outbox rows in
the same transaction, and the delivery is enqueued only after commit."""

import json
import logging
import smtplib
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals.permit import permit_for
from registry.models import Automation
from revops_gov.celery import app as celery_app
from revops_gov.errors import ApplicationError, Conflict, Forbidden
from revops_gov.models import Integration, User
from revops_gov.notifications import Line, Section, send_digest, send_notice
from revops_gov.services import system_user

from .kinds import DecisionKind, DecisionStatus, Option, option_for, options_for
from .models import Decision, DecisionRequest, DigestSent, OutboxEvent, OutboxStatus
from .notify import announce
from .permissions import holds_decide_capability, may_decide, require_may_decide

log = logging.getLogger(__name__)
# A mail server that refuses or cannot be reached: nothing is marked sent, the next run retries.
SEND_ERRORS = (smtplib.SMTPException, OSError)

# The Celery task that delivers one webhook event (tasks.deliver_event), sent by name.
DELIVER_TASK = "decisions.deliver_event"

EVENT_TYPES = {
    DecisionStatus.DECIDED: "decision.decided",
    DecisionStatus.EXPIRED: "decision.expired",
    DecisionStatus.CANCELLED: "decision.cancelled",
}


def _conf(name):
    return settings.REVOPS[name]


def normalize_evidence(evidence) -> list[dict]:
    """Evidence as a readable list of {label, value}: a dict becomes its items, strings become
    unlabelled lines; anything else is refused naming the field."""
    if evidence in (None, "", [], {}):
        return []
    if "\\u0000" in json.dumps(evidence):
        raise ValidationError({"evidence": "Null characters are not allowed."})
    if isinstance(evidence, dict):
        return [{"label": str(key), "value": _scalar(value)} for key, value in evidence.items()]
    if isinstance(evidence, list):
        out = []
        for item in evidence:
            if isinstance(item, dict) and "value" in item:
                out.append({"label": str(item.get("label", "")), "value": _scalar(item["value"])})
            elif isinstance(item, str | int | float | bool):
                out.append({"label": "", "value": _scalar(item)})
            else:
                raise ValidationError(
                    {
                        "evidence": "Each item is a {label, value} object or a line of text, e.g. "
                        '[{"label": "Same domain", "value": "acme.com"}].'
                    }
                )
        return out
    raise ValidationError({"evidence": "Give the evidence as an object or a list of {label, value}."})


def _scalar(value):
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return json.dumps(value, sort_keys=True)


def _require_text(field: str, value: str, message: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: message})
    return value


@transaction.atomic
def decision_request_create(
    *,
    by: User,
    automation: Automation,
    kind: str,
    record_object: str,
    record_id: str,
    why: str,
    proposed_action: str,
    record_url: str = "",
    evidence=None,
    assignee: User | None = None,
    due_at=None,
    expires_at=None,
    idempotency_key: str = "",
) -> tuple[DecisionRequest, bool]:
    """Queue a decision. Returns (request, created): the same Idempotency-Key from the same
    caller returns the request it created the first time, never a second one."""
    idempotency_key = (idempotency_key or "").strip()
    if idempotency_key:
        existing = DecisionRequest.objects.filter(created_by=by, idempotency_key=idempotency_key).first()
        if existing:
            return existing, False
    if kind not in DecisionKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(DecisionKind.values)}."})
    why = _require_text(
        "why",
        why,
        "Say why it fired: an alert that does not explain itself is noise (e.g. “same domain and "
        "billing address as Acme Corp”).",
    )
    proposed_action = _require_text(
        "proposed_action",
        proposed_action,
        "Say what the automation proposes to do, so the person knows what they decide.",
    )
    permit = permit_for(automation)
    if permit.mode != "live":
        reasons = list(permit.reasons) or ["In shadow: it may not act live yet, so it may not ask for live decisions"]
        raise ApplicationError(
            f"{automation.name} may not run live, so it may not queue decisions: {'; '.join(reasons)}.",
            {"field": "automation", "mode": permit.mode, "reasons": reasons},
        )
    assignee = assignee or automation.exception_owner
    if assignee is None:
        raise ValidationError(
            {"assignee": f"{automation.name} has no exception owner: name an assignee, or set the owner first."}
        )
    _assignable(assignee, kind, field="assignee", who="The assignee")
    now = timezone.now()
    due_at = due_at or now + timedelta(hours=_conf("DECISION_DUE_HOURS")[kind])
    expires_at = expires_at or due_at + timedelta(hours=_conf("DECISION_EXPIRE_AFTER_HOURS"))
    if expires_at < due_at:
        raise ValidationError({"expires_at": "It cannot expire before it is due."})
    request = DecisionRequest(
        automation=automation,
        kind=kind,
        record_system=automation.system,
        record_object=record_object,
        record_id=record_id,
        record_url=record_url,
        why=why,
        evidence=normalize_evidence(evidence),
        proposed_action=proposed_action,
        assignee=assignee,
        due_at=due_at,
        expires_at=expires_at,
        idempotency_key=idempotency_key,
        created_by=by,
        created_at=now,
    )
    request.full_clean(validate_constraints=False)
    request._history_user = by
    request._change_reason = "Queued"
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError:
        # The same key raced in from a second call: the first one's request is the answer.
        if not idempotency_key:
            raise
        return DecisionRequest.objects.get(created_by=by, idempotency_key=idempotency_key), False
    announce(request)
    return request, True


def _locked(request: DecisionRequest) -> DecisionRequest:
    return DecisionRequest.objects.select_for_update().select_related("assignee", "automation").get(pk=request.pk)


def _already_closed(request: DecisionRequest) -> Conflict:
    decision = Decision.objects.select_related("decided_by").filter(request=request).first()
    if decision:
        return Conflict(
            f"Already decided by {decision.decided_by} at {decision.decided_at:%Y-%m-%d %H:%M}: "
            f"{decision.option_label}{f' ({decision.value})' if decision.value else ''}.",
            {
                "status": request.status,
                "decided_by": decision.decided_by.username,
                "option": decision.option,
                "value": decision.value,
                "decided_at": decision.decided_at.isoformat(),
            },
        )
    return Conflict(
        f"This request is {request.get_status_display().lower()}; it can no longer be decided.",
        {"status": request.status},
    )


class PermitRefused(Conflict):
    """An option the CRM would act on, for an automation whose permit is not live (409)."""


@dataclass(frozen=True)
class Handoff:
    """What an escalation or a review request did: the request stays open, waiting for `to`."""

    request: DecisionRequest
    option: Option
    by: User
    to: User

    @property
    def option_label(self) -> str:
        return self.option.label

    @property
    def message(self) -> str:
        return f"{self.option.label}: it now waits for {self.to}, who is notified."


def _assignable(user: User, kind: str, *, field: str, who: str) -> None:
    """A request waits only for someone who may decide it (the decide capability for its kind)."""
    if not user.is_active:
        raise ValidationError({field: f"{who} {user} is not an active user."})
    if not holds_decide_capability(user, kind):
        raise ValidationError(
            {
                field: f"{who} {user} may not decide {DecisionKind(kind).label.lower()} requests: their role "
                "holds no decide capability (managers and RevOps admins do)."
            }
        )


def _refuse_unless_permitted(request: DecisionRequest, chosen: Option) -> None:
    """An option the CRM acts on needs a live permit now, not only when the request was queued:
    a paused, held, retired or redesigned automation gets no approval."""
    if not chosen.acts:
        return
    permit = permit_for(request.automation)
    if permit.mode == "live":
        return
    reasons = list(permit.reasons) or ["In shadow: it may not act live"]
    still = [o.label for o in options_for(request.kind) if not o.acts]
    raise PermitRefused(
        f"{request.automation.name} may not act now, so “{chosen.label}” is refused: {'; '.join(reasons)}. "
        f"Still possible: {', '.join(still)}.",
        {"option": chosen.value, "mode": permit.mode, "reasons": reasons, "still_possible": still},
    )


@transaction.atomic
def decide(*, request: DecisionRequest, by: User, option: str, value: str = "", reason: str = "") -> Decision | Handoff:
    """Decide once and only once. The row lock makes a second decider wait, then find the
    request closed and get a Conflict naming who decided what.

    Who may decide is `permissions.decide_refusals` (403); an option the CRM acts on needs a live
    permit (409 with the permit's reasons); an option takes a value if and only if it names one
    (400 naming `value`). Escalate and request review are hand-offs, not outcomes: the request
    stays open, reassigned and announced to the next person (a Handoff is returned)."""
    request = _locked(request)
    if not request.is_open:
        raise _already_closed(request)
    require_may_decide(by, request)
    chosen = option_for(request.kind, option)
    if chosen is None:
        raise ValidationError({"option": f"Choose one of: {', '.join(o.value for o in options_for(request.kind))}."})
    value, reason = (value or "").strip(), (reason or "").strip()
    if chosen.needs_value and not value:
        raise ValidationError({"value": f"{chosen.label} needs a value: {chosen.value_label.lower()}."})
    if value and not chosen.needs_value:
        raise ValidationError({"value": f"{chosen.label} takes no value: leave it empty."})
    if chosen.needs_reason and not reason:
        raise ValidationError(
            {"reason": f"{chosen.label} goes against what the automation proposed: say why, it is kept."}
        )
    _refuse_unless_permitted(request, chosen)
    now = timezone.now()
    if not chosen.closes:
        return _hand_off(request, by=by, option=chosen, value=value, reason=reason, now=now)
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                request=request,
                option=chosen.value,
                value=value[:200],
                reason=reason,
                overrides=chosen.overrides,
                decided_by=by,
                decided_at=now,
            )
    except IntegrityError as exc:  # a database without row locks let two deciders through
        raise _already_closed(request) from exc
    _close(request, status=DecisionStatus.DECIDED, by=by, reason=f"Decided: {chosen.label}", now=now, decision=decision)
    return decision


def _hand_off(request: DecisionRequest, *, by: User, option: Option, value: str, reason: str, now) -> Handoff:
    """Escalate to the assignee's manager (the decider's own manager when the decider is that
    manager) or hand to the named reviewer: still open, kept in the history, the new assignee told."""
    previous = request.assignee
    if option.hands_off_to == "manager":
        to = previous.manager
        if to is not None and to.pk == by.pk:
            to = by.manager
        if to is None:
            whose = by if previous.manager_id == by.pk else previous
            raise ValidationError({"option": f"{whose} has no manager to escalate to: reassign it or decide it."})
        _assignable(to, request.kind, field="option", who="The manager")
    else:
        to = User.objects.filter(username=value, is_active=True).first()
        if to is None:
            raise ValidationError({"value": f"No active person has the username “{value}”: name the reviewer."})
        _assignable(to, request.kind, field="value", who="The reviewer")
    if to.pk == previous.pk:
        raise ValidationError({"value" if option.hands_off_to == "value" else "option": f"It already waits for {to}."})
    request.assignee = to
    if option.hands_off_to == "manager":
        request.escalated_at, request.escalated_to = now, to
    else:
        request.escalated_at, request.escalated_to = None, None
    request._history_user = by
    request._change_reason = f"{option.label} by {by}: from {previous} to {to}{f': {reason}' if reason else ''}"
    request.save()
    note = f"{by} chose “{option.label}”: it now waits for you (it was waiting for {previous})."
    if reason:
        note += f" Their reason: {reason}"
    announce(request, note=note, key=f"decision:{request.pk}:{option.value}:{to.pk}:{now.timestamp()}")
    return Handoff(request=request, option=option, by=by, to=to)


def _close(request, *, status, by, reason, now, decision=None) -> None:
    request.status = status
    request.closed_at = now
    request._history_user = by
    request._change_reason = reason
    request.save()
    _outbox_write(request, decision=decision, now=now)


def outcome_payload(request: DecisionRequest, *, decision: Decision | None, event_type: str, now) -> dict:
    return {
        "event": event_type,
        "occurred_at": now.isoformat(),
        "request": {
            "id": request.pk,
            "automation": request.automation.key,
            "kind": request.kind,
            "status": request.status,
            "record": {
                "system": request.record_system,
                "object": request.record_object,
                "id": request.record_id,
                "url": request.record_url,
            },
            "idempotency_key": request.idempotency_key,
        },
        "decision": None
        if decision is None
        else {
            "option": decision.option,
            "value": decision.value,
            "reason": decision.reason,
            "overrides": decision.overrides,
            "decided_by": decision.decided_by.username,
            "decided_at": decision.decided_at.isoformat(),
        },
    }


def _outbox_write(request: DecisionRequest, *, decision, now) -> list[OutboxEvent]:
    """One outbox row per integration of the record's system that has a webhook, in the caller's
    transaction; the deliveries are enqueued once it commits."""
    event_type = EVENT_TYPES[DecisionStatus(request.status)]
    integrations = Integration.objects.filter(system=request.record_system).exclude(webhook_url="")
    events = []
    for integration in integrations:
        event = OutboxEvent(
            integration=integration, request=request, event_type=event_type, next_attempt_at=now, created_at=now
        )
        event.payload = {
            "event_id": str(event.event_id),
            **outcome_payload(request, decision=decision, event_type=event_type, now=now),
        }
        event.save()
        events.append(event)
    if events:
        ids = [event.pk for event in events]
        transaction.on_commit(lambda: enqueue_deliveries(ids))
    return events


def enqueue_deliveries(ids) -> None:
    """Hand each event to the worker by the task's name: the services never import the tasks
    (the tasks import the services), so there is no import circle."""
    for pk in ids:
        celery_app.send_task(DELIVER_TASK, args=[pk], queue=_conf("DECISION_WEBHOOK_QUEUE"))


@transaction.atomic
def reassign(*, request: DecisionRequest, by: User, assignee: User, reason: str) -> DecisionRequest:
    reason = _require_text("reason", reason, "Say why it is reassigned; it is kept in the history.")
    request = _locked(request)
    if not request.is_open:
        raise _already_closed(request)
    if not may_decide(by, request):
        raise Forbidden("Only the assignee, their manager or a RevOps admin may reassign this request.")
    _assignable(assignee, request.kind, field="assignee", who="The assignee")
    previous = request.assignee
    request.assignee = assignee
    request.escalated_at = None
    request.escalated_to = None
    request._history_user = by
    request._change_reason = f"Reassigned from {previous} to {assignee}: {reason}"
    request.save()
    return request


@transaction.atomic
def cancel(*, request: DecisionRequest, by: User, reason: str) -> DecisionRequest:
    """Withdraw a request nobody needs to decide any more (the CRM is told)."""
    reason = _require_text("reason", reason, "Say why it is cancelled; the CRM and the history keep it.")
    request = _locked(request)
    if not request.is_open:
        raise _already_closed(request)
    if not (may_decide(by, request) or by.pk == request.created_by_id):
        raise Forbidden("Only its creator, the assignee, their manager or a RevOps admin may cancel this request.")
    _close(request, status=DecisionStatus.CANCELLED, by=by, reason=f"Cancelled: {reason}", now=timezone.now())
    return request


@transaction.atomic
def expire_due(*, now=None) -> int:
    """Expire open requests past their expiry time, telling the CRM. Locked rows are skipped,
    closed ones are no longer selected: running it twice expires nothing twice."""
    now = now or timezone.now()
    actor = system_user()
    due = (
        DecisionRequest.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("automation")
        .filter(status=DecisionStatus.OPEN, expires_at__lte=now)
    )
    count = 0
    for request in due:
        _close(request, status=DecisionStatus.EXPIRED, by=actor, reason="Expired: nobody decided in time", now=now)
        count += 1
    return count


def escalate_overdue(*, now=None) -> int:
    """Escalate each overdue open request once to its assignee's manager; a manager gets one
    email listing what was escalated to them in this run.

    Per manager, the marks and the email are one transaction holding the rows (skip locked): a
    second run or worker skips them or finds them marked, and a worker killed mid-send or a mail
    server that refuses marks nothing, so the next run escalates them again — never lost."""
    now = now or timezone.now()
    actor = system_user()
    overdue = DecisionRequest.objects.filter(status=DecisionStatus.OPEN, escalated_at__isnull=True, due_at__lt=now)
    by_manager = defaultdict(list)
    for pk, manager_id in overdue.values_list("pk", "assignee__manager_id"):
        by_manager[manager_id].append(pk)
    count = 0
    for ids in by_manager.values():
        try:
            count += _escalate(ids, now=now, actor=actor)
        except SEND_ERRORS as exc:
            log.warning("Escalation of requests %s not sent, retried on the next run: %s", ids, exc)
    return count


@transaction.atomic
def _escalate(ids, *, now, actor) -> int:
    overdue = (
        DecisionRequest.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("assignee__manager", "automation")
        .filter(pk__in=ids, status=DecisionStatus.OPEN, escalated_at__isnull=True, due_at__lt=now)
    )
    by_manager = defaultdict(list)
    count = 0
    for request in overdue:
        manager = request.assignee.manager
        request.escalated_at = now
        request.escalated_to = manager
        request._history_user = actor
        request._change_reason = (
            f"Overdue: escalated to {manager}" if manager else "Overdue: the assignee has no manager to escalate to"
        )
        request.save()
        if manager:
            by_manager[manager].append(request)
        count += 1
    for manager, requests in by_manager.items():
        lines = [
            Line(
                f"{r} ({r.automation.name}), assigned to {r.assignee}, was due {r.due_at:%Y-%m-%d %H:%M}",
                r.get_absolute_url(),
            )
            for r in requests
        ]
        send_notice(
            user=manager,
            subject=f"{len(lines)} overdue decision(s) escalated to you",
            intro="These decisions are past due; decide them or reassign them.",
            lines=lines,
        )
    return count


def digests_send(*, now=None) -> int:
    """One email per person listing every open request waiting for them, once a day from the
    digest hour; none when nothing waits. Returns the number of digests sent."""
    now = now or timezone.now()
    local = timezone.localtime(now)
    if local.hour < _conf("DECISION_DIGEST_HOUR"):
        return 0
    waiting = (
        DecisionRequest.objects.filter(status=DecisionStatus.OPEN)
        .select_related("assignee", "automation")
        .order_by("assignee_id", "due_at", "pk")
    )
    per_person = defaultdict(list)
    for request in waiting:
        per_person[request.assignee].append(request)
    sent = 0
    for person, requests in per_person.items():
        with transaction.atomic():
            _, claimed = DigestSent.objects.get_or_create(
                user=person, day=local.date(), defaults={"count": len(requests), "sent_at": now}
            )
            if not claimed:
                continue
            lines = [
                Line(
                    f"{'OVERDUE · ' if r.due_at < now else ''}{r} — due {timezone.localtime(r.due_at):%Y-%m-%d %H:%M}"
                    f" — {r.why}",
                    r.get_absolute_url(),
                )
                for r in requests
            ]
            if send_digest(
                user=person,
                subject=f"{len(requests)} decision(s) wait for you",
                intro="Decide them from your queue (it works on your phone).",
                sections=[Section("Waiting for your decision", lines)],
            ):
                sent += 1
    return sent


@transaction.atomic
def webhook_redeliver(*, event: OutboxEvent, by: User) -> OutboxEvent:
    """Send an event again (same event id, so the CRM drops it if it already has it)."""
    event = OutboxEvent.objects.select_for_update().get(pk=event.pk)
    event.status = OutboxStatus.PENDING
    event.next_attempt_at = timezone.now()
    event.last_error = f"Redelivery asked by {by}"
    event.save(update_fields=["status", "next_attempt_at", "last_error"])
    transaction.on_commit(lambda: enqueue_deliveries([event.pk]))
    return event
