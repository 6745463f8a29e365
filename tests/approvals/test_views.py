import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals import services
from approvals.models import ApprovalPacket, LifecycleMove, ReadinessTick, TestCase
from revops_gov.roles import Role
from tests.approvals.factories import PacketFactory, approved_packet
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


def test_the_automation_page_shows_next_moves_with_their_gates(login, admin):
    automation = AutomationFactory(status="in_design")
    page = login(admin).get(automation.get_absolute_url()).content.decode()
    assert "Lifecycle: In design" in page
    assert "Move to approved" in page and "An approved packet for version 1" in page
    assert "No approved packet covers version 1" in page


def test_a_move_from_the_page_is_recorded_with_who_and_why(login, admin):
    automation = AutomationFactory(status="live")
    approved_packet(automation)
    client = login(admin)
    response = client.post(
        reverse("approvals:transition", args=[automation.key]), {"to": "paused", "reason": "Failing since Monday"}
    )
    assert response.status_code == 302
    automation.refresh_from_db()
    assert automation.status == "paused"
    page = client.get(automation.get_absolute_url()).content.decode()
    assert "Live → Paused by Alice Admin: Failing since Monday" in page


def test_a_refused_move_shows_every_reason(login, admin):
    automation = AutomationFactory(status="approved")
    response = login(admin).post(reverse("approvals:transition", args=[automation.key]), {"to": "shadow"}, follow=True)
    page = response.content.decode()
    assert "cannot move to shadow" in page
    assert "Readiness checklist complete" in page and "Test plan complete" in page
    assert not LifecycleMove.objects.exists()


def test_packet_edit_creates_a_draft_and_bad_input_is_a_form_error(login, admin):
    automation = AutomationFactory(status="proposed")
    client = login(admin)
    url = reverse("approvals:packet-edit", args=[automation.key])
    assert "Approval packet for" in client.get(url).content.decode()
    bad = client.post(url, {"rule": "x", "rollback_runner": "999999"})
    assert bad.status_code == 400 and "is-invalid" in bad.content.decode()
    opened = {"revision": "none"}  # no packet yet when the form was opened (issue 15 §4)
    good = client.post(
        url, {**opened, "workflow_step": "Routing", "rule": "Named account wins", "rollback_runner": admin.pk}
    )
    assert good.status_code == 302
    packet = ApprovalPacket.objects.get()
    assert (packet.number, packet.state, packet.rule) == (1, "draft", "Named account wins")


def test_packet_page_shows_diff_card_and_records_reviews(login, admin):
    automation = AutomationFactory(status="in_design", merges_records=True, business_purpose="Keep one account")
    packet = services.packet_submit(packet=PacketFactory(automation=automation), by=admin)
    first, second = UserFactory(role=Role.MANAGER), UserFactory(role=Role.MANAGER)
    page = login(first).get(packet.get_absolute_url()).content.decode()
    assert "New automation: nothing approved before" in page and "Keep one account" in page
    assert "needs 2 approvers incl. a manager — has: 0" in page
    url = reverse("approvals:packet-review", args=[automation.key, packet.number])
    login(first).post(url, {"verdict": "approve", "comment": "Clear"})
    login(second).post(url, {"verdict": "approve"})
    packet.refresh_from_db()
    assert packet.state == "approved"
    refused = login(admin).get(packet.get_absolute_url()).content.decode()
    assert "Approved" in refused


def test_submit_from_the_page_names_missing_sections(login, admin):
    automation = AutomationFactory(status="in_design")
    packet = services.packet_create_draft(automation=automation, by=admin)
    response = login(admin).post(reverse("approvals:packet-submit", args=[automation.key, 1]), follow=True)
    assert "Not submitted" in response.content.decode() and "required before submitting" in response.content.decode()
    packet.refresh_from_db()
    assert packet.state == "draft"


def test_readiness_page_ticks_and_test_cases(login, admin):
    automation = AutomationFactory(status="approved")
    client = login(admin)
    page = client.get(reverse("approvals:readiness", args=[automation.key])).content.decode()
    assert "Readiness checklist" in page and "Launch plan" in page and "No test cases yet" in page
    client.post(
        reverse("approvals:readiness-tick", args=[automation.key]), {"item": "audit_trail", "note": "Lead history"}
    )
    assert ReadinessTick.objects.get().note == "Lead history"
    client.post(
        reverse("approvals:testcase-save", args=[automation.key]),
        {"kind": "edge", "description": "Lead with no country", "expected": "RevOps queue"},
    )
    case = TestCase.objects.get()
    assert (case.kind, case.description) == ("edge", "Lead with no country")
    bad = client.post(reverse("approvals:testcase-save", args=[automation.key]), {"kind": "nope"})
    assert bad.status_code == 400
    assert "Nothing was saved" in bad.content.decode() and "Describe the situation tested." in bad.content.decode()


def _waiting_queries(client, n, admin):
    for _ in range(n):
        services.packet_submit(packet=PacketFactory(automation=AutomationFactory(status="in_design")), by=admin)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("approvals:waiting"))
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def test_waiting_for_me_queue_has_constant_queries_and_a_nav_badge(client, admin):
    morgan = UserFactory(role=Role.MANAGER)
    client.force_login(morgan)
    few, response = _waiting_queries(client, 10, admin)
    assert "badge" in response.content.decode() and ">10<" in response.content.decode().replace(" ", "")
    many, _ = _waiting_queries(client, 40, admin)
    assert few == many


def test_readiness_and_automation_pages_have_constant_queries(login, admin):
    automation = AutomationFactory(status="approved")
    client = login(admin)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("approvals:readiness", args=[automation.key]))
            client.get(automation.get_absolute_url())
        return len(ctx.captured_queries)

    for i in range(3):
        TestCase.objects.create(
            automation=automation, kind="edge", description=f"c{i}", expected="e", recorded_by=admin
        )
    few = count()
    for i in range(20):
        TestCase.objects.create(
            automation=automation, kind="common", description=f"d{i}", expected="e", recorded_by=admin
        )
    assert count() == few
