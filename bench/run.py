"""`make bench`: the registry's hot reads under load, next to the bare-framework floor, one run.

Seeds 10,000 automations in a PostgreSQL database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/revops_bench), starts gunicorn (2 sync workers, the production
settings, Redis cache if REDIS_URL is set) and loads each endpoint with wrk from a second process.
Prints a Markdown table and writes it to bench/results/.
"""

import datetime
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = int(os.environ.get("BENCH_PORT", "8765"))
DURATION = os.environ.get("BENCH_DURATION", "10s")
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


def seed() -> tuple[str, str, str]:
    """10,000 automations with owners and fields; returns (a key, an admin token, a session id)."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from registry.models import Automation, DataField
    from revops_gov import services
    from revops_gov.models import User
    from revops_gov.roles import Role

    call_command("migrate", verbosity=0)
    admin = User.objects.filter(username="bench-admin").first() or services.user_create(
        username="bench-admin", role=Role.ADMIN, password="bench-pass-123"
    )
    if Automation.objects.count() < ROWS:
        Automation.objects.all().delete()
        fields = [
            DataField.objects.get_or_create(
                object_name="Lead",
                api_name=f"Bench_{i}__c",
                defaults={"label": f"Bench {i}", "definition": "x", "source_of_truth": "salesforce"},
            )[0]
            for i in range(20)
        ]
        automations = Automation.objects.bulk_create(
            [
                Automation(
                    key=f"bench-{i:05d}",
                    name=f"Bench automation {i:05d}",
                    business_purpose="Measure reads.",
                    workflow_type="lead_routing",
                    team="sales",
                    system="salesforce" if i % 2 else "hubspot",
                    trigger="A lead is created.",
                    rule="Territory, then capacity.",
                    rule_owner=admin,
                    failure_owner=admin,
                    exception_owner=admin,
                    assigns_ownership=bool(i % 3),
                    uses_ai=not i % 7,
                    status="live",
                )
                for i in range(ROWS)
            ],
            batch_size=1000,
        )
        through = Automation.data_fields.through
        through.objects.bulk_create(
            [
                through(automation_id=a.pk, datafield_id=fields[(a.pk + j) % 20].pk)
                for a in automations
                for j in range(3)
            ],
            batch_size=5000,
        )
    _, token = services.api_token_create(user=admin, name=f"bench {time.time()}", by=admin)
    session = SessionStore()
    session["_auth_user_id"] = str(admin.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = admin.get_session_auth_hash()
    session.create()
    return "bench-05001", token, session.session_key


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
    args = ["wrk", "--latency", "-t", "2", "-c", str(CONNECTIONS), "-d", DURATION]
    if script:
        args += ["-s", str(ROOT / "bench" / script)]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    # Warm the workers (connections, token cache) before measuring.
    subprocess.run([*args[:-2], "-d", "2s", f"http://127.0.0.1:{PORT}{path}"], capture_output=True, check=True)
    out = subprocess.run([*args, f"http://127.0.0.1:{PORT}{path}"], capture_output=True, text=True, check=True).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": re.search(r"\s50%\s+([\d.]+\w+)", out).group(1),
        "p99": re.search(r"\s99%\s+([\d.]+\w+)", out).group(1),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


def main():
    if not shutil.which("wrk"):
        raise SystemExit("make bench needs wrk (Debian: apt-get install wrk).")
    env = environment()
    ensure_database()
    django_setup(env)
    key, token, session = seed()
    server = start_server(env)
    bearer = {"Authorization": f"Bearer {token}"}
    cookie = {"Cookie": f"sessionid={session}"}
    cases = [
        ("Bare JsonResponse, one row (floor)", f"/bench/bare-json/{key}/", {}, None),
        ("Bare DRF view, one row (floor)", f"/bench/bare-drf/{key}/", {}, None),
        ("GET /api/v1/automations/{key}/ (token, cached card)", f"/api/v1/automations/{key}/", bearer, None),
        ("GET /api/v1/automations/{key}/ (random keys, mostly cold)", "/", bearer, "random_key.lua"),
        ("GET /api/v1/automations/ (page of 50)", "/api/v1/automations/", bearer, None),
        ("GET /automations/ list page (50 rows)", "/automations/", cookie, None),
    ]
    try:
        results = [(label, wrk(path, headers, script)) for label, path, headers, script in cases]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    floor = results[1][1]["rps"]
    stamp = datetime.date.today().isoformat()
    lines = [
        f"Registry bench, {stamp}: {ROWS:,} automations, PostgreSQL, gunicorn {WORKERS} sync workers, "
        f"wrk {CONNECTIONS} connections × {DURATION}, {os.cpu_count()} cores ({platform.machine()}).",
        "",
        "| endpoint | req/s | p50 | p99 | vs bare DRF | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in results:
        lines.append(
            f"| {label} | {r['rps']:,.0f} | {r['p50']} | {r['p99']} | {r['rps'] / floor:.0%} | {r['errors']} |"
        )
    report = "\n".join(lines)
    print(report)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"registry-{stamp}.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
