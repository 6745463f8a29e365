"""The decision queue under load, next to the bare-framework floor, in one run.

- create: POST /api/v1/decisions/ with an integration token (permit check, validation, insert, history);
- decide: POST /api/v1/decisions/{id}/decide/ with the admin's token, each call a different open request
  (row lock, decision row, history, outbox);
- decide → webhook received: one decision at a time through gunicorn, delivered by ONE Celery worker
  to a local HTTP receiver; p50/p99 of the time from sending the decision to the CRM receiving it.
The floor is the bare DRF view of bench/urls.py, measured in the same run.
"""

import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.common import (
    CONNECTIONS,
    DURATION,
    PORT,
    ROOT,
    WORKERS,
    bench_admin,
    live_strategic_routing,
    require_wrk,
    salesforce_integration_token,
    server,
    setup,
    wrk,
)

LATENCY_SAMPLES = int(os.environ.get("BENCH_LATENCY_SAMPLES", "100"))
DECIDE_SEED = int(os.environ.get("BENCH_DECIDE_SEED", "60000"))


def seed():
    from approvals.decisions.models import DecisionRequest
    from revops_gov import services
    from revops_gov.models import Integration

    admin = bench_admin()
    automation = live_strategic_routing(
        key="bench-decisions", name="Bench strategic lead routing", admin=admin, purpose="Measure decisions."
    )
    integration, sf_token = salesforce_integration_token(name="bench-sf", admin=admin)
    Integration.objects.filter(pk=integration.pk).update(webhook_url="", webhook_secret="")
    _, admin_token = services.api_token_create(user=admin, name=f"bench {time.time()}", by=admin)
    now = datetime.datetime.now(datetime.UTC)
    rows = DecisionRequest.objects.bulk_create(
        [
            DecisionRequest(
                automation=automation,
                kind="strategic_lead_route",
                record_system="salesforce",
                record_object="Lead",
                record_id=f"00QSEED{i:06d}",
                why="Seeded for the decide bench.",
                evidence=[],
                proposed_action="Route to the named owner.",
                assignee=admin,
                due_at=now + datetime.timedelta(hours=4),
                expires_at=now + datetime.timedelta(days=7),
                created_by=admin,
            )
            for i in range(DECIDE_SEED)
        ],
        batch_size=2000,
    )
    return integration, sf_token, admin_token, rows[0].pk


class Receiver:
    def __init__(self):
        self.arrivals: dict[int, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.arrivals.setdefault(body["request"]["id"], time.monotonic())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _post(path, token, body):
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def webhook_latency(env, integration, sf_token, admin_token) -> dict:
    from revops_gov.models import Integration

    receiver = Receiver()
    Integration.objects.filter(pk=integration.pk).update(
        webhook_url=receiver.url, webhook_secret="bench-secret-0123456789"
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "revops_gov",
            "worker",
            "--pool",
            "solo",
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        body = {
            "automation": "bench-decisions",
            "kind": "strategic_lead_route",
            "record_object": "Lead",
            "record_id": "00QLATENCY",
            "why": "Latency sample.",
            "proposed_action": "Route to the named owner.",
        }

        def sample(timeout: float) -> float | None:
            created = _post("/api/v1/decisions/", sf_token, body)
            started = time.monotonic()
            _post(f"/api/v1/decisions/{created['id']}/decide/", admin_token, {"option": "accept_owner"})
            deadline = started + timeout
            while created["id"] not in receiver.arrivals and time.monotonic() < deadline:
                time.sleep(0.002)
            arrived = receiver.arrivals.get(created["id"])
            return None if arrived is None else arrived - started

        # Warm up, not counted: the first delivery waits for the worker to start and connect.
        sample(timeout=60)
        samples = [t for t in (sample(timeout=30) for _ in range(LATENCY_SAMPLES)) if t is not None]
        samples.sort()
        return {
            "n": len(samples),
            "lost": LATENCY_SAMPLES - len(samples),
            "p50": statistics.median(samples),
            "p99": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        }
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        receiver.server.shutdown()


def main():
    """Run the decision bench; returns the Markdown report."""
    require_wrk()
    env = setup()
    integration, sf_token, admin_token, first_id = seed()
    with server(env):
        floor = wrk("/bench/bare-drf/bench-decisions/", {})
        create = wrk("/api/v1/decisions/", {"Authorization": f"Bearer {sf_token}"}, "decisions_create.lua")
        os.environ.update(BENCH_FIRST_ID=str(first_id), BENCH_THREADS="2", BENCH_T0=str(int(time.time())))
        decide = wrk("/", {"Authorization": f"Bearer {admin_token}"}, "decisions_decide.lua")
        latency = webhook_latency(env, integration, sf_token, admin_token)
    stamp = datetime.date.today().isoformat()
    lines = [
        f"Decision queue bench, {stamp}: PostgreSQL, gunicorn {WORKERS} sync workers, wrk {CONNECTIONS} "
        f"connections × {DURATION}, {os.cpu_count()} cores ({platform.machine()}).",
        "",
        "| endpoint | req/s | p50 | p99 | vs bare DRF | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in (
        ("Bare DRF view, one row (floor)", floor),
        ("POST /api/v1/decisions/ (integration token)", create),
        ("POST /api/v1/decisions/{id}/decide/ (admin token)", decide),
    ):
        lines.append(
            f"| {label} | {r['rps']:,.0f} | {r['p50']} | {r['p99']} | {r['rps'] / floor['rps']:.0%} | {r['errors']} |"
        )
    lines += [
        "",
        f"Decide → webhook received (one Celery worker, {latency['n']} sequential samples, {latency['lost']} lost): "
        f"p50 {latency['p50'] * 1000:.0f} ms, p99 {latency['p99'] * 1000:.0f} ms (goal: p50 ≤ 1 s).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
