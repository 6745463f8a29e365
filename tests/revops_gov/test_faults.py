"""Fault: Redis restarted. A private redis-server (port 6390) is the cache and the broker of a real
gunicorn and a real Celery worker. Killed, the web keeps serving reads (a cache miss falls back to
the database) and says the broker is down on /healthz; restarted, tasks flow again."""

import os
import uuid

import pytest
from django.test import Client

from revops_gov.celery import app as celery_app
from revops_gov.tasks import heartbeat
from tests.conftest import _database_url, start_worker, stop_worker
from tests.factories import integration_token
from tests.processes import RedisServer, free_port, http, http_json, start_gunicorn, wait_until
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
