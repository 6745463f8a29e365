"""Approval packets: versions, submission, separation of duties, append-only reviews."""

import pytest
from django.core.exceptions import ValidationError

from approvals import selectors, services
from approvals.choices import PacketState
from approvals.models import ApprovalPacket, PacketReview
from registry import services as registry_services
from revops_gov.errors import Forbidden
from revops_gov.roles import Role
from tests.approvals.factories import PacketFactory
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def managers(db):
    return [UserFactory(role=Role.MANAGER) for _ in range(3)]


def submitted(automation, admin, **kwargs):
    packet = PacketFactory(automation=automation, **kwargs)
    return services.packet_submit(packet=packet, by=admin)


def test_create_draft_is_idempotent_and_prefilled_from_the_registry(admin):
    automation = AutomationFactory(status="proposed", exception_path="Queue for RevOps")
    first = services.packet_create_draft(automation=automation, by=admin)
    again = services.packet_create_draft(automation=automation, by=admin)
    assert first.pk == again.pk and first.number == 1
    assert first.rule == automation.rule and first.exception_path == "Queue for RevOps"


def test_submitting_needs_every_section_and_names_the_missing_ones(admin):
    packet = services.packet_create_draft(automation=AutomationFactory(status="in_design"), by=admin)
    with pytest.raises(ValidationError) as error:
        services.packet_submit(packet=packet, by=admin)
    assert {"workflow_step", "rollback_steps", "rollback_runner"} <= set(error.value.message_dict)


def test_submitting_freezes_the_registry_version(admin):
    automation = AutomationFactory(status="in_design", version=4)
    packet = submitted(automation, admin)
    assert (packet.state, packet.automation_version, packet.submitted_by) == ("submitted", 4, admin)


def test_low_tier_needs_one_approval_from_a_manager_or_admin(admin, managers):
    packet = submitted(AutomationFactory(status="in_design"), admin)
    services.packet_review(packet=packet, by=managers[0], verdict="approve")
    packet.refresh_from_db()
    assert packet.state == PacketState.APPROVED


def test_high_tier_needs_two_distinct_approvers(admin, managers):
    packet = submitted(AutomationFactory(status="in_design", merges_records=True), admin)
    services.packet_review(packet=packet, by=managers[0], verdict="approve")
    packet.refresh_from_db()
    assert packet.state == PacketState.SUBMITTED
    with pytest.raises(Forbidden, match="already reviewed"):
        services.packet_review(packet=packet, by=managers[0], verdict="approve")
    services.packet_review(packet=packet, by=managers[1], verdict="approve")
    packet.refresh_from_db()
    assert packet.state == PacketState.APPROVED


def test_medium_tier_needs_a_manager(admin, managers):
    other_admin = UserFactory(role=Role.ADMIN)
    packet = submitted(AutomationFactory(status="in_design", assigns_ownership=True), admin)
    assert packet.automation.risk_tier == "medium"
    with pytest.raises(Forbidden, match="medium-tier packet needs a manager among its approvers"):
        services.packet_review(packet=packet, by=other_admin, verdict="approve")
    services.packet_review(packet=packet, by=managers[0], verdict="approve")


def test_submitter_cannot_approve_own_packet(admin):
    packet = submitted(AutomationFactory(status="in_design"), admin)
    with pytest.raises(Forbidden, match="You submitted this packet"):
        services.packet_review(packet=packet, by=admin, verdict="approve")


def test_rule_owner_cannot_approve(admin, managers):
    packet = submitted(AutomationFactory(status="in_design", rule_owner=managers[0]), admin)
    with pytest.raises(Forbidden, match="You own the rule"):
        services.packet_review(packet=packet, by=managers[0], verdict="approve")


def test_self_approval_is_never_allowed_not_even_for_low_tier(managers):
    low = AutomationFactory(status="in_design", rule_owner=managers[0])
    with pytest.raises(Forbidden, match="You submitted this packet"):
        services.packet_review(packet=submitted(low, managers[0]), by=managers[0], verdict="approve")
    high = AutomationFactory(status="in_design", rule_owner=managers[0], merges_records=True)
    with pytest.raises(Forbidden, match="You own the rule"):
        services.packet_review(packet=submitted(high, managers[1]), by=managers[0], verdict="approve")


def test_viewers_never_review(admin, viewer):
    packet = submitted(AutomationFactory(status="in_design"), admin)
    with pytest.raises(Forbidden, match="Only managers"):
        services.packet_review(packet=packet, by=viewer, verdict="approve")


def test_changes_requested_and_rejection_need_a_comment(admin, managers):
    packet = submitted(AutomationFactory(status="in_design"), admin)
    with pytest.raises(ValidationError) as error:
        services.packet_review(packet=packet, by=managers[0], verdict="changes_requested", comment=" ")
    assert "comment" in error.value.message_dict
    review = services.packet_review(
        packet=packet, by=managers[0], verdict="changes_requested", comment="Name the runner"
    )
    packet.refresh_from_db()
    assert packet.state == "changes_requested"
    assert (review.reviewer, review.comment, review.created_at is not None) == (managers[0], "Name the runner", True)


def test_editing_after_submission_starts_a_new_draft_and_voids_pending_approvals(admin, managers):
    automation = AutomationFactory(status="in_design", merges_records=True)
    packet = submitted(automation, admin)
    services.packet_review(packet=packet, by=managers[0], verdict="approve")
    draft = services.packet_update(packet=packet, by=admin, rule="A better rule")
    packet.refresh_from_db()
    assert packet.state == PacketState.SUPERSEDED and packet.rule != "A better rule"
    assert draft.number == packet.number + 1 and draft.state == "draft" and draft.rule == "A better rule"
    resubmitted = services.packet_submit(packet=draft, by=admin)
    services.packet_review(packet=resubmitted, by=managers[1], verdict="approve")
    resubmitted.refresh_from_db()
    # The first manager's approval was of the old version: it does not count for the new one.
    assert resubmitted.state == PacketState.SUBMITTED
    with pytest.raises(Forbidden, match="superseded|replaced"):
        services.packet_review(packet=packet, by=managers[2], verdict="approve")


def test_an_approval_of_an_old_registry_version_does_not_count(admin, managers):
    automation = AutomationFactory(status="in_design")
    packet = submitted(automation, admin)
    registry_services.automation_update(automation=automation, by=admin, reason="Tighter", rule="New rule")
    packet.refresh_from_db()
    with pytest.raises(Forbidden, match="registry record changed after submission") as refused:
        services.packet_review(packet=packet, by=managers[0], verdict="approve")
    assert "version 1 → 2" in refused.value.message
    assert packet not in selectors.waiting_for(managers[0])


def test_an_approved_packet_of_an_old_version_does_not_open_the_gate(admin, managers):
    automation = AutomationFactory(status="in_design")
    packet = submitted(automation, admin)
    services.packet_review(packet=packet, by=managers[0], verdict="approve")
    registry_services.automation_update(automation=automation, by=admin, reason="Tighter", rule="New rule")
    with pytest.raises(services.TransitionRefused, match="approved packet for version 2"):
        services.transition(automation=automation, to="approved", by=admin, reason="")


def test_reviews_are_append_only(admin, managers):
    packet = submitted(AutomationFactory(status="in_design"), admin)
    review = services.packet_review(packet=packet, by=managers[0], verdict="approve", comment="Fine")
    review.comment = "Edited"
    with pytest.raises(PermissionError):
        review.save()
    with pytest.raises(PermissionError):
        review.delete()
    assert PacketReview.objects.get().comment == "Fine"
    assert not hasattr(services, "packet_review_update") and not hasattr(services, "packet_review_delete")


def test_waiting_for_me_lists_what_each_manager_may_review(admin, managers):
    mine = submitted(AutomationFactory(status="in_design", merges_records=True), admin)
    owned = submitted(AutomationFactory(status="in_design", rule_owner=managers[0]), admin)
    assert list(selectors.waiting_for(managers[0])) == [mine]
    assert set(selectors.waiting_for(managers[1])) == {mine, owned}
    services.packet_review(packet=mine, by=managers[1], verdict="approve")
    assert list(selectors.waiting_for(managers[1])) == [owned]
    assert not selectors.waiting_for(admin).filter(pk__in=[mine.pk, owned.pk]).exclude(submitted_by=admin).exists()


def test_the_diff_compares_with_the_last_approved_version(admin, managers):
    automation = AutomationFactory(status="in_design")
    first = submitted(automation, admin)
    assert selectors.packet_diff(first)["new_automation"]
    services.packet_review(packet=first, by=managers[0], verdict="approve")
    draft = services.packet_update(packet=first, by=admin, rollback_steps="Turn off the flow, then reassign.")
    diff = selectors.packet_diff(draft)
    assert diff["baseline"] == ApprovalPacket.objects.get(pk=first.pk)
    assert [row["name"] for row in diff["rows"] if row["changed"]] == ["rollback_steps"]


def test_reporting_impact_confirmed_ids(admin):
    a, b = AutomationFactory(), AutomationFactory()
    services.readiness_tick(automation=a, item="reporting_impact", note="Board deck unaffected", by=admin)
    services.readiness_tick(automation=b, item="audit_trail", note="Lead history", by=admin)
    assert selectors.reporting_impact_confirmed_ids([a.pk, b.pk]) == {a.pk}


def test_computed_items_cannot_be_ticked(admin):
    with pytest.raises(ValidationError) as error:
        services.readiness_tick(automation=AutomationFactory(), item="owner_named", note="x", by=admin)
    assert "item" in error.value.message_dict


def test_a_test_run_needs_the_actual_result(admin):
    case = services.test_case_save(
        automation=AutomationFactory(status="in_design"), by=admin, kind="edge", description="d", expected="e"
    )
    with pytest.raises(ValidationError) as error:
        services.test_case_run(case=case, by=admin, passed=True, actual="  ")
    assert "actual" in error.value.message_dict
    assert not case.runs.exists()


def test_shadow_observations_are_idempotent_on_event_id(admin):
    from approvals.gates import shadow_agreement

    automation = AutomationFactory(status="shadow")
    obs = [
        {
            "event_id": "e1",
            "automation_action": "A",
            "human_action": "A",
            "agreed": True,
            "observed_at": "2026-11-01T10:00:00Z",
        },
        {
            "event_id": "e2",
            "automation_action": "A",
            "human_action": "B",
            "agreed": False,
            "observed_at": "2026-11-01T11:00:00Z",
        },
    ]
    assert services.shadow_observations_record(automation=automation, observations=obs, by=admin) == 2
    assert services.shadow_observations_record(automation=automation, observations=obs, by=admin) == 0
    agreement = shadow_agreement(automation)
    assert (agreement.decisions, agreement.agreed, agreement.rate) == (2, 1, 0.5)


def test_a_bad_observation_names_its_position(admin):
    with pytest.raises(ValidationError) as error:
        services.shadow_observations_record(
            automation=AutomationFactory(status="shadow"), observations=[{"event_id": "x"}], by=admin
        )
    assert "observations[0]" in error.value.message_dict
