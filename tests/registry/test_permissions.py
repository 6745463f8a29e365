"""Integration tokens never write governance fields; the API's status is read-only for everyone.

Through the API with every kind of caller: an admin (session and personal token), the personal
tokens of a manager and a viewer, the integration token of the automation's own system and of
another system; POST, PATCH and PUT."""

import pytest

from registry import services
from registry.models import Automation
from registry.permissions import INTEGRATION_REFUSED_FIELDS
from tests.factories import personal_token
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/automations/"
NEW = {
    "key": "closed-won-handoff",
    "name": "Closed-won handoff",
    "business_purpose": "Create onboarding tasks when a deal closes.",
    "workflow_type": "handoff",
    "team": "cs",
    "trigger": "Opportunity moves to Closed Won.",
    "rule": "Contract start, products and sponsor are filled.",
    "change_reason": "Found in the Salesforce flows",
}


def governance_value(name, person):
    """A value an integration might send for a governance field."""
    if name.endswith("_owner") or name == "support_contact":
        return person.username
    return {
        "status": "live",
        "risk_tier_override": "high",
        "risk_tier_override_reason": "Because",
        "review_cadence": 30,
        "last_reviewed_at": "2026-01-05T10:00:00Z",
    }.get(name, True)


@pytest.fixture
def raised(admin):
    """A salesforce automation whose tier an admin raised to high by hand."""
    automation = AutomationFactory(system="salesforce", status="proposed")
    return services.risk_tier_raise(automation=automation, tier="high", by=admin, reason="Touches strategic accounts")


def test_integration_token_cannot_clear_an_admins_tier_raise(api, sf_token, raised):
    response = api.as_token(sf_token).patch(
        f"{URL}{raised.key}/", {"risk_tier_override": "", "change_reason": "sync from CRM"}
    )
    assert response.status_code == 403
    body = response.json()
    assert body["extra"]["field"] == "risk_tier_override"
    assert "risk_tier_override" in body["message"]
    raised.refresh_from_db()
    assert (raised.risk_tier_override, raised.risk_tier) == ("high", "high")


@pytest.mark.parametrize("name", sorted(INTEGRATION_REFUSED_FIELDS))
def test_integration_token_cannot_register_an_automation_with_a_governance_field(api, sf_token, admin, name):
    response = api.as_token(sf_token).post(URL, {**NEW, name: governance_value(name, admin)})
    assert response.status_code == 403, response.json()
    assert response.json()["extra"]["field"] == name
    assert name in response.json()["message"]
    assert not Automation.objects.exists()


@pytest.mark.parametrize("name", sorted(set(INTEGRATION_REFUSED_FIELDS) - {"last_reviewed_at"}))
def test_integration_token_cannot_change_a_governance_field(api, sf_token, admin, name):
    automation = AutomationFactory(system="salesforce", status="proposed", rule_owner=admin)
    before = automation.history.count()
    response = api.as_token(sf_token).patch(
        f"{URL}{automation.key}/", {name: governance_value(name, admin), "change_reason": "sync from CRM"}
    )
    assert response.status_code == 403, response.json()
    assert response.json()["extra"]["field"] == name
    assert automation.history.count() == before


def test_integration_token_cannot_change_another_systems_governance_fields(api, hs_token, raised):
    response = api.as_token(hs_token).patch(f"{URL}{raised.key}/", {"risk_tier_override": "", "change_reason": "sync"})
    assert response.status_code == 404
    raised.refresh_from_db()
    assert raised.risk_tier_override == "high"


def test_integration_token_registers_a_proposed_automation_and_keeps_its_description(api, sf_token):
    client = api.as_token(sf_token)
    response = client.post(URL, NEW)
    assert response.status_code == 201, response.json()
    assert (response.json()["status"], response.json()["system"]) == ("proposed", "salesforce")
    response = client.patch_current(f"{URL}{NEW['key']}/", {"external_id": "301Hs0000X", "change_reason": "CRM id"})
    assert response.status_code == 200, response.json()
    assert Automation.objects.get(key=NEW["key"]).external_id == "301Hs0000X"


def test_the_status_is_read_only_in_the_api_for_an_admin(api, admin):
    automation = AutomationFactory(status="proposed")
    client = api.as_token(personal_token(admin))
    response = client.post(URL, {**NEW, "system": "salesforce", "status": "live"})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"status"}
    assert "transition" in response.json()["fields"]["status"][0]
    response = client.patch_current(f"{URL}{automation.key}/", {"status": "live", "change_reason": "launch"})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"status"}
    api.credentials()
    api.force_login(admin)
    assert api.post(URL, {**NEW, "system": "salesforce", "status": "shadow"}).status_code == 400
    assert not Automation.objects.filter(key=NEW["key"]).exists()
    automation.refresh_from_db()
    assert automation.status == "proposed"


def test_an_automation_registered_by_an_admin_is_proposed(api, admin):
    response = api.as_token(personal_token(admin)).post(URL, {**NEW, "system": "salesforce"})
    assert response.status_code == 201, response.json()
    assert Automation.objects.get(key=NEW["key"]).status == "proposed"


def test_personal_tokens_of_a_manager_and_a_viewer_write_nothing(api, manager, viewer):
    automation = AutomationFactory(status="proposed")
    for person in (manager, viewer):
        client = api.as_token(personal_token(person))
        assert client.post(URL, {**NEW, "system": "salesforce"}).status_code == 403
        response = client.patch(f"{URL}{automation.key}/", {"risk_tier_override": "high", "change_reason": "x"})
        assert response.status_code == 403
        assert client.patch(f"{URL}{automation.key}/", {"status": "live", "change_reason": "x"}).status_code == 403
    automation.refresh_from_db()
    assert (automation.risk_tier_override, automation.status) == ("", "proposed")
    assert not Automation.objects.filter(key=NEW["key"]).exists()


def test_put_replaces_nothing_for_any_token(api, admin, manager, sf_token, hs_token, raised):
    body = {**NEW, "key": raised.key, "system": "salesforce", "risk_tier_override": "", "status": "live"}
    # No PUT at all (405); a manager is refused before the method is looked at (403).
    expected = {personal_token(admin): 405, personal_token(manager): 403, sf_token: 405, hs_token: 405}
    for raw, status in expected.items():
        assert api.as_token(raw).put(f"{URL}{raised.key}/", body).status_code == status
    raised.refresh_from_db()
    assert (raised.risk_tier_override, raised.status) == ("high", "proposed")
    assert raised.name != NEW["name"]
