"""The one outbox: keyed rows written in the caller's transaction, handed to the worker on commit,
each sent on its own, retried with capped exponential backoff, failed after the last attempt;
the deliveries page lists and filters them and resends one."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.urls import reverse

from revops_gov import outbox, tasks
from revops_gov.models import Delivery
from revops_gov.notifications import Line, send_notice
from tests.factories import UserFactory
from tests.processes import free_port

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def mail_down(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens


def test_backoff_doubles_from_the_base_up_to_the_cap(settings):
    settings.REVOPS = {**settings.REVOPS, "OUTBOX_BACKOFF_BASE_SECONDS": 60, "OUTBOX_BACKOFF_MAX_SECONDS": 600}
    assert [outbox.backoff_seconds(n) for n in range(1, 7)] == [60, 120, 240, 480, 600, 600]


def test_the_same_key_is_queued_once(db):
    user = UserFactory()
    assert send_notice(user=user, subject="Opened", lines=[Line("x")], key="finding:1:alert:user:1")
    assert not send_notice(user=user, subject="Opened", lines=[Line("x")], key="finding:1:alert:user:1")
    assert Delivery.objects.count() == 1
    assert len(mail.outbox) == 1


def test_a_person_without_an_address_is_a_failed_delivery_shown_not_dropped(db):
    user = UserFactory(email="")
    assert not send_notice(user=user, subject="Opened", lines=[Line("x")])
    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and "no email" in delivery.last_error
    assert not mail.outbox


def test_rows_are_written_in_the_callers_transaction_and_sent_after_the_commit_by_the_task(
    queued_outbox, db, django_capture_on_commit_callbacks
):
    user = UserFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        send_notice(user=user, subject="Rolled back", lines=[Line("x")])
        raise RuntimeError
    assert not Delivery.objects.exists()

    with mock.patch.object(tasks.deliver_one, "apply_async") as enqueue:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            send_notice(user=user, subject="Kept", lines=[Line("x")])
        delivery = Delivery.objects.get()
        assert not enqueue.called and not mail.outbox  # nothing before the commit
        for callback in callbacks:
            callback()
        enqueue.assert_called_once_with(args=[delivery.pk], queue=None)
    assert tasks.deliver_one(delivery.pk) == "sent"
    assert tasks.deliver_one(delivery.pk) == "skipped"
    assert [m.subject for m in mail.outbox] == ["[RevOps Governance] Kept"]


def test_a_failure_is_retried_after_its_backoff_then_failed_after_the_last_attempt(clock, db, mail_down, settings):
    settings.REVOPS = {**settings.REVOPS, "OUTBOX_BACKOFF_BASE_SECONDS": 60, "OUTBOX_MAX_ATTEMPTS": 3}
    send_notice(user=UserFactory(), subject="Opened", lines=[Line("x")])
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("pending", 1, NOW + timedelta(seconds=60))
    assert outbox.deliver_due() == {}
    clock.shift(timedelta(seconds=60))
    assert outbox.deliver_due() == {"retry": 1}
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == NOW + timedelta(seconds=60 + 120)
    clock.shift(timedelta(seconds=120))
    assert outbox.deliver_due() == {"failed": 1}
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.sent_at) == ("failed", 3, None)
    assert "refused" in delivery.last_error


def test_the_task_schedules_its_retry_with_the_backoff(clock, db, mail_down, queued_outbox):
    send_notice(user=UserFactory(), subject="Opened", lines=[Line("x")])
    delivery = Delivery.objects.get()
    with mock.patch.object(tasks.deliver_one, "apply_async") as again:
        assert tasks.deliver_one(delivery.pk) == "retry"
    again.assert_called_once_with(args=[delivery.pk], countdown=60.0, queue=None)


def test_one_failing_delivery_never_stops_the_others(clock, db, queued_outbox):
    people = [UserFactory(email=f"p{i}@example.com") for i in range(3)]
    for person in people:
        send_notice(user=person, subject=f"For {person.email}", lines=[Line("x")])
    real = outbox.SENDERS["email"]

    def flaky(delivery):
        if delivery.address == "p1@example.com":
            raise OSError("mailbox exploded")
        real(delivery)

    with mock.patch.dict(outbox.SENDERS, {"email": flaky}):
        assert outbox.deliver_due() == {"sent": 2, "retry": 1}
    assert sorted(m.to[0] for m in mail.outbox) == ["p0@example.com", "p2@example.com"]
    assert Delivery.objects.get(address="p1@example.com").last_error == "OSError: mailbox exploded"


def test_the_sweep_hands_every_due_delivery_to_the_worker(clock, db, queued_outbox):
    send_notice(user=UserFactory(), subject="A", lines=[Line("x")])
    send_notice(user=UserFactory(), subject="B", lines=[Line("x")])
    with mock.patch.object(tasks.deliver_one, "apply_async") as enqueue:
        assert tasks.sweep() == 2
    assert enqueue.call_count == 2


# --- the page -------------------------------------------------------------------------------


@pytest.fixture
def deliveries(clock, db, mail_down):
    refused = UserFactory(username="rita", email="rita@example.com")
    send_notice(user=refused, subject="Finding opened", lines=[Line("x")], kind="alert", about="health.finding:7")
    return Delivery.objects.get()


def test_the_page_lists_the_delivery_with_its_error_and_next_try(login, admin, deliveries):
    page = login(admin).get(reverse("delivery-list")).content.decode()
    assert "Finding opened" in page and "rita@example.com" in page
    assert "Last error: ConnectionRefusedError" in page
    assert "next try 2026-12-01 09:01:00" in page


@pytest.mark.parametrize(
    ("query", "rows"),
    [
        ({}, 2),
        ({"status": "pending"}, 1),
        ({"status": "sent"}, 1),
        ({"kind": "alert"}, 1),
        ({"channel": "webhook"}, 0),
        ({"recipient": "rita"}, 1),
        ({"recipient": "sam@"}, 1),
        ({"about": "health.finding:7"}, 1),
        ({"status": "nonsense"}, 2),  # a bad filter is a form error, not a 500
    ],
)
def test_the_filters_count_the_rows(login, admin, deliveries, settings, query, rows):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_notice(user=UserFactory(username="sam", email="sam@example.com"), subject="Digest", lines=[Line("y")])
    response = login(admin).get(reverse("delivery-list"), query)
    assert response.status_code == 200
    assert response.content.decode().count('<tr id="delivery-') == rows


def test_resend_queues_it_again_now_and_it_is_sent_once(login, admin, deliveries, settings, clock):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = login(admin).post(
        reverse("delivery-resend", args=[deliveries.pk]), {"next": "/deliveries/?status=pending"}
    )
    assert response.status_code == 302 and response.url == "/deliveries/?status=pending"
    deliveries.refresh_from_db()
    assert deliveries.status == "sent" and deliveries.last_error == ""
    assert [m.to for m in mail.outbox] == [["rita@example.com"]]


def test_resend_never_redirects_off_the_site(login, admin, deliveries):
    response = login(admin).post(reverse("delivery-resend", args=[deliveries.pk]), {"next": "https://evil.example/"})
    assert response.url == reverse("delivery-list")
