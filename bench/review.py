"""Review bench: computing a month's health review (every SQL aggregate, the recommendation of each
automation, the upsert of its rows) for 10,000 automations and 1,000,000 run events, next to one
raw SQL GROUP BY over the same rows in the same run (the floor). Goal: the review ≤ 3× the floor.

`make bench` runs it in its own process on its own database (…/revops_bench_review, see
bench/run.py): every live automation in the database is reviewed. Alone it uses
BENCH_DATABASE_URL. Data is generated with COPY into last month. Smoke-run it small with
BENCH_REVIEW_AUTOMATIONS=50 BENCH_REVIEW_EVENTS=5000.
"""

import datetime
import io
import os
import platform
import time

from bench.common import bench_admin, setup

AUTOMATIONS = int(os.environ.get("BENCH_REVIEW_AUTOMATIONS", "10000"))
EVENTS = int(os.environ.get("BENCH_REVIEW_EVENTS", "1000000"))
PREFIX = "rb-"
ROUNDS = 3
COPY_COLUMNS = (
    "automation_id, event_id, started_at, finished_at, outcome, mode, trigger_key, action, human_outcome, "
    "fields_changed, reporting_critical_changed, owner_assigned, overridden, override_reason, alerts_sent, error, "
    "manual_reassignment, task_created, task_completed, sla_met, response_time_seconds, data_quality_issue, "
    "maintenance_minutes, received_at"
)
# The floor: the same month's rows, one GROUP BY with the same kind of FILTERed aggregates.
RAW_GROUP_BY = """
SELECT automation_id, COUNT(*) FILTER (WHERE outcome <> 'running'), COUNT(*) FILTER (WHERE outcome = 'failure'),
       COUNT(*) FILTER (WHERE overridden), COALESCE(SUM(alerts_sent), 0),
       COALESCE(SUM(alerts_sent) FILTER (WHERE alerts_sent > 0 AND NOT overridden AND NOT manual_reassignment
                                         AND task_completed IS NOT TRUE), 0),
       COUNT(*) FILTER (WHERE task_created), COUNT(*) FILTER (WHERE task_completed),
       COUNT(*) FILTER (WHERE manual_reassignment), COUNT(*) FILTER (WHERE data_quality_issue),
       AVG(response_time_seconds), COUNT(*) FILTER (WHERE sla_met IS NOT NULL), COUNT(*) FILTER (WHERE sla_met),
       COALESCE(SUM(maintenance_minutes), 0)
FROM health_runevent WHERE started_at >= %s AND started_at < %s GROUP BY automation_id
"""


def seed_automations(admin) -> list[int]:
    from registry.models import Automation

    ids = list(Automation.objects.filter(key__startswith=PREFIX).order_by("pk").values_list("pk", flat=True))
    if len(ids) == AUTOMATIONS:
        return ids
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE health_healthreviewrow, health_historicalhealthreviewrow, health_healthreview")
        cursor.execute(
            "DELETE FROM health_runevent WHERE automation_id IN (SELECT id FROM registry_automation WHERE key LIKE %s)",
            [PREFIX + "%"],
        )
    Automation.objects.filter(key__startswith=PREFIX).delete()
    created = Automation.objects.bulk_create(
        [
            Automation(
                key=f"{PREFIX}{i:05d}",
                name=f"Review bench {i:05d}",
                business_purpose="Measure the monthly review.",
                workflow_type="sla_management",
                team=("sales", "marketing", "cs")[i % 3],
                system="salesforce",
                trigger="Daily at 7:00.",
                rule="Open opportunities with a stale next step.",
                output_recipient="The opportunity owner.",
                rule_owner=admin,
                failure_owner=admin if i % 10 else None,
                status="live",
            )
            for i in range(AUTOMATIONS)
        ],
        batch_size=2000,
    )
    return [a.pk for a in created]


def _rows(ids, n, *, start, now):
    span = 27 * 86400
    for i in range(n):
        started = start + datetime.timedelta(seconds=(i * 7919) % span)
        task = i % 2 == 0
        yield (
            ids[i % len(ids)], f"rev-{i}", started.isoformat(), (started + datetime.timedelta(seconds=3)).isoformat(),
            "failure" if i % 23 == 0 else "success", "live", f"t-{i % 50_000}" if i % 97 == 0 else "", "", "",
            "[]", "f", "", "t" if i % 17 == 0 else "f", "", int(task) + (20 if i % 101 == 0 else 0), "",
            "t" if i % 41 == 0 else "f", "t" if task else "\\N", "t" if task and i % 10 else "f",
            "t" if i % 5 else "f", 60 + i % 600, "t" if i % 53 == 0 else "\\N", 5 if i % 211 == 0 else "\\N",
            now.isoformat(),
        )  # fmt: skip


def seed_events(ids, month_start, now) -> None:
    from django.db import connection, transaction

    from health.models import RunEvent

    if RunEvent.objects.filter(event_id__startswith="rev-").count() >= EVENTS:
        return
    RunEvent.objects.filter(event_id__startswith="rev-").delete()
    buffer = io.StringIO()
    for row in _rows(ids, EVENTS, start=month_start, now=now):
        buffer.write("\t".join(str(v) for v in row) + "\n")
    buffer.seek(0)
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(f"COPY health_runevent ({COPY_COLUMNS}) FROM STDIN") as copy,
    ):
        while chunk := buffer.read(1 << 20):
            copy.write(chunk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE health_runevent")


def raw_group_by(start, end) -> tuple[float, int]:
    from django.db import connection

    begin = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(RAW_GROUP_BY, [start, end])
        rows = cursor.fetchall()
    return time.perf_counter() - begin, len(rows)


def main() -> str:
    setup()
    from django.utils import timezone

    from health.models import RunEvent
    from health.reviews.compute import month_bounds, previous_month
    from health.reviews.models import HealthReview
    from health.reviews.services import monthly_review_run, review_recompute

    admin = bench_admin()
    now = timezone.now()
    month = previous_month(now)
    start, end = month_bounds(month)
    ids = seed_automations(admin)
    seed_events(ids, start, now)
    HealthReview.objects.filter(month=month).delete()
    events = RunEvent.objects.filter(started_at__gte=start, started_at__lt=end).count()

    # Three rounds, each the floor, then the review created from nothing, then re-computed; the best
    # of each (the same treatment for the floor and the review).
    floor, created, recomputed = [], [], []
    for _ in range(ROUNDS):
        HealthReview.objects.filter(month=month).delete()
        floor.append(raw_group_by(start, end))
        begin = time.perf_counter()
        review, _ = monthly_review_run(month=month, now=now)
        created.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        review_recompute(review=review, now=now)
        recomputed.append(time.perf_counter() - begin)
    floor_s, first, again = min(t for t, _ in floor), min(created), min(recomputed)
    rows = review.rows.count()
    # Review rows protect their automations: leave nothing that stops another bench re-seeding its own.
    review.delete()
    stamp = datetime.date.today().isoformat()
    lines = [
        f"Review bench, {stamp}: {rows:,} automations reviewed, {events:,} run events in {month:%B %Y}, PostgreSQL, "
        f"{os.cpu_count()} cores ({platform.machine()}), load average {os.getloadavg()[0]:.1f}."
        + (
            f" The database holds other live automations too ({rows - AUTOMATIONS:,}): every one is reviewed."
            if rows != AUTOMATIONS
            else ""
        ),
        "",
        f"Best of {ROUNDS} rounds, each: the floor, the review created, the review re-computed.",
        "",
        "| measure | result | goal |",
        "|---|---:|---:|",
        f"| Raw SQL GROUP BY over the month's run events (floor; {floor[0][1]:,} groups) | {floor_s:.3f} s | |",
        f"| Monthly review, created (the SQL aggregates and recommendations, {rows:,} rows written) | {first:.3f} s "
        f"({first / floor_s:.1f}× the floor) | ≤ 3× |",
        f"| Monthly review, re-computed with no late events (every row unchanged, none rewritten) | {again:.3f} s "
        f"({again / floor_s:.1f}× the floor) "
        "| ≤ 3× |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
