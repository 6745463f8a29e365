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
from health.models import DigestSent
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


def test_daily_digest_once_per_person(clock, db):
    owner = UserFactory()
    a1, a2 = AutomationFactory(failure_owner=owner), AutomationFactory(failure_owner=owner)
    FindingFactory(automation=a1, owner=owner)
    FindingFactory(automation=a2, owner=owner, kind="stale_data")
    assert alerts.findings_digest() == 1
    assert alerts.findings_digest() == 0
    assert len(mail.outbox) == 1
    assert "2 open health findings" in mail.outbox[0].subject
    clock.shift(timedelta(days=1))
    assert alerts.findings_digest() == 1


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


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def test_a_finding_without_an_owner_sends_no_email_but_is_marked_handled(clock, db):
    finding = FindingFactory(owner=None)
    alerts.findings_alert()
    finding.refresh_from_db()
    assert finding.notified_at is not None
    assert not mail.outbox


def test_a_mail_server_that_refuses_loses_no_alert_and_no_digest(clock, failing, settings, caplog):
    """Nothing is marked sent unless it was: with the mail server down the alert and the digest
    stay due, and the next pass sends each once."""
    monitors.monitors_run()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    assert alerts.findings_alert()["opened"] == 0
    assert alerts.findings_digest() == 0
    assert "not sent, retried on the next pass" in caplog.text
    assert "retried on the next run" in caplog.text
    finding = failing.findings.get()
    assert finding.notified_at is None and not DigestSent.objects.exists()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert alerts.findings_alert()["opened"] == 1
    assert alerts.findings_digest() == 1
    assert alerts.findings_alert()["opened"] == 0 and alerts.findings_digest() == 0
    assert [m.subject for m in mail.outbox] == [
        "[RevOps Governance] Failure rate up: Lead routing EMEA",
        "[RevOps Governance] 1 open health finding",
    ]
