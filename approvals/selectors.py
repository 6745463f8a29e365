"""Reused reads of approvals."""

from django.db.models import Exists, F, OuterRef

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


def packet_get(*, automation: Automation, number: int) -> ApprovalPacket:
    return (
        ApprovalPacket.objects.select_related("automation", "submitted_by", "rollback_runner", "created_by")
        .prefetch_related(*REVIEWS_PREFETCH)
        .get(automation=automation, number=number)
    )
