"""The production shape, natively: the Procfile's web (gunicorn), worker and beat (django-celery-beat's
database scheduler) — the commands docker-compose.yml runs in its containers — started against this
machine's PostgreSQL (its own database) and Redis (db 14 broker, 15 cache), DEBUG off and a
production environment. Migrated, healthy by the compose health checks, a task goes through Redis to
the worker, beat writes its schedule to the database and fires from it, then everything stops cleanly.
"""

import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.processes import ROOT, free_port, http, http_json, spawn, wait_until

# One fixed PostgreSQL database and two Redis databases: under pytest-xdist these tests (and the
# simulator's production-shape test, and the beat fault test, which tools/beat_alive.py would
# see) run in one process, one after another.
PRODUCTION_SHAPE = pytest.mark.xdist_group("production-shape")
pytestmark = [pytest.mark.production, PRODUCTION_SHAPE]

DATABASE_URL = os.environ.get("PRODSHAPE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/revops_prodshape")
REDIS = os.environ.get("PRODSHAPE_REDIS", "redis://127.0.0.1:6379")
BROKER_URL, CACHE_URL = f"{REDIS}/14", f"{REDIS}/15"


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def _compose() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_the_procfile_and_checks_every_service():
    compose, processes = _compose(), procfile()
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        assert services[name]["command"].split()[:2] == ["honcho", "start"]
        assert services[name]["command"].split()[-1] == name and name in processes
    for name, service in services.items():
        if name != "migrate":  # a one-off job, not a long-running service
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert "pg_isready" in str(services["db"]["healthcheck"]["test"])
    assert "redis-cli" in str(services["redis"]["healthcheck"]["test"])
    assert "inspect ping" in str(services["worker"]["healthcheck"]["test"])
    assert "/healthz" in str(services["web"]["healthcheck"]["test"])


def test_docker_compose_accepts_the_file():
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip("`docker compose` is not available here; the native test below runs the same commands")
    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SECRET_KEY": "x"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _psycopg_admin():
    import psycopg

    try:
        return psycopg.connect(DATABASE_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL for the production shape ({exc})")


def _redis_flush(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).flushdb()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis for the production shape ({exc})")


@pytest.fixture
def fresh_database():
    name = DATABASE_URL.rsplit("/", 1)[1]
    with _psycopg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield DATABASE_URL
    with _psycopg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(args, env, timeout=180):
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f"{shlex.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _periodic_tasks(db_url) -> dict[str, str]:
    import psycopg

    with psycopg.connect(db_url) as conn:
        return dict(conn.execute("SELECT name, task FROM django_celery_beat_periodictask").fetchall())


def production_env(*, database_url: str, broker_url: str, cache_url: str, port: int, tmp_path) -> dict:
    """The environment the Procfile's processes get in production: DEBUG off, TLS settings on."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "CELERY_", "REDIS_", "CACHE_", "DATABASE"))
        },
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": cache_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "true",
        "DJANGO_SECURE_COOKIES": "true",
        "DJANGO_HSTS_SECONDS": "31536000",
        "DJANGO_BEHIND_TLS_PROXY": "true",
        "REVOPS_VAR_DIR": str(tmp_path / "var"),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "WORKER_CONCURRENCY": "2",
        "PYTHONUNBUFFERED": "1",
    }


def test_web_worker_and_beat_run_natively_as_in_production(fresh_database, tmp_path):
    _redis_flush(BROKER_URL)
    _redis_flush(CACHE_URL)
    port = free_port()
    env = production_env(
        database_url=fresh_database, broker_url=BROKER_URL, cache_url=CACHE_URL, port=port, tmp_path=tmp_path
    )
    manage = [sys.executable, "manage.py"]
    # What the image build and the compose `migrate` job do.
    _run([*manage, "collectstatic", "--noinput", "--verbosity", "0"], env)
    _run([*manage, "migrate", "--noinput"], env)
    _run([*manage, "check", "--deploy", "--fail-level", "WARNING"], env)

    processes = {
        name: spawn(name, f"exec {command.strip()}", env=env, log=tmp_path / f"{name}.log", shell=True)
        for name, command in procfile().items()
    }
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: http(f"{base}/healthz")[0] == 200, timeout=60, message="gunicorn /healthz")
        assert "Listening at: http://127.0.0.1" in processes["web"].output()

        # The compose health checks, run as compose runs them.
        compose = _compose()["services"]
        web_check = compose["web"]["healthcheck"]["test"][1:]
        _run([arg.replace("8000", str(port)) for arg in web_check], env, timeout=30)
        worker_check = compose["worker"]["healthcheck"]["test"][1].replace("$$HOSTNAME", socket.gethostname())
        wait_until(lambda: "ready." in processes["worker"].output(), message="the worker")
        _run(["sh", "-c", worker_check], env, timeout=60)
        wait_until(
            lambda: subprocess.run([sys.executable, "tools/beat_alive.py"], cwd=ROOT, check=False).returncode == 0,
            message="beat's process check",
        )

        # A task through Redis to the worker: the worker's heartbeat shows on the web's /healthz.
        _run([*manage, "shell", "-c", "from revops_gov.tasks import heartbeat; heartbeat.delay()"], env)
        wait_until(
            lambda: http_json(f"{base}/healthz")[1].get("worker_last_seen_seconds_ago") is not None,
            message="the heartbeat task to run",
        )

        # Beat copies every declared schedule into the database…
        wait_until(
            lambda: set(settings.CELERY_BEAT_SCHEDULE) <= set(_periodic_tasks(fresh_database)),
            message="beat to write its schedule",
        )
        # …and fires from it: a schedule added in the database (as an admin would) runs on the worker.
        _redis_flush(CACHE_URL)
        _run(
            [
                *manage,
                "shell",
                "-c",
                "from django_celery_beat.models import IntervalSchedule, PeriodicTask; "
                "every, _ = IntervalSchedule.objects.get_or_create(every=2, period='seconds'); "
                "PeriodicTask.objects.create(name='proof', task='revops_gov.tasks.heartbeat', interval=every)",
            ],
            env,
        )
        wait_until(
            lambda: http_json(f"{base}/healthz")[1].get("worker_last_seen_seconds_ago") is not None,
            timeout=60,
            message="beat → Redis → worker",
        )

        # Production headers over real HTTP behind the TLS proxy; plain HTTP is sent to HTTPS.
        status, body = http(f"{base}/login/", headers={"X-Forwarded-Proto": "https"})
        assert status == 200 and "Log in" in body
        # Static files come from whitenoise, under their hashed names (collectstatic's manifest).
        hashed = re.search(r"/static/css/app\.[0-9a-f]{12}\.css", body)
        assert hashed, "the page does not link the hashed stylesheet"
        assert http(f"{base}{hashed.group(0)}", headers={"X-Forwarded-Proto": "https"})[0] == 200
        plain = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-D", "-", f"{base}/login/"], capture_output=True, text=True, check=False
        )
        if plain.returncode == 0:
            assert re.search(r"^HTTP/1.1 301", plain.stdout, re.M) and "Location: https://" in plain.stdout
        secure = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-D", "-", "-H", "X-Forwarded-Proto: https", f"{base}/login/"],
            capture_output=True,
            text=True,
            check=False,
        )
        if secure.returncode == 0:
            assert "Strict-Transport-Security: max-age=31536000" in secure.stdout
            assert re.search(r"Set-Cookie: csrftoken=.*; Secure", secure.stdout)
    finally:
        codes = {name: process.stop() for name, process in processes.items()}
    logs = {name: process.output()[-2000:] for name, process in processes.items()}
    assert codes == {"web": 0, "worker": 0, "beat": 0}, f"exit codes {codes}\n{logs}"
    assert "Traceback" not in "".join(logs.values()), logs
    # The check no longer sees this beat (another test's beat from this folder may be running).
    check = subprocess.run(
        [sys.executable, "-c", "import json; from tools.beat_alive import beat_pids; print(json.dumps(beat_pids()))"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    assert processes["beat"].process.pid not in json.loads(check.stdout), check.stdout
