"""Scarce alerts: one email when a finding opens, nothing while it stays open, a reminder when
overdue, escalation to the manager after that, one digest per person per day; a webhook POST to a
real local HTTP server."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from health import alerts, monitors
from revops_gov import outbox
from revops_gov.models import Delivery
from tests.factories import UserFactory
from tests.health.factories import FindingFactory, RunEventFactory
from tests.processes import free_port
from tests.registry.factories import AutomationFactory

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def failing(db):
    manager = UserFactory(username="boss")
    owner = UserFactory(username="owen", manager=manager)
    automation = AutomationFactory(rule_owner=owner, failure_owner=owner, name="Lead routing EMEA")
    for i in range(6):
        RunEventFactory(
            automation=automation, event_id=f"f{i}", started_at=NOW - timedelta(hours=i + 1), outcome="failure"
        )
    return automation


def test_one_email_when_a_finding_opens_and_none_while_it_stays_open(clock, failing):
    monitors.monitors_run()
    alerts.findings_alert()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["owen@example.com"]
    assert "Failure rate up: Lead routing EMEA" in message.subject
    assert "Expected action" in message.body and "Due:" in message.body
    clock.shift(timedelta(hours=1))
    monitors.monitors_run()
    alerts.findings_alert()
    alerts.findings_alert()
    assert len(mail.outbox) == 1


def test_overdue_reminder_then_escalation_to_the_manager_once_each(clock, failing):
    monitors.monitors_run()
    alerts.findings_alert()
    clock.shift(timedelta(days=3, hours=1))  # due after 3 days
    assert alerts.findings_alert()["reminded"] == 1
    assert alerts.findings_alert() == {"opened": 0, "reminded": 0, "escalated": 0}
    assert mail.outbox[-1].subject.startswith("[RevOps Governance] Overdue")
    clock.shift(timedelta(days=2, hours=1))
    assert alerts.findings_alert()["escalated"] == 1
    assert mail.outbox[-1].to == ["boss@example.com"]
    alerts.findings_alert()
    assert len(mail.outbox) == 3


def test_a_suppressed_finding_sends_nothing(clock, db):
    FindingFactory(status="suppressed", suppressed_until=NOW + timedelta(days=1), suppression_reason="outage")
    assert alerts.findings_alert()["opened"] == 0
    assert not mail.outbox


def test_daily_digest_once_per_person_listing_only_what_changed_since_the_last_one(clock, db, admin):
    owner = UserFactory()
    a1, a2 = AutomationFactory(failure_owner=owner), AutomationFactory(failure_owner=owner)
    first = FindingFactory(automation=a1, owner=owner)
    FindingFactory(automation=a2, owner=owner, kind="stale_data")
    assert alerts.findings_digest() == 1
    assert alerts.findings_digest() == 0
    assert len(mail.outbox) == 1
    assert "2 health findings changed" in mail.outbox[0].subject
    clock.shift(timedelta(days=1))
    assert alerts.findings_digest() == 0  # nothing changed: no digest
    first.acknowledged_at, first.acknowledged_by, first.status = NOW + timedelta(days=1), admin, "acknowledged"
    first.save()
    clock.shift(timedelta(days=1))
    assert alerts.findings_digest() == 1
    assert "1 health finding changed" in mail.outbox[-1].subject
    assert f"acknowledged by {admin}" in mail.outbox[-1].body
    assert a2.name not in mail.outbox[-1].body


def test_the_digest_leaves_out_what_the_alert_already_said(clock, failing):
    monitors.monitors_run()
    alerts.findings_alert()
    assert alerts.findings_digest() == 0
    assert len(mail.outbox) == 1


class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/findings", _Receiver.received
    server.shutdown()


def test_a_new_finding_is_posted_once_to_the_webhook(clock, failing, receiver, settings):
    url, received = receiver
    settings.REVOPS = {**settings.REVOPS, "HEALTH_FINDINGS_WEBHOOK_URL": url}
    monitors.monitors_run()
    alerts.findings_alert()
    alerts.findings_alert()
    assert len(received) == 1
    assert received[0]["automation"] == failing.key
    assert received[0]["kind"] == "failure_rate_up"
    assert received[0]["url"].endswith(f"/findings/{received[0]['id']}/")


def test_recipients_fall_back_failure_then_system_then_rule_owner_then_admins(db, admin):
    """Issue 16 §1: every finding has a recipient, and the finding says who and why."""
    rule, system, failure = UserFactory(username="rita"), UserFactory(username="sam"), UserFactory(username="fred")
    automation = AutomationFactory(rule_owner=rule, system_owner=system, failure_owner=failure)
    finding = FindingFactory(automation=automation, owner=None)
    assert alerts.finding_recipients(finding) == ([failure], "the failure owner")
    automation.failure_owner = None
    assert alerts.finding_recipients(finding) == ([system], "the system owner (no failure owner named)")
    automation.system_owner = None
    assert alerts.finding_recipients(finding) == ([rule], "the rule owner (no failure owner or system owner named)")
    automation.rule_owner = None
    people, why = alerts.finding_recipients(finding)
    assert people == [admin] and "RevOps admins" in why


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_a_finding_always_reaches_someone_a_finding_without_owners_goes_to_the_admins(clock, db, admin):
    automation = AutomationFactory(rule_owner=None, failure_owner=None, system_owner=None)
    finding = FindingFactory(automation=automation, owner=None)
    alerts.findings_alert()
    finding.refresh_from_db()
    assert finding.notified_at is not None
    assert Delivery.objects.filter(kind="alert", recipient=admin).count() == 1
    assert [m.to for m in mail.outbox] == [[admin.email]]


def test_a_monitor_finding_is_owned_by_the_system_owner_when_no_failure_owner_is_named(clock, db):
    system = UserFactory(username="sam")
    automation = AutomationFactory(failure_owner=None, system_owner=system)
    for i in range(6):
        RunEventFactory(
            automation=automation, event_id=f"f{i}", started_at=NOW - timedelta(hours=i + 1), outcome="failure"
        )
    monitors.monitors_run()
    finding = automation.findings.get()
    assert finding.owner == system
    assert alerts.finding_recipients(finding) == ([system], "the system owner (no failure owner named)")


def test_a_mail_server_that_refuses_loses_no_alert_the_outbox_retries_it_once(clock, failing, settings):
    """The alert is queued once with the finding marked notified; the mail server being down leaves
    the delivery pending with its error (not sent, not swallowed), and the retry sends it once."""
    monitors.monitors_run()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    assert alerts.findings_alert()["opened"] == 1
    delivery = Delivery.objects.get(kind="alert")
    assert delivery.status == "pending" and delivery.sent_at is None and "refused" in delivery.last_error
    assert delivery.attempts == 1

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert alerts.findings_alert()["opened"] == 0
    assert outbox.deliver_due() == {}  # not before its backoff
    clock.shift(timedelta(minutes=2))
    assert outbox.deliver_due() == {"sent": 1}
    clock.shift(timedelta(hours=2))
    assert outbox.deliver_due() == {}
    assert alerts.findings_alert()["opened"] == 0
    assert [m.subject for m in mail.outbox] == ["[RevOps Governance] Failure rate up: Lead routing EMEA"]


class _Refusing(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self):  # noqa: N802 - the http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        _Refusing.calls += 1
        self.send_response(503 if _Refusing.calls == 1 else 204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_failed_alert_webhook_is_a_delivery_retried_not_swallowed(clock, failing, settings):
    _Refusing.calls = 0
    server = HTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.REVOPS = {**settings.REVOPS, "HEALTH_FINDINGS_WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/"}
        monitors.monitors_run()
        alerts.findings_alert()
        hook = Delivery.objects.get(channel="webhook")
        assert hook.status == "pending" and hook.last_error.startswith("HTTP 503")
        clock.shift(timedelta(minutes=2))
        assert outbox.deliver_due() == {"sent": 1}
        hook.refresh_from_db()
        assert hook.status == "sent" and _Refusing.calls == 2
        assert hook.key == f"health.finding:{failing.findings.get().pk}:alert:webhook"
    finally:
        server.shutdown()


# --- a real mail server (aiosmtpd) that refuses one recipient and drops one connection --------


def _worker_pass() -> dict[int, float | None]:
    """What a worker does: the sweep hands every due delivery to `outbox.deliver` tasks, each
    task tries its delivery once and, on failure, schedules its next try with the backoff. The
    broker is this list: {delivery id: countdown of the retry it scheduled (None: no retry)}."""
    from revops_gov import tasks

    handed, retries = [], {}
    with mock.patch.object(tasks.deliver_one, "apply_async") as broker:
        broker.side_effect = lambda args, **kw: handed.append(args[0])
        tasks.sweep()
        due = list(handed)
        broker.side_effect = lambda args, countdown=None, **kw: retries.__setitem__(args[0], countdown)
        for pk in due:
            tasks.deliver_one(pk)
    return {pk: retries.get(pk) for pk in due}


def test_a_refused_recipient_and_a_dropped_connection_lose_nothing_and_send_nothing_twice(
    clock, db, admin, smtp_server, queued_outbox, login, settings
):
    settings.REVOPS = {**settings.REVOPS, "OUTBOX_BACKOFF_BASE_SECONDS": 60}
    owners = [UserFactory(username=f"owner{i}", email=f"owner{i}@example.com") for i in range(4)]
    for i, owner in enumerate(owners):
        automation = AutomationFactory(failure_owner=owner, rule_owner=owner, name=f"Routing {i}")
        for j in range(6):
            RunEventFactory(
                automation=automation, event_id=f"f{j}", started_at=NOW - timedelta(hours=j + 1), outcome="failure"
            )
    monitors.monitors_run()
    smtp_server.refuse("owner2@example.com")
    smtp_server.drop_next_connection()
    assert alerts.findings_alert()["opened"] == 4

    tried = _worker_pass()
    assert len(tried) == 4 and len(smtp_server.dropped) == 1 and smtp_server.refused == ["owner2@example.com"]
    first = Delivery.objects.get(address=smtp_server.dropped[0][0])  # the connection that was dropped
    others = {o.email for o in owners} - {first.address, "owner2@example.com"}
    assert sorted(m.recipients for m in smtp_server.messages) == sorted((a,) for a in others)
    refused = Delivery.objects.get(address="owner2@example.com")
    assert (refused.status, refused.attempts, refused.sent_at) == ("pending", 1, None)
    assert "550" in refused.last_error and refused.next_attempt_at == NOW + timedelta(seconds=60)
    assert tried[refused.pk] == 60 and tried[first.pk] == 60  # each retry waits its backoff

    assert _worker_pass() == {}  # nothing is due before its backoff
    clock.shift(timedelta(seconds=60))
    assert set(_worker_pass()) == {first.pk, refused.pk}
    refused.refresh_from_db()
    assert (refused.status, refused.attempts) == ("pending", 2)
    assert refused.next_attempt_at == NOW + timedelta(seconds=60 + 120)  # doubled
    assert smtp_server.to(first.address)  # the dropped one went through on its retry

    page = login(admin).get(reverse("delivery-list"), {"status": "pending"}).content.decode()
    assert "owner2@example.com" in page and "550" in page and "next try" in page

    smtp_server.accept("owner2@example.com")
    response = login(admin).post(reverse("delivery-resend", args=[refused.pk]), {"next": "/deliveries/"})
    assert response.status_code == 302
    assert _worker_pass() == {refused.pk: None}
    clock.shift(timedelta(hours=3))  # the old retry's time passes too: nothing goes twice
    assert _worker_pass() == {}
    assert alerts.findings_alert() == {"opened": 0, "reminded": 0, "escalated": 0}
    for owner in owners:
        assert len(smtp_server.to(owner.email)) == 1, owner.email
    assert all(s.startswith("[RevOps Governance] Failure rate up: Routing") for s in smtp_server.subjects())
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}


def test_one_refused_recipient_never_stops_the_rest_of_a_digest_run(clock, db, smtp_server):
    """issue 16: "one mail error can stop the rest of a digest run" — each digest is its own
    delivery: the refused one waits for its retry, the others arrive, none is marked sent wrongly."""
    owners = [UserFactory(username=f"d{i}", email=f"d{i}@example.com") for i in range(3)]
    for owner in owners:
        FindingFactory(automation=AutomationFactory(failure_owner=owner), owner=owner)
    smtp_server.refuse("d0@example.com")
    assert alerts.findings_digest() == 3
    assert sorted(m.recipients for m in smtp_server.messages) == [("d1@example.com",), ("d2@example.com",)]
    refused = Delivery.objects.get(kind=alerts.DIGEST_KIND, address="d0@example.com")
    assert (refused.status, refused.sent_at, refused.attempts) == ("pending", None, 1) and "550" in refused.last_error
    smtp_server.accept("d0@example.com")
    clock.shift(timedelta(minutes=2))
    assert outbox.deliver_due() == {"sent": 1}
    assert alerts.findings_digest() == 0
    assert [len(smtp_server.to(o.email)) for o in owners] == [1, 1, 1]
