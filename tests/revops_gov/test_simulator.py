"""The CRM simulator (`manage.py simulate_crm`) against a real server: pytest-django's live server
(a threaded HTTP server on this test database) and a real Celery worker process delivering the
signed webhooks, so every outcome travels the way it does in production."""

import hashlib
import hmac
import io
import json
import os
import random
import re
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from approvals.models import ShadowObservation
from health.models import RunEvent
from registry.models import DataField
from revops_gov.models import ApiToken, Integration
from revops_gov.simulator import KINDS, Played, WebhookReceiver, choose, verify_signature
from tests.approvals.decisions.factories import LiveAutomationFactory
from tests.conftest import start_worker, stop_worker
from tests.processes import free_port
from tests.registry.factories import DataFieldFactory


def _signed(secret: str, body: bytes, timestamp: str) -> str:
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def test_a_signature_is_checked_against_the_secret_and_the_clock():
    body, now = b'{"event":"decision.decided"}', str(int(time.time()))
    assert verify_signature("s" * 20, body, now, _signed("s" * 20, body, now))
    assert not verify_signature("s" * 20, body, now, _signed("t" * 20, body, now))
    assert not verify_signature("s" * 20, body + b" ", now, _signed("s" * 20, body, now))
    old = str(int(time.time()) - 3600)
    assert not verify_signature("s" * 20, body, old, _signed("s" * 20, body, old))
    assert not verify_signature("s" * 20, body, "not-a-time", "v1=00")


def test_the_receiver_refuses_a_forged_outcome_and_records_a_true_one_once():
    receiver = WebhookReceiver("crm-secret-0123456789")
    try:
        body = json.dumps({"event": "decision.decided", "request": {"id": 7}}).encode()

        def post(signature):
            request = urllib.request.Request(
                receiver.url,
                data=body,
                method="POST",
                headers={
                    "X-RevOps-Event-Id": "e-1",
                    "X-RevOps-Timestamp": now,
                    "X-RevOps-Signature": signature,
                    "Content-Type": "application/json",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code

        now = str(int(time.time()))
        assert post("v1=forged") == 401
        assert post(_signed("crm-secret-0123456789", body, now)) == 200
        assert post(_signed("crm-secret-0123456789", body, now)) == 200  # at-least-once: a redelivery
    finally:
        receiver.close()
    assert (receiver.received, receiver.verified, receiver.failed, receiver.duplicates) == (3, 2, ["e-1"], 1)
    assert receiver.request_ids() == {7}


def test_runs_follow_each_automation_schedule():
    start = datetime(2026, 11, 25, 6, 30, tzinfo=UTC)
    rng = random.Random(1)

    def played(**card):
        return Played(key="a", system="salesforce", status="live", card=card, next_due=start)

    hourly = played(schedule_kind="interval", schedule_interval="01:00:00")
    assert hourly.advance(start, rng) == start + timedelta(hours=1)
    assert played(schedule_kind="interval", schedule_interval="2 00:00:00").advance(start, rng) == start + timedelta(
        days=2
    )
    weekdays = played(schedule_kind="cron", schedule_cron="0 7 * * 1-5")  # 2026-11-25 is a Wednesday
    assert weekdays.advance(start, rng) == start.replace(hour=7, minute=0)
    assert weekdays.advance(datetime(2026, 11, 27, 8, tzinfo=UTC), rng) == datetime(2026, 11, 30, 7, tzinfo=UTC)
    records = played(schedule_kind="none")
    assert records.event_driven and not hourly.event_driven
    past = [records.advance(start, rng) - start for _ in range(200)]
    assert timedelta(minutes=30) < sum(past, timedelta()) / 200 < timedelta(minutes=60)
    now = [records.advance(start, rng, real_time=True) - start for _ in range(200)]
    assert timedelta(seconds=10) < sum(now, timedelta()) / 200 < timedelta(seconds=20)


def test_it_plays_mostly_live_automations_with_one_in_shadow_and_one_that_may_not_run():
    cards = [{"key": f"live-{i}", "status": "live"} for i in range(10)]
    cards += [{"key": "s-1", "status": "shadow"}, {"key": "s-2", "status": "shadow"}]
    cards += [{"key": "d", "status": "in_design"}]
    chosen = [c["key"] for c in choose(cards, 5)]
    assert chosen == ["live-0", "live-1", "live-2", "s-1", "d"]
    assert [c["key"] for c in choose(cards[:2], 5)] == ["live-0", "live-1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Give --token SYSTEM=TOKEN (one per system) or --create-tokens."),
        (("--token", "salesforce"), "--token: give NAME=VALUE, not 'salesforce'."),
        (("--token", "crmx=rg_x"), "Unknown system 'crmx'"),
        (("--create-tokens", "--systems", "salesforce,crmx"), "Unknown system 'crmx'"),
        (("--token", "hubspot=rg_x", "--header", "X-Forwarded-Proto"), "--header: give NAME:VALUE"),
    ],
)
def test_bad_options_are_refused_naming_the_option(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("simulate_crm", *args, stdout=io.StringIO())


def _simulate(*args) -> tuple[dict, str]:
    out = io.StringIO()
    summary_file = f"/tmp/simulator-{uuid.uuid4().hex}.json"
    call_command("simulate_crm", *args, "--summary-json", summary_file, stdout=out, stderr=io.StringIO())
    with open(summary_file) as handle:
        return json.load(handle), out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_every_http_error_is_reported_and_none_stops_it(live_server):
    summary, output = _simulate("--url", live_server.url, "--token", "salesforce=rg_not-a-token", "--duration", "1")
    assert summary["http_errors_by_status"] == {"401": 1}
    assert "HTTP 401 GET /api/v1/automations/?system=salesforce" in output
    nobody = f"http://127.0.0.1:{free_port()}"
    summary, output = _simulate("--url", nobody, "--token", "hubspot=rg_x", "--duration", "1")
    assert summary["http_errors_by_status"] == {"no_answer": 1}
    assert "HTTP no answer GET" in output and "Connection refused" in output


def _crm_world(admin):
    """Salesforce and HubSpot automations: live ones running every 10 min (one record-triggered), one in
    shadow, one in design, each system's with an exception owner and a data field."""
    world = {}
    for system in ("salesforce", "hubspot"):
        field = DataFieldFactory(object_name="Lead" if system == "salesforce" else "Contact")
        every = {"schedule_kind": "interval", "schedule_interval": timedelta(minutes=10)}
        world[system] = [
            LiveAutomationFactory(
                key=f"{system}-lead-routing", system=system, exception_owner=admin, data_fields=[field]
            ),
            LiveAutomationFactory(key=f"{system}-dedupe", system=system, merges_records=True, **every),
            LiveAutomationFactory(key=f"{system}-sla", system=system, **every),
            LiveAutomationFactory(key=f"{system}-forecast", system=system, status="shadow", **every),
            LiveAutomationFactory(key=f"{system}-draft", system=system, status="in_design"),
        ]
    return world


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_simulator_plays_two_crms_end_to_end_against_a_live_server(live_server, admin, settings, tmp_path):
    queue = f"test-simulator-{uuid.uuid4().hex[:8]}"
    settings.REVOPS = {**settings.REVOPS, "DECISION_WEBHOOK_QUEUE": queue}
    world = _crm_world(admin)
    worker = start_worker(tmp_path, queue=queue)
    try:
        summary, output = _simulate(
            "--url",
            live_server.url,
            "--create-tokens",
            "--duration",
            "9",
            "--rate",
            "40",
            "--automations",
            "5",
            "--backfill-hours",
            "12",
            "--decision-every",
            "0.3",
            "--drain",
            "30",
            "--seed",
            "3",
        )
    finally:
        stop_worker(worker)
    runs, decisions, hooks, permits = summary["runs"], summary["decisions"], summary["webhooks"], summary["permits"]

    # Run events: accepted and stored once; every deliberate re-send recognised as a duplicate.
    assert runs["accepted"] > 100 and runs["errors"] == 0
    stored = RunEvent.objects.filter(event_id__startswith="sim-").exclude(event_id__startswith="sim-ping-").count()
    assert stored == runs["accepted"]
    assert runs["duplicates_sent"] >= 1 and runs["duplicates"] == runs["duplicates_sent"]
    assert runs["late"] >= 1 and runs["failed"] >= 1 and runs["stale"] >= 1
    assert RunEvent.objects.filter(event_id__startswith="sim-", staleness_seconds__gte=30 * 3600).exists()

    # The permit decides: live runs, shadow runs with observations, the automation in design does not run.
    assert permits["live"] > 0 and permits["shadow"] > 0 and permits["blocked"] > 0
    assert runs["not_run_blocked"] > 0 and not RunEvent.objects.filter(automation__status="in_design").exists()
    assert runs["shadow_observations"] > 0
    assert ShadowObservation.objects.filter(event_id__startswith="sim-").count() == runs["shadow_observations"]
    assert not RunEvent.objects.filter(automation__status="shadow", mode="live").exists()

    # The field change went through the API as the admin, on a field the broken automation uses.
    change = summary["field_change"]
    assert change["recorded"] and change["automation"] in ("salesforce-lead-routing", "hubspot-lead-routing")
    field = DataField.objects.get(automations__key=change["automation"])
    assert field.changed_at is not None and "simulator" in field.definition

    # Decisions of every kind, idempotent, some decided by the admin; each outcome came back signed.
    assert decisions["created"] >= len(KINDS) and all(decisions["by_kind"][kind] >= 1 for kind in KINDS)
    assert decisions["refused"] == 0
    assert decisions["decided"] >= 1
    assert hooks["received"] >= decisions["decided"]
    assert hooks["verified"] == hooks["received"] and hooks["failed_verification"] == 0
    assert hooks["decided_with_outcome"] == decisions["decided"], output
    assert summary["http_errors"] == 0, summary["errors"]

    # Afterwards its tokens are revoked and its webhooks switched off.
    assert not ApiToken.objects.active().filter(name__startswith=("CRM simulator")).exists()
    assert not ApiToken.objects.active().filter(integration__name__startswith="crm-simulator-").exists()
    assert set(Integration.objects.filter(name__startswith="crm-simulator-").values_list("webhook_url", flat=True)) == {
        ""
    }
    assert world  # the world the simulator played


# --- The production shape: gunicorn, worker and beat on PostgreSQL and Redis ---------------------------
@pytest.fixture
def simulator_database():
    from tests.revops_gov.test_production_shape import DATABASE_URL, _psycopg_admin

    url = f"{DATABASE_URL}_simulator"
    name = url.rsplit("/", 1)[1]
    with _psycopg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url
    with _psycopg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.production
@pytest.mark.xdist_group("production-shape")
def test_the_simulator_plays_the_demo_team_against_the_production_shape(simulator_database, tmp_path):
    import sys

    import psycopg

    from tests.processes import http, spawn, wait_until
    from tests.revops_gov.test_production_shape import REDIS, _redis_flush, _run, procfile, production_env

    # Redis databases of its own (PRODSHAPE_SIMULATOR_REDIS_DBS="broker,cache"), flushed first.
    broker_db, cache_db = os.environ.get("PRODSHAPE_SIMULATOR_REDIS_DBS", "12,13").split(",")
    broker_url, cache_url = f"{REDIS}/{broker_db}", f"{REDIS}/{cache_db}"
    _redis_flush(broker_url)
    _redis_flush(cache_url)
    port = free_port()
    env = production_env(
        database_url=simulator_database, broker_url=broker_url, cache_url=cache_url, port=port, tmp_path=tmp_path
    )
    manage = [sys.executable, "manage.py"]
    _run([*manage, "collectstatic", "--noinput", "--verbosity", "0"], env)
    _run([*manage, "migrate", "--noinput"], env)
    _run([*manage, "load_demo"], env)
    processes = {
        name: spawn(name, f"exec {command.strip()}", env=env, log=tmp_path / f"{name}.log", shell=True)
        for name, command in procfile().items()
    }
    base = f"http://127.0.0.1:{port}"
    summary_file = tmp_path / "summary.json"
    try:
        wait_until(lambda: http(f"{base}/healthz")[0] == 200, timeout=60, message="gunicorn /healthz")
        wait_until(lambda: "ready." in processes["worker"].output(), message="the worker")
        output = _run(
            [
                *manage,
                "simulate_crm",
                "--url",
                base,
                "--create-tokens",
                "--header",
                "X-Forwarded-Proto:https",  # behind the TLS proxy, as production runs
                "--duration",
                "25",
                "--rate",
                "10",
                "--automations",
                "5",
                "--decision-every",
                "1",
                "--drain",
                "40",
                "--summary-json",
                str(summary_file),
            ],
            env,
            timeout=180,
        )
    finally:
        codes = {name: process.stop() for name, process in processes.items()}
    logs = {name: process.output()[-3000:] for name, process in processes.items()}
    assert codes == {"web": 0, "worker": 0, "beat": 0}, f"exit codes {codes}\n{logs}"
    assert "Traceback" not in "".join(logs.values()), logs

    summary = json.loads(summary_file.read_text())
    runs, decisions, hooks, permits = summary["runs"], summary["decisions"], summary["webhooks"], summary["permits"]
    assert runs["accepted"] > 100 and runs["errors"] == 0, output
    assert runs["duplicates_sent"] >= 1 and runs["duplicates"] == runs["duplicates_sent"], output
    with psycopg.connect(simulator_database) as conn:
        (stored,) = conn.execute(
            "SELECT count(*) FROM health_runevent WHERE event_id LIKE 'sim-%' AND event_id NOT LIKE 'sim-ping-%'"
        ).fetchone()
    assert stored == runs["accepted"]
    assert permits["live"] > 0 and permits["shadow"] > 0, output
    assert summary["field_change"]["recorded"], output
    assert all(decisions["by_kind"][kind] >= 1 for kind in KINDS), output
    assert decisions["decided"] >= 1 and hooks["decided_with_outcome"] == decisions["decided"], output
    assert hooks["verified"] == hooks["received"] and hooks["failed_verification"] == 0, output
    # The only HTTP errors allowed: a decision refused because a monitor put its automation on hold meanwhile.
    assert summary["http_errors"] == decisions["refused"], output
