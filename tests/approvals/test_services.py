"""The lifecycle: every move × its gate, who may move, every unmet reason listed."""

import pytest
from django.utils import timezone

from approvals import services
from approvals.models import LifecycleMove, ShadowObservation
from revops_gov.errors import Conflict
from tests.approvals.factories import approved_packet, make_ready
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


def _observations(automation, n, agreed):
    ShadowObservation.objects.bulk_create(
        ShadowObservation(
            automation=automation,
            automation_version=automation.version,
            event_id=f"ev-{i}",
            automation_action="route to A",
            human_action="route to A" if i < agreed else "route to B",
            agreed=i < agreed,
            observed_at=timezone.now(),
        )
        for i in range(n)
    )


# (from, to, what is in place, expected: None = allowed, else the labels of every unmet check)
CASES = [
    ("proposed", "in_design", set(), None),
    ("proposed", "approved", set(), ["Proposed cannot move to approved"]),
    ("proposed", "retired", {"reason"}, None),
    ("in_design", "approved", set(), ["An approved packet for version 1"]),
    ("in_design", "approved", {"packet"}, None),
    ("in_design", "live", {"packet", "ready"}, ["In design cannot move to live"]),
    ("approved", "shadow", set(), ["An approved packet", "Readiness checklist complete", "Test plan complete"]),
    ("approved", "shadow", {"packet"}, ["Readiness checklist complete", "Test plan complete"]),
    ("approved", "shadow", {"packet", "ready"}, None),
    ("approved", "live", {"packet", "ready"}, None),  # low tier: shadow is optional
    ("approved", "live", {"packet", "ready", "high"}, ["Shadow agreement meets the bar"]),
    ("approved", "in_design", set(), None),
    ("shadow", "live", {"packet", "ready", "obs:30:29"}, None),
    ("shadow", "live", {"packet", "ready", "obs:30:27"}, ["Shadow agreement meets the bar"]),
    ("shadow", "live", {"packet", "ready", "obs:10:10"}, ["Shadow agreement meets the bar"]),
    ("shadow", "live", {"ready", "obs:30:30"}, ["An approved packet"]),
    ("shadow", "paused", set(), ["A reason is given"]),
    ("shadow", "paused", {"reason"}, None),
    ("live", "paused", set(), ["A reason is given"]),
    ("live", "paused", {"reason"}, None),
    ("live", "retired", set(), ["A reason is given"]),
    ("live", "retired", {"reason"}, None),
    ("live", "shadow", {"packet", "ready"}, ["Live cannot move to shadow"]),
    ("live", "in_design", set(), ["Live cannot move to in design"]),
    # Resuming re-checks every gate of live for the current version (it used to check the packet only).
    ("paused", "live", {"packet", "ready"}, None),
    ("paused", "live", {"packet"}, ["Readiness checklist complete", "Test plan complete and passed"]),
    ("paused", "live", set(), ["An approved packet", "Readiness checklist complete", "Test plan complete and passed"]),
    ("paused", "in_design", set(), None),
    ("paused", "retired", {"reason"}, None),
    ("retired", "live", {"packet", "ready", "reason"}, ["Retired cannot move to live"]),
    ("retired", "in_design", {"reason"}, ["Retired cannot move to in design"]),
]


@pytest.mark.parametrize(
    ("start", "to", "given", "unmet"), CASES, ids=[f"{c[0]}-{c[1]}-{'+'.join(sorted(c[2]))}" for c in CASES]
)
def test_every_move_and_its_gate(admin, start, to, given, unmet):
    flags = {"merges_records": True} if "high" in given else {}
    automation = AutomationFactory(status=start, **flags)
    if "ready" in given:
        make_ready(automation, admin)
        automation.refresh_from_db()
    if "packet" in given:
        approved_packet(automation)
    for item in given:
        if item.startswith("obs:"):
            _, n, agreed = item.split(":")
            _observations(automation, int(n), int(agreed))
    reason = "Because the owner asked" if "reason" in given else ""
    if unmet is None:
        moved = services.transition(automation=automation, to=to, by=admin, reason=reason)
        assert moved.status == to
        move = LifecycleMove.objects.get(automation=automation)
        assert (move.from_status, move.to_status, move.by) == (start, to, admin)
        assert automation.history.first().history_user == admin
    else:
        with pytest.raises(services.TransitionRefused) as refused:
            services.transition(automation=automation, to=to, by=admin, reason=reason)
        reasons = refused.value.extra["reasons"]
        assert len(reasons) == len(unmet), reasons
        for expected, got in zip(unmet, reasons, strict=True):
            assert got.startswith(expected), (expected, got)
        automation.refresh_from_db()
        assert automation.status == start
        assert not LifecycleMove.objects.exists()


def test_only_admins_move_but_the_failure_owner_may_pause(manager, admin):
    automation = AutomationFactory(status="live", failure_owner=manager)
    with pytest.raises(services.TransitionRefused) as refused:
        services.transition(automation=automation, to="retired", by=manager, reason="Old")
    assert refused.value.extra["reasons"][0].startswith("Who may move it")
    paused = services.transition(automation=automation, to="paused", by=manager, reason="Failing since Monday")
    assert paused.status == "paused"


def test_a_refused_move_is_a_conflict_with_every_reason(manager):
    automation = AutomationFactory(status="approved")
    with pytest.raises(Conflict) as refused:
        services.transition(automation=automation, to="shadow", by=manager, reason="")
    assert len(refused.value.extra["reasons"]) == 4


def test_an_unknown_status_names_the_field(admin):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.transition(automation=AutomationFactory(), to="flying", by=admin, reason="x")
    assert "to" in error.value.message_dict


def test_a_material_registry_change_voids_the_approval_for_live(admin):
    from registry import services as registry_services

    automation = AutomationFactory(status="paused")
    approved_packet(automation)
    registry_services.automation_update(automation=automation, by=admin, reason="New rule", rule="Changed rule")
    automation.refresh_from_db()
    assert automation.status == "in_design"
    with pytest.raises(services.TransitionRefused):
        services.transition(automation=automation, to="approved", by=admin, reason="")


def test_lifecycle_moves_are_append_only(admin):
    automation = AutomationFactory(status="proposed")
    services.transition(automation=automation, to="in_design", by=admin, reason="")
    move = LifecycleMove.objects.get()
    move.reason = "rewritten"
    with pytest.raises(PermissionError):
        move.save()
    with pytest.raises(PermissionError):
        move.delete()
