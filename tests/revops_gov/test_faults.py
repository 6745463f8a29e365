"""Fault: Redis restarted. A private redis-server (port 6390) is the cache and the broker of a real
gunicorn and a real Celery worker. Killed, the web keeps serving reads (a cache miss falls back to
the database) and says the broker is down on /healthz; restarted, tasks flow again."""

import os
import threading
import uuid

import pytest
from django.test import Client

from revops_gov.celery import app as celery_app
from revops_gov.tasks import heartbeat
from tests.conftest import _database_url, start_worker, stop_worker
from tests.factories import integration_token
from tests.processes import RedisServer, free_port, http, http_json, post_json, start_gunicorn, wait_until
from tests.registry.factories import AutomationFactory

pytestmark = [pytest.mark.worker, pytest.mark.faults]
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


def _require_postgresql():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the test terminates the web's server backend (pg_terminate_backend)")


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
    admin = _admin_connection()
    try:
        acknowledged = _batch("a", 200, automation.key)
        status, body, _ = post_json(runs, acknowledged, headers=auth)
        assert status == 200 and body["summary"] == {"created": 200, "duplicate": 0, "error": 0}

        # Hold the batch mid-flight: its transaction has begun, its INSERT waits on our lock.
        in_flight = _batch("b", 500, automation.key)
        admin.execute("BEGIN")
        admin.execute("LOCK TABLE health_runevent IN SHARE MODE")
        answer = {}
        sender = threading.Thread(target=lambda: answer.update(r=post_json(runs, in_flight, headers=auth)))
        sender.start()
        # (The backend asks for the table lock while parsing the INSERT, before it reports the query.)
        waiting = wait_until(
            lambda: admin.execute(
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
        assert status == 200 and body["summary"] == {"created": 500, "duplicate": 0, "error": 0}, body
        status, body, _ = post_json(runs, acknowledged, headers=auth)
        assert status == 200 and body["summary"] == {"created": 0, "duplicate": 200, "error": 0}, body

        # Dropped again between requests (a database restart): the kept connection is checked and replaced.
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (WEB_APPLICATION_NAME,),
        )
        status, body, _ = post_json(runs, _batch("c", 10, automation.key), headers=auth)
        assert status == 200 and body["summary"]["created"] == 10, body
    finally:
        admin.close()
        web.stop()
    stored = list(RunEvent.objects.filter(automation=automation).values_list("event_id", flat=True))
    expected = {e["event_id"] for e in acknowledged + in_flight} | {f"c-{i}" for i in range(10)}
    assert len(stored) == len(set(stored)) == len(expected) and set(stored) == expected
    assert "Database unavailable during /api/v1/runs/" in web.output()
