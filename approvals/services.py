"""Every write of approvals: packets and their reviews, readiness ticks, test cases, shadow
observations and lifecycle moves. Keyword arguments, one transaction each, who and why recorded."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from registry import cache as registry_cache
from registry import services as registry_services
from registry.choices import LifecycleStatus
from registry.models import Automation
from revops_gov.concurrency import StaleWrite, check_fresh, revision_of
from revops_gov.errors import Conflict, Forbidden
from revops_gov.models import User
from revops_gov.roles import can_decide, can_govern

from . import gates, rules
from .choices import PacketState, ReadinessItem, TestKind, TrainingStep, Verdict
from .models import (
    PACKET_SECTIONS,
    ApprovalPacket,
    PacketReview,
    ReadinessTick,
    ShadowObservation,
    TestCase,
    TestRun,
)

OPEN_STATES = (PacketState.DRAFT, PacketState.SUBMITTED)


def _lock(automation: Automation) -> Automation:
    return Automation.objects.select_for_update().get(pk=automation.pk)


def _save(obj, *, by, reason: str) -> None:
    obj._history_user = by
    obj._change_reason = reason
    obj.full_clean()
    obj.save()


def _prefill(automation: Automation) -> dict:
    """A new packet starts from what the registry already says."""
    owner = automation.rule_owner
    return {
        "trigger": automation.trigger,
        "rule": automation.rule,
        "owner": owner.get_full_name() or owner.username if owner else "",
        "exception_path": automation.exception_path,
        "audit_trail": automation.override_log_location,
    }


def draft_sections(automation: Automation, previous: ApprovalPacket | None) -> dict:
    """What a new packet version starts from: the current registry record for the sections the
    registry knows (trigger, rule, owner, exception path, audit trail) and the previous packet for
    the rest, so a re-draft never carries a rule the registry has since changed. A section the
    registry leaves empty keeps the previous packet's text."""
    registry = _prefill(automation)
    if previous is None:
        return registry
    fields = {name: getattr(previous, name) for name in PACKET_SECTIONS}
    fields.update({name: value for name, value in registry.items() if (value or "").strip()})
    return fields


# --- Packets ----------------------------------------------------------------------------------
@transaction.atomic
def packet_create_draft(*, automation: Automation, by: User | None) -> ApprovalPacket:
    """The automation's open draft, created when there is none: from the current registry record
    and the latest packet (draft_sections). Idempotent: backlog promotion may call it any number
    of times."""
    automation = _lock(automation)
    draft = ApprovalPacket.objects.filter(automation=automation, state=PacketState.DRAFT).first()
    if draft:
        return draft
    latest = ApprovalPacket.objects.filter(automation=automation).order_by("-number").first()
    fields = draft_sections(automation, latest)
    number = (latest.number if latest else 0) + 1
    packet = ApprovalPacket(automation=automation, number=number, created_by=by, **fields)
    _save(packet, by=by, reason=f"Draft packet v{number} started")
    return packet


@transaction.atomic
def packet_update(*, packet: ApprovalPacket, by: User, **sections) -> ApprovalPacket:
    """Edit a packet's sections. A submitted (or decided) packet is never edited: the edit goes into
    a new draft version and the old version is superseded, so pending approvals of it no longer
    count."""
    unknown = set(sections) - set(PACKET_SECTIONS)
    if unknown:
        raise TypeError(f"Unknown packet sections: {', '.join(sorted(unknown))}")
    _lock(packet.automation)
    packet = ApprovalPacket.objects.select_for_update().get(pk=packet.pk)
    if packet.state != PacketState.DRAFT:
        if packet.state == PacketState.SUBMITTED:
            packet.state = PacketState.SUPERSEDED
            _save(packet, by=by, reason="Edited after submission: replaced by a new draft; pending approvals void")
        packet = packet_create_draft(automation=packet.automation, by=by)
    for name, value in sections.items():
        setattr(packet, name, value)
    _save(packet, by=by, reason="Packet edited")
    return packet


NO_PACKET_REVISION = "none"


def packet_revision(packet: ApprovalPacket | None) -> str:
    """What the packet form was opened at: the newest packet's revision ("none" before the first)."""
    return revision_of(packet) if packet is not None and packet.pk else NO_PACKET_REVISION


@transaction.atomic
def packet_edit(*, automation: Automation, by: User, expected_revision: str, **sections) -> ApprovalPacket:
    """The packet form's save (issue 15 §4): refused with StaleWrite when the newest packet changed
    (or a first one appeared) since the form was opened; else the draft is edited (packet_update).
    The automation's row lock serializes every packet write of the automation."""
    automation = _lock(automation)
    packet = ApprovalPacket.objects.filter(automation=automation).order_by("-number").first()
    if packet is None:
        if expected_revision != NO_PACKET_REVISION:
            raise ValidationError("This packet form is from a page that no longer exists; open it again.")
        packet = packet_create_draft(automation=automation, by=by)
    elif expected_revision == NO_PACKET_REVISION:
        raise StaleWrite(packet, sections)
    else:
        check_fresh(packet, expected_revision, sections)
    return packet_update(packet=packet, by=by, **sections)


@transaction.atomic
def packet_submit(*, packet: ApprovalPacket, by: User) -> ApprovalPacket:
    """Freeze the draft for the automation's current registry version and ask for approval."""
    automation = _lock(packet.automation)
    packet = ApprovalPacket.objects.select_for_update().get(pk=packet.pk)
    if packet.state != PacketState.DRAFT:
        raise Conflict(f"Packet v{packet.number} is {packet.get_state_display().lower()}; only a draft is submitted.")
    empty = {
        name: "This section is required before submitting."
        for name in PACKET_SECTIONS
        if not (getattr(packet, f"{name}_id") if name == "rollback_runner" else getattr(packet, name).strip())
    }
    if empty:
        raise ValidationError(empty)
    ApprovalPacket.objects.filter(automation=automation, state=PacketState.SUBMITTED).update(
        state=PacketState.SUPERSEDED
    )
    packet.state = PacketState.SUBMITTED
    packet.automation_version = automation.version
    packet.submitted_by = by
    packet.submitted_at = timezone.now()
    _save(packet, by=by, reason=f"Submitted for approval (registry version {automation.version})")
    registry_cache.invalidate([automation.key])
    return packet


def review_refusals(*, packet: ApprovalPacket, by: User) -> list[str]:
    """Every reason `by` may not review this packet now (empty: they may). The approver rule by
    tier (approvals.rules) holds at every tier: never the submitter, never the rule owner, and a
    non-manager never takes the last place a manager must fill."""
    automation = packet.automation
    reasons = []
    if not can_decide(by):
        reasons.append("Only managers and RevOps admins approve packets.")
    if packet.state != PacketState.SUBMITTED:
        reasons.append(f"Packet v{packet.number} is {packet.get_state_display().lower()}, not waiting for review.")
    elif packet.is_stale:
        reasons.append(
            f"The registry record changed after submission (version {packet.automation_version} → "
            f"{automation.version}): the packet must be resubmitted for what the automation now is."
        )
    if packet.submitted_by_id == by.pk:
        reasons.append("You submitted this packet: someone else must approve it.")
    if automation.rule_owner_id == by.pk:
        reasons.append("You own the rule: someone else must approve it.")
    if any(r.reviewer_id == by.pk for r in packet.reviews.all()):
        reasons.append("You have already reviewed this packet version.")
    elif can_decide(by) and (refusal := rules.approval_refusal(packet, by=by)):
        reasons.append(refusal)
    return reasons


@transaction.atomic
def packet_review(*, packet: ApprovalPacket, by: User, verdict: str, comment: str = "") -> PacketReview:
    """Approve, request changes or reject one packet version. Recorded once, never edited. Enough
    distinct approvals for the tier approve the packet; any rejection or change request decides it."""
    _lock(packet.automation)
    packet = (
        ApprovalPacket.objects.select_for_update()
        .select_related("automation")
        .prefetch_related(*rules.REVIEWS_PREFETCH)
        .get(pk=packet.pk)
    )
    verdict = Verdict(verdict)
    comment = (comment or "").strip()
    if verdict != Verdict.APPROVE and not comment:
        raise ValidationError({"comment": "Say what must change, or why it is rejected; the submitter needs it."})
    refusals = review_refusals(packet=packet, by=by)
    if refusals:
        raise Forbidden(" ".join(refusals), {"reasons": refusals})
    try:
        with transaction.atomic():
            review = PacketReview.objects.create(packet=packet, reviewer=by, verdict=verdict, comment=comment)
    except IntegrityError as exc:
        raise Conflict("You have already reviewed this packet version.") from exc
    automation = packet.automation
    if verdict == Verdict.APPROVE:
        status = rules.rule_status(
            ApprovalPacket.objects.select_related("automation")
            .prefetch_related(*rules.REVIEWS_PREFETCH)
            .get(pk=packet.pk)
        )
        if status.met:
            packet.state = PacketState.APPROVED
            packet.decided_at = timezone.now()
            _save(packet, by=by, reason=f"Approved ({automation.risk_tier.label.lower()} tier: {status.text})")
    else:
        packet.state = PacketState(verdict.value if verdict == Verdict.CHANGES_REQUESTED else PacketState.REJECTED)
        packet.decided_at = timezone.now()
        _save(packet, by=by, reason=f"{verdict.label}: {comment}")
    registry_cache.invalidate([automation.key])
    return review


# --- Readiness and the test plan --------------------------------------------------------------
TICKABLE = {*gates.MANUAL_ITEMS, *TrainingStep}


@transaction.atomic
def readiness_tick(*, automation: Automation, item: str, note: str, by: User) -> ReadinessTick:
    """A person confirms an item data cannot prove, with a note of what proves it."""
    if item not in {str(i) for i in TICKABLE}:
        raise ValidationError({"item": "This item is computed from the registry; it cannot be ticked by hand."})
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say what proves it (a link, a date, who was trained)."})
    tick = ReadinessTick.objects.filter(automation=automation, item=item).first() or ReadinessTick(
        automation=automation, item=item
    )
    tick.note = note
    tick.ticked_by = by
    tick.automation_version = Automation.objects.values_list("version", flat=True).get(pk=automation.pk)
    _save(tick, by=by, reason=f"Ticked: {note}")
    registry_cache.invalidate([automation.key])
    return tick


def _require_govern(by: User) -> None:
    if not can_govern(by):
        raise Forbidden("Only RevOps admins write the test plan and record its runs.")


def _require_plan_open(automation: Automation) -> None:
    """The test plan of a version in shadow or live is the evidence it launched on: it is changed
    (and re-run) for a new version, after a material change sends the automation back to design."""
    if automation.status in (LifecycleStatus.SHADOW, LifecycleStatus.LIVE):
        raise Conflict(
            f"{automation.name} is {automation.get_status_display().lower()}: its test plan for version "
            f"{automation.version} is the evidence it was launched on. Pause it or change it (back to design) "
            "to write or re-run cases.",
            {"status": automation.status},
        )


@transaction.atomic
def test_case_save(
    *,
    automation: Automation,
    by: User,
    kind: str,
    description: str,
    expected: str,
    case: TestCase | None = None,
) -> TestCase:
    """Write a case of the test plan, or edit one (kind, situation, expected result). Editing
    keeps the case's runs: they are history, and a failed case is re-run after the edit."""
    _require_govern(by)
    _require_plan_open(_lock(automation))
    if case is not None and case.automation_id != automation.pk:
        raise ValidationError({"case": "This case belongs to another automation."})
    if kind not in TestKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(TestKind.values)}."})
    new = case is None
    case = case or TestCase(automation=automation, recorded_by=by)
    case.kind, case.description, case.expected = kind, (description or "").strip(), (expected or "").strip()
    _save(case, by=by, reason="Test case written" if new else "Test case edited")
    registry_cache.invalidate([automation.key])
    return case


test_case_save.__test__ = False


@transaction.atomic
def test_case_run(*, case: TestCase, by: User, passed: bool, actual: str) -> TestRun:
    """Record one run of a case against the automation's current registry version: who, when,
    passed or failed and what actually happened. Only runs at the current version count for the
    test plan (gates.test_plan)."""
    _require_govern(by)
    automation = _lock(case.automation)
    _require_plan_open(automation)
    actual = (actual or "").strip()
    errors = {}
    if not isinstance(passed, bool):
        errors["passed"] = "Say whether the case passed or failed."
    if not actual:
        errors["actual"] = "Write the actual result: what happened when the case was run."
    if errors:
        raise ValidationError(errors)
    run = TestRun(case=case, automation_version=automation.version, passed=passed, actual=actual, run_by=by)
    run.full_clean()
    run.save()
    registry_cache.invalidate([automation.key])
    return run


test_case_run.__test__ = False


# --- Shadow mode ------------------------------------------------------------------------------
@transaction.atomic
def shadow_observations_record(*, automation: Automation, observations: Iterable[dict], by: User | None) -> int:
    """Record shadow runs: {event_id, automation_action, human_action, agreed, observed_at} each.
    Idempotent on (automation, event_id): the same event twice is stored once. Returns how many
    were new. A comparison may complete late (the human's outcome after the automation went
    live): it is stored, and counts for the next move into live, never for the one already made."""
    rows = []
    errors = {}
    for index, obs in enumerate(observations):
        observed_at = obs.get("observed_at")
        if isinstance(observed_at, str):
            observed_at = parse_datetime(observed_at)
        missing = [
            name
            for name, value in (
                ("event_id", obs.get("event_id")),
                ("automation_action", obs.get("automation_action")),
                ("human_action", obs.get("human_action")),
                ("observed_at", observed_at),
            )
            if not value
        ]
        if not isinstance(obs.get("agreed"), bool):
            missing.append("agreed")
        if missing:
            errors[f"observations[{index}]"] = f"Missing or invalid: {', '.join(missing)}."
            continue
        rows.append(
            ShadowObservation(
                automation=automation,
                automation_version=automation.version,
                event_id=str(obs["event_id"])[:200],
                automation_action=obs["automation_action"],
                human_action=obs["human_action"],
                agreed=obs["agreed"],
                observed_at=observed_at,
                recorded_by=by,
            )
        )
    if errors:
        raise ValidationError(errors)
    before = ShadowObservation.objects.filter(automation=automation).count()
    ShadowObservation.objects.bulk_create(rows, ignore_conflicts=True)
    created = ShadowObservation.objects.filter(automation=automation).count() - before
    if created:
        registry_cache.invalidate([automation.key])
    return created


# --- The lifecycle ----------------------------------------------------------------------------
class TransitionRefused(Conflict):
    pass


@transaction.atomic
def transition(*, automation: Automation, to: str, by: User | None, reason: str) -> Automation:
    """Move the automation's lifecycle status, if its gate allows; refused with every unmet reason."""
    automation = _lock(automation)
    if to not in LifecycleStatus.values:
        raise ValidationError({"to": f"Choose one of: {', '.join(LifecycleStatus.values)}."})
    reason = (reason or "").strip()
    result = gates.gate(automation, to, by=by, reason=reason)
    if not result.open:
        raise TransitionRefused(
            f"{automation.name} cannot move to {result.label.lower()}: " + "; ".join(result.unmet),
            {"reasons": result.unmet, "from": automation.status, "to": to},
        )
    to = LifecycleStatus(to)
    why = reason or f"Moved to {to.label.lower()}"
    automation = registry_services.automation_status_set(
        automation=automation,
        status=to,
        by=by,
        reason=why,
        gates_checked=[f"{c.label}: {c.detail}" if c.detail else c.label for c in result.checks],
    )
    registry_cache.invalidate([automation.key])
    return automation


# --- Discovered automations (issue 17): adopt, or record that the CRM retired it ----------------
# What documenting a discovered automation asks for before it joins the lifecycle.
ADOPT_FIELDS = (
    "business_purpose",
    "rule",
    "trigger",
    "record_changed",
    "team",
    "workflow_type",
    *("rule_owner", "failure_owner", "system_owner"),
)


def _discovered(automation: Automation, by: User) -> Automation:
    if not can_govern(by):
        raise Forbidden("Only a RevOps admin adopts a discovered automation or records it retired in the CRM.")
    automation = _lock(automation)
    if automation.status != LifecycleStatus.DISCOVERED:
        raise TransitionRefused(
            f"{automation.name} is {automation.get_status_display().lower()}, not discovered: "
            "only an automation found in the CRM is adopted or recorded retired there.",
            {"status": automation.status},
        )
    return automation


@transaction.atomic
def discovered_adopt(*, automation: Automation, by: User, reason: str, **documentation) -> Automation:
    """Document an automation found running in the CRM and start its normal lifecycle: it moves
    discovered → in design through its gate (a LifecycleMove), and from there needs a packet and
    approval like any other. It stops counting against the practical standard."""
    unknown = set(documentation) - set(ADOPT_FIELDS)
    if unknown:
        raise TypeError(f"Not documentation: {', '.join(sorted(unknown))}")
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = "Say why it is adopted; the lifecycle history keeps it."
    if not (documentation.get("business_purpose") or "").strip():
        errors["business_purpose"] = "Write why it exists: adopting documents it."
    if not documentation.get("rule_owner"):
        errors["rule_owner"] = "Name who maintains the rule."
    if errors:
        raise ValidationError(errors)
    automation = _discovered(automation, by)
    changes = {name: value for name, value in documentation.items() if value not in (None, "")}
    automation = registry_services.automation_update(
        automation=automation, by=by, reason=f"Documented on adoption: {reason}", **changes
    )
    return transition(automation=automation, to=LifecycleStatus.IN_DESIGN, by=by, reason=f"Adopted: {reason}")


@transaction.atomic
def discovered_retire(*, automation: Automation, by: User, reason: str) -> Automation:
    """Record that a discovered automation is retired in the CRM (with the reason): discovered →
    retired, final; it stops counting against the practical standard."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say how and why it was retired in the CRM; the history keeps it."})
    automation = _discovered(automation, by)
    return transition(automation=automation, to=LifecycleStatus.RETIRED, by=by, reason=f"Retired in the CRM: {reason}")


def readiness_items_tickable() -> list[tuple[str, str]]:
    return [(str(i), i.label) for i in gates.MANUAL_ITEMS] + [(str(s), s.label) for s in TrainingStep]


__all__ = [
    "ReadinessItem",
    "packet_create_draft",
    "packet_review",
    "packet_submit",
    "packet_update",
    "readiness_tick",
    "shadow_observations_record",
    "test_case_run",
    "test_case_save",
    "transition",
    "discovered_adopt",
    "discovered_retire",
]
