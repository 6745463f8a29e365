"""Fault: Redis restarted. A private redis-server (port 6390) is the cache and the broker of a real
gunicorn and a real Celery worker. Killed, the web keeps serving reads (a cache miss falls back to
the database) and says the broker is down on /healthz; restarted, tasks flow again."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from registry.models import Automation
from revops_gov.celery import app as celery_app
from revops_gov.tasks import heartbeat
from tests.conftest import _database_url, start_worker, stop_worker
from tests.factories import integration_token
from tests.processes import (
    RedisServer,
    SMTPSink,
    children,
    free_port,
    http,
    http_json,
    post_json,
    spawn,
    start_gunicorn,
    wait_until,
)
from tests.registry.factories import AutomationFactory

# Each kills and restarts real processes under timeouts: under pytest-xdist they take turns in one
# process rather than compete with each other for the CPU — the same process as the production-shape
# tests, since the two-beats test starts beats from this folder, which tools/beat_alive.py would see
# there. (xdist joins every xdist_group mark of a test into one group name, so a test can be in one
# group only: the module's.)
pytestmark = [pytest.mark.worker, pytest.mark.faults, pytest.mark.xdist_group("production-shape")]
REDIS_PORT = 6390


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(REDIS_PORT, tmp_path)
    if server.answers():
        pytest.fail(f"Something already listens on {REDIS_PORT}; this test needs the port for its own Redis.")
    server.start()
    yield server
    server.kill()


def _send_heartbeat(broker_url: str, queue: str) -> None:
    with celery_app.connection_for_write(broker_url) as connection:
        heartbeat.apply_async(queue=queue, connection=connection)


def test_redis_restarted_reads_keep_working_and_tasks_resume(transactional_db, tmp_path, redis_server, viewer):
    automation = AutomationFactory(name="Lead routing by territory", system="salesforce")
    token = integration_token(name="sf", system="salesforce")
    browser = Client()
    browser.force_login(viewer)
    session = browser.cookies["sessionid"].value

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "REDIS_", "CACHE_"))},
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_server.url(0),
        "CELERY_BROKER_URL": redis_server.url(1),
        "DJANGO_DEBUG": "false",
        "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage",
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = start_gunicorn(env=env, port=port, log=tmp_path / "web.log")
    queue = f"test-{uuid.uuid4().hex[:10]}"
    worker = start_worker(tmp_path, queue=queue, extra_env=env)
    page = (f"{base}/automations/", {"Cookie": f"sessionid={session}"})
    card = (f"{base}/api/v1/automations/{automation.key}/", {"Authorization": f"Bearer {token}"})
    try:
        # Redis up: everything answers, a task goes broker → worker → cache.
        assert http_json(f"{base}/healthz")[0] == 200
        _send_heartbeat(redis_server.url(1), queue)
        wait_until(lambda: http_json(f"{base}/healthz")[1].get("worker_last_seen_seconds_ago") is not None)
        for url, headers in (page, card):
            status, body = http(url, headers=headers)
            assert status == 200 and "Lead routing by territory" in body

        # Redis gone: reads come from the database; /healthz names the broker.
        redis_server.kill()
        for _ in range(3):
            for url, headers in (page, card):
                status, body = http(url, headers=headers)
                assert status == 200, f"{url} with Redis down: {status} {body[:300]}"
                assert "Lead routing by territory" in body
        status, health = http_json(f"{base}/healthz")
        assert status == 503 and health["down"] == ["broker"] and health["database"] == "ok"
        assert "cache unavailable, serving from the database" in web.output()

        # Redis back (empty: no persistence): the web and the worker reconnect, tasks flow again.
        redis_server.start()
        wait_until(lambda: http(f"{base}/healthz")[0] == 200, message="/healthz to recover")
        assert http_json(f"{base}/healthz")[1]["worker_last_seen_seconds_ago"] is None  # the cache came back empty
        _send_heartbeat(redis_server.url(1), queue)
        wait_until(
            lambda: http_json(f"{base}/healthz")[1].get("worker_last_seen_seconds_ago") is not None,
            timeout=90,
            message="the worker to run a task after the restart",
        )
        assert worker.process.poll() is None, "the worker died instead of reconnecting"
        for url, headers in (page, card):
            assert http(url, headers=headers)[0] == 200
    finally:
        stop_worker(worker)
        web.stop()


# --- PostgreSQL connection dropped mid-batch ----------------------------------------------------
WEB_APPLICATION_NAME = "revops-fault-web"


def _not_here(reason: str) -> None:
    """Skip where the machine lacks what the fault needs; on CI (which has it all) that is a failure."""
    (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)


def _require_postgresql(why: str = "it terminates the web's server backend (pg_terminate_backend)"):
    from django.db import connection

    if connection.vendor != "postgresql":
        _not_here(f"needs PostgreSQL: {why}")


def _admin_connection():
    import psycopg

    return psycopg.connect(_database_url(), autocommit=True)


def _web_env(tmp_path, **extra) -> dict:
    """A production-like web on this test database, its connections named so the test finds them."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_", "REDIS_", "CACHE_"))},
        "DATABASE_URL": f"{_database_url()}?application_name={WEB_APPLICATION_NAME}",
        "REVOPS_VAR_DIR": str(tmp_path / "var"),
        "DJANGO_DEBUG": "false",
        "STATICFILES_STORAGE": "django.contrib.staticfiles.storage.StaticFilesStorage",
        **extra,
    }


def _batch(prefix: str, n: int, automation_key: str) -> list[dict]:
    return [
        {
            "automation": automation_key,
            "event_id": f"{prefix}-{i}",
            "started_at": "2026-11-25T09:00:00Z",
            "finished_at": "2026-11-25T09:00:02Z",
            "outcome": "success",
            "records_affected": 1,
        }
        for i in range(n)
    ]


def test_database_connection_dropped_mid_batch_loses_nothing_and_stores_nothing_twice(transactional_db, tmp_path):
    """A batch's INSERT is held on a table lock, its server backend terminated: the CRM gets a 503
    with Retry-After (not a 500), nothing of the batch is stored; the same batch sent again is
    stored whole, the batch acknowledged before it is answered duplicate, and every event is
    stored exactly once."""
    _require_postgresql()
    from health.models import RunEvent

    automation = AutomationFactory(system="salesforce")
    token = integration_token(name="sf", system="salesforce")
    auth = {"Authorization": f"Bearer {token}"}
    port = free_port()
    runs = f"http://127.0.0.1:{port}/api/v1/runs/"
    web = start_gunicorn(env=_web_env(tmp_path), port=port, log=tmp_path / "web.log")
    # One connection holds the lock; another watches (pg_stat_activity is a snapshot per transaction).
    admin, watch = _admin_connection(), _admin_connection()
    try:
        acknowledged = _batch("a", 200, automation.key)
        status, body, _ = post_json(runs, acknowledged, headers=auth)
        assert status == 200 and body["summary"] == {"created": 200, "merged": 0, "duplicate": 0, "error": 0}

        # Hold the batch mid-flight: its transaction has begun, its INSERT waits on our lock.
        in_flight = _batch("b", 500, automation.key)
        admin.execute("BEGIN")
        admin.execute("LOCK TABLE health_runevent IN SHARE MODE")
        answer = {}
        sender = threading.Thread(target=lambda: answer.update(r=post_json(runs, in_flight, headers=auth)))
        sender.start()
        # (The backend asks for the table lock while parsing the INSERT, before it reports the query.)
        waiting = wait_until(
            lambda: watch.execute(
                "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = %s "
                "AND NOT l.granted AND l.relation = 'health_runevent'::regclass",
                (WEB_APPLICATION_NAME,),
            ).fetchall(),
            message="the batch's INSERT to wait on the lock",
        )
        admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
        admin.execute("COMMIT")
        sender.join(timeout=30)
        status, body, headers = answer["r"]
        assert status == 503, (status, body)
        assert headers.get("Retry-After") == "5" and "Send the same request again" in body["message"]
        assert not RunEvent.objects.filter(event_id__startswith="b-").exists(), "an unacknowledged batch was kept"

        # The CRM retries the batch (and, unsure, the one before it): stored once, the rest duplicates.
        status, body, _ = post_json(runs, in_flight, headers=auth)
        assert status == 200 and body["summary"] == {"created": 500, "merged": 0, "duplicate": 0, "error": 0}, body
        status, body, _ = post_json(runs, acknowledged, headers=auth)
        assert status == 200 and body["summary"] == {"created": 0, "merged": 0, "duplicate": 200, "error": 0}, body

        # Dropped again between requests (a database restart): the kept connection is checked and replaced.
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (WEB_APPLICATION_NAME,),
        )
        status, body, _ = post_json(runs, _batch("c", 10, automation.key), headers=auth)
        assert status == 200 and body["summary"]["created"] == 10, body
    finally:
        admin.close()
        watch.close()
        web.stop()
    stored = list(RunEvent.objects.filter(automation=automation).values_list("event_id", flat=True))
    expected = {e["event_id"] for e in acknowledged + in_flight} | {f"c-{i}" for i in range(10)}
    assert len(stored) == len(set(stored)) == len(expected) and set(stored) == expected
    assert "Database unavailable during /api/v1/runs/" in web.output()


# --- A Celery worker killed mid-task ------------------------------------------------------------
# The worker runs a prefork pool of one process; the pool process is killed with SIGKILL in the
# middle of the task (what the kernel's OOM killer does). acks_late + reject_on_worker_lost put the
# message back on the queue and the worker's new pool process runs it again; each task is safe to
# run again. (The whole worker killed, not only its pool process: tests/approvals/decisions/
# test_webhooks.py — the outbox sweep sends what the dead worker held.)
WORKER_APPLICATION_NAME = "revops-fault-worker"


def _require_postgresql_and_redis():
    from django.conf import settings

    _require_postgresql("it holds and watches the tasks' row locks (pg_stat_activity) with real worker processes")
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        _not_here("needs Redis as the Celery broker (CELERY_BROKER_URL=redis://…): a killed task is requeued there")


def _prefork_worker(tmp_path, queue: str, **env):
    worker = start_worker(
        tmp_path,
        queue=queue,
        pool="prefork",
        extra_env={"DATABASE_URL": f"{_database_url()}?application_name={WORKER_APPLICATION_NAME}", **env},
    )
    return worker, wait_until(lambda: children(worker.process.pid), message="the worker's pool process")[0]


def _kill_pool_process(worker, pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: "WorkerLostError" in worker.output(), message="the worker to notice its pool process died")


def test_worker_killed_mid_webhook_delivery_delivers_it_once(transactional_db, tmp_path, settings, admin):
    """The CRM holds the first POST; the pool process sending it is killed. The message comes back
    (reject_on_worker_lost) and finds the delivery still leased to the dead process, so it sends
    nothing; once the lease runs out beat's sweep sends it: delivered once, logged once, same event id."""
    _require_postgresql_and_redis()
    from approvals.decisions import services as decision_services
    from approvals.decisions.models import OutboxEvent
    from approvals.decisions.tasks import outbox_sweep
    from revops_gov import services
    from tests.approvals.decisions.conftest import SECRET, Receiver
    from tests.approvals.decisions.factories import DecisionRequestFactory

    crm = Receiver()
    integration, _ = services.integration_create(name="salesforce-prod", system="salesforce")
    services.integration_webhook_set(integration=integration, url=crm.url, secret=SECRET, by=admin)
    queue = f"test-{uuid.uuid4().hex[:10]}"
    settings.REVOPS = {**settings.REVOPS, "DECISION_WEBHOOK_QUEUE": queue}
    worker, pool_pid = _prefork_worker(
        tmp_path, queue, REVOPS_DECISION_WEBHOOK_LEASE_SECONDS="8", REVOPS_DECISION_WEBHOOK_QUEUE=queue
    )
    try:
        crm.hang = 60  # the first POST is never answered: its sender dies first
        request = DecisionRequestFactory()
        decision_services.decide(request=request, by=request.assignee, option="accept_owner")
        event = OutboxEvent.objects.get(request=request)
        wait_until(lambda: len(crm.received) == 1, message="the first delivery to reach the CRM")
        _kill_pool_process(worker, pool_pid)
        wait_until(
            lambda: "succeeded" in worker.output() and "'skipped'" in worker.output(),
            message="the requeued message to run again on a new pool process",
        )
        event.refresh_from_db()
        assert (event.status, event.attempts) == ("pending", 1)
        # As beat does every minute: the sweep re-enqueues the event once the dead process's lease is over.
        wait_until(
            lambda: outbox_sweep() and False or OutboxEvent.objects.get(pk=event.pk).status == "delivered",
            timeout=60,
            interval=1,
            message="the event to be delivered after the lease",
        )
    finally:
        stop_worker(worker)
        crm.close()
    event.refresh_from_db()
    assert event.attempts == 2
    assert list(event.delivery_attempts.values_list("ok", "status_code")) == [(True, 200)]
    assert [r["event_id"] for r in crm.received] == [str(event.event_id)] * 2  # the CRM drops the resend
    assert all(r["verified"] for r in crm.received)


def _failing_automations(owner, n: int = 3):
    from django.utils import timezone

    from health.models import RunEvent

    now = timezone.now()
    for index in range(n):
        automation = AutomationFactory(failure_owner=owner, rule_owner=owner)
        RunEvent.objects.bulk_create(
            [
                RunEvent(
                    automation=automation,
                    event_id=f"{index}-{i}",
                    started_at=now - timedelta(hours=i + 1),
                    outcome="failure",
                    trigger_key="same" if i < 2 else "",
                )
                for i in range(6)
            ]
        )


def _mail_count(folder: Path) -> int:
    return sum(path.read_text().count("\nSubject: ") for path in folder.glob("*")) if folder.exists() else 0


def _succeeded(worker, task: str) -> int:
    """How many runs of `task` the worker finished (other tasks, the outbox's, are not counted)."""
    return sum(1 for line in worker.output().splitlines() if f"{task}[" in line and "succeeded" in line)


def _passes(worker) -> int:
    return _succeeded(worker, "health.tasks.monitors_run")


def _settled(worker) -> None:
    """Wait until the worker has finished every task it received (the outbox's included)."""
    wait_until(
        lambda: worker.output().count("] received") == worker.output().count("] succeeded"),
        message="the worker to finish every task it received",
    )


def test_worker_killed_mid_monitor_pass_completes_it_once(transactional_db, tmp_path):
    """The pass is held on the monitors' row lock and its pool process killed: the requeued pass
    runs on the new pool process, opens each finding once and sends each alert once; the next pass
    opens and sends nothing more."""
    _require_postgresql_and_redis()
    from health import tasks
    from health.models import Finding, MonitorLock
    from tests.factories import UserFactory

    _failing_automations(UserFactory())
    MonitorLock.objects.get_or_create(name="monitors")
    mail = tmp_path / "mail"
    mail.mkdir()
    queue = f"test-{uuid.uuid4().hex[:10]}"
    worker, pool_pid = _prefork_worker(tmp_path, queue, EMAIL_URL=f"filemail:///{mail}")
    # One connection holds the lock; another watches (pg_stat_activity is a snapshot per transaction).
    admin, watch = _admin_connection(), _admin_connection()
    try:
        admin.execute("BEGIN")
        admin.execute("SELECT 1 FROM health_monitorlock WHERE name = 'monitors' FOR UPDATE")
        tasks.monitors_run.apply_async(queue=queue)
        wait_until(
            lambda: watch.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
                (WORKER_APPLICATION_NAME,),
            ).fetchone(),
            message="the monitor pass to wait on the monitors' lock",
        )
        _kill_pool_process(worker, pool_pid)
        admin.execute("ROLLBACK")
        wait_until(lambda: _passes(worker) == 1, message="the requeued pass to finish")
        opened = Finding.objects.count()
        assert opened >= 3, "the killed pass was not run again"
        # The pass queued one alert per finding in the outbox; the worker sends them.
        wait_until(lambda: _mail_count(mail) >= opened, message="the outbox to send the alerts")
        assert not Finding.objects.filter(notified_at__isnull=True).exists()

        tasks.monitors_run.apply_async(queue=queue)  # the next beat tick
        wait_until(lambda: _passes(worker) == 2, message="the next pass")
    finally:
        admin.close()
        watch.close()
        stop_worker(worker)
    assert Finding.objects.count() == opened and _mail_count(mail) == opened
    assert "IntegrityError" not in worker.output()


LEASE_SECONDS = 3


def _held_mail_env(smtp) -> dict:
    return {"EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}", "REVOPS_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS)}


def _sweep_after_lease(worker, queue: str) -> None:
    """The requeued delivery finds its row leased to the dead process and sends nothing (or, on a
    slow machine, arrives after the lease and sends it); after the lease, beat's outbox sweep (run
    here by hand, as beat would each minute) hands a row still pending to the worker again."""
    from revops_gov.models import Delivery, DeliveryStatus
    from revops_gov.tasks import sweep

    wait_until(lambda: _succeeded(worker, "outbox.deliver") >= 1, message="the requeued delivery")
    deadline = time.monotonic() + 60
    while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists():
        assert time.monotonic() < deadline, "the outbox never sent the held delivery"
        time.sleep(LEASE_SECONDS + 0.5)
        done = _succeeded(worker, "outbox.deliver")
        sweep.apply_async(queue=queue)
        wait_until(
            lambda done=done: (
                not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists()
                or _succeeded(worker, "outbox.deliver") > done
            ),
            message="the swept delivery",
        )


def test_worker_killed_mid_alert_sends_it_once(transactional_db, tmp_path):
    """The mail server holds the connection of a finding's first alert and the pool process
    sending it (the outbox's delivery) is killed. The mail server never accepted the message and
    the delivery is still leased to the dead process, so the requeued task sends nothing; once the
    lease runs out the sweep sends it: one alert, and the next alert pass queues nothing more."""
    _require_postgresql_and_redis()
    from health import tasks
    from tests.factories import UserFactory
    from tests.health.factories import FindingFactory

    finding = FindingFactory(owner=UserFactory())
    smtp = SMTPSink(hold_first=True)
    queue = f"test-{uuid.uuid4().hex[:10]}"
    worker, pool_pid = _prefork_worker(tmp_path, queue, **_held_mail_env(smtp))
    try:
        tasks.findings_alert.apply_async(queue=queue)
        wait_until(smtp.held.is_set, message="the alert's mail connection")
        _kill_pool_process(worker, pool_pid)
        _sweep_after_lease(worker, queue)
        tasks.findings_alert.apply_async(queue=queue)  # the next pass queues nothing more
        wait_until(lambda: _succeeded(worker, "health.tasks.findings_alert") == 2, message="the next alert pass")
    finally:
        stop_worker(worker)
        smtp.close()
    assert smtp.subjects == [f"[RevOps Governance] Failure rate up: {finding.automation.name}"]
    finding.refresh_from_db()
    assert finding.notified_at is not None


def test_worker_killed_mid_escalation_sends_it_once(transactional_db, tmp_path):
    """The same for the decision queue's escalation: the manager's email is held by the mail server,
    the pool process killed; the requeued task escalates the request and emails the manager once."""
    _require_postgresql_and_redis()
    from django.utils import timezone

    from approvals.decisions import tasks as decision_tasks
    from tests.approvals.decisions.factories import DecisionRequestFactory
    from tests.factories import UserFactory

    boss = UserFactory(email="boss@example.com")
    overdue = DecisionRequestFactory(assignee=UserFactory(manager=boss), due_at=timezone.now() - timedelta(hours=1))
    smtp = SMTPSink(hold_first=True)
    queue = f"test-{uuid.uuid4().hex[:10]}"
    worker, pool_pid = _prefork_worker(tmp_path, queue, **_held_mail_env(smtp))
    try:
        decision_tasks.escalate_overdue.apply_async(queue=queue)
        wait_until(smtp.held.is_set, message="the escalation's mail connection")
        _kill_pool_process(worker, pool_pid)
        _sweep_after_lease(worker, queue)
        decision_tasks.escalate_overdue.apply_async(queue=queue)  # the next beat tick
        wait_until(lambda: _succeeded(worker, "decisions.escalate_overdue") == 2, message="the next escalation run")
    finally:
        stop_worker(worker)
        smtp.close()
    assert smtp.subjects == ["[RevOps Governance] 1 overdue decision(s) escalated to you"]
    overdue.refresh_from_db()
    assert overdue.escalated_to == boss


def test_worker_killed_mid_monthly_review_creates_it_once(transactional_db, tmp_path):
    """The month's review INSERT is held on a table lock and its pool process killed: the review is
    one transaction (review and rows), so nothing of it is kept; the requeued task creates it, with
    a row per automation, once; the next tick only re-computes it."""
    _require_postgresql_and_redis()
    from health.reviews import tasks as review_tasks
    from health.reviews.models import HealthReview, HealthReviewRow

    # Live, and registered before last month ended: in last month's review.
    for automation in AutomationFactory.create_batch(3):
        Automation.objects.filter(pk=automation.pk).update(created_at=timezone.now() - timedelta(days=70))
    queue = f"test-{uuid.uuid4().hex[:10]}"
    worker, pool_pid = _prefork_worker(tmp_path, queue)
    admin, watch = _admin_connection(), _admin_connection()
    try:
        admin.execute("BEGIN")
        admin.execute("LOCK TABLE health_healthreview IN SHARE MODE")
        review_tasks.monthly_review.apply_async(queue=queue)
        wait_until(
            lambda: watch.execute(
                "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = %s "
                "AND NOT l.granted AND l.relation = 'health_healthreview'::regclass",
                (WORKER_APPLICATION_NAME,),
            ).fetchone(),
            message="the review's INSERT to wait on the lock",
        )
        _kill_pool_process(worker, pool_pid)
        admin.execute("ROLLBACK")
        wait_until(lambda: "succeeded" in worker.output(), message="the requeued review task")
        assert "'created'" in worker.output()
        review_tasks.monthly_review.apply_async(queue=queue)  # the next daily tick
        wait_until(lambda: worker.output().count("succeeded") == 2, message="the next review tick")
    finally:
        admin.close()
        watch.close()
        stop_worker(worker)
    assert worker.output().count("'created'") == 1
    (review,) = HealthReview.objects.all()
    assert HealthReviewRow.objects.filter(review=review).count() == 3


# --- Beat firing the same schedule twice: two beat processes at once ----------------------------
def _subjects(folder: Path) -> list[str]:
    return [
        line.removeprefix("Subject: ")
        for path in folder.glob("*")
        for line in path.read_text().splitlines()
        if line.startswith("Subject: ")
    ]


def _wait_or_kill(process, *, timeout: float) -> int:
    try:
        return process.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return process.stop(sig=signal.SIGKILL, timeout=10)


def _start_beat(tmp_path, name: str, env: dict):
    args = [sys.executable, "-m", "celery", "--app", "revops_gov", "beat", "--loglevel", "INFO"]
    args += ["--scheduler", "django_celery_beat.schedulers:DatabaseScheduler", "--pidfile=", "--max-interval", "1"]
    return spawn(name, args, env=env, log=tmp_path / f"{name}.log")


def test_two_beats_firing_every_schedule_do_nothing_twice(transactional_db, tmp_path):
    """Two real beat processes (the production command, database scheduler) both fire the monitor
    pass and both digests every 2 seconds to a worker of two pool processes: each finding is opened
    once, each alert and each digest sent once (MonitorLock, the alert claims, DigestSent)."""
    _require_postgresql_and_redis()
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from approvals.decisions.models import DigestSent as DecisionDigestSent
    from health.choices import FindingStatus
    from health.models import DigestSent as FindingsDigestSent
    from health.models import Finding
    from tests.approvals.decisions.factories import DecisionRequestFactory
    from tests.factories import UserFactory
    from tests.health.factories import FindingFactory

    owner = UserFactory()
    _failing_automations(owner)
    # A finding of the owner's resolved a minute ago: news no alert told them, so a digest is due.
    earlier = timezone.now() - timedelta(hours=2)
    resolved = FindingFactory(
        owner=owner,
        status=FindingStatus.RESOLVED,
        opened_at=earlier,
        notified_at=earlier,
        resolved_at=timezone.now() - timedelta(minutes=1),
    )
    assignee = UserFactory()
    DecisionRequestFactory.create_batch(2, assignee=assignee)
    mail = tmp_path / "mail"
    mail.mkdir()
    queue = f"test-{uuid.uuid4().hex[:10]}"
    every, _ = IntervalSchedule.objects.get_or_create(every=2, period=IntervalSchedule.SECONDS)
    tasks = ("health.tasks.monitors_run", "health.tasks.findings_digest", "decisions.send_digests")
    for task in tasks:
        PeriodicTask.objects.create(name=f"fault {task}", task=task, interval=every, queue=queue)
    env = {"EMAIL_URL": f"filemail:///{mail}", "REVOPS_DECISION_DIGEST_HOUR": "0"}
    worker = start_worker(tmp_path, queue=queue, pool="prefork", concurrency=2, extra_env=env)
    beat_env = {**os.environ, "DATABASE_URL": _database_url(), **env}
    beats = [_start_beat(tmp_path, f"beat{i}", beat_env) for i in (1, 2)]
    try:
        # Each beat sends each schedule several times: every task reaches the worker at least 6 times.
        wait_until(
            lambda: all(worker.output().count(f"Task {task}[") >= 2 * 6 for task in tasks),
            timeout=120,
            message="both beats to fire every schedule several times",
        )
    finally:
        # Both at once (neither keeps writing the schedule the other saves on its way out); a loaded
        # machine gets two minutes for SIGTERM, the schedule saved, and exit.
        for beat in beats:
            if beat.alive():
                os.killpg(beat.process.pid, signal.SIGTERM)
        codes = [_wait_or_kill(beat, timeout=120) for beat in beats]
    try:
        # What the beats sent, then the outbox's deliveries those tasks queued.
        _settled(worker)
        # One alert per finding opened, one findings digest, one decision digest.
        expected = Finding.objects.exclude(pk=resolved.pk).count() + 2
        wait_until(lambda: len(_subjects(mail)) >= expected, message="the outbox to send every message")
        _settled(worker)
    finally:
        stop_worker(worker)
    for beat in beats:
        fired = {task: beat.output().count(f"Sending due task fault {task}") for task in tasks}
        assert all(count >= 3 for count in fired.values()), f"{beat.name} did not fire every schedule: {fired}"
    # Each beat stopped: on SIGTERM (0), or — seen on a loaded CI machine, a beat blocked in its
    # shutdown for two minutes — by SIGKILL; what this test is about is below: nothing sent twice.
    assert all(code in (0, -signal.SIGKILL) for code in codes), [beat.output()[-2000:] for beat in beats]
    if codes != [0, 0]:
        warnings.warn(f"a beat needed SIGKILL to stop: exit codes {codes}", stacklevel=1)
    assert "Traceback" not in worker.output(), worker.output()[-3000:]

    findings = Finding.objects.exclude(pk=resolved.pk).count()
    assert findings >= 3
    subjects = _subjects(mail)
    assert len(subjects) == len(set(subjects)), f"an email was sent twice: {sorted(subjects)}"
    assert len(subjects) == findings + 2  # one alert per finding, one findings digest, one decision digest
    assert FindingsDigestSent.objects.filter(user=owner).count() == 1
    assert DecisionDigestSent.objects.filter(user=assignee).count() == 1
    assert not Finding.objects.filter(notified_at__isnull=True).exists()
