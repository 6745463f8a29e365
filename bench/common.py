"""What every bench module shares: the bench database, Django set up against it, a gunicorn
server with the production settings, and wrk from a second process."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = int(os.environ.get("BENCH_PORT", "8765"))
# BENCH_QUICK=1: a quick run (3 s per case, 1 s warm-up) to check one module in a couple of minutes.
QUICK = os.environ.get("BENCH_QUICK") == "1"
DURATION = os.environ.get("BENCH_DURATION", "3s" if QUICK else "10s")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
ROWS = int(os.environ.get("BENCH_ROWS", "10000"))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/revops_bench")


def environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=DATABASE_URL,
        DJANGO_SECRET_KEY="bench-only-secret-key-not-used-anywhere-else-0123456789",
        LOG_LEVEL="WARNING",
    )
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/3")
    # The production shape: Redis as the broker too (the embedded filesystem broker polls once a second).
    env.setdefault("CELERY_BROKER_URL", os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/2"))
    return env


def ensure_database():
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(env):
    os.environ.update(env)
    import django

    django.setup()


def start_server(env) -> subprocess.Popen:
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


def wrk(path: str, headers: dict[str, str], script: str | None = None) -> dict:
    """Load one path; `errors` counts non-2xx/3xx answers and socket errors (connect, read, write,
    timeout), so a request that never completed is never hidden."""
    options = []
    if script:
        options += ["-s", str(ROOT / "bench" / script)]
    for name, value in headers.items():
        options += ["-H", f"{name}: {value}"]
    base = ["wrk", "--latency", "-t", "2", "-c", str(CONNECTIONS)]
    url = f"http://127.0.0.1:{PORT}{path}"
    # Warm the workers (connections, token cache) before measuring, with the same headers.
    subprocess.run([*base, "-d", "1s" if QUICK else "2s", *options, url], capture_output=True, check=True)
    out = subprocess.run([*base, "-d", DURATION, *options, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict:
    """req/s, p50, p99 and errors (non-2xx/3xx answers plus socket errors) from wrk --latency."""
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": re.search(r"\s50%\s+([\d.]+\w+)", out).group(1),
        "p99": re.search(r"\s99%\s+([\d.]+\w+)", out).group(1),
        "errors": (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0),
    }


_ready = False


def setup() -> dict:
    """Create the bench database if needed, set Django up against it and migrate; returns the
    environment for subprocesses (gunicorn, workers)."""
    global _ready
    env = environment()
    if not _ready:
        ensure_database()
        django_setup(env)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        _ready = True
    return env


def require_wrk() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("make bench needs wrk (Debian: apt-get install wrk).")


@contextmanager
def server(env):
    """gunicorn with the production settings on 127.0.0.1:PORT for the duration of the block."""
    process = start_server(env)
    try:
        yield f"http://127.0.0.1:{PORT}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


# --- seeding shared by the benches (after setup()) ----------------------------------------------
def bench_admin():
    """The benches' RevOps admin, made once."""
    from revops_gov import services
    from revops_gov.models import User
    from revops_gov.roles import Role

    return User.objects.filter(username="bench-admin").first() or services.user_create(
        username="bench-admin", role=Role.ADMIN, password="bench-pass-123"
    )


def live_strategic_routing(*, key: str, name: str, admin, purpose: str):
    """A live high-tier lead routing automation with the approved packet of its current version
    that the permit check asks for, so decisions may be queued for it."""
    from approvals.models import ApprovalPacket
    from registry.models import Automation

    automation, _ = Automation.objects.get_or_create(
        key=key,
        defaults={
            "name": name,
            "business_purpose": purpose,
            "workflow_type": "lead_routing",
            "team": "sales",
            "system": "salesforce",
            "trigger": "A lead is created.",
            "rule": "Named account owner wins.",
            "exception_owner": admin,
            "rule_owner": admin,
            "failure_owner": admin,
            "reassigns_strategic_ownership": True,
            "status": "live",
        },
    )
    ApprovalPacket.objects.get_or_create(
        automation=automation,
        number=1,
        defaults={"state": "approved", "automation_version": automation.version, "rule": automation.rule},
    )
    return automation


def salesforce_integration_token(*, name: str, admin):
    """The named Salesforce integration (made once) and a new token for it."""
    from revops_gov import services
    from revops_gov.models import Integration

    integration = Integration.objects.filter(name=name).first()
    if integration is None:
        return services.integration_create(name=name, system="salesforce")
    _, token = services.api_token_create(user=integration.service_user, integration=integration, name=name, by=admin)
    return integration, token
