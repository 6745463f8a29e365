"""Personas and clients shared by every test.

Personas (the Healthchecks way): `admin` (RevOps admin), `manager`, `viewer`, `outsider` (logged in,
no role), and integration tokens of two systems (`sf_token` for Salesforce, `hs_token` for HubSpot).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from revops_gov import outbox
from revops_gov.roles import Role
from tests.factories import UserFactory, integration_token, personal_token

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session", autouse=True)
def _test_settings():
    """What tests need and nothing more: templates render without running collectstatic first
    (static files come from the finders, not the hashed manifest), and passwords hash fast."""
    with override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    ):
        yield


_REAL_DISPATCH = outbox.dispatch


@pytest.fixture(autouse=True)
def _outbox_delivers_at_once(monkeypatch):
    """Tests read `mail.outbox` right after the code under test: here the outbox tries each new
    delivery at once, in the test's process, instead of handing it to the worker after the commit.
    Tests of the real path (on commit, through the task, retries) ask for `queued_outbox`."""
    monkeypatch.setattr(outbox, "dispatch", lambda ids: [outbox.deliver(pk) for pk in ids])


@pytest.fixture
def queued_outbox(_outbox_delivers_at_once, monkeypatch):
    """The production path: new deliveries wait for the commit and the worker (or `deliver_due`)."""
    monkeypatch.setattr(outbox, "dispatch", _REAL_DISPATCH)


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin(db):
    return UserFactory(username="alice", first_name="Alice", last_name="Admin", role=Role.ADMIN)


@pytest.fixture
def manager(db):
    return UserFactory(username="morgan", first_name="Morgan", last_name="Manager", role=Role.MANAGER)


@pytest.fixture
def viewer(db):
    return UserFactory(username="victor", first_name="Victor", last_name="Viewer", role=Role.VIEWER)


@pytest.fixture
def outsider(db):
    return UserFactory(username="charlie", first_name="Charlie", last_name="Nobody")


@pytest.fixture
def sf_token(db):
    return integration_token(name="salesforce-prod", system="salesforce")


@pytest.fixture
def hs_token(db):
    return integration_token(name="hubspot-marketing", system="hubspot")


@pytest.fixture
def admin_token(admin):
    return personal_token(admin)


@pytest.fixture
def api():
    """An API client; `api.as_token(raw)` or `api.force_login(user)` picks the caller."""
    client = APIClient()

    def as_token(raw):
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    def patch_current(url, data, **kwargs):
        """PATCH as an editor does (issue 15 §4): GET the object, then PATCH with its ETag in If-Match."""
        read = client.get(url)
        etag = read.headers.get("ETag")
        assert etag, f"GET {url} answered {read.status_code} without an ETag"
        return client.patch(url, data, HTTP_IF_MATCH=etag, **kwargs)

    client.as_token = as_token
    client.patch_current = patch_current
    return client


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client

    return _login


# --- A real Celery worker ---------------------------------------------------------------------
def _database_url() -> str:
    """The URL of the database this test run really uses (the test database), for a subprocess."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"


@dataclass
class Worker:
    queue: str
    process: subprocess.Popen
    log: Path
    env: dict

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_worker(
    tmp_path, *, queue: str, extra_env: dict | None = None, pool: str = "solo", concurrency: int = 1
) -> Worker:
    # The worker sends the outbox's deliveries it enqueues on its own queue (a test worker consumes
    # only its queue; the default one is nobody's).
    env = {**os.environ, "DATABASE_URL": _database_url(), "REVOPS_OUTBOX_QUEUE": queue, **(extra_env or {})}
    log = tmp_path / f"worker-{queue}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "revops_gov",
            "worker",
            "--queues",
            queue,
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    worker = Worker(queue=queue, process=process, log=log, env=env)
    deadline = time.monotonic() + 60
    while "ready." not in worker.output():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"The Celery worker did not start:\n{worker.output()}")
        time.sleep(0.2)
    return worker


def stop_worker(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.process.kill()


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """A real `celery worker` process on its own queue, reading the test database.

    Tests using it run in `transactional_db`, so what they write is committed and visible to
    the worker. Send tasks with `.apply_async(queue=celery_worker.queue)`."""
    worker = start_worker(tmp_path, queue=f"test-{uuid.uuid4().hex[:10]}")
    yield worker
    stop_worker(worker)


def wait_for(predicate, *, timeout: float = 20, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {message}")


@pytest.fixture
def smtp_server(settings):
    """A real local mail server (aiosmtpd, tests/smtp.py) the product sends to through its own mail
    settings; it records every message and can refuse a recipient or drop a connection."""
    from tests.smtp import MailServer

    server = MailServer().start()
    server.point(settings)
    yield server
    server.stop()
