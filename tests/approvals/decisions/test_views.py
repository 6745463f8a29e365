"""The decision pages: my queue (mine and my reports', overdue first, filters), deciding in place
with htmx, the history, the override panel on the automation, webhook deliveries, constant queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals.decisions import services, webhooks
from approvals.decisions.models import Decision, OutboxEvent
from revops_gov.models import Integration
from tests.approvals.decisions.factories import DecisionRequestFactory, LiveAutomationFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_my_queue_lists_mine_and_my_reports_overdue_first(login, manager):
    report = UserFactory(manager=manager)
    later = DecisionRequestFactory(assignee=manager, due_at=timezone.now() + timedelta(hours=5), record_id="LATER")
    overdue = DecisionRequestFactory(assignee=report, due_at=timezone.now() - timedelta(hours=1), record_id="OVERDUE")
    DecisionRequestFactory(record_id="SOMEONE-ELSE")
    body = login(manager).get(reverse("decisions:queue")).content.decode()
    assert body.index("OVERDUE") < body.index("LATER")
    assert "SOMEONE-ELSE" not in body
    assert "Overdue" in body
    assert f'id="decision-{later.pk}"' in body and f'id="decision-{overdue.pk}"' in body


def test_the_queue_filters_by_kind_and_automation(login, manager):
    merge = DecisionRequestFactory(assignee=manager, kind="duplicate_merge", record_id="MERGE")
    DecisionRequestFactory(assignee=manager, kind="forecast_risk_alert", record_id="FORECAST")
    client = login(manager)
    body = client.get(reverse("decisions:queue"), {"kind": "duplicate_merge"}).content.decode()
    assert "MERGE" in body and "FORECAST" not in body
    body = client.get(reverse("decisions:queue"), {"automation": merge.automation.key}).content.decode()
    assert "MERGE" in body and "FORECAST" not in body


def test_an_empty_queue_explains_itself(login, manager):
    assert "Nothing waits for you" in login(manager).get(reverse("decisions:queue")).content.decode()


def test_each_card_shows_why_evidence_link_proposal_and_options(login, manager):
    request = DecisionRequestFactory(assignee=manager)
    body = login(manager).get(reverse("decisions:queue")).content.decode()
    for text in (
        request.why,
        "Account tier",
        "Strategic",
        request.proposed_action,
        request.record_url,
        "Accept owner",
        "Override",
        "Escalate",
        'data-shortcut="2"',
    ):
        assert text in body


def test_deciding_in_place_swaps_the_card(login, manager):
    request = DecisionRequestFactory(assignee=manager)
    response = login(manager).post(
        reverse("decisions:decide", args=[request.pk]),
        {"option": "override", "value": "jsmith", "reason": "EMEA strategic pod"},
        **HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.strip().startswith("<article")
    assert "Decided: <strong>Override</strong> — jsmith" in body
    assert Decision.objects.get().decided_by == manager


def test_a_missing_value_is_shown_on_the_card_naming_it(login, manager):
    request = DecisionRequestFactory(assignee=manager)
    response = login(manager).post(
        reverse("decisions:decide", args=[request.pk]), {"option": "override", "reason": "x"}, **HTMX
    )
    assert response.status_code == 200
    assert "Override needs a value: new owner." in response.content.decode()
    assert not Decision.objects.exists()
    plain = login(manager).post(reverse("decisions:decide", args=[request.pk]), {"option": "override"})
    assert plain.status_code == 400


def test_a_second_decider_sees_who_decided_what(login, manager, admin):
    request = DecisionRequestFactory(assignee=manager)
    services.decide(request=request, by=admin, option="accept_owner")
    response = login(manager).post(reverse("decisions:decide", args=[request.pk]), {"option": "accept_owner"}, **HTMX)
    assert "Already decided by Alice Admin" in response.content.decode()
    assert login(manager).post(reverse("decisions:decide", args=[request.pk]), {"option": "x"}).status_code == 409


def test_the_history_lists_decisions_with_reasons(login, manager):
    request = DecisionRequestFactory(assignee=manager)
    services.decide(request=request, by=manager, option="override", value="jsmith", reason="Pod owner")
    body = login(manager).get(reverse("decisions:history")).content.decode()
    assert "Override" in body and "jsmith" in body and "Pod owner" in body


def test_the_automation_page_shows_the_override_rate_and_reasons(login, viewer):
    automation = LiveAutomationFactory(reassigns_strategic_ownership=True)
    for option, reason in (
        ("override", "Wrong territory"),
        ("accept_owner", ""),
        ("accept_owner", ""),
        ("override", "Rep on leave"),
    ):
        request = DecisionRequestFactory(automation=automation)
        value = "x" if option == "override" else ""
        services.decide(request=request, by=request.assignee, option=option, value=value, reason=reason)
    body = login(viewer).get(automation.get_absolute_url()).content.decode()
    assert "Override rate: <strong>50 %</strong> (2 of 4" in body
    assert "Wrong territory" in body and "Rep on leave" in body


def test_the_queue_runs_in_constant_queries(login, manager):
    client = login(manager)
    automation = LiveAutomationFactory()
    client.get(reverse("decisions:queue"))

    def count(n):
        DecisionRequestFactory.create_batch(n, assignee=manager, automation=automation)
        client.get(reverse("decisions:queue"))  # re-warm the session cache
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse("decisions:queue"))
        return len(queries)

    assert count(5) == count(25)


@pytest.mark.parametrize("page", ["decisions:history", "decisions:deliveries", "decisions:team"])
def test_other_lists_run_in_constant_queries(login, admin, sf_integration, page):
    client = login(admin)
    client.get(reverse(page))

    def count(n):
        for _ in range(n):
            request = DecisionRequestFactory()
            services.decide(request=request, by=admin, option="accept_owner")
            DecisionRequestFactory()
        client.get(reverse(page))  # re-warm the session cache
        with CaptureQueriesContext(connection) as queries:
            client.get(reverse(page))
        return len(queries)

    assert count(3) == count(12)


def test_admins_see_each_attempt_and_redeliver(login, admin, sf_integration, crm):
    crm.script = [500]
    request = DecisionRequestFactory()
    services.decide(request=request, by=admin, option="accept_owner")
    event = OutboxEvent.objects.get()
    webhooks.deliver(event.pk)
    client = login(admin)
    body = client.get(reverse("decisions:deliveries")).content.decode()
    assert "HTTP 500" in body and str(event.event_id) in body
    OutboxEvent.objects.filter(pk=event.pk).update(status="failed")
    response = client.post(reverse("decisions:redeliver", args=[event.pk]))
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == "pending"


def test_an_admin_sets_a_webhook_and_the_secret_is_never_shown(login, admin):
    from revops_gov import services as gov

    integration, _ = gov.integration_create(name="sf", system="salesforce")
    client = login(admin)
    short = client.post(
        reverse("integration-list"),
        {"webhook_for": integration.pk, "webhook_url": "https://crm.example.com/hook", "webhook_secret": "short"},
        follow=True,
    )
    assert "at least 16 characters" in short.content.decode()
    client.post(
        reverse("integration-list"),
        {
            "webhook_for": integration.pk,
            "webhook_url": "https://crm.example.com/hook",
            "webhook_secret": "s3cret-s3cret-s3cret",
        },
    )
    integration = Integration.objects.get(pk=integration.pk)
    assert (integration.webhook_url, integration.webhook_secret) == (
        "https://crm.example.com/hook",
        "s3cret-s3cret-s3cret",
    )
    page = client.get(reverse("integration-list")).content.decode()
    assert "https://crm.example.com/hook" in page
    assert "s3cret-s3cret-s3cret" not in page
    assert not integration.history.filter(webhook_url="").exclude(history_change_reason="Integration created").exists()


def test_reassign_and_cancel_from_the_page(login, admin):
    request = DecisionRequestFactory()
    other = UserFactory(username="dana", role="manager")
    client = login(admin)
    client.post(reverse("decisions:reassign", args=[request.pk]), {"assignee": "dana", "reason": "Covers EMEA"})
    request.refresh_from_db()
    assert request.assignee == other
    client.post(reverse("decisions:cancel", args=[request.pk]), {"reason": "Lead deleted"})
    request.refresh_from_db()
    assert request.status == "cancelled"
    assert "Lead deleted" in client.get(reverse("decisions:detail", args=[request.pk])).content.decode()


# --- issue 15 §3 ------------------------------------------------------------------------------
def test_a_viewer_assignee_sees_no_options_and_posting_one_is_403(login):
    viewer = UserFactory(role="viewer")
    request = DecisionRequestFactory(assignee=viewer)
    client = login(viewer)
    body = client.get(reverse("decisions:detail", args=[request.pk])).content.decode()
    assert 'name="option"' not in body
    assert client.post(reverse("decisions:decide", args=[request.pk]), {"option": "accept_owner"}).status_code == 403
    assert not Decision.objects.exists()


def test_approving_on_the_page_for_a_paused_automation_is_409_with_the_reason(login, manager):
    request = DecisionRequestFactory(assignee=manager)
    request.automation.__class__.objects.filter(pk=request.automation.pk).update(status="paused")
    response = login(manager).post(reverse("decisions:decide", args=[request.pk]), {"option": "accept_owner"}, **HTMX)
    assert "may not act now" in response.content.decode() and "Paused" in response.content.decode()
    assert (
        login(manager).post(reverse("decisions:decide", args=[request.pk]), {"option": "accept_owner"}).status_code
        == 409
    )
    assert not Decision.objects.exists()


def test_escalating_on_the_page_says_who_it_waits_for_now(login):
    boss = UserFactory(role="manager", first_name="Bea", last_name="Boss")
    assignee = UserFactory(role="manager", manager=boss)
    request = DecisionRequestFactory(assignee=assignee)
    response = login(assignee).post(reverse("decisions:decide", args=[request.pk]), {"option": "escalate"}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Escalate: it now waits for Bea Boss, who is notified." in body
    assert 'name="option"' not in body  # the former assignee may no longer decide it
    request.refresh_from_db()
    assert request.is_open and request.assignee == boss
