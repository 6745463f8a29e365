"""Reused reads of approvals."""

import difflib
import re

from django.db.models import Exists, F, OuterRef
from django.utils.html import escape
from django.utils.safestring import mark_safe

from registry.choices import LifecycleStatus
from registry.models import Automation
from revops_gov.roles import can_decide

from .choices import PacketState, ReadinessItem
from .models import PACKET_SECTIONS, ApprovalPacket, PacketReview, ReadinessTick
from .rules import REVIEWS_PREFETCH


def reporting_impact_confirmed_ids(automation_ids) -> set[int]:
    """Automations whose readiness item "reporting impact known" is ticked (one query)."""
    return set(
        ReadinessTick.objects.filter(
            automation_id__in=list(automation_ids), item=ReadinessItem.REPORTING_IMPACT
        ).values_list("automation_id", flat=True)
    )


def waiting_for(user):
    """Submitted packets of the current registry version that `user` may still review: not their
    own submission or rule, not reviewed by them yet (SoD details are re-checked on review)."""
    if not can_decide(user):
        return ApprovalPacket.objects.none()

    return (
        ApprovalPacket.objects.filter(state=PacketState.SUBMITTED, automation_version=F("automation__version"))
        .exclude(submitted_by=user)
        .exclude(automation__rule_owner=user)
        .exclude(Exists(PacketReview.objects.filter(packet=OuterRef("pk"), reviewer=user)))
        .select_related("automation", "submitted_by")
        .order_by("submitted_at", "pk")
    )


def waiting_count(request) -> int:
    return waiting_for(request.user).count()


def packet_baseline(packet: ApprovalPacket) -> ApprovalPacket | None:
    """The last approved version before this one: what the diff compares against."""
    return (
        ApprovalPacket.objects.filter(
            automation_id=packet.automation_id, state=PacketState.APPROVED, number__lt=packet.number
        )
        .select_related("rollback_runner")
        .order_by("-number")
        .first()
    )


def packet_diff(packet: ApprovalPacket) -> dict:
    """Section by section, what changed against the last approved version ("new automation" when none)."""
    base = packet_baseline(packet)
    labels = {name: ApprovalPacket._meta.get_field(name).verbose_name for name in PACKET_SECTIONS}
    now = packet.sections
    rows = []
    for name in PACKET_SECTIONS:
        old = base.sections[name] if base else ""
        rows.append({"name": name, "label": labels[name], "old": old, "new": now[name], "changed": old != now[name]})
    return {"baseline": base, "rows": rows, "new_automation": base is None}


def packet_previous(packet: ApprovalPacket) -> ApprovalPacket | None:
    """The packet version just before this one, whatever its state."""
    return (
        ApprovalPacket.objects.filter(automation_id=packet.automation_id, number__lt=packet.number)
        .select_related("rollback_runner")
        .order_by("-number")
        .first()
    )


_TOKENS = re.compile(r"\s+|[^\s]+")


def text_diff_html(old: str, new: str) -> str:
    """A word-level diff of two texts as HTML: removed words in <del>, added ones in <ins>,
    everything escaped (the texts are user input)."""
    a, b = _TOKENS.findall(old or ""), _TOKENS.findall(new or "")
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(escape("".join(a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if j2 > j1:
            parts.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
    return mark_safe("".join(parts))  # noqa: S308 - every piece is escaped above


def packet_version_diff(packet: ApprovalPacket) -> dict:
    """Section by section, this version against the previous packet version: "unchanged", or the
    word-level diff (text_diff_html). No rows for the first version."""
    previous = packet_previous(packet)
    if previous is None:
        return {"previous": None, "rows": []}
    labels = {name: ApprovalPacket._meta.get_field(name).verbose_name for name in PACKET_SECTIONS}
    old, new = previous.sections, packet.sections
    rows = [
        {
            "name": name,
            "label": labels[name],
            "unchanged": old[name] == new[name],
            "html": "" if old[name] == new[name] else text_diff_html(old[name], new[name]),
        }
        for name in PACKET_SECTIONS
    ]
    return {"previous": previous, "rows": rows, "changed": sum(not r["unchanged"] for r in rows)}


def packet_get(*, automation: Automation, number: int) -> ApprovalPacket:
    return (
        ApprovalPacket.objects.select_related("automation", "submitted_by", "rollback_runner", "created_by")
        .prefetch_related(*REVIEWS_PREFETCH)
        .get(automation=automation, number=number)
    )


def invariant_violations(automation: Automation) -> list[str]:
    """Every way the automation breaks the lifecycle's invariant as it stands (empty: none).

    - what its status demands of its current version (gates.requirements: the packet and its
      approver rule for approved and beyond; readiness and the test plan for shadow and live; the
      shadow bar for live);
    - a live automation under an open hold is not allowed to act (its permit says blocked);
    - its status is where its lifecycle moves lead: each move starts where the one before ended,
      the last ends at today's status, and an automation without moves is still as it was born."""
    from registry.services import BORN_STATUSES

    from . import gates
    from .permit import permit_for

    problems = [
        f"{automation.get_status_display()} without {c.label.lower()}: {c.detail}".rstrip(": ")
        for c in gates.requirements(automation, automation.status, standing=True)
        if not c.met
    ]
    held = automation.status == LifecycleStatus.LIVE and automation.holds.filter(released_at__isnull=True).exists()
    if held and permit_for(automation).mode != "blocked":
        problems.append("Live under an open hold, and the permit does not say blocked")
    moves = list(automation.lifecycle_moves.order_by("created_at", "pk"))
    if not moves and automation.status not in BORN_STATUSES:
        problems.append(f"{automation.get_status_display()} without any lifecycle move")
    for before, after in zip(moves, moves[1:], strict=False):
        if before.to_status != after.from_status:
            problems.append(f"A status change without its move: {before.to_status} → {after.from_status}")
    if moves and moves[-1].to_status != automation.status:
        problems.append(f"A status change without its move: {moves[-1].to_status} → {automation.status}")
    return problems
