"""The Celery wiring works end to end: a real worker process runs a task sent by the app."""

import uuid

import pytest
from django.core.cache import caches

from revops_gov.tasks import heartbeat
from tests.conftest import start_worker, stop_worker, wait_for

pytestmark = pytest.mark.worker


@pytest.mark.django_db(transaction=True)
def test_worker_runs_the_heartbeat_and_healthz_reports_it(tmp_path, settings, client):
    # The worker process and this test share a file cache, so what the task writes is visible here.
    cache_dir = tmp_path / "cache"
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(cache_dir)}
    }
    worker = start_worker(
        tmp_path, queue=f"test-heartbeat-{uuid.uuid4().hex[:8]}", extra_env={"CACHE_URL": f"filecache://{cache_dir}"}
    )
    try:
        assert client.get("/healthz").json()["worker_last_seen_seconds_ago"] is None
        heartbeat.apply_async(queue=worker.queue)
        wait_for(
            lambda: client.get("/healthz").json()["worker_last_seen_seconds_ago"] is not None, message="the heartbeat"
        )
        assert "revops_gov.tasks.heartbeat" in worker.output()
    finally:
        stop_worker(worker)
        caches["default"].clear()
