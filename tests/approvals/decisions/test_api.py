"""The decision API: integrations create (idempotently) and poll their own system's requests,
people decide with their own tokens, errors name the field, lists run in constant queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.decisions.models import DecisionRequest
from tests.approvals.decisions.factories import DecisionRequestFactory, LiveAutomationFactory
from tests.factories import UserFactory, personal_token

pytestmark = pytest.mark.django_db
URL = "/api/v1/decisions/"

BODY = {
    "automation": "strategic-lead-routing",
    "kind": "strategic_lead_route",
    "record_object": "Lead",
    "record_id": "00QA000000Lead1",
    "record_url": "https://acme.my.salesforce.com/00QA000000Lead1",
    "why": "Lead from Globex, a named strategic account; territory and named owner disagree.",
    "evidence": [{"label": "Account tier", "value": "Strategic"}, {"label": "Territory owner", "value": "jsmith"}],
    "proposed_action": "Route to pchen (named account owner).",
}


@pytest.fixture
def routing(db):
    return LiveAutomationFactory(key="strategic-lead-routing", system="salesforce", reassigns_strategic_ownership=True)


def test_an_integration_creates_a_request_and_the_same_key_returns_it(api, sf_token, routing):
    client = api.as_token(sf_token)
    first = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="sf-7781")
    assert first.status_code == 201, first.json()
    again = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="sf-7781")
    assert again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert DecisionRequest.objects.count() == 1
    body = first.json()
    assert body["assignee"] == routing.exception_owner.username
    assert body["record"] == {
        "system": "salesforce",
        "object": "Lead",
        "id": "00QA000000Lead1",
        "url": "https://acme.my.salesforce.com/00QA000000Lead1",
    }
    assert [o["value"] for o in body["options"]] == ["accept_owner", "override", "escalate"]
    assert body["decision"] is None


@pytest.mark.parametrize("field", ["why", "proposed_action"])
def test_a_request_without_why_or_expected_action_is_a_400_naming_it(api, sf_token, routing, field):
    response = api.as_token(sf_token).post(URL, {**BODY, field: ""}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_a_request_for_an_automation_not_live_is_refused_with_the_permit_reasons(api, sf_token):
    LiveAutomationFactory(key="strategic-lead-routing", status="in_design")
    response = api.as_token(sf_token).post(URL, BODY, format="json")
    assert response.status_code == 400
    assert response.json()["extra"]["reasons"] == ["In design: it needs an approved packet before it may run"]


def test_an_integration_cannot_name_another_systems_automation(api, hs_token, routing):
    response = api.as_token(hs_token).post(URL, BODY, format="json")
    assert response.status_code == 400
    assert "automation" in response.json()["fields"]


def test_an_integration_sees_only_its_own_system(api, sf_token, hs_token):
    mine = DecisionRequestFactory(automation=LiveAutomationFactory(system="salesforce"))
    theirs = DecisionRequestFactory(automation=LiveAutomationFactory(system="hubspot"))
    body = api.as_token(sf_token).get(URL).json()
    assert [r["id"] for r in body["results"]] == [mine.pk]
    assert api.as_token(sf_token).get(f"{URL}{theirs.pk}/").status_code == 404
    assert api.as_token(hs_token).get(f"{URL}{theirs.pk}/").status_code == 200


def test_polling_filters_by_status_automation_and_updated_since(api, admin_token):
    old = DecisionRequestFactory()
    DecisionRequest.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=2))
    fresh = DecisionRequestFactory()
    decided = DecisionRequestFactory(automation=fresh.automation)
    client = api.as_token(admin_token)
    client.post(f"{URL}{decided.pk}/decide/", {"option": "accept_owner"}, format="json")
    since = (timezone.now() - timedelta(days=1)).isoformat()
    ids = lambda query: [r["id"] for r in client.get(URL, query).json()["results"]]  # noqa: E731
    assert set(ids({"updated_since": since})) == {fresh.pk, decided.pk}
    assert ids({"status": "decided"}) == [decided.pk]
    assert set(ids({"automation": fresh.automation.key})) == {fresh.pk, decided.pk}
    assert client.get(URL, {"updated_since": "yesterday"}).status_code == 400
    # An offset PostgreSQL would refuse is read in UTC, not a 500.
    assert client.get(URL, {"updated_since": "2026-06-29T16:54:43-18:30"}).status_code == 200
    assert client.get(URL, {"status": "maybe"}).status_code == 400


def test_the_assignee_decides_with_a_token_and_a_second_decision_is_409(api):
    request = DecisionRequestFactory()
    client = api.as_token(personal_token(request.assignee))
    response = client.post(
        f"{URL}{request.pk}/decide/", {"option": "override", "value": "jsmith", "reason": "EMEA pod"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["decision"]["option"] == "override"
    assert response.json()["decision"]["decided_by"] == request.assignee.username
    again = client.post(f"{URL}{request.pk}/decide/", {"option": "accept_owner"}, format="json")
    assert again.status_code == 409
    assert again.json()["extra"]["option"] == "override"
    assert str(request.assignee) in again.json()["message"]


def test_deciding_refuses_a_missing_value_or_reason_naming_the_field(api):
    request = DecisionRequestFactory()
    client = api.as_token(personal_token(request.assignee))
    response = client.post(f"{URL}{request.pk}/decide/", {"option": "override", "reason": "x"}, format="json")
    assert response.status_code == 400
    assert "value" in response.json()["fields"]
    response = client.post(f"{URL}{request.pk}/decide/", {"option": "override", "value": "jsmith"}, format="json")
    assert "reason" in response.json()["fields"]


def test_an_integration_or_a_stranger_cannot_decide(api, sf_token, manager):
    request = DecisionRequestFactory()
    assert api.as_token(sf_token).post(f"{URL}{request.pk}/decide/", {"option": "accept_owner"}).status_code == 403
    stranger = api.as_token(personal_token(manager))
    assert stranger.post(f"{URL}{request.pk}/decide/", {"option": "accept_owner"}).status_code == 403


def test_the_managers_token_decides_for_a_report(api):
    boss = UserFactory(role="manager")
    request = DecisionRequestFactory(assignee=UserFactory(manager=boss, role="manager"))
    client = api.as_token(personal_token(boss))
    assert client.post(f"{URL}{request.pk}/decide/", {"option": "accept_owner"}).status_code == 200


def test_no_integration_secret_is_ever_returned(api, admin_token, sf_integration):
    DecisionRequestFactory()
    text = api.as_token(admin_token).get(URL).content.decode()
    assert sf_integration[0].webhook_secret not in text


@pytest.mark.parametrize("persona", ["admin", "integration"])
def test_the_list_runs_in_constant_queries(api, admin_token, sf_token, persona):
    client = api.as_token(admin_token if persona == "admin" else sf_token)
    automation = LiveAutomationFactory(system="salesforce")
    client.get(URL)  # warm the token cache

    def count(n):
        DecisionRequestFactory.create_batch(n, automation=automation)
        client.get(URL)  # re-warm the token cache (another run may share and clear it)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"page_size": 100}).status_code == 200
        return len(queries)

    assert count(10) == count(40)


# --- issue 15 §3 ------------------------------------------------------------------------------
def test_an_option_that_takes_no_value_refuses_one_with_a_400_naming_value(api):
    request = DecisionRequestFactory()
    client = api.as_token(personal_token(request.assignee))
    response = client.post(f"{URL}{request.pk}/decide/", {"option": "accept_owner", "value": "jsmith"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["value"]
    request.refresh_from_db()
    assert request.status == "open"


def test_approving_for_a_held_automation_is_a_409_with_the_hold_reason(api, admin):
    from registry.services import hold_place

    request = DecisionRequestFactory(kind="duplicate_merge")
    hold_place(automation=request.automation, source="manual", reason="Merges broke the hierarchy", by=admin)
    client = api.as_token(personal_token(request.assignee))
    response = client.post(f"{URL}{request.pk}/decide/", {"option": "approve_merge"}, format="json")
    assert response.status_code == 409
    assert "Merges broke the hierarchy" in response.json()["message"]
    assert response.json()["extra"]["still_possible"] == ["Reject", "Request review"]
    rejected = client.post(f"{URL}{request.pk}/decide/", {"option": "reject", "reason": "Not the same"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "decided"


def test_escalating_through_the_api_leaves_the_request_open_with_the_manager(api):
    boss = UserFactory(role="manager")
    request = DecisionRequestFactory(assignee=UserFactory(role="manager", manager=boss))
    client = api.as_token(personal_token(request.assignee))
    response = client.post(f"{URL}{request.pk}/decide/", {"option": "escalate"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["assignee"], body["decision"]) == ("open", boss.username, None)
    assert body["escalated_at"] is not None
