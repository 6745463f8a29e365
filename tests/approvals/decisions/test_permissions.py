"""issue 15 §3, who decides: one check (`permissions.decide_refusals`) behind the page, the API,
the Slack buttons and the service. Deciding needs the decide capability (managers and RevOps
admins) and the assignment; a viewer never decides, even as the assignee; an integration never
decides; and a request waits only for someone who may decide it."""

import json
import time
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from slack_sdk.signature import SignatureVerifier

from approvals.decisions import permissions, services
from approvals.decisions.models import ChatAction, Decision, DecisionRequest
from revops_gov.errors import Forbidden
from revops_gov.models import Integration
from tests.approvals.decisions.factories import DecisionRequestFactory, LiveAutomationFactory
from tests.factories import UserFactory, personal_token
from tests.revops_gov.chat_servers import chat_server

pytestmark = pytest.mark.django_db
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def _viewer_assigned():
    """A request assigned to a viewer: the factory writes it directly, as the old code let an
    integration do (the rule now refuses such an assignment; see below)."""
    viewer = UserFactory(role="viewer", slack_user_id="U0VIEWER01")
    return viewer, DecisionRequestFactory(assignee=viewer)


# --- the check itself -----------------------------------------------------------------------
def test_the_check_wants_the_decide_capability_and_the_assignment():
    boss = UserFactory(role="manager")
    assignee = UserFactory(role="manager", manager=boss)
    request = DecisionRequestFactory(assignee=assignee)
    assert permissions.decide_refusals(assignee, request) == []
    assert permissions.decide_refusals(boss, request) == []
    assert permissions.decide_refusals(UserFactory(role="revops_admin"), request) == []
    stranger = permissions.decide_refusals(UserFactory(role="manager"), request)
    assert stranger == [f"Only {assignee}, their manager or a RevOps admin may decide this request."]


def test_a_viewer_never_decides_even_as_the_assignee():
    viewer, request = _viewer_assigned()
    (reason,) = permissions.decide_refusals(viewer, request)
    assert "decide capability" in reason and "Viewer" in reason
    assert not permissions.may_decide(viewer, request)
    with pytest.raises(Forbidden) as error:
        services.decide(request=request, by=viewer, option="accept_owner")
    assert error.value.extra["reasons"] == [reason]
    assert not Decision.objects.exists()


def test_a_viewer_manager_of_the_assignee_does_not_decide_either():
    boss = UserFactory(role="viewer")
    request = DecisionRequestFactory(assignee=UserFactory(role="manager", manager=boss))
    assert permissions.decide_refusals(boss, request) and not permissions.may_decide(boss, request)


def test_an_integration_and_an_inactive_person_never_decide(sf_token):
    request = DecisionRequestFactory()
    service_user = Integration.objects.get(system="salesforce").service_user
    assert permissions.decide_refusals(service_user, request) == [
        "Decisions are made by people, with their own token, never by an integration."
    ]
    request.assignee.is_active = False
    assert permissions.decide_refusals(request.assignee, request) == ["Sign in as an active user to decide."]


# --- every decide path refuses the viewer assignee ------------------------------------------
def test_a_viewer_assignee_is_refused_on_the_page(client):
    viewer, request = _viewer_assigned()
    client.force_login(viewer)
    detail = client.get(reverse("decisions:detail", args=[request.pk])).content.decode()
    assert 'name="option"' not in detail  # no options shown
    response = client.post(reverse("decisions:decide", args=[request.pk]), {"option": "accept_owner"})
    assert response.status_code == 403
    assert not Decision.objects.exists()


def test_a_viewer_assignee_is_refused_by_the_api(api):
    viewer, request = _viewer_assigned()
    response = api.as_token(personal_token(viewer)).post(
        f"/api/v1/decisions/{request.pk}/decide/", {"option": "accept_owner"}, format="json"
    )
    assert response.status_code == 403
    assert "decide capability" in response.json()["message"]
    assert not Decision.objects.exists()


def test_a_viewer_assignee_is_refused_in_slack(client, settings):
    viewer, request = _viewer_assigned()
    with chat_server() as slack:
        settings.REVOPS = {
            **settings.REVOPS,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": f"{slack.url}/api/",
        }
        response = press(client, slack, request=request, member="U0VIEWER01", option="accept_owner")
    assert response.json()["response_type"] == "ephemeral"
    assert "decide capability" in response.json()["text"] and "Nothing was decided" in response.json()["text"]
    assert not Decision.objects.exists()
    action = ChatAction.objects.get()
    assert (action.user, action.outcome) == (viewer, "refused")


def press(client, slack, *, request, member, option):
    """A signed Slack button press (as tests/approvals/decisions/test_chat.py sends them)."""
    payload = {
        "type": "block_actions",
        "user": {"id": member},
        "response_url": f"{slack.url}/respond/T1/abc",
        "actions": [{"action_id": f"decide:{option}", "value": str(request.pk), "block_id": "decision"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    return client.post(
        "/integrations/slack/interactivity/",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature},
    )


# --- a request waits only for someone who may decide it -------------------------------------
ROUTE = {
    "kind": "strategic_lead_route",
    "record_object": "Lead",
    "record_id": "00QA000000Lead1",
    "why": "Lead from Globex, a named strategic account.",
    "proposed_action": "Route to pchen.",
}


def test_an_integration_cannot_route_a_request_to_a_viewer(api, sf_token):
    automation = LiveAutomationFactory(key="strategic-lead-routing", reassigns_strategic_ownership=True)
    UserFactory(username="victor", role="viewer")
    response = api.as_token(sf_token).post(
        "/api/v1/decisions/", {**ROUTE, "automation": automation.key, "assignee": "victor"}, format="json"
    )
    assert response.status_code == 400
    assert "assignee" in response.json()["fields"]
    assert "decide capability" in " ".join(response.json()["fields"]["assignee"])
    assert not DecisionRequest.objects.exists()


def test_an_integration_can_route_a_request_to_a_manager(api, sf_token):
    automation = LiveAutomationFactory(key="strategic-lead-routing", reassigns_strategic_ownership=True)
    UserFactory(username="mia", role="manager")
    response = api.as_token(sf_token).post(
        "/api/v1/decisions/", {**ROUTE, "automation": automation.key, "assignee": "mia"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["assignee"] == "mia"


def test_a_viewer_exception_owner_is_not_asked_by_default(admin):
    automation = LiveAutomationFactory(rule_owner=UserFactory(role="viewer"), reassigns_strategic_ownership=True)
    with pytest.raises(ValidationError) as error:
        services.decision_request_create(by=admin, automation=automation, **ROUTE)
    assert "assignee" in error.value.message_dict


def test_a_request_cannot_be_reassigned_to_a_viewer(admin, client):
    request = DecisionRequestFactory()
    viewer = UserFactory(username="victor", role="viewer")
    with pytest.raises(ValidationError) as error:
        services.reassign(request=request, by=admin, assignee=viewer, reason="Covers EMEA")
    assert "assignee" in error.value.message_dict
    client.force_login(admin)
    client.post(reverse("decisions:reassign", args=[request.pk]), {"assignee": "victor", "reason": "Covers EMEA"})
    request.refresh_from_db()
    assert request.assignee != viewer


def test_the_reassign_list_offers_only_people_who_may_decide(admin, client, sf_token):
    request = DecisionRequestFactory()
    manager = UserFactory(username="mia", role="manager")
    UserFactory(username="victor", role="viewer")
    UserFactory(username="charlie")  # no role
    offered = set(permissions.deciders().values_list("username", flat=True))
    assert {"mia", "alice", request.assignee.username} <= offered
    assert not offered & {"victor", "charlie", "system"}
    assert not permissions.deciders().filter(integration__isnull=False).exists()
    for person in (manager, admin):
        assert permissions.holds_decide_capability(person, request.kind)
    client.force_login(admin)
    page = client.get(reverse("decisions:detail", args=[request.pk])).content.decode()
    assert 'value="mia"' in page and 'value="victor"' not in page and 'value="charlie"' not in page
