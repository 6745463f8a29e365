"""The approver rule by tier (issue 15 §2), through every entry point: the service, the gates, the
packet page and its review form.

low: one approver, manager or admin. medium: one manager. high: two distinct approvers, at least
one a manager. Never the submitter, never the rule owner. Re-evaluated when the tier changes."""

import pytest
from django.urls import reverse

from approvals import gates, rules, services
from approvals.choices import PacketState, Verdict
from approvals.models import ApprovalPacket, PacketReview
from registry import services as registry_services
from revops_gov.errors import Forbidden
from revops_gov.roles import Role
from tests.approvals.factories import PacketFactory, approved_packet, make_ready
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db

TIER_FLAGS = {"low": {}, "medium": {"assigns_ownership": True}, "high": {"merges_records": True}}


def an_admin():
    return UserFactory(role=Role.ADMIN)


def a_manager():
    return UserFactory(role=Role.MANAGER)


def submitted(tier, *, by, **automation_fields):
    automation = AutomationFactory(status="in_design", **TIER_FLAGS[tier], **automation_fields)
    assert automation.risk_tier == tier
    return services.packet_submit(packet=PacketFactory(automation=automation), by=by)


def approve(packet, *people):
    for person in people:
        services.packet_review(packet=packet, by=person, verdict="approve")
    return ApprovalPacket.objects.select_related("automation").get(pk=packet.pk)


# --- The rule itself ----------------------------------------------------------------------------
def test_the_rule_of_each_tier_is_named_in_the_words_of_the_issue():
    assert [(r.approvers, r.managers, r.text) for r in map(rules.approver_rule, ("low", "medium", "high"))] == [
        (1, 0, "1 approver (a manager or an admin)"),
        (1, 1, "1 manager"),
        (2, 1, "2 approvers incl. a manager"),
    ]


def test_low_tier_is_approved_by_one_admin(admin):
    packet = approve(submitted("low", by=admin), an_admin())
    assert packet.state == PacketState.APPROVED
    assert rules.rule_status(packet).as_dict() == {
        "tier": "low",
        "needs": "1 approver (a manager or an admin)",
        "has": "1",
        "met": True,
    }


def test_low_tier_is_approved_by_one_manager(admin):
    packet = approve(submitted("low", by=admin), a_manager())
    assert packet.state == PacketState.APPROVED and rules.rule_status(packet).met


def test_medium_tier_is_not_approved_by_an_admin_alone(admin):
    packet = submitted("medium", by=admin)
    with pytest.raises(Forbidden, match="medium-tier packet needs a manager among its approvers"):
        services.packet_review(packet=packet, by=an_admin(), verdict="approve")
    # Even an admin's approval recorded some other way does not meet the rule.
    PacketReview.objects.create(packet=packet, reviewer=an_admin(), verdict=Verdict.APPROVE)
    status = rules.rule_status(packet)
    assert not status.met and status.text == "needs: 1 manager — has: 1 (no manager yet)"


def test_medium_tier_is_approved_by_one_manager(admin):
    packet = approve(submitted("medium", by=admin), a_manager())
    assert packet.state == PacketState.APPROVED
    assert rules.rule_status(packet).text == "needs: 1 manager — has: 1 manager"


def test_high_tier_is_not_approved_by_two_admins(admin):
    packet = approve(submitted("high", by=admin), an_admin())
    assert packet.state == PacketState.SUBMITTED
    with pytest.raises(Forbidden, match="high-tier packet needs a manager among its approvers"):
        services.packet_review(packet=packet, by=an_admin(), verdict="approve")
    packet.refresh_from_db()
    assert packet.state == PacketState.SUBMITTED


def test_high_tier_approved_by_two_admins_some_other_way_does_not_open_the_gate(admin):
    automation = AutomationFactory(status="in_design", merges_records=True)
    approved_packet(automation, approvers=[an_admin(), an_admin()])
    assert gates.approved_packet(automation) is None
    with pytest.raises(services.TransitionRefused, match="An approved packet for version"):
        services.transition(automation=automation, to="approved", by=admin, reason="")


@pytest.mark.parametrize("order", ["admin first", "manager first"])
def test_high_tier_is_approved_by_an_admin_and_a_manager(admin, order):
    people = [an_admin(), a_manager()]
    packet = approve(submitted("high", by=admin), *(people if order == "admin first" else people[::-1]))
    assert packet.state == PacketState.APPROVED
    assert rules.rule_status(packet).text == "needs: 2 approvers incl. a manager — has: 2 incl. a manager"


def test_high_tier_is_approved_by_two_managers(admin):
    first = approve(submitted("high", by=admin), a_manager())
    assert first.state == PacketState.SUBMITTED
    assert rules.rule_status(first).has == "1 manager"
    packet = approve(first, a_manager())
    assert packet.state == PacketState.APPROVED and rules.rule_status(packet).met


@pytest.mark.parametrize("tier", ["low", "medium", "high"])
def test_the_submitters_and_the_rule_owners_approvals_never_count(tier):
    owner, submitter = a_manager(), a_manager()
    packet = submitted(tier, by=submitter, rule_owner=owner)
    for person, reason in ((submitter, "You submitted this packet"), (owner, "You own the rule")):
        with pytest.raises(Forbidden, match=reason):
            services.packet_review(packet=packet, by=person, verdict="approve")
    # Approvals of theirs recorded some other way (say, under the old LOW_TIER_SELF_APPROVAL) never count.
    for person in (submitter, owner):
        PacketReview.objects.create(packet=packet, reviewer=person, verdict=Verdict.APPROVE)
    ApprovalPacket.objects.filter(pk=packet.pk).update(state=PacketState.APPROVED)
    assert rules.rule_status(packet).has == "0" and not rules.rule_status(packet).met
    assert gates.approved_packet(packet.automation) is None


# --- Re-evaluated when the tier changes ---------------------------------------------------------
@pytest.fixture
def approved_low_tier(admin):
    """A low-tier automation approved by one admin, moved to approved and ready for shadow."""
    packet = approve(submitted("low", by=admin), an_admin())
    automation = services.transition(automation=packet.automation, to="approved", by=admin, reason="")
    make_ready(automation, admin)
    automation.refresh_from_db()
    assert gates.approved_packet(automation) == packet and gates.gate(automation, "shadow", by=admin).open
    return automation


def test_a_tier_raised_after_approval_makes_the_old_approval_not_count(admin, approved_low_tier):
    automation = registry_services.risk_tier_raise(
        automation=approved_low_tier, tier="high", by=admin, reason="It now writes to the forecast"
    )
    # A tier raise is a material change too (issue 15 §1): a new version, back to design.
    assert automation.risk_tier == "high" and automation.version == approved_low_tier.version + 1
    assert gates.approved_packet(automation) is None
    assert automation.status == "in_design"
    with pytest.raises(services.TransitionRefused, match="An approved packet for version") as refused:
        services.transition(automation=automation, to="approved", by=admin, reason="")
    assert any(r.startswith("An approved packet for version") for r in refused.value.extra["reasons"])
    packet = automation.packets.get()
    status = rules.rule_status(packet)
    assert (status.met, status.text) == (False, "needs: 2 approvers incl. a manager — has: 1 (no manager yet)")


def test_the_tier_given_overrides_the_current_one(admin):
    packet = approve(submitted("low", by=admin), an_admin())
    assert rules.rule_status(packet, tier="low").met
    assert not rules.rule_status(packet, tier="medium").met
    assert rules.rule_status(packet, tier="high").text == "needs: 2 approvers incl. a manager — has: 1 (no manager yet)"


# --- The packet page and its review form --------------------------------------------------------
def test_the_packet_page_shows_what_the_rule_needs_and_has(login, admin):
    packet = approve(submitted("high", by=admin), an_admin())
    page = login(admin).get(packet.get_absolute_url()).content.decode()
    assert "Approver rule (high tier):</strong> needs 2 approvers incl. a manager — has: 1 (no manager yet)" in page


def test_the_packet_page_shows_the_raised_tiers_rule_on_an_old_approval(login, admin, approved_low_tier):
    automation = registry_services.risk_tier_raise(
        automation=approved_low_tier, tier="medium", by=admin, reason="Business side asked"
    )
    page = login(admin).get(automation.packets.get().get_absolute_url()).content.decode()
    assert "Approver rule (medium tier):</strong> needs 1 manager — has: 1 (no manager yet)" in page
    assert "The tier was raised after this approval" in page


def test_the_review_form_refuses_a_second_admin_on_a_high_tier_packet(login, admin):
    packet = approve(submitted("high", by=admin), an_admin())
    second = an_admin()
    page = login(second).get(packet.get_absolute_url()).content.decode()
    assert "high-tier packet needs a manager among its approvers" in page and "Record review" not in page
    url = reverse("approvals:packet-review", args=[packet.automation.key, packet.number])
    answer = login(second).post(url, {"verdict": "approve"}, follow=True).content.decode()
    assert "high-tier packet needs a manager among its approvers" in answer
    packet.refresh_from_db()
    assert packet.state == PacketState.SUBMITTED and packet.reviews.count() == 1


def test_the_review_form_approves_a_high_tier_packet_once_a_manager_approves(login, admin):
    packet = approve(submitted("high", by=admin), an_admin())
    url = reverse("approvals:packet-review", args=[packet.automation.key, packet.number])
    login(a_manager()).post(url, {"verdict": "approve"})
    packet.refresh_from_db()
    assert packet.state == PacketState.APPROVED
    page = login(admin).get(packet.get_absolute_url()).content.decode()
    assert "needs 2 approvers incl. a manager — has: 2 incl. a manager (met)" in page
