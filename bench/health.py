"""Health bench: run-event ingest through the API next to raw PostgreSQL COPY into the same
table (same run), and the full monitor pass over 10,000 automations and 1,000,000 run events.

Uses BENCH_DATABASE_URL (…/revops_bench_health recommended) and gunicorn with the production
settings. Data is generated with COPY. Goals: ingest ≥ 25 % of COPY; monitor pass ≤ 10 s.
"""

import datetime
import http.client
import io
import json
import os
import platform
import threading
import time
import uuid

from bench.common import DURATION, PORT, WORKERS, bench_admin, server, setup

AUTOMATIONS = int(os.environ.get("BENCH_HEALTH_AUTOMATIONS", "10000"))
EVENTS = int(os.environ.get("BENCH_HEALTH_EVENTS", "1000000"))
BATCH = 1000
CLIENTS = int(os.environ.get("BENCH_HEALTH_CLIENTS", "4"))
COPY_COLUMNS = (
    "automation_id, event_id, started_at, finished_at, outcome, mode, trigger_key, action, human_outcome, "
    "records_affected, fields_changed, reporting_critical_changed, owner_assigned, overridden, override_reason, "
    "alerts_sent, staleness_seconds, error, manual_reassignment, received_at"
)


def _seconds(text: str) -> float:
    return float(text[:-1]) * {"s": 1, "m": 60}[text[-1]]


def seed_automations(admin):
    from registry.models import Automation

    if Automation.objects.filter(key__startswith="hb-").count() >= AUTOMATIONS:
        return list(Automation.objects.filter(key__startswith="hb-").order_by("pk").values_list("pk", flat=True))
    from django.db import connection

    from registry.models import Hold

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE health_runevent, health_finding")
    Hold.objects.filter(automation__key__startswith="hb-").delete()
    Automation.objects.filter(key__startswith="hb-").delete()
    created = Automation.objects.bulk_create(
        [
            Automation(
                key=f"hb-{i:05d}",
                name=f"Health bench {i:05d}",
                business_purpose="Measure the monitors.",
                workflow_type="lead_routing",
                team="sales",
                system="salesforce",
                trigger="A lead is created.",
                rule="Territory, then capacity.",
                rule_owner=admin,
                failure_owner=admin,
                status="live",
                schedule_kind="interval" if i % 2 else "none",
                schedule_interval=datetime.timedelta(hours=1) if i % 2 else None,
            )
            for i in range(AUTOMATIONS)
        ],
        batch_size=2000,
    )
    return [a.pk for a in created]


def _rows(ids, n, *, now, prefix):
    """n run events spread over the last 35 days, a few failing, overridden or overlapping."""
    span = 35 * 86400
    for i in range(n):
        aid = ids[i % len(ids)]
        started = now - datetime.timedelta(seconds=(i * 7919) % span)
        outcome = "failure" if i % 23 == 0 else "success"
        yield (
            aid,
            f"{prefix}{i}",
            started.isoformat(),
            (started + datetime.timedelta(seconds=3)).isoformat(),
            outcome,
            "live",
            "",
            "",
            "",
            i % 9,
            "[]",
            "f",
            "",
            "t" if i % 17 == 0 else "f",
            "",
            i % 3,
            600,
            "",
            "f",
            now.isoformat(),
        )


def copy_rows(connection, rows, table: str = "health_runevent") -> int:
    buffer = io.StringIO()
    count = 0
    for row in rows:
        buffer.write("\t".join(str(v) for v in row) + "\n")
        count += 1
    buffer.seek(0)
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY {table} ({COPY_COLUMNS}) FROM STDIN") as copy,
    ):
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)
    return count


def seed_events(ids, now):
    from django.db import connection, transaction

    from health.models import RunEvent

    have = RunEvent.objects.filter(event_id__startswith="seed-").count()
    if have >= EVENTS:
        return
    RunEvent.objects.filter(event_id__startswith="seed-").delete()
    with transaction.atomic():
        copy_rows(connection, _rows(ids, EVENTS, now=now, prefix="seed-"))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE health_runevent")


def raw_copy_rate(ids, now, n=200_000) -> float:
    """Rows/s of a raw COPY into health_runevent (the floor), rolled back afterwards."""
    from django.db import connection, transaction

    rows = list(_rows(ids, n, now=now, prefix=f"copy-{uuid.uuid4().hex[:6]}-"))
    with transaction.atomic():
        start = time.perf_counter()
        copy_rows(connection, rows)
        elapsed = time.perf_counter() - start
        transaction.set_rollback(True)
    return n / elapsed


def api_ingest_rate(keys, token, seconds) -> tuple[float, int]:
    """Rows/s through POST /api/v1/runs/ with CLIENTS concurrent clients posting batches of 1,000."""
    stop = time.monotonic() + seconds
    created, errors = [0], [0]
    lock = threading.Lock()
    started = datetime.datetime.now(datetime.UTC)

    def client(n):
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
        batch_no = 0
        while time.monotonic() < stop:
            tag = f"api-{n}-{batch_no}-{uuid.uuid4().hex[:6]}-"
            body = json.dumps(
                [
                    {
                        "automation": keys[(batch_no * BATCH + i) % len(keys)],
                        "event_id": f"{tag}{i}",
                        "started_at": (started - datetime.timedelta(seconds=i)).isoformat(),
                        "finished_at": started.isoformat(),
                        "outcome": "success",
                        "records_affected": 1,
                        "alerts_sent": 0,
                    }
                    for i in range(BATCH)
                ]
            )
            conn.request(
                "POST", "/api/v1/runs/", body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            )
            response = conn.getresponse()
            data = json.loads(response.read())
            with lock:
                if response.status == 200:
                    created[0] += data["summary"]["created"]
                else:
                    errors[0] += 1
            batch_no += 1

    begin = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return created[0] / (time.perf_counter() - begin), errors[0]


def main() -> str:
    env = setup()
    from django.db import connection
    from django.utils import timezone

    from health.models import Finding, RunEvent
    from health.monitors import monitors_run
    from registry.models import Automation, Hold
    from revops_gov import services

    admin = bench_admin()
    now = timezone.now()
    ids = seed_automations(admin)
    seed_events(ids, now)
    Finding.objects.all().delete()
    Hold.objects.filter(source="health").delete()
    _, token = services.api_token_create(user=admin, name=f"bench {time.time()}", by=admin)

    # The monitor pass: cold (opens the findings) and again (confirms them).
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        result = monitors_run(now=now)
        timings.append((time.perf_counter() - start, result))
    events = RunEvent.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('health_runevent'), pg_relation_size('health_runevent')")
        total_bytes, heap_bytes = cursor.fetchone()

    copy_rate = raw_copy_rate(ids, now)
    keys = list(Automation.objects.filter(pk__in=ids[:2000]).values_list("key", flat=True))
    with server(env):
        api_rate, api_errors = api_ingest_rate(keys, token, _seconds(DURATION))
    RunEvent.objects.filter(event_id__startswith="api-").delete()

    stamp = datetime.date.today().isoformat()
    lines = [
        f"Health bench, {stamp}: {len(ids):,} automations, {events:,} run events, PostgreSQL, "
        f"gunicorn {WORKERS} sync workers, {CLIENTS} clients × {DURATION}, "
        f"{os.cpu_count()} cores ({platform.machine()}), load average {os.getloadavg()[0]:.1f}.",
        "",
        "| measure | result | goal |",
        "|---|---:|---:|",
        f"| Raw COPY into health_runevent (floor) | {copy_rate:,.0f} rows/s | |",
        f"| POST /api/v1/runs/ in batches of 1,000 | {api_rate:,.0f} rows/s ({api_rate / copy_rate:.0%} of COPY; "
        f"{api_errors} failed requests) | ≥ 25 % |",
        f"| Monitor pass, first (opens {timings[0][1]['opened']:,} findings) | {timings[0][0]:.2f} s | ≤ 10 s |",
        f"| Monitor pass, again (confirms {timings[1][1]['confirmed']:,}) | {timings[1][0]:.2f} s | ≤ 10 s |",
        f"| Table size per million run events (heap + indexes) | {total_bytes / events * 1e6 / 2**20:,.0f} MiB "
        f"(heap {heap_bytes / events * 1e6 / 2**20:,.0f} MiB) | |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
