"""Adopting an automation found running in the CRM, or recording it retired there (issue 17):
admins only, on the page and the API; it leaves `discovered` through the lifecycle's one status
writer with its move, keeps the lifecycle invariant, and stops counting against the practical
standard."""

import pytest
from django.utils import timezone

from approvals.selectors import invariant_violations
from discovery import services as discovery_services
from health.dashboard.selectors import _running_facts, program_maturity
from registry.models import Automation
from tests.discovery.samples import DREAMHOUSE

pytestmark = pytest.mark.django_db
ADOPT = {
    "reason": "The duplicate check is wanted; documenting it",
    "business_purpose": "Stop duplicate contacts by email before sales works them twice.",
    "rule": "A contact whose email matches another contact's is flagged.",
    "team": "revops",
    "workflow_type": "crm_hygiene",
}


@pytest.fixture
def discovered(admin):
    discovery_services.metadata_import(system="salesforce", path=DREAMHOUSE, by=admin)
    return Automation.objects.get(external_id="Flow:Duplicate_Email", status="discovered")


def discovered_reasons():
    governed = program_maturity(_running_facts(now=timezone.now())).checks[1]
    return [why for why, _url in governed.reasons if "discovered" in why]


def test_a_discovered_automation_counts_against_the_standard_until_adopted(login, admin, discovered):
    count = Automation.objects.filter(status="discovered").count()
    assert count >= 2
    (reason,) = discovered_reasons()
    assert reason.startswith(f"{count} automations run in the CRM without a registry record or approval")
    page = login(admin).get(discovered.get_absolute_url())
    assert page.status_code == 200 and "Adopt it or record it retired in the CRM" in page.content.decode()

    response = login(admin).post(
        f"/automations/{discovered.key}/adopt/", {**ADOPT, "rule_owner": admin.username, "failure_owner": ""}
    )
    assert response.status_code == 302
    discovered.refresh_from_db()
    assert discovered.status == "in_design"
    assert discovered.business_purpose == ADOPT["business_purpose"] and discovered.rule_owner == admin
    move = discovered.lifecycle_moves.get()
    assert (move.from_status, move.to_status, move.by) == ("discovered", "in_design", admin)
    assert invariant_violations(discovered) == []
    (reason,) = discovered_reasons()
    assert reason.startswith(f"{count - 1} automation")


def test_recorded_retired_in_the_crm_with_its_reason(api, admin, discovered):
    api.force_login(admin)
    missing = api.post(f"/api/v1/automations/{discovered.key}/retired-in-crm/", {}, format="json")
    assert missing.status_code == 400 and b'"reason"' in missing.content
    response = api.post(
        f"/api/v1/automations/{discovered.key}/retired-in-crm/",
        {"reason": "Deactivated and deleted in the CRM on 2026-12-01"},
        format="json",
    )
    assert response.status_code == 200, response.content
    discovered.refresh_from_db()
    assert discovered.status == "retired"
    move = discovered.lifecycle_moves.get()
    assert move.reason == "Retired in the CRM: Deactivated and deleted in the CRM on 2026-12-01"
    assert invariant_violations(discovered) == []
    again = api.post(f"/api/v1/automations/{discovered.key}/adopt/", {**ADOPT, "rule_owner": admin.username})
    assert again.status_code == 409 and "not discovered" in again.json()["message"]


@pytest.mark.parametrize("role", ["viewer", "manager"])
def test_viewers_and_managers_may_not_adopt_or_retire(request, login, api, role, discovered):
    user = request.getfixturevalue(role)
    client = login(user)
    assert client.get(f"/automations/{discovered.key}/adopt/").status_code == 403
    assert (
        client.post(f"/automations/{discovered.key}/adopt/", {**ADOPT, "rule_owner": user.username}).status_code == 403
    )
    assert client.post(f"/automations/{discovered.key}/retired-in-crm/", {"reason": "x"}).status_code == 403
    api.force_login(user)
    assert api.post(f"/api/v1/automations/{discovered.key}/adopt/", ADOPT, format="json").status_code == 403
    assert api.post(f"/api/v1/automations/{discovered.key}/retired-in-crm/", {"reason": "x"}).status_code == 403
    discovered.refresh_from_db()
    assert discovered.status == "discovered" and not discovered.lifecycle_moves.exists()


def test_an_integration_token_may_not_adopt(api, sf_token, admin, discovered):
    client = api.as_token(sf_token)
    assert (
        client.post(
            f"/api/v1/automations/{discovered.key}/adopt/", {**ADOPT, "rule_owner": admin.username}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/automations/{discovered.key}/retired-in-crm/", {"reason": "gone"}, format="json"
        ).status_code
        == 403
    )
    discovered.refresh_from_db()
    assert discovered.status == "discovered"


def test_adopting_asks_for_the_documentation(api, admin, discovered):
    api.force_login(admin)
    response = api.post(
        f"/api/v1/automations/{discovered.key}/adopt/", {"reason": "yes", "business_purpose": ""}, format="json"
    )
    assert response.status_code == 400
    assert b'"business_purpose"' in response.content and b'"rule_owner"' in response.content
    page_response = api.post(f"/automations/{discovered.key}/adopt/", {"reason": "yes"})
    assert page_response.status_code == 400 and b"This field is required" in page_response.content
    response = api.post(
        f"/api/v1/automations/{discovered.key}/adopt/", {**ADOPT, "rule_owner": admin.username}, format="json"
    )
    assert response.status_code == 200, response.content
    discovered.refresh_from_db()
    assert discovered.status == "in_design" and invariant_violations(discovered) == []
