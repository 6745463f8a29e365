"""The backlog journey in a real browser: a viewer asks, an admin scores and triages, the
candidate moves to "ready", the admin promotes it and lands on the new automation."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from backlog import services
from backlog.models import Candidate
from registry.models import Automation
from tests.backlog.factories import READY, CandidateFactory
from tests.browser.conftest import log_in
from tests.factories import PASSWORD
from tests.registry.factories import DataFieldFactory


def log_out(page):
    page.context.clear_cookies()


def test_viewer_requests_admin_scores_it_moves_to_ready_and_is_promoted(page, viewer, admin):
    DataFieldFactory(object_name="Lead", api_name="Country")
    log_in(page, viewer, PASSWORD)
    page.goto("/backlog/")
    page.get_by_role("link", name="Request an automation").click()
    page.fill("#id_title", "Route inbound leads from strategic accounts")
    page.fill("#id_pain_point", "Strategic leads wait half a day for an owner.")
    page.select_option("#id_workflow_type", "lead_routing")
    page.select_option("#id_team", "sales")
    page.select_option("#id_system", "salesforce")
    page.fill("#id_volume_per_month", "900")
    page.fill("#id_time_saved_hours_per_month", "30")
    page.select_option("#id_data_fields", label="Lead.Country")
    page.get_by_role("button", name="Send the request").click()
    page.wait_for_url("**/backlog/*/")
    assert "Needs process design" in page.get_by_role("heading", name="Group: Needs process design").inner_text()
    candidate = Candidate.objects.get()
    assert candidate.requester == viewer

    log_out(page)
    log_in(page, admin, PASSWORD)
    page.goto("/backlog/")
    needs_design = page.locator("section[data-group=needs_design]")
    assert candidate.title in needs_design.inner_text()
    needs_design.get_by_role("link", name=candidate.title).click()
    page.get_by_role("link", name="Score and triage").click()
    page.fill("#id_trigger", "A lead is created whose email domain matches a strategic account.")
    page.fill("#id_rule", "Assign to the account owner; otherwise the strategic queue.")
    for name in ("rule_clear", "data_reliable", "exception_known", "value_measurable"):
        page.select_option(f"#id_{name}", "yes")
    page.select_option("#id_exception_owner", str(admin.pk))
    page.select_option("#id_owner", str(admin.pk))
    for name, value in READY.items():
        if name.startswith("factor_"):
            page.select_option(f"#id_{name}", str(value))
    page.fill("#id_change_reason", "Scored at the weekly backlog review")
    page.get_by_role("button", name="Save the triage").click()
    page.wait_for_url(f"**/backlog/{candidate.pk}/")
    assert page.get_by_role("heading", name="Group: Ready to automate").is_visible()
    arithmetic = page.get_by_role("table", name="Score arithmetic").inner_text()
    assert "Volume" in arithmetic and "× 3.00" in arithmetic and "15.00" in arithmetic

    page.goto("/backlog/")
    assert candidate.title in page.locator("section[data-group=ready]").inner_text()
    page.locator("section[data-group=ready]").get_by_role("link", name=candidate.title).click()
    page.get_by_role("button", name="Promote to the registry").click()
    page.wait_for_url("**/automations/route-inbound-leads-from-strategic-accounts/")
    assert "From the backlog" in page.content()
    automation = Automation.objects.get()
    assert automation.status == "proposed" and automation.backlog_candidate.pk == candidate.pk


def test_a_manager_on_a_phone_reads_the_board_without_horizontal_scroll(phone_page, manager, admin):
    candidate = CandidateFactory(owner=admin, exception_owner=admin)
    services.candidate_update(candidate=candidate, by=admin, reason="Scored", **READY)
    log_in(phone_page, manager, PASSWORD)
    phone_page.goto("/backlog/")
    assert candidate.title in phone_page.locator("section[data-group=ready]").inner_text()
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390


PAGES = ["/backlog/", "/backlog/new/", "/backlog/scoring/", "/backlog/{pk}/", "/backlog/{pk}/triage/"]


@pytest.mark.parametrize("path", PAGES)
def test_backlog_pages_have_no_serious_accessibility_violations(page, admin, path):
    field = DataFieldFactory(status="unstable")
    candidate = CandidateFactory(owner=admin, exception_owner=admin, data_fields=[field])
    services.candidate_update(
        candidate=candidate, by=admin, reason="Scored", **{**READY, "data_reliable": "partly", "factor_volume": 1}
    )
    CandidateFactory(judgment_forecast_override=True)
    log_in(page, admin, PASSWORD)
    page.goto(path.format(pk=candidate.pk))
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, results.generate_report()
