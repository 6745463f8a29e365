"""The decision queue in a real browser: a manager decides a strategic lead route with an override
in place (htmx, no page reload) on a phone-sized screen, and the CRM's server receives the signed
outcome from a real Celery worker."""

import uuid

import pytest
from axe_playwright_python.sync_playwright import Axe

from approvals.decisions.models import Decision
from revops_gov import services as gov
from tests.approvals.decisions.conftest import SECRET, Receiver
from tests.approvals.decisions.factories import DecisionRequestFactory, LiveAutomationFactory
from tests.browser.conftest import log_in
from tests.conftest import start_worker, stop_worker, wait_for
from tests.factories import PASSWORD, UserFactory


@pytest.fixture
def crm():
    receiver = Receiver()
    yield receiver
    receiver.close()


def _serious(page):
    results = Axe().run(page)
    return [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")], results


@pytest.mark.worker
def test_manager_overrides_a_strategic_route_in_place_and_the_crm_gets_the_signed_outcome(
    phone_page, manager, admin, crm, settings, tmp_path
):
    page = phone_page
    queue = f"test-browser-{uuid.uuid4().hex[:8]}"
    settings.REVOPS = {**settings.REVOPS, "DECISION_WEBHOOK_QUEUE": queue}
    integration, _ = gov.integration_create(name="salesforce-prod", system="salesforce")
    gov.integration_webhook_set(integration=integration, url=crm.url, secret=SECRET, by=admin)
    automation = LiveAutomationFactory(name="Strategic lead routing", reassigns_strategic_ownership=True)
    rep = UserFactory(manager=manager, first_name="Riley", last_name="Rep")
    request = DecisionRequestFactory(automation=automation, assignee=rep, record_id="00QGLOBEX01")
    DecisionRequestFactory(automation=automation, assignee=rep, kind="duplicate_merge", record_id="001OTHER")
    worker = start_worker(tmp_path, queue=queue)
    try:
        log_in(page, manager, PASSWORD)
        page.goto("/decisions/")
        serious, results = _serious(page)
        assert not serious, results.generate_report()
        page.evaluate("window.notReloaded = true")
        card = page.locator(f"#decision-{request.pk}")
        assert "00QGLOBEX01" in card.inner_text()
        card.get_by_role("button", name="Override").click()
        page.locator(f"#decision-{request.pk}").get_by_text("Override needs a value: new owner.").wait_for()
        card = page.locator(f"#decision-{request.pk}")
        card.get_by_label("Value").fill("jsmith")
        card.get_by_label("Reason").fill("Globex is covered by the EMEA strategic pod")
        card.get_by_role("button", name="Override").click()
        page.locator(f"#decision-{request.pk} [role=status]").wait_for()
        status = page.locator(f"#decision-{request.pk} [role=status]").inner_text()
        assert "Override" in status and "jsmith" in status and "Morgan Manager" in status
        assert page.evaluate("window.notReloaded") is True
        decision = Decision.objects.get(request=request)
        assert (decision.option, decision.value, decision.decided_by) == ("override", "jsmith", manager)

        received = wait_for(lambda: crm.received, timeout=30, message="the CRM to receive the outcome")
    finally:
        stop_worker(worker)
    assert received[0]["verified"]
    assert received[0]["body"]["decision"]["option"] == "override"
    assert received[0]["body"]["request"]["record"]["id"] == "00QGLOBEX01"


def test_keyboard_shortcut_decides_the_focused_card(page, manager):
    request = DecisionRequestFactory(assignee=manager, kind="duplicate_merge")
    log_in(page, manager, PASSWORD)
    page.goto("/decisions/")
    page.locator(f"#decision-{request.pk} h2 a").focus()
    page.keyboard.press("1")
    page.locator(f"#decision-{request.pk} [role=status]").wait_for()
    assert Decision.objects.get(request=request).option == "approve_merge"
