"""Speed at the floor (issue 19 §1–§2): every hot path next to its floor, in one run, with the
goal of each printed pass or fail.

Floors (bench/urls.py, same gunicorn, same settings): a bare DRF `ListAPIView` of 50 automations
with a plain `ModelSerializer` and no authentication (the floor of every list), and a bare
`JsonResponse` with no database (the floor of the ping). Products: the API lists of automations
(integration token, 5,000 of the 10,000 rows in its system; admin token, all 10,000), decisions,
runs and findings; the registry list page logged in; a single ping `POST …/runs/success`; batch
ingest of 1,000 events next to raw COPY. Each case is measured in `BENCH_ROUNDS` interleaved
rounds (floor, product, floor, …) and the median kept, so a noisy neighbour hits both sides.

`BENCH_QUICK=1`: one round of 3 s per case (about two minutes with the seeding done).
"""

import datetime
import os
import platform
import statistics
import time

from bench.common import (
    CONNECTIONS,
    DURATION,
    QUICK,
    WORKERS,
    bench_admin,
    live_strategic_routing,
    require_wrk,
    salesforce_integration_token,
    server,
    setup,
    wrk,
)

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1" if QUICK else "3"))
RUN_EVENTS = int(os.environ.get("BENCH_SPEED_RUN_EVENTS", "100000"))
DECISIONS = 2000
FINDINGS = 2000


def seed_lists(admin):
    """Decisions, run events and findings for the lists (made once)."""
    from django.db import connection, transaction

    from approvals.decisions.models import DecisionRequest
    from bench.health import _rows, copy_rows
    from health.models import Finding, RunEvent
    from registry.models import Automation

    now = datetime.datetime.now(datetime.UTC)
    routing = live_strategic_routing(
        key="bench-decisions", name="Bench strategic lead routing", admin=admin, purpose="Measure decisions."
    )
    if DecisionRequest.objects.count() < DECISIONS:
        DecisionRequest.objects.bulk_create(
            [
                DecisionRequest(
                    automation=routing,
                    kind="strategic_lead_route",
                    record_system="salesforce",
                    record_object="Lead",
                    record_id=f"00QSPEED{i:06d}",
                    why="Seeded for the list bench.",
                    evidence=[],
                    proposed_action="Route to the named owner.",
                    assignee=admin,
                    due_at=now + datetime.timedelta(hours=4),
                    expires_at=now + datetime.timedelta(days=7),
                    created_by=admin,
                )
                for i in range(DECISIONS)
            ],
            batch_size=2000,
        )
    ids = list(
        Automation.objects.filter(key__startswith="bench-", system="salesforce")
        .order_by("pk")
        .values_list("pk", flat=True)[:2000]
    )
    if RunEvent.objects.filter(event_id__startswith="speed-").count() < RUN_EVENTS:
        RunEvent.objects.filter(event_id__startswith="speed-").delete()
        with transaction.atomic():
            copy_rows(connection, _rows(ids, RUN_EVENTS, now=now, prefix="speed-"))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE health_runevent")
    if Finding.objects.count() < FINDINGS:
        Finding.objects.bulk_create(
            [
                Finding(
                    automation_id=ids[i % len(ids)],
                    kind="failure_rate_up" if i < len(ids) else "stale_data",
                    severity="warning",
                    reason="Seeded for the list bench.",
                    evidence={"failures": i % 7},
                    owner=admin,
                    expected_action="Look at it.",
                    due_at=now + datetime.timedelta(days=2),
                    opened_at=now - datetime.timedelta(minutes=i),
                    last_seen_at=now,
                )
                for i in range(FINDINGS)
            ],
            batch_size=2000,
        )
    return ids


def check_answers(cases) -> None:
    """Every case answers 200 (201 for a ping) in process: a redirect to the login page would be
    fast and wrong."""
    from django.test import Client

    for label, path, headers, script in cases:
        client = Client(HTTP_HOST="localhost")
        extra = {f"HTTP_{name.upper()}": value for name, value in headers.items() if name != "Cookie"}
        if "Cookie" in headers:
            client.cookies["sessionid"] = headers["Cookie"].split("=", 1)[1]
        response = client.post(path, **extra) if script == "post.lua" else client.get(path, **extra)
        if response.status_code not in (200, 201):
            raise SystemExit(f"{label}: {path} answered {response.status_code}, not 200/201")


def query_counts(admin_token, sf_token) -> dict[str, tuple[int, int]]:
    """Queries of each API list at page sizes 10 and 50, in process (the same count is the goal)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="localhost")
    counts = {}
    for label, path, token in (
        ("automations (integration token)", "/api/v1/automations/", sf_token),
        ("automations (admin token)", "/api/v1/automations/", admin_token),
        ("decisions", "/api/v1/decisions/", admin_token),
        ("runs", "/api/v1/runs/", admin_token),
        ("findings", "/api/v1/findings/", admin_token),
    ):
        found = []
        for size in (10, 50):
            client.get(path, {"page_size": size}, HTTP_AUTHORIZATION=f"Bearer {token}")  # token cached
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path, {"page_size": size}, HTTP_AUTHORIZATION=f"Bearer {token}")
            assert response.status_code == 200, (path, response.status_code)
            found.append(len(queries))
        counts[label] = tuple(found)
    return counts


def ping_round_trips(sf_token, key) -> int:
    """Database round trips of one ping in process: every statement, BEGIN and COMMIT included."""
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.post(f"/api/v1/automations/{key}/runs/success", HTTP_AUTHORIZATION=f"Bearer {sf_token}")
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    commits = []
    original_commit = connection.commit
    connection.commit = lambda: (commits.append(1), original_commit())[1]
    try:
        with connection.execute_wrapper(count):
            response = client.post(f"/api/v1/automations/{key}/runs/success", HTTP_AUTHORIZATION=f"Bearer {sf_token}")
    finally:
        connection.commit = original_commit
    assert response.status_code == 201, response.content
    # A transaction is BEGIN (sent by psycopg before its first statement) and COMMIT.
    return len(statements) + 2 * len(commits)


def main() -> str:
    """Run the speed bench; returns the Markdown report."""
    require_wrk()
    env = setup()
    from bench.health import api_ingest_rate, raw_copy_rate
    from bench.registry import seed
    from health.models import RunEvent
    from registry.models import Automation

    started = time.time()
    admin = bench_admin()
    _, admin_token, session = seed()
    _, sf_token = salesforce_integration_token(name="bench-sf-speed", admin=admin)
    ids = seed_lists(admin)
    ping_key = Automation.objects.filter(pk=ids[0]).values_list("key", flat=True).get()
    counts = query_counts(admin_token, sf_token)
    trips = ping_round_trips(sf_token, ping_key)
    admin_h = {"Authorization": f"Bearer {admin_token}"}
    sf_h = {"Authorization": f"Bearer {sf_token}"}
    cookie = {"Cookie": f"sessionid={session}"}
    floor_list = ("Bare DRF ListAPIView, 50 rows (floor)", "/bench/bare-list/", {}, None)
    floor_ping = ("Bare JsonResponse, no database (floor)", "/bench/bare-ping/", {}, "post.lua")
    cases = [
        floor_list,
        ("GET /api/v1/automations/ (integration token, 50 of 5,000)", "/api/v1/automations/", sf_h, None),
        ("GET /api/v1/automations/ (admin token, 50 of 10,000)", "/api/v1/automations/", admin_h, None),
        ("GET /automations/ list page (50 rows, logged in)", "/automations/", cookie, None),
        ("GET /api/v1/decisions/ (50)", "/api/v1/decisions/", admin_h, None),
        ("GET /api/v1/runs/ (50)", "/api/v1/runs/", admin_h, None),
        ("GET /api/v1/findings/ (50)", "/api/v1/findings/", admin_h, None),
        floor_ping,
        (
            "POST /api/v1/automations/{key}/runs/success (ping)",
            f"/api/v1/automations/{ping_key}/runs/success",
            sf_h,
            "post.lua",
        ),  # fmt: skip
    ]
    check_answers(cases)
    samples: dict[str, list[dict]] = {label: [] for label, *_ in cases}
    keys = list(Automation.objects.filter(pk__in=ids).values_list("key", flat=True))
    now = datetime.datetime.now(datetime.UTC)
    copy_rates, ingest_rates, ingest_errors = [], [], 0
    load_before = os.getloadavg()
    with server(env):
        for _ in range(ROUNDS):
            for label, path, headers, script in cases:
                samples[label].append(wrk(path, headers, script))
            copy_rates.append(raw_copy_rate(ids, now, n=50_000))
            rate, errors = api_ingest_rate(keys, sf_token, 3 if QUICK else 8)
            ingest_rates.append(rate)
            ingest_errors += errors
    load_after = os.getloadavg()
    RunEvent.objects.filter(event_id__startswith="api-").delete()
    RunEvent.objects.filter(event_id__startswith="ping-").delete()

    median = {label: statistics.median(s["rps"] for s in runs) for label, runs in samples.items()}
    list_floor, ping_floor = median[floor_list[0]], median[floor_ping[0]]
    copy_rate, ingest_rate = statistics.median(copy_rates), statistics.median(ingest_rates)
    stamp = datetime.date.today().isoformat()
    lines = [
        f"Speed bench (issue 19), {stamp}: 10,000 automations, {RUN_EVENTS:,} run events, PostgreSQL, gunicorn "
        f"{WORKERS} sync workers (production settings, persistent connections, DEBUG off), wrk {CONNECTIONS} "
        f"connections × {DURATION}, {ROUNDS} interleaved round(s), median kept; {os.cpu_count()} cores "
        f"({platform.machine()}), load average {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
        f"{time.time() - started:.0f} s.",
        "",
        "| endpoint | req/s (median) | all rounds | p50 | p99 | vs floor | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, *_ in cases:
        floor = ping_floor if "ping" in label.lower() or "no database" in label else list_floor
        last = samples[label][-1]
        rounds = " · ".join(f"{s['rps']:,.0f}" for s in samples[label])
        errors = sum(s["errors"] for s in samples[label])
        lines.append(
            f"| {label} | {median[label]:,.0f} | {rounds} | {last['p50']} | {last['p99']} | "
            f"{median[label] / floor:.0%} | {errors} |"
        )
    lines += [
        f"| Raw COPY of 50,000 run events (floor) | {copy_rate:,.0f} rows/s | "
        f"{' · '.join(f'{r:,.0f}' for r in copy_rates)} | | | 100% | |",
        f"| POST /api/v1/runs/, batches of 1,000 (4 clients) | {ingest_rate:,.0f} rows/s | "
        f"{' · '.join(f'{r:,.0f}' for r in ingest_rates)} | | | {ingest_rate / copy_rate:.0%} | {ingest_errors} |",
        "",
        "Queries per API list request at page sizes 10 and 50 (10,000 automations): "
        + "; ".join(f"{label} {a} · {b}" for label, (a, b) in counts.items())
        + f". Database round trips of one ping (BEGIN and COMMIT included): {trips}.",
        "",
        "| goal | measured | |",
        "|---|---:|---|",
    ]

    def goal(name, value, target, shown):
        lines.append(f"| {name} | {shown} | {'**pass**' if value >= target else '**FAIL**'} |")

    for label in cases[1:7]:
        goal(f"{label[0]} ≥ 100 % of the bare DRF list", median[label[0]] / list_floor, 1.0,
             f"{median[label[0]] / list_floor:.0%}")  # fmt: skip
    goal("Every API list: the same query count at 10 and at 50 rows", all(a == b for a, b in counts.values()), True,
         "; ".join(f"{a}·{b}" for a, b in counts.values()))  # fmt: skip
    ping_ratio = median[cases[-1][0]] / ping_floor
    goal("Ping ≥ 1/7 of the bare JSON view", ping_ratio, 1 / 7, f"1/{1 / ping_ratio:.1f}")
    goal("Ping ≤ 2 database round trips", -trips, -2, str(trips))
    goal("Batch ingest of 1,000 ≥ 50 % of raw COPY", ingest_rate / copy_rate, 0.5, f"{ingest_rate / copy_rate:.0%}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
