"""The runs page's reads: keyset pages served by an index at any depth (PostgreSQL's plan), the
per-day counts of the chart, findings per week."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from health import selectors
from health.models import RunEvent
from tests.health.factories import FindingFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the query plan is PostgreSQL's")
def test_a_deep_keyset_page_is_an_index_range_scan_not_a_sort_or_an_offset():
    automation, other = AutomationFactory(), AutomationFactory()
    start = timezone.now() - timedelta(days=300)
    rows = [
        RunEvent(automation=a, event_id=f"{a.pk}-{i}", started_at=start + timedelta(minutes=i),
                 outcome="failure" if i % 50 == 0 else "success")
        for a in (automation, other) for i in range(30_000)
    ]  # fmt: skip
    RunEvent.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE health_runevent")
    deep = RunEvent.objects.filter(automation=automation).order_by("-started_at", "-id")[1000]
    cursor = selectors.Cursor(deep.started_at, deep.id)
    for outcome, index in (("", "runevent_auto_started_id_idx"), ("failure", "runevent_auto_rare_outcome_idx")):
        runs = selectors.runs_filtered(automation, outcome=outcome)
        with CaptureQueriesContext(connection) as ctx:
            rows, newer, older = selectors.runs_page(runs, after=cursor)
        assert len(rows) == 50 and rows[0].started_at <= deep.started_at and newer and older
        (query,) = ctx.captured_queries  # one query a page
        with connection.cursor() as db:
            db.execute("EXPLAIN " + query["sql"])
            plan = "\n".join(row[0] for row in db.fetchall())
        # The index, or (health_runevent partitioned by month) one of its partitions' own.
        with connection.cursor() as db:
            db.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = %s::regclass", [index])  # fmt: skip
            names = {index} | {name for (name,) in db.fetchall()}
        assert any(name in plan for name in names) and "Sort" not in plan, plan
        # The cursor is an index condition: the scan starts at the page, not at the newest run.
        assert "Index Cond" in plan and "started_at <=" in plan.split("Index Cond", 1)[1].split("\n")[0], plan


def test_the_chart_counts_runs_per_day_and_outcome_in_one_query(django_assert_num_queries):
    automation = AutomationFactory()
    today = timezone.localdate()
    noon = timezone.make_aware(timezone.datetime.combine(today, timezone.datetime.min.time())) + timedelta(hours=12)
    for days_ago, outcome in ((0, "success"), (0, "failure"), (0, "success"), (2, "timed_out"), (40, "success")):
        RunEvent.objects.create(automation=automation, event_id=f"{days_ago}-{outcome}-{RunEvent.objects.count()}",
                                started_at=noon - timedelta(days=days_ago), outcome=outcome)  # fmt: skip
    with django_assert_num_queries(1):
        days, counts = selectors.runs_per_day(
            selectors.runs_filtered(automation), first=today - timedelta(days=29), last=today
        )
    assert len(days) == 30 and days[-1] == today
    assert counts[today] == {"success": 2, "failure": 1}
    assert counts[today - timedelta(days=2)] == {"timed_out": 1}
    assert today - timedelta(days=40) not in counts


def test_findings_opened_and_resolved_per_week():
    now = timezone.now()
    FindingFactory(opened_at=now)
    FindingFactory(opened_at=now - timedelta(weeks=3), status="resolved", resolved_at=now)
    FindingFactory(opened_at=now - timedelta(weeks=30))
    mondays, opened, resolved = selectors.findings_per_week(weeks=12)
    assert len(mondays) == len(opened) == len(resolved) == 12
    assert opened[-1] == 1 and opened[-4] == 1 and sum(opened) == 2
    assert resolved[-1] == 1 and sum(resolved) == 1
