import pytest

from approvals import services as approvals_services
from approvals.permit import permit_cached, permit_for
from registry import services
from tests.approvals.factories import approved_packet
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("status", "mode"),
    [
        ("live", "live"),
        ("shadow", "shadow"),
        ("proposed", "blocked"),
        ("in_design", "blocked"),
        ("approved", "blocked"),
        ("paused", "blocked"),
        ("retired", "blocked"),
    ],
)
def test_the_status_decides_the_mode(status, mode):
    automation = AutomationFactory(status=status)
    approved_packet(automation)
    assert permit_for(automation).mode == mode


@pytest.mark.parametrize("status", ["live", "shadow"])
def test_live_or_shadow_without_an_approved_packet_of_the_current_version_is_blocked(status, admin):
    automation = AutomationFactory(status=status)
    permit = permit_for(automation)
    assert permit.mode == "blocked"
    assert permit.reasons == ("No approved packet covers version 1: it changed since its approval",)
    approved_packet(automation)
    automation.version = 2  # what a material registry edit does (and it also moves the status)
    automation.save()
    assert "version 2" in permit_for(automation).reasons[0]


def test_an_open_hold_blocks_with_its_reason_and_every_reason_is_listed(admin):
    automation = AutomationFactory(status="paused")
    services.hold_place(
        automation=automation, source="health.finding:7", reason="Failing since Lead.Segment changed", by=admin
    )
    permit = permit_for(automation)
    assert permit.mode == "blocked"
    assert len(permit.reasons) == 2
    assert "Failing since Lead.Segment changed" in permit.reasons[1]


def test_high_tier_requires_a_human_decision():
    assert permit_for(AutomationFactory(merges_records=True)).requires_human_decision
    assert not permit_for(AutomationFactory()).requires_human_decision


def test_the_cached_answer_follows_a_pause_at_once(admin, django_assert_num_queries):
    automation = AutomationFactory(status="live")
    approved_packet(automation)
    assert permit_cached(automation.key)[0]["mode"] == "live"
    with django_assert_num_queries(0):
        assert permit_cached(automation.key)[0]["mode"] == "live"
    approvals_services.transition(automation=automation, to="paused", by=admin, reason="Failing")
    answer, system = permit_cached(automation.key)
    assert answer["mode"] == "blocked" and answer["reasons"] == ["Paused"]
    assert system == "salesforce"


def test_the_cached_answer_follows_holds_and_registry_edits(admin):
    automation = AutomationFactory(status="live")
    approved_packet(automation)
    assert permit_cached(automation.key)[0]["mode"] == "live"
    hold = services.hold_place(automation=automation, source="health.finding:1", reason="Broken", by=admin)
    assert permit_cached(automation.key)[0]["mode"] == "blocked"
    services.hold_release(hold=hold, by=admin, note="Fixed")
    assert permit_cached(automation.key)[0]["mode"] == "live"
    services.automation_update(automation=automation, by=admin, reason="New rule", rule="Another rule")
    answer = permit_cached(automation.key)[0]
    assert (answer["mode"], answer["version"]) == ("blocked", 2)


def test_an_unknown_key_has_no_permit():
    assert permit_cached("nothing-here") is None
