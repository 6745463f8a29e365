"""Deciding from Slack: the assignee's message carries the options as buttons; a signed button
press decides through the same service as the web page (the same 409 on a second decision, the
same refusals); a forged, stale or unlinked press decides nothing. Slack is a real local HTTP
server (chat.postMessage, users.info, the response_url) recording what it receives."""

import json
import time
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from approvals.decisions.models import ChatAction, Decision
from revops_gov.models import Delivery
from tests.approvals.decisions.factories import DecisionRequestFactory
from tests.factories import UserFactory
from tests.revops_gov.chat_servers import chat_server

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def slack(settings):
    with chat_server() as server:
        settings.REVOPS = {
            **settings.REVOPS,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": f"{server.url}/api/",
        }
        yield server


def _press(client, slack, *, request, member, option="approve", timestamp=None, secret=SECRET):
    payload = {
        "type": "block_actions",
        "user": {"id": member},
        "response_url": f"{slack.url}/respond/T1/abc",
        "actions": [{"action_id": f"decide:{option}", "value": str(request.pk), "block_id": "decision"}],
    }
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(timestamp if timestamp is not None else time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return client.post(
        "/integrations/slack/interactivity/",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature},
    )


def _option(request):
    from approvals.decisions.chat import buttons_for

    return buttons_for(request)[0].action_id.removeprefix("decide:")


def test_a_new_request_reaches_a_slack_assignee_with_its_options_as_buttons(db, slack):
    assignee = UserFactory(notify_by="slack", slack_user_id="U0MANAGER1", role="manager")
    request = DecisionRequestFactory(assignee=assignee)
    from approvals.decisions.services import decision_request_create  # the real entry point

    created, _ = decision_request_create(
        automation=request.automation,
        kind=request.kind,
        record_object="Lead",
        record_id="00Q000000000777",
        why="Named account <!channel>",
        evidence=[],
        proposed_action="Route to the named owner.",
        assignee=assignee,
        by=UserFactory(),
    )

    (call,) = slack.to("/api/chat.postMessage")
    assert call.body["channel"] == "U0MANAGER1"
    actions = next(b for b in call.body["blocks"] if b["type"] == "actions")
    assert {e["value"] for e in actions["elements"]} == {str(created.pk)}
    assert all(e["action_id"].startswith("decide:") for e in actions["elements"])
    # CRM text goes into plain_text (shown as typed, never a mention) or escaped mrkdwn.
    mrkdwn = [call.body["text"]] + [
        b["text"]["text"] for b in call.body["blocks"] if b.get("text", {}).get("type") == "mrkdwn"
    ]
    assert not any("<!" in text for text in mrkdwn)
    intro = call.body["blocks"][1]["text"]
    assert intro["type"] == "plain_text" and "<!channel>" in intro["text"]
    assert Delivery.objects.get(about=f"decisions.request:{created.pk}").status == "sent"


def test_a_signed_press_by_the_linked_assignee_decides_and_updates_the_message(db, slack, client):
    assignee = UserFactory(slack_user_id="U0MANAGER1", role="manager")
    request = DecisionRequestFactory(assignee=assignee)
    option = _option(request)

    response = _press(client, slack, request=request, member="U0MANAGER1", option=option)

    assert response.status_code == 200
    decision = Decision.objects.get(request=request)
    assert decision.decided_by == assignee and decision.option == option
    (update,) = slack.to("/respond/T1/abc")
    assert update.body["replace_original"] is True
    assert f"Decided by {assignee} from Slack" in json.dumps(update.body)
    assert ChatAction.objects.get().outcome == "decided"


def test_the_decision_page_says_it_was_decided_from_slack_and_lists_the_presses(db, slack, client):
    assignee = UserFactory(slack_user_id="U0MANAGER1", role="manager")
    request = DecisionRequestFactory(assignee=assignee)
    _press(client, slack, request=request, member="U0MANAGER1", option=_option(request))
    client.force_login(assignee)

    page = client.get(f"/decisions/{request.pk}/").content.decode()

    assert "from Slack." in page
    assert "Pressed in chat" in page and "Slack member U0MANAGER1" in page


def test_a_decision_made_on_the_web_names_no_chat_source(db, client):
    assignee = UserFactory(role="manager")
    request = DecisionRequestFactory(assignee=assignee)
    client.force_login(assignee)
    client.post(f"/decisions/{request.pk}/decide/", {"option": _option(request)})

    page = client.get(f"/decisions/{request.pk}/").content.decode()

    assert Decision.objects.filter(request=request).exists()
    assert "from Slack" not in page and "Pressed in chat" not in page


def test_a_second_press_gets_the_same_conflict_as_the_web_and_changes_nothing(db, slack, client):
    assignee = UserFactory(slack_user_id="U0MANAGER1", role="manager")
    request = DecisionRequestFactory(assignee=assignee)
    _press(client, slack, request=request, member="U0MANAGER1", option=_option(request))

    again = _press(client, slack, request=request, member="U0MANAGER1", option=_option(request))

    assert again.json()["response_type"] == "ephemeral"
    assert "already" in again.json()["text"].lower() and "Nothing was decided" in again.json()["text"]
    assert Decision.objects.count() == 1
    client.force_login(assignee)
    web = client.post(f"/decisions/{request.pk}/decide/", {"option": _option(request)})
    assert web.status_code == 409  # the web page says the same


def test_someone_who_may_not_decide_gets_an_ephemeral_refusal(db, slack, client):
    request = DecisionRequestFactory()
    UserFactory(slack_user_id="U0STRANGER", role="viewer")
    response = _press(client, slack, request=request, member="U0STRANGER", option=_option(request))
    assert response.json()["response_type"] == "ephemeral" and "Nothing was decided" in response.json()["text"]
    assert not Decision.objects.exists()
    assert ChatAction.objects.get().outcome == "refused"


def test_an_unlinked_member_is_refused_unless_slack_vouches_for_their_email(db, slack, client):
    assignee = UserFactory(email="mia@acme.example", role="manager")
    request = DecisionRequestFactory(assignee=assignee)

    unknown = _press(client, slack, request=request, member="U0NOBODY01", option=_option(request))
    assert "not linked" in unknown.json()["text"] and not Decision.objects.exists()

    slack.users["U0MIA00001"] = {
        "id": "U0MIA00001",
        "is_email_confirmed": True,
        "profile": {"email": "Mia@acme.example"},
    }
    linked = _press(client, slack, request=request, member="U0MIA00001", option=_option(request))
    assert linked.status_code == 200 and Decision.objects.get().decided_by == assignee
    assignee.refresh_from_db()
    assert assignee.slack_user_id == "U0MIA00001"


@pytest.mark.parametrize(
    "tamper",
    [
        {"secret": "another-signing-secret-000000000"},  # forged
        {"timestamp": time.time() - 6 * 60},  # replayed after five minutes
    ],
)
def test_a_forged_or_stale_press_is_401_and_decides_nothing(db, slack, client, tamper):
    assignee = UserFactory(slack_user_id="U0MANAGER1", role="manager")
    request = DecisionRequestFactory(assignee=assignee)
    response = _press(client, slack, request=request, member="U0MANAGER1", option=_option(request), **tamper)
    assert response.status_code == 401
    assert not Decision.objects.exists() and not ChatAction.objects.exists()


def test_without_a_signing_secret_the_endpoint_is_off(db, client):
    assert client.post("/integrations/slack/interactivity/", {"payload": "{}"}).status_code == 404


def test_a_press_on_a_decision_about_a_held_automation_is_refused(db, slack, client, admin):
    """issue 15 §3: a Slack button goes through the same permit check as the page and the API."""
    from registry.services import hold_place

    assignee = UserFactory(slack_user_id="U0MANAGER1", role="manager")
    request = DecisionRequestFactory(assignee=assignee, kind="duplicate_merge")
    hold_place(automation=request.automation, source="manual", reason="Merges broke the hierarchy", by=admin)

    response = _press(client, slack, request=request, member="U0MANAGER1", option="approve_merge")

    text = response.json()["text"]
    assert response.json()["response_type"] == "ephemeral"
    assert "Merges broke the hierarchy" in text and "Nothing was decided" in text
    assert not Decision.objects.exists() and not slack.to("/respond/T1/abc")
    action = ChatAction.objects.get()
    assert (action.outcome, action.user) == ("refused", assignee)
    assert "Merges broke the hierarchy" in action.detail


def test_the_escalate_button_hands_the_request_to_the_manager_and_says_so(db, slack, client):
    boss = UserFactory(role="manager", slack_user_id="U0BOSS0001", notify_by="slack")
    assignee = UserFactory(slack_user_id="U0MANAGER1", role="manager", manager=boss)
    request = DecisionRequestFactory(assignee=assignee)

    response = _press(client, slack, request=request, member="U0MANAGER1", option="escalate")

    assert response.status_code == 200
    request.refresh_from_db()
    assert (request.status, request.assignee) == ("open", boss)
    assert not Decision.objects.exists()
    (update,) = slack.to("/respond/T1/abc")
    assert f"it now waits for {boss}" in json.dumps(update.body)
    assert [call.body["channel"] for call in slack.to("/api/chat.postMessage")] == ["U0BOSS0001"]


def test_request_review_needs_a_name_so_it_is_not_a_button(db):
    from approvals.decisions.chat import buttons_for

    request = DecisionRequestFactory(kind="duplicate_merge")
    assert [b.label for b in buttons_for(request)] == ["Approve merge"]
