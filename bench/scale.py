"""Scale bench (issue 19 §3): the monitor pass and the monthly review at 10 million run events in
the month-partitioned health_runevent, each next to its raw SQL floor in the same run, and the
sizes of the partitions they read, for the extrapolation to 100 million.

The events are generated with COPY: BENCH_SCALE_EVENTS (default 10,000,000) spread evenly over the
last BENCH_SCALE_MONTHS months (default 12, so 10 million a year), for BENCH_SCALE_AUTOMATIONS
(default 10,000) live automations; the partitions are prepared first (health.services.
runs_partitions_prepare), as the daily task does. Goals: monitor pass ≤ 10× its floor (one GROUP BY
over the monitors' window, the read every pass needs), review ≤ 3× its floor (bench.review's GROUP
BY over the month). `make bench` runs it in its own process on its own database
(…/revops_bench_scale, bench/run.py); a smoke run: BENCH_SCALE_EVENTS=200000
BENCH_SCALE_AUTOMATIONS=500 python -m bench.run bench.scale.
"""

import datetime
import io
import os
import platform
import time

from bench.common import bench_admin, setup

EVENTS = int(os.environ.get("BENCH_SCALE_EVENTS", "10000000"))
AUTOMATIONS = int(os.environ.get("BENCH_SCALE_AUTOMATIONS", "10000"))
MONTHS = int(os.environ.get("BENCH_SCALE_MONTHS", "12"))
PREFIX = "sc-"
ROUNDS = 3
CHUNK = 500_000
COPY_COLUMNS = (
    "automation_id, event_id, started_at, finished_at, outcome, mode, trigger_key, action, human_outcome, "
    "records_affected, fields_changed, reporting_critical_changed, owner_assigned, overridden, override_reason, "
    "alerts_sent, staleness_seconds, error, manual_reassignment, task_created, task_completed, sla_met, "
    "response_time_seconds, received_at"
)
# The monitors' floor: the per-automation aggregate of their window (baseline + recent), in one pass.
MONITORS_FLOOR = """
SELECT automation_id, MAX(started_at), MAX(started_at) FILTER (WHERE outcome = 'success'),
       COUNT(*) FILTER (WHERE started_at >= %(recent)s AND outcome IN ('success', 'failure')),
       COUNT(*) FILTER (WHERE started_at >= %(recent)s AND outcome = 'failure'),
       COUNT(*) FILTER (WHERE started_at < %(recent)s AND outcome IN ('success', 'failure')),
       COUNT(*) FILTER (WHERE started_at < %(recent)s AND outcome = 'failure'),
       MAX(records_affected) FILTER (WHERE started_at >= %(recent)s),
       AVG(records_affected) FILTER (WHERE started_at < %(recent)s),
       SUM(alerts_sent) FILTER (WHERE started_at >= %(day)s),
       MAX(staleness_seconds) FILTER (WHERE started_at >= %(day)s)
FROM health_runevent WHERE started_at >= %(start)s GROUP BY automation_id
"""


def seed_automations(admin) -> list[int]:
    from registry.models import Automation

    ids = list(Automation.objects.filter(key__startswith=PREFIX).order_by("pk").values_list("pk", flat=True))
    if len(ids) == AUTOMATIONS:
        return ids
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE health_runevent, health_finding, health_healthreviewrow, health_healthreview CASCADE")
    Automation.objects.filter(key__startswith=PREFIX).delete()
    created = Automation.objects.bulk_create(
        [
            Automation(
                key=f"{PREFIX}{i:05d}",
                name=f"Scale bench {i:05d}",
                business_purpose="Measure the monitors and the review at scale.",
                workflow_type="lead_routing",
                team=("sales", "marketing", "cs")[i % 3],
                system="salesforce",
                trigger="A lead is created.",
                rule="Territory, then capacity.",
                output_recipient="The lead owner.",
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


def _rows(ids, start: int, stop: int, *, first: datetime.datetime, span: float, now: datetime.datetime):
    """Rows start…stop of EVENTS, in time order (as a CRM reports them), a few failing or overridden."""
    step = span / EVENTS
    stamp = now.isoformat()
    for i in range(start, stop):
        started = first + datetime.timedelta(seconds=i * step)
        task = i % 2 == 0
        yield (
            f"{ids[(i * 7919) % len(ids)]}\tsc-{i}\t{started.isoformat()}\t"
            f"{(started + datetime.timedelta(seconds=3)).isoformat()}\t{'failure' if i % 23 == 0 else 'success'}\t"
            f"live\t{'t-' + str(i % 50_000) if i % 97 == 0 else ''}\t\t\t{i % 9}\t[]\tf\t\t"
            f"{'t' if i % 17 == 0 else 'f'}\t\t{i % 3}\t600\t\tf\t{'t' if task else chr(92) + 'N'}\t"
            f"{'t' if task and i % 10 else 'f'}\t{'t' if i % 5 else 'f'}\t{60 + i % 600}\t{stamp}\n"
        )


def seed_events(ids, now) -> float:
    """COPY the events in (skipped when they are there already); returns the seconds it took."""
    from django.db import connection, transaction

    from health import services

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM health_runevent WHERE event_id LIKE 'sc-%%'")
        if cursor.fetchone()[0] == EVENTS:
            return 0.0
        cursor.execute("TRUNCATE health_runevent")
    first = now - datetime.timedelta(days=30.4 * MONTHS)
    # Every month of the data gets its partition first, as the daily task keeps them.
    for months_back in range(MONTHS, -1, -1):
        services.runs_partitions_prepare(now=now - datetime.timedelta(days=30.4 * months_back))
    begin = time.perf_counter()
    span = (now - first).total_seconds() - 60
    for start in range(0, EVENTS, CHUNK):
        buffer = io.StringIO("".join(_rows(ids, start, min(start + CHUNK, EVENTS), first=first, span=span, now=now)))
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.connection.cursor().copy(f"COPY health_runevent ({COPY_COLUMNS}) FROM STDIN") as copy,
        ):
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE health_runevent")
    return time.perf_counter() - begin


def best(fn, rounds=ROUNDS) -> float:
    times = []
    for _ in range(rounds):
        begin = time.perf_counter()
        fn()
        times.append(time.perf_counter() - begin)
    return min(times)


def partition_sizes() -> list[tuple[str, int, int]]:
    """(partition, rows, bytes with indexes) of every partition, oldest first."""
    from django.db import connection

    from health import partitions

    out = []
    with connection.cursor() as cursor:
        for partition in partitions.partitions():
            cursor.execute(f"SELECT count(*), pg_total_relation_size('{partition.name}') FROM {partition.name}")
            out.append((partition.name, *cursor.fetchone()))
        cursor.execute(
            f"SELECT count(*), pg_total_relation_size('{partitions.IDENTITY_TABLE}') FROM {partitions.IDENTITY_TABLE}"
        )
        out.append((partitions.IDENTITY_TABLE, *cursor.fetchone()))
    return out


def main() -> str:
    setup()
    from django.db import connection
    from django.utils import timezone

    from bench.review import RAW_GROUP_BY
    from health.models import Finding
    from health.monitors import defaults, monitors_run
    from health.reviews.compute import month_bounds, previous_month
    from health.reviews.models import HealthReview
    from health.reviews.services import monthly_review_run, review_recompute
    from registry.models import Hold

    admin = bench_admin()
    now = timezone.now()
    ids = seed_automations(admin)
    seeded = seed_events(ids, now)

    d = defaults()
    recent = now - datetime.timedelta(days=d["recent_days"])
    window = {"recent": recent, "start": recent - datetime.timedelta(days=d["baseline_days"]),
              "day": now - datetime.timedelta(days=1)}  # fmt: skip

    def monitors_floor():
        with connection.cursor() as cursor:
            cursor.execute(MONITORS_FLOOR, window)
            cursor.fetchall()

    Finding.objects.all().delete()
    Hold.objects.filter(source="health").delete()
    monitors_floor_s = best(monitors_floor)
    begin = time.perf_counter()
    first_pass = monitors_run(now=now)
    monitors_first = time.perf_counter() - begin
    monitors_again = best(lambda: monitors_run(now=now))

    month = previous_month(now)
    start, end = month_bounds(month)

    def review_floor():
        with connection.cursor() as cursor:
            cursor.execute(RAW_GROUP_BY, [start, end])
            cursor.fetchall()

    review_floor_s = best(review_floor)
    created, recomputed = [], []
    for _ in range(ROUNDS):
        HealthReview.objects.filter(month=month).delete()
        begin = time.perf_counter()
        review, _ = monthly_review_run(month=month, now=now)
        created.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        review_recompute(review=review, now=now)
        recomputed.append(time.perf_counter() - begin)
    review_first, review_again = min(created), min(recomputed)
    rows = review.rows.count()
    review.delete()

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM health_runevent WHERE started_at >= %s AND started_at < %s", [start, end])
        month_events = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM health_runevent WHERE started_at >= %(start)s", window)
        window_events = cursor.fetchone()[0]
        cursor.execute("SELECT count(*), pg_total_relation_size('health_runevent') FROM health_runevent")
        events, _ = cursor.fetchone()
    sizes = partition_sizes()
    run_bytes = sum(b for name, _, b in sizes if name != "health_runevent_identity")
    identity_bytes = sizes[-1][2]
    per_million = (run_bytes + identity_bytes) / events * 1e6 / 2**20
    full = [(name, n, b) for name, n, b in sizes if n and name.startswith("health_runevent_y")]
    month_rows = sorted(n for _, n, _ in full)[len(full) // 2] if full else 0
    month_bytes = sorted(b for _, _, b in full)[len(full) // 2] if full else 0

    def ratio(value, floor, goal):
        return f"{value / floor:.1f}× the floor ({'pass' if value / floor <= goal else 'FAIL'}, goal ≤ {goal:g}×)"

    # 100 million a year: the same automations, ten times the runs each; a month is ten times as big.
    scale = 10
    stamp = datetime.date.today().isoformat()
    lines = [
        f"Scale bench, {stamp}: {events:,} run events over {MONTHS} months in {len(full)} monthly partitions "
        f"({month_rows:,} rows and {month_bytes / 2**20:,.0f} MiB a month), {len(ids):,} live automations, "
        f"PostgreSQL, {os.cpu_count()} cores ({platform.machine()}), load average {os.getloadavg()[0]:.1f}."
        + (
            f" Generated with COPY in {seeded:,.0f} s ({EVENTS / seeded:,.0f} rows/s, trigger included)."
            if seeded
            else ""
        ),
        "",
        f"Best of {ROUNDS} rounds for each floor and each measure but the first pass.",
        "",
        "| measure | result | goal |",
        "|---|---:|---:|",
        f"| Floor: one GROUP BY over the monitors' window ({window_events:,} events) | {monitors_floor_s:.2f} s | |",
        f"| Monitor pass, first (opens {first_pass['opened']:,} findings) | {monitors_first:.2f} s "
        f"| {ratio(monitors_first, monitors_floor_s, 10)} |",
        f"| Monitor pass, again | {monitors_again:.2f} s | {ratio(monitors_again, monitors_floor_s, 10)} |",
        f"| Floor: raw SQL GROUP BY over {month:%B %Y} ({month_events:,} events) | {review_floor_s:.2f} s | |",
        f"| Monthly review, created ({rows:,} rows) | {review_first:.2f} s "
        f"| {ratio(review_first, review_floor_s, 3)} |",
        f"| Monthly review, re-computed | {review_again:.2f} s | {ratio(review_again, review_floor_s, 3)} |",
        f"| Storage per million run events (partitions with their indexes, and the identity table) "
        f"| {per_million:,.0f} MiB (identity {identity_bytes / events * 1e6 / 2**20:,.0f} MiB) | |",
        "",
        f"Extrapolation to 100 million run events a year ({scale}× these, same automations): a monthly partition "
        f"holds about {month_rows * scale:,} rows, {month_bytes * scale / 2**30:,.1f} GiB with its indexes; "
        f"13 months kept (HEALTH_RUN_RETENTION_DAYS 400) is about {per_million * 100 * 13 / 12 / 1024:,.0f} GiB. "
        "The monitors and the review read by time and PostgreSQL prunes to the partitions of their window, "
        "so their time follows the events in the window, not the table: about "
        f"{monitors_again * scale:,.0f} s a monitor pass "
        f"(floor {monitors_floor_s * scale:,.0f} s) and {review_first * scale:,.0f} s a monthly review "
        f"(floor {review_floor_s * scale:,.0f} s), if they scale linearly with the rows they read, as here.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
