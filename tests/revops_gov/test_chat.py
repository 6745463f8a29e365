"""Slack and Teams as outbox channels: who is told where, the messages (Block Kit from slack-sdk's
models, an Adaptive Card), escaping of CRM text, and delivery to real local HTTP servers standing
in for Slack and Teams — including 429 with Retry-After and 500, retried by the outbox."""

from datetime import timedelta

import pytest
from django.utils import timezone

from revops_gov import chat, outbox
from revops_gov.models import Delivery, TeamChannel
from revops_gov.notifications import Line, Section, send_digest, send_notice
from tests.factories import UserFactory
from tests.revops_gov.chat_servers import chat_server


@pytest.fixture
def slack(settings):
    with chat_server() as server:
        settings.REVOPS = {**settings.REVOPS, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_API_URL": f"{server.url}/api/"}
        yield server


def _notice(user, **extra):
    return send_notice(
        user=user,
        subject="Lead routing failed",
        intro="Two runs failed.",
        lines=[Line("Lead routing: 2 failures", "/findings/1/")],
        key=f"t:{user.pk}",
        about_url="/findings/1/",
        **extra,
    )


def test_a_person_who_chose_slack_gets_a_direct_message_with_the_bot_token(db, slack):
    user = UserFactory(notify_by="slack", slack_user_id="U024BE7LH")

    assert _notice(user)

    (call,) = slack.to("/api/chat.postMessage")
    assert call.headers["Authorization"] == "Bearer xoxb-test"
    assert call.body["channel"] == "U024BE7LH"
    assert call.body["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Lead routing failed", "emoji": False},
    }
    assert Delivery.objects.get().channel == "slack" and Delivery.objects.get().status == "sent"


def test_a_team_told_on_teams_gets_an_adaptive_card_for_members_who_chose_nothing(db):
    with chat_server() as teams:
        TeamChannel.objects.create(team="sales", notify_by="teams", teams_webhook_url=f"{teams.url}/workflow")
        member = UserFactory(team="sales")
        chooser = UserFactory(team="sales", notify_by="email")

        _notice(member)
        _notice(chooser)

        (call,) = teams.to("/workflow")
        card = call.body["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert card["content"]["type"] == "AdaptiveCard" and card["content"]["body"][0]["text"] == "Lead routing failed"
        assert Delivery.objects.get(recipient=chooser).channel == "email"


def test_digest_only_people_get_no_notice_but_their_digest(db, mailoutbox):
    user = UserFactory(notify_by="digest")
    assert not _notice(user)
    assert not Delivery.objects.exists()
    assert send_digest(user=user, subject="Waiting for you", sections=[Section("Findings", [Line("one")])])
    assert [m.to for m in mailoutbox] == [[user.email]]


def test_nobody_chose_anything_so_email_as_before(db, mailoutbox):
    user = UserFactory()
    _notice(user)
    assert Delivery.objects.get().channel == "email" and len(mailoutbox) == 1


def test_slack_without_a_bot_token_falls_back_to_email(db, mailoutbox):
    user = UserFactory(notify_by="slack", slack_user_id="U024BE7LH")
    _notice(user)
    assert Delivery.objects.get().channel == "email"


@pytest.mark.parametrize(
    "hostile", ["<!channel> deploy", "Acme & Sons <@U999> *urgent*", "<https://evil.example|click>"]
)
def test_crm_text_can_neither_break_a_slack_message_nor_ping_anyone(hostile):
    message = chat.slack_message(subject=hostile, intro=hostile, lines=[(hostile, ""), (hostile, "https://x.example/")])
    header, intro, plain, linked = message["blocks"]
    assert header["text"] == {"type": "plain_text", "text": hostile, "emoji": False}
    assert intro["text"]["type"] == "plain_text"
    for block in (plain, linked):
        text = block["text"]["text"]
        assert "<!" not in text and "<@" not in text and "<https://evil" not in text
        assert block["text"]["verbatim"] is True  # no auto-linking of names and channels
    assert plain["text"]["text"] == hostile.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_crm_text_in_a_teams_card_is_escaped():
    card = chat.teams_message(subject="x", intro="<at>Everyone</at> *now* [click](https://evil.example)", lines=[])
    text = card["attachments"][0]["content"]["body"][1]["text"]
    assert text == r"&lt;at&gt;Everyone&lt;/at&gt; \*now\* \[click\]\(https://evil.example\)"


def test_slack_429_waits_as_long_as_retry_after_then_500_backs_off_then_sends(db, slack, queued_outbox):
    user = UserFactory(notify_by="slack", slack_user_id="U024BE7LH")
    slack.answer_next(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})
    slack.answer_next(500, {"ok": False, "error": "internal_error"})
    _notice(user)
    delivery = Delivery.objects.get()
    start = timezone.now()

    assert outbox.deliver(delivery.pk, now=start).result == "retry"
    delivery.refresh_from_db()
    assert "rate limited, retry after 7" in delivery.last_error
    assert timedelta(seconds=6) <= delivery.next_attempt_at - start <= timedelta(seconds=8)

    assert outbox.deliver(delivery.pk, now=delivery.next_attempt_at).result == "retry"
    delivery.refresh_from_db()
    assert "500" in delivery.last_error

    assert outbox.deliver(delivery.pk, now=delivery.next_attempt_at).result == "sent"
    assert len(slack.to("/api/chat.postMessage")) == 3
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 3


def test_teams_429_and_500_are_retried_and_never_marked_sent(db, queued_outbox):
    with chat_server() as teams:
        user = UserFactory(notify_by="teams", teams_webhook_url=f"{teams.url}/workflow")
        teams.answer_next(429, {}, {"Retry-After": "3"})
        teams.answer_next(500, {"error": "boom"})
        _notice(user)
        delivery = Delivery.objects.get()
        now = timezone.now()
        assert outbox.deliver(delivery.pk, now=now).result == "retry"
        delivery.refresh_from_db()
        assert delivery.status == "pending" and "retry after 3" in delivery.last_error
        assert outbox.deliver(delivery.pk, now=delivery.next_attempt_at).result == "retry"
        delivery.refresh_from_db()
        assert delivery.status == "pending" and "500" in delivery.last_error
        assert outbox.deliver(delivery.pk, now=delivery.next_attempt_at).result == "sent"


def test_a_person_sets_their_channel_on_their_page(client, viewer):
    client.force_login(viewer)
    refused = client.post("/account/notifications/", {"notify_by": "slack", "slack_user_id": ""})
    assert refused.status_code == 400 and "Slack member ID" in refused.content.decode()
    bad = client.post("/account/notifications/", {"notify_by": "slack", "slack_user_id": "not-an-id"})
    assert bad.status_code == 400
    client.post("/account/notifications/", {"notify_by": "slack", "slack_user_id": "u024be7lh"})
    viewer.refresh_from_db()
    assert (viewer.notify_by, viewer.slack_user_id) == ("slack", "U024BE7LH")


def test_an_admin_sets_a_teams_channel(client, admin, manager):
    client.force_login(manager)
    assert client.post("/account/teams/", {"team": "sales", "notify_by": "email"}).status_code == 403
    client.force_login(admin)
    assert client.post("/account/teams/", {"team": "sales", "notify_by": "slack"}).status_code == 400
    client.post("/account/teams/", {"team": "sales", "notify_by": "slack", "slack_channel": "C024BE91L"})
    client.post("/account/teams/", {"team": "sales", "notify_by": "digest"})
    assert TeamChannel.objects.get(team="sales").notify_by == "digest"
    assert "sales" in client.get("/account/teams/").content.decode()
