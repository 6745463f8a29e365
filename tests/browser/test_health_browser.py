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


@pytest.mark.parametrize("device", ["page", "phone_page"])
def test_the_runs_page_from_the_automation_page_charts_filters_and_pages(live_server, request, device, viewer, failing):
    page = request.getfixturevalue(device)
    RunEvent.objects.bulk_create(
        [
            RunEvent(automation=failing, event_id=f"old{i}", started_at=timezone.now() - timedelta(days=5, minutes=i),
                     outcome="success")
            for i in range(60)
        ]
    )  # fmt: skip
    log_in(page, viewer, PASSWORD)
    page.goto(failing.get_absolute_url())
    page.get_by_role("link", name="All runs of this automation").click()
    main = page.locator("main")
    assert "Runs of Inbound lead routing EMEA" in main.inner_text()
    chart = main.locator(".health-pygal svg.pygal-chart:visible")
    assert chart.count() == 1 and chart.bounding_box()["width"] > 300
    assert page.locator("script[src*='pygal'], script[src^='http']").count() == 0
    assert main.locator("tbody tr").count() == 50
    assert not _serious(page)
    page.get_by_role("link", name="Older").click()
    assert main.locator("tbody tr").count() == 30
    page.get_by_label("Outcome", exact=True).select_option("failure")
    page.get_by_role("button", name="Filter").click()
    assert main.locator("tbody tr").count() == 6
    assert all("Failure" in text for text in main.locator("tbody tr td:nth-child(2)").all_inner_texts())
