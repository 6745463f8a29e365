"""Month end in a real browser (journey 5): the admin opens last month's review, narrows it to
the retire recommendations (htmx swaps the table), confirms a noisy automation's retirement and
sees the progress move; the page prints without navigation; no serious axe violations."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from health.reviews.models import HealthReviewRow
from tests.browser.conftest import log_in
from tests.factories import PASSWORD
from tests.health.reviews.factories import HealthReviewFactory, HealthReviewRowFactory
from tests.registry.factories import AutomationFactory


@pytest.fixture
def review(db):
    review = HealthReviewFactory()
    HealthReviewRowFactory(review=review, automation=AutomationFactory(name="Renewal nudge"), recommendation="retire",
                           noisy=True, alerts_sent=120, alerts_ignored=90, tasks_completed=30)  # fmt: skip
    HealthReviewRowFactory(review=review, automation=AutomationFactory(name="Lead routing EMEA"))
    return review


def _serious(page):
    results = Axe().run(page)
    return [
        (v["id"], [n["html"][:150] for n in v["nodes"]])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_admin_confirms_a_retirement_from_the_monthly_review(page, admin, review):
    log_in(page, admin, PASSWORD)
    page.goto("/reviews/")
    assert not _serious(page)
    page.get_by_role("link", name="November 2026").click()
    assert "Confirmations: 0 of 2" in page.locator("main").inner_text()
    assert not _serious(page)
    page.select_option("#id_recommendation", "retire")
    page.wait_for_url("**recommendation=retire**")
    table = page.locator("#review-table")
    assert "Renewal nudge" in table.inner_text() and "Lead routing EMEA" not in table.inner_text()
    page.get_by_role("link", name="Renewal nudge").click()
    assert "No one acts on its alerts" in page.locator("main").inner_text()
    assert not _serious(page)
    page.select_option("#id_decision", "retire")
    page.fill("#id_note", "Reps mute it; the renewal desk covers this")
    page.get_by_role("button", name="Confirm").click()
    assert "Confirmations: 1 of 2" in page.locator("main").inner_text()
    row = HealthReviewRow.objects.get(automation__name="Renewal nudge")
    row.automation.refresh_from_db()
    assert row.automation.status == "retired" and row.decision == "retire"


def test_the_review_prints_without_navigation(page, viewer, review):
    log_in(page, viewer, PASSWORD)
    page.goto("/reviews/2026-11/")
    page.emulate_media(media="print")
    assert not page.locator("nav.navbar").is_visible()
    assert not page.get_by_role("button", name="Print / PDF").is_visible()
    assert page.locator("table.review-table").is_visible()
