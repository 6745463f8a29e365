"""Scarce alerts: one email when a finding opens, nothing while it stays open, a reminder when
overdue, escalation to the manager after that, one digest per person per day; a webhook POST to a
real local HTTP server."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

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
