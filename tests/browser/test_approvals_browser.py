"""An approval packet from submission to live, in a real browser, with an accessibility check."""

import re

from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from approvals import services
from approvals.models import ApprovalPacket
from registry.models import Automation
from revops_gov.roles import Role
from tests.approvals.factories import PacketFactory, make_ready
from tests.browser.conftest import log_in
from tests.factories import PASSWORD, UserFactory
from tests.registry.factories import AutomationFactory


def _no_serious_violations(page):
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, results.generate_report()


def _approve_as(page, manager):
    page.context.clear_cookies()
    log_in(page, manager, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name=re.compile(r"^Approvals")).click()
    page.get_by_role("link", name="Strategic account merge — packet v1").click()
    assert page.get_by_role("heading", name="New automation: nothing approved before").is_visible()
    assert "Registry card" in page.content()
    page.get_by_role("radio", name="Approve").check()
    page.get_by_role("button", name="Record review").click()
    assert "Your review is recorded" in page.content()


def test_submit_approve_twice_and_move_through_shadow_to_live(page, admin):
    automation = AutomationFactory(
        key="strategic-merge", name="Strategic account merge", status="in_design", merges_records=True
    )
    make_ready(automation, admin)
    PacketFactory(automation=automation, number=1, rollback_runner=admin)
    first, second = UserFactory(role=Role.MANAGER), UserFactory(role=Role.MANAGER)

    log_in(page, admin, PASSWORD)
    page.goto("/automations/strategic-merge/packets/1/")
    page.get_by_role("button", name="Submit for approval").click()
    assert "is submitted" in page.content()

    _approve_as(page, first)
    _no_serious_violations(page)
    _approve_as(page, second)
    assert "Approved" in page.locator(".packet-state").inner_text()
    assert ApprovalPacket.objects.get().state == "approved"

    page.context.clear_cookies()
    log_in(page, admin, PASSWORD)
    page.goto("/automations/strategic-merge/")
    page.get_by_role("button", name="Move to approved").click()
    page.get_by_role("button", name="Move to shadow").click()
    assert Automation.objects.get().status == "shadow"
    services.shadow_observations_record(
        automation=Automation.objects.get(),
        observations=[
            {
                "event_id": f"e{i}",
                "automation_action": "merge",
                "human_action": "merge",
                "agreed": i != 0,
                "observed_at": timezone.now(),
            }
            for i in range(40)
        ],
        by=admin,
    )
    page.reload()
    assert "97.5% agreement over 40 decisions" in page.content()
    _no_serious_violations(page)
    page.get_by_role("button", name="Move to live").click()
    assert "is now live" in page.content()
    assert Automation.objects.get().status == "live"
    assert "Shadow → Live by Alice Admin" in page.content()


def test_the_lifecycle_panel_works_at_phone_width(phone_page, admin):
    AutomationFactory(key="phone-one", status="in_design")
    log_in(phone_page, admin, PASSWORD)
    phone_page.goto("/automations/phone-one/")
    assert phone_page.get_by_role("button", name="Move to approved").is_visible()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1
    _no_serious_violations(phone_page)


def test_a_failed_test_case_is_re_run_from_the_readiness_page(page, admin):
    """Issue 15 §6: the case row's "Record a run" form, and the run history it shows."""
    from tests.approvals.factories import TestCaseFactory

    automation = AutomationFactory(key="rerun-one", name="Rerun one", status="approved")
    TestCaseFactory(automation=automation, kind="edge", recorded_by=admin, passed=False)
    log_in(page, admin, PASSWORD)
    page.goto("/automations/rerun-one/readiness/")
    assert "failed at v1" in page.content()
    page.get_by_text("Edit or record a run").click()
    _no_serious_violations(page)
    page.get_by_role("radio", name="Passed").check()
    page.get_by_role("button", name="Record the run").click()
    assert "Write the actual result" in page.content()  # the form comes back with its error
    page.get_by_role("radio", name="Passed").check()
    page.get_by_label("Actual result").fill("Went to the RevOps queue")
    page.get_by_role("button", name="Record the run").click()
    assert "Run recorded: passed at version 1." in page.content()
    assert "passed at v1" in page.content() and "Went to the RevOps queue" in page.content()
    _no_serious_violations(page)


def test_the_packet_page_shows_the_diff_against_the_previous_version(page, admin):
    """Issue 15 §6: a re-draft after a registry rule change, and its diff on the packet page."""
    from registry import services as registry_services

    automation = AutomationFactory(key="diff-one", name="Diff one", status="approved", rule="Territory owner wins")
    PacketFactory(automation=automation, number=1, state="approved", automation_version=1, rollback_runner=admin)
    registry_services.automation_update(
        automation=automation, by=admin, reason="Named accounts first", rule="Named account owner wins"
    )
    draft = services.packet_create_draft(automation=Automation.objects.get(pk=automation.pk), by=admin)
    log_in(page, admin, PASSWORD)
    page.goto(draft.get_absolute_url())
    assert page.get_by_role("heading", name=re.compile("Changes against the previous version v1")).is_visible()
    assert page.locator(".packet-version-diff ins").first.inner_text() == "Named account"
    _no_serious_violations(page)
