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
