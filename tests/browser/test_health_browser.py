"""Health in a real browser: a failing automation's finding on the findings page and on the
automation page (chart), acknowledged by a manager on a phone; no serious axe violations."""

from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from health import monitors
from health.models import RunEvent
from tests.browser.conftest import log_in
from tests.factories import PASSWORD
from tests.registry.factories import AutomationFactory


@pytest.fixture
def failing(db, manager):
    automation = AutomationFactory(name="Inbound lead routing EMEA", key="lead-routing-emea", failure_owner=manager)
    now = timezone.now()
    RunEvent.objects.bulk_create(
        [
            RunEvent(
                automation=automation,
                event_id=f"e{i}",
                started_at=now - timedelta(hours=3 * i + 1),
                finished_at=now - timedelta(hours=3 * i + 1) + timedelta(seconds=2),
                outcome="failure" if i < 6 else "success",
            )
            for i in range(20)
        ]
    )
    monitors.monitors_run()
    return automation


def _serious(page):
    results = Axe().run(page)
    return [
        (v["id"], [n["html"][:150] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_manager_sees_and_acknowledges_a_finding_on_a_phone(phone_page, manager, failing):
    page = phone_page
    log_in(page, manager, PASSWORD)
    page.goto("/findings/")
    assert not _serious(page)
    page.get_by_role("link", name="Failure rate up").click()
    assert "runs failed in the last 7 days" in page.locator("main").inner_text()
    assert not _serious(page)
    page.get_by_role("button", name="Acknowledge").click()
    assert "Acknowledged" in page.locator("main").inner_text()


def test_automation_page_shows_the_health_panel_and_chart(page, admin, failing):
    log_in(page, admin, PASSWORD)
    page.goto(failing.get_absolute_url())
    panel = page.locator("section.health-panel")
    assert "Last 7 days" in panel.inner_text()
    assert panel.locator("svg.health-chart rect").count() >= 30
    assert "Failure rate up" in panel.inner_text()
    assert not _serious(page)
