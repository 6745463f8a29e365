"""Outcomes reach the CRM: a real local HTTP server receives signed events, failures are retried
with exponential backoff and logged, redeliveries carry the same event id, and a worker killed
mid-delivery loses nothing."""

import os
import signal
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from approvals.decisions import services, webhooks
from approvals.decisions.models import OutboxEvent
from approvals.decisions.tasks import outbox_sweep
from tests.approvals.decisions.factories import DecisionRequestFactory
from tests.conftest import start_worker, stop_worker, wait_for


def _decided(**kwargs):
    request = DecisionRequestFactory(**kwargs)
    services.decide(request=request, by=request.assignee, option="override", value="jsmith", reason="EMEA pod")
    return request, OutboxEvent.objects.get(request=request)


@pytest.mark.django_db
def test_the_crm_receives_a_signed_outcome_it_can_verify(crm, sf_integration):
    request, event = _decided()
    assert webhooks.deliver(event.pk).result == "delivered"
    (received,) = crm.received
    assert received["verified"]
    assert received["event_id"] == str(event.event_id) == received["body"]["event_id"]
    assert received["body"]["decision"]["option"] == "override"
    assert received["body"]["request"]["id"] == request.pk
    assert not webhooks.verify(
        "another-secret-0123456789", received["raw"], received["timestamp"], received["signature"]
    )
    event.refresh_from_db()
    assert (event.status, event.attempts) == ("delivered", 1)
    (attempt,) = event.delivery_attempts.all()
    assert (attempt.ok, attempt.status_code, attempt.error) == (True, 200, "")


@pytest.mark.django_db
def test_failures_are_retried_with_exponential_backoff_and_each_attempt_logged(crm, sf_integration, settings):
    settings.REVOPS = {**settings.REVOPS, "DECISION_WEBHOOK_BACKOFF_BASE_SECONDS": 30}
    crm.script = [500, 503]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        _, event = _decided()
        assert webhooks.deliver(event.pk).retry_in == 30
        assert webhooks.deliver(event.pk).result == "skipped"  # not due yet
        clock.shift(timedelta(seconds=31))
        assert webhooks.deliver(event.pk).retry_in == 60
        clock.shift(timedelta(seconds=61))
        assert webhooks.deliver(event.pk).result == "delivered"
    attempts = list(event.delivery_attempts.order_by("attempted_at").values_list("status_code", "ok"))
    assert attempts == [(500, False), (503, False), (200, True)]
    assert "HTTP 500" in event.delivery_attempts.order_by("attempted_at").first().error
    assert len({r["event_id"] for r in crm.received}) == 1
    assert all(r["verified"] for r in crm.received)


@pytest.mark.django_db
def test_an_unreachable_crm_is_retried_for_24_hours_then_given_up(sf_integration, settings):
    settings.REVOPS = {**settings.REVOPS, "DECISION_WEBHOOK_BACKOFF_MAX_SECONDS": 6 * 3600}
    sf_integration[0].__class__.objects.update(webhook_url="http://127.0.0.1:9/nothing-listens")
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        _, event = _decided()
        results = []
        for _ in range(20):
            outcome = webhooks.deliver(event.pk)
            results.append(outcome.result)
            if outcome.result == "failed":
                break
            clock.shift(timedelta(seconds=outcome.retry_in + 1))
        assert timezone.now() - start <= timedelta(hours=24)
    assert results[-1] == "failed"
    event.refresh_from_db()
    assert event.status == "failed"
    assert event.delivery_attempts.count() == len(results)
    assert all(a.status_code is None and a.error for a in event.delivery_attempts.all())


def test_backoff_doubles_up_to_its_cap(settings):
    settings.REVOPS = {
        **settings.REVOPS,
        "DECISION_WEBHOOK_BACKOFF_BASE_SECONDS": 30,
        "DECISION_WEBHOOK_BACKOFF_MAX_SECONDS": 3600,
    }
    assert [webhooks.backoff_seconds(n) for n in (1, 2, 3, 4, 8, 20)] == [30, 60, 120, 240, 3600, 3600]


@pytest.mark.django_db
def test_a_redelivery_carries_the_same_event_id(crm, sf_integration, admin):
    _, event = _decided()
    webhooks.deliver(event.pk)
    services.webhook_redeliver(event=event, by=admin)
    assert webhooks.deliver(event.pk).result == "delivered"
    assert [r["event_id"] for r in crm.received] == [str(event.event_id)] * 2


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_loses_nothing(crm, sf_integration, settings, tmp_path):
    queue = f"test-webhook-{uuid.uuid4().hex[:8]}"
    settings.REVOPS = {**settings.REVOPS, "DECISION_WEBHOOK_QUEUE": queue}
    env = {"REVOPS_DECISION_WEBHOOK_LEASE_SECONDS": "2"}
    worker = start_worker(tmp_path, queue=queue, extra_env=env)
    try:
        crm.hang = 60  # the first POST hangs: the worker is mid-delivery when it dies
        _, event = _decided()  # committed: the delivery is enqueued on commit
        wait_for(lambda: len(crm.received) == 1, message="the first delivery to start")
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)
        event.refresh_from_db()
        assert event.status == "pending"
        worker = start_worker(tmp_path, queue=queue, extra_env=env)
        # Beat's sweep re-enqueues the event once the dead worker's lease has run out.
        wait_for(
            lambda: outbox_sweep() and False or _delivered(event),
            timeout=30,
            interval=1,
            message="the event to be delivered after the restart",
        )
    finally:
        stop_worker(worker)
    assert len(crm.received) >= 2
    assert {r["event_id"] for r in crm.received} == {str(event.event_id)}
    assert all(r["verified"] for r in crm.received)


def _delivered(event) -> bool:
    event.refresh_from_db()
    return event.status == "delivered"
