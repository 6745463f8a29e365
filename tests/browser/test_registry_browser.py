"""Journeys through the registry in a real browser, and an accessibility check of each main page."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from registry.models import Automation
from tests.browser.conftest import log_in
from tests.factories import PASSWORD
from tests.registry.factories import AutomationFactory, DataFieldFactory


def test_admin_registers_sees_the_tier_edits_with_a_reason_and_reads_the_diff(page, admin):
    DataFieldFactory(object_name="Account", api_name="Tier__c", status="unstable")
    log_in(page, admin, PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Automations").click()
    page.get_by_role("link", name="Register an automation").click()
    page.fill("#id_key", "duplicate-account-merge")
    page.fill("#id_name", "Duplicate account merge")
    page.fill("#id_business_purpose", "Propose merges of duplicate accounts.")
    page.select_option("#id_workflow_type", "crm_hygiene")
    page.select_option("#id_team", "revops")
    page.select_option("#id_system", "salesforce")
    page.fill("#id_trigger", "Nightly duplicate scan.")
    page.fill("#id_rule", "Same domain and billing address.")
    page.select_option("#id_data_fields", label="Account.Tier__c")
    page.check("#id_merges_records")
    page.get_by_role("button", name="Register").click()

    page.wait_for_url("**/automations/duplicate-account-merge/")
    tier_card = page.locator("section", has=page.get_by_role("heading", name="Risk tier"))
    assert "High risk" in tier_card.inner_text()
    assert "Merges records where account history may be affected" in tier_card.inner_text()
    assert "Account.Tier__c (unstable)" in page.get_by_role("alert").filter(has_text="Data readiness").inner_text()

    page.get_by_role("link", name="Edit").click()
    page.fill("#id_name", "Duplicate account merge proposal")
    page.get_by_role("button", name="Save changes").click()
    assert "Say why you are making this change" in page.locator("#id_change_reason ~ .invalid-feedback").inner_text()
    page.fill("#id_change_reason", "Clearer name for managers")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url("**/automations/duplicate-account-merge/")

    page.get_by_role("link", name="History").click()
    latest = page.locator("ol.history-versions > li").first
    assert "Clearer name for managers" in latest.inner_text()
    assert "Alice Admin" in latest.inner_text()
    row = latest.get_by_role("row", name="Name")
    assert "Duplicate account merge" in row.locator(".diff-old").inner_text()
    assert "Duplicate account merge proposal" in row.locator(".diff-new").inner_text()
    assert Automation.objects.get().name == "Duplicate account merge proposal"


def test_import_with_one_bad_row_shows_the_row_error_and_writes_nothing_then_checks_and_confirms(page, admin):
    log_in(page, admin, PASSWORD)
    page.goto("/automations/import/")
    content = (
        b"key,name,business_purpose,workflow_type,team,system,trigger,rule,failure_owner\n"
        b"lead-dedupe,Lead dedupe,Clean leads,crm_hygiene,revops,salesforce,Nightly,Same email,alice\n"
        b"renewal-tasks,Renewal tasks,Renewals,renewal,cs,salesforce,Daily,120 days out,nobody\n"
    )
    page.set_input_files("#id_file", files=[{"name": "crm-export.csv", "mimeType": "text/csv", "buffer": content}])
    page.get_by_role("button", name="Check the file").click()
    assert "Nothing was imported" in page.get_by_role("alert").inner_text()
    error_row = page.get_by_role("row").filter(has_text="failure_owner")
    assert error_row.locator("td").first.inner_text() == "3"
    assert "nobody" in error_row.inner_text()
    assert not Automation.objects.exists()

    fixed = content.replace(b",nobody\n", b",alice\n")
    page.set_input_files("#id_file", files=[{"name": "crm-export.csv", "mimeType": "text/csv", "buffer": fixed}])
    page.get_by_role("button", name="Check the file").click()
    assert "Nothing has been written yet" in page.get_by_role("status").inner_text()
    assert not Automation.objects.exists()
    page.get_by_role("button", name="Import all 2 rows").click()
    assert "2 registered" in page.get_by_role("status").inner_text()
    assert Automation.objects.count() == 2


def test_manager_on_a_phone_finds_an_automation_by_search(phone_page, manager):
    AutomationFactory(name="Strategic account lead review", key="strategic-lead-review")
    AutomationFactory(name="Close date in the past")
    log_in(phone_page, manager, PASSWORD)
    phone_page.goto("/automations/")
    phone_page.get_by_role("button", name="Search and filters").click()
    phone_page.fill("#id_q", "strategic")
    phone_page.wait_for_function("() => document.querySelectorAll('#results tbody tr').length === 1")
    phone_page.get_by_role("link", name="Strategic account lead review").click()
    phone_page.wait_for_url("**/automations/strategic-lead-review/")
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390


PAGES = [
    "/automations/",
    "/automations/{key}/",
    "/automations/{key}/history/",
    "/automations/{key}/edit/",
    "/automations/new/",
    "/automations/import/",
    "/data-fields/",
    "/data-fields/{field}/",
    "/change-events/",
    "/change-events/new/",
    "/account/tokens/",
    "/integrations/",
]


@pytest.mark.parametrize("path", PAGES)
def test_main_pages_have_no_serious_accessibility_violations(page, admin, path):
    field = DataFieldFactory(status="deprecated")
    automation = AutomationFactory(data_fields=[field], uses_ai=True, failure_owner=None)
    log_in(page, admin, PASSWORD)
    page.goto(path.format(key=automation.key, field=field.pk))
    results = Axe().run(page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not serious, results.generate_report()


def test_login_page_has_no_serious_accessibility_violations(page, db):
    page.goto("/login/")
    results = Axe().run(page)
    assert not [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")], (
        results.generate_report()
    )
