"""A month's review rows, written by the database: one statement joins the reviewed automations
(their registry facts) to one GROUP BY over the month's run events (every count a FILTER), one over
its decision requests and one over the findings opened, and decides each row with the rules' SQL
form (rules.verdict_sql); one INSERT … SELECT moves the rows into the review. Python finishes only
the automations with a list fact — untrusted or deprecated fields, change events, runs on a trigger
another automation also acted on — which `recommend` decides itself. The query count does not grow
with the number of automations, and no per-automation work runs in Python for the others."""

from collections import defaultdict
from datetime import date, datetime, timedelta
from functools import reduce
from operator import and_, or_

from django.db import connection
from django.db.models import Avg, BooleanField, Case, CharField, Count, Exists, F, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce, JSONObject, Trim, TruncDate
from django.utils import timezone

from approvals.decisions.kinds import DecisionStatus
from approvals.decisions.models import DecisionRequest
from registry.choices import DataFieldStatus, LifecycleStatus
from registry.models import Automation, ChangeEvent

from ..choices import RunOutcome
from ..models import Finding, RunEvent
from .models import HealthReview, HealthReviewRow
from .rules import COUNT_FIELDS, LIST_FACTS, recommend, verdict_sql

# Reviewed: what runs or ran (shadow, live, paused). Proposed, in design and approved have not run
# yet; retired ones are gone. An automation retired or moved after its row exists keeps its row.
REVIEWED_STATUSES = (LifecycleStatus.SHADOW, LifecycleStatus.LIVE, LifecycleStatus.PAUSED)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in the current time zone."""
    start = timezone.make_aware(datetime(month.year, month.month, 1))
    nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return start, timezone.make_aware(datetime(nxt.year, nxt.month, 1))


def previous_month(now: datetime) -> date:
    first = timezone.localtime(now).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _in_review(review_id: int | None, *, prefix: str = "") -> Q:
    """Reviewed now, or already in the review being re-computed (as a subquery: a list of ten
    thousand ids as parameters costs more than the query). `prefix` reaches the automation from
    another model ("automation__")."""
    reviewed = Q(**{f"{prefix}status__in": REVIEWED_STATUSES})
    if review_id is None:
        return reviewed
    rows = HealthReviewRow.objects.filter(review_id=review_id, automation=OuterRef(f"{prefix}pk" if prefix else "pk"))
    return reviewed | Q(Exists(rows))


def _sql(queryset) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def _flag(condition: Q) -> Case:
    """True or false, never NULL (an owner left empty is a NULL join)."""
    return Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())


def _written(*names: str, every: bool = True) -> Case:
    """The (trimmed) text columns written: every one, or any."""
    return _flag(reduce(and_ if every else or_, (~Q(**{f"{name}_trimmed": ""}) for name in names)))


def _active_username(owner: str) -> Case:
    """The owner's username while their account is active; "" for none or a deactivated one."""
    return Case(When(**{f"{owner}__is_active": True}, then=F(f"{owner}__username")), default=Value(""),
                output_field=CharField())  # fmt: skip


def _population(review_id: int | None):
    """One row per automation reviewed: its status, the registry facts the row keeps (as JSON), and
    the practical standard's four answers the rules read."""
    texts = ("rule", "trigger", "business_purpose", "output_recipient", "expected_user_action", "record_changed")
    return (
        Automation.objects.filter(_in_review(review_id))
        .order_by()
        .alias(**{f"{name}_trimmed": Trim(name) for name in texts})
        .annotate(
            a_id=F("pk"),
            a_status=F("status"),
            owned=_flag(Q(rule_owner__is_active=True, failure_owner__is_active=True)),
            rule_written=_written("rule", "trigger"),
            # Visible: a person receives it and acts, or a record changes where people see it.
            output_written=_written("output_recipient", "expected_user_action", "record_changed", every=False),
            purpose_written=_written("business_purpose"),
        )
        .annotate(
            a_facts=JSONObject(
                rule_owner=_active_username("rule_owner"),
                failure_owner=_active_username("failure_owner"),
                rule_written=F("rule_written"),
                output_written=F("output_written"),
                purpose_written=F("purpose_written"),
                maturity_stage=F("maturity_stage"),
                went_live_on=TruncDate("went_live_at"),
            ),
        )
        .values("a_id", "a_status", "owned", "rule_written", "output_written", "purpose_written", "a_facts")
    )


def _run_counts(start, end):
    no_action = Q(alerts_sent__gt=0, overridden=False, manual_reassignment=False) & ~Q(task_completed=True)
    return (
        RunEvent.objects.filter(started_at__gte=start, started_at__lt=end)
        .order_by()
        .values("automation_id")
        .annotate(
            runs=Count("id", filter=~Q(outcome=RunOutcome.RUNNING)),
            failures=Count("id", filter=Q(outcome=RunOutcome.FAILURE)),
            bad_data_failures=Count("id", filter=Q(outcome=RunOutcome.FAILURE, data_quality_issue=True)),
            overridden_runs=Count("id", filter=Q(overridden=True)),
            alerts=Coalesce(Sum("alerts_sent"), 0),
            alerts_no_action=Coalesce(Sum("alerts_sent", filter=no_action), 0),
            tasks_created=Count("id", filter=Q(task_created=True)),
            tasks_completed=Count("id", filter=Q(task_completed=True)),
            manual_corrections=Count("id", filter=Q(manual_reassignment=True)),
            exceptions=Count("id", filter=Q(data_quality_issue=True) | Q(handoff_complete=False)),
            avg_response=Avg("response_time_seconds"),
            sla_measured=Count("id", filter=Q(sla_met__isnull=False)),
            sla_yes=Count("id", filter=Q(sla_met=True)),
            duplicates_found=Count("id", filter=Q(duplicate_found=True)),
            handoffs_measured=Count("id", filter=Q(handoff_complete__isnull=False)),
            handoffs_complete=Count("id", filter=Q(handoff_complete=True)),
            data_quality_issues=Count("id", filter=Q(data_quality_issue=True)),
            maintenance=Coalesce(Sum("maintenance_minutes"), 0),
        )
    )


def _decision_counts(start, end):
    return (
        DecisionRequest.objects.filter(created_at__gte=start, created_at__lt=end)
        .order_by()
        .values("automation_id")
        .annotate(
            requests=Count("id"),
            decided=Count("id", filter=Q(status=DecisionStatus.DECIDED)),
            overridden=Count("id", filter=Q(decision__overrides=True)),
            # Unanswered: expired, or still open past its due time at the end of the month.
            unanswered=Count(
                "id", filter=Q(status=DecisionStatus.EXPIRED) | Q(status=DecisionStatus.OPEN, due_at__lt=end)
            ),
        )
    )


def _findings_opened(start, end):
    return (
        Finding.objects.filter(opened_at__gte=start, opened_at__lt=end)
        .order_by()
        .values("automation_id")
        .annotate(opened=Count("id"))
    )


def _duplicates(start, end) -> tuple[dict[int, int], dict[int, set[int]]]:
    """Runs whose trigger another automation also acted on in the month: one pass over the month's
    runs with a trigger, counted per automation and trigger, kept where the trigger has several."""
    pairs_sql, params = _sql(
        RunEvent.objects.filter(started_at__gte=start, started_at__lt=end)
        .exclude(trigger_key="")
        .order_by()
        .values("automation_id", "trigger_key")
        .annotate(n=Count("id"))
    )
    sql = (
        "SELECT automation_id, trigger_key, n FROM (SELECT automation_id, trigger_key, n, "
        f"COUNT(*) OVER (PARTITION BY trigger_key) AS sharing FROM ({pairs_sql}) pairs) shared WHERE sharing > 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    keys_of: dict[str, set[int]] = defaultdict(set)
    runs: dict[int, int] = defaultdict(int)
    for automation_id, key, n in rows:
        keys_of[key].add(automation_id)
        runs[automation_id] += n
    partners: dict[int, set[int]] = defaultdict(set)
    for ids in keys_of.values():
        for automation_id in ids:
            partners[automation_id] |= ids - {automation_id}
    return runs, partners


def _fields(ids_filter) -> dict[int, dict[str, list[str]]]:
    through = Automation.data_fields.through
    rows = (
        through.objects.filter(ids_filter, datafield__status__in=(DataFieldStatus.UNSTABLE, DataFieldStatus.DEPRECATED))
        .order_by("datafield__object_name", "datafield__api_name")
        .values_list("automation_id", "datafield__object_name", "datafield__api_name", "datafield__status")
    )
    out: dict[int, dict[str, list[str]]] = defaultdict(dict)
    for automation_id, obj, api, status in rows:
        out[automation_id].setdefault(f"{status}_fields", []).append(f"{obj}.{api}")
    return out


def _change_events(ids_filter, start, end) -> dict[int, list[str]]:
    """Change events recorded in the month, or since the automation's last review."""
    through = ChangeEvent.automations.through
    review_base = Coalesce(F("automation__last_reviewed_at"), F("automation__created_at"))
    since_review = Q(changeevent__recorded_at__gt=review_base)
    rows = (
        through.objects.filter(ids_filter)
        .filter(Q(changeevent__recorded_at__gte=start) | since_review, changeevent__recorded_at__lt=end)
        .order_by("changeevent__recorded_at")
        .values_list("automation_id", "changeevent__title", "changeevent__kind", "changeevent__occurred_on")
    )
    out: dict[int, list[str]] = defaultdict(list)
    labels = dict(ChangeEvent._meta.get_field("kind").choices)
    for automation_id, title, kind, occurred in rows:
        out[automation_id].append(f"“{title}” ({labels.get(kind, kind)}, {occurred:%Y-%m-%d})")
    return out


# Each count column of a row, from the derived tables r (run events), d (decision requests) and
# f (findings): most are a run count of the same name (a run count may not share a RunEvent
# field's name: alerts, sla_yes, maintenance).
_FROM_RUNS = {name: f"COALESCE(r.{name}, 0)" for name in COUNT_FIELDS}
COUNT_SQL = _FROM_RUNS | {
    "alerts_sent": "COALESCE(r.alerts, 0)",
    "sla_met": "COALESCE(r.sla_yes, 0)",
    "maintenance_minutes": "COALESCE(r.maintenance, 0)",
    "overrides": "COALESCE(r.overridden_runs, 0) + COALESCE(d.overridden, 0)",
    "decision_requests": "COALESCE(d.requests, 0)",
    "decisions_made": "COALESCE(d.decided, 0)",
    "alerts_ignored": "COALESCE(r.alerts_no_action, 0) + COALESCE(d.unanswered, 0)",
    "findings_opened": "COALESCE(f.opened, 0)",
    "duplicate_runs": "0",  # set with the list facts, below
    "avg_response_seconds": "ROUND(r.avg_response)",
}


def _insert_rows(review: HealthReview, *, start, end, recompute: bool, limits: dict) -> int:
    """Every reviewed automation's row, inserted or (re-computation) updated in place. The
    confirmation columns are written only on insert, so a re-computation cannot lose them.

    Two statements: the rows are computed into a temporary table first, because PostgreSQL plans
    no parallel workers for a SELECT inside an INSERT (it does for CREATE TABLE AS): the GROUP BY
    over the month's run events runs on every core, then one INSERT … ON CONFLICT moves them."""
    table = HealthReviewRow._meta.db_table
    population, population_params = _sql(_population(review.pk if recompute else None))
    runs, runs_params = _sql(_run_counts(start, end))
    decisions, decisions_params = _sql(_decision_counts(start, end))
    findings, findings_params = _sql(_findings_opened(start, end))
    (recommendation, recommendation_params), (noisy, noisy_params) = verdict_sql(limits)
    counts = ", ".join(f"{sql} AS {name}" for name, sql in COUNT_SQL.items())
    computed = (*COUNT_SQL, "status", "facts", "noisy", "recommendation")
    compute_sql = f"""
        CREATE TEMPORARY TABLE review_rows_computed AS
        SELECT c.automation_id, {", ".join(f"c.{name}" for name in COUNT_SQL)}, c.status, c.facts,
               {noisy} AS noisy, {recommendation} AS recommendation
        FROM (
            SELECT p.a_id AS automation_id, p.a_status AS status, p.a_facts AS facts, p.owned, p.rule_written,
                   p.output_written, p.purpose_written, {counts}
            FROM ({population}) p
            LEFT JOIN ({runs}) r ON r.automation_id = p.a_id
            LEFT JOIN ({decisions}) d ON d.automation_id = p.a_id
            LEFT JOIN ({findings}) f ON f.automation_id = p.a_id
        ) c
    """
    compute_params = noisy_params + recommendation_params  # in the order of the text
    compute_params += population_params + runs_params + decisions_params + findings_params
    columns = ", ".join(("review_id", "automation_id", *computed, "decision", "note", "lifecycle_move"))
    insert_sql = (
        f"INSERT INTO {table} ({columns}) SELECT %s, automation_id, {', '.join(computed)}, '', '', '' "
        "FROM review_rows_computed"
    )
    if recompute:  # a new review has no rows to conflict with
        updates = ", ".join(f"{name} = excluded.{name}" for name in computed)
        # Only the rows whose numbers changed are rewritten (late events touch a few automations;
        # the daily re-computation need not rewrite ten thousand rows). NULL-safe for the average.
        changed = " OR ".join(
            f"COALESCE({table}.{name}, -1) <> COALESCE(excluded.{name}, -1)"
            if name == "avg_response_seconds"
            else f"{table}.{name} <> excluded.{name}"
            for name in computed
        )
        # WHERE 1 = 1: SQLite reads "SELECT … FROM x ON CONFLICT" as a join's ON without it.
        insert_sql += f" WHERE 1 = 1 ON CONFLICT (review_id, automation_id) DO UPDATE SET {updates} WHERE {changed}"
    with connection.cursor() as cursor:
        cursor.execute(compute_sql, compute_params)
        cursor.execute(insert_sql, [review.pk])
        written = cursor.rowcount
        cursor.execute("DROP TABLE review_rows_computed")
    return written


def _finish_with_lists(review: HealthReview, *, start, end, recompute: bool, limits: dict) -> None:
    """The automations with a list fact: their lists into the row's facts, their duplicate runs,
    and the recommendation and noise from `recommend`, which reads the lists."""
    ids_filter = _in_review(review.pk if recompute else None, prefix="automation__")
    lists: dict[int, dict] = defaultdict(dict)
    for automation_id, facts in _fields(ids_filter).items():
        lists[automation_id] |= facts
    for automation_id, events in _change_events(ids_filter, start, end).items():
        lists[automation_id]["change_events"] = events
    duplicate_runs, partners = _duplicates(start, end)
    if not lists and not partners:
        return
    rows = list(HealthReviewRow.objects.filter(review=review, automation_id__in=list(set(lists) | set(partners))))
    keys = dict(
        Automation.objects.filter(pk__in={pk for ids in partners.values() for pk in ids}).values_list("pk", "key")
    )
    for row in rows:
        row.review = review
        facts = dict(lists.get(row.automation_id, {}))
        if row.automation_id in partners:
            facts["duplicates_with"] = sorted(keys.get(pk, f"#{pk}") for pk in partners[row.automation_id])
            row.duplicate_runs = duplicate_runs[row.automation_id]
        row.facts = row.facts | {name: facts[name] for name in LIST_FACTS if name in facts}
        verdict = recommend(row.review_input, limits)
        row.recommendation, row.noisy = verdict.recommendation, verdict.noisy
    HealthReviewRow.objects.bulk_update(rows, ["facts", "duplicate_runs", "recommendation", "noisy"], batch_size=500)


def write_rows(review: HealthReview, *, recompute: bool, limits: dict) -> int:
    """Compute the month's rows of the review: new automations get a row, existing rows get the new
    numbers, facts and recommendation; confirmations and notes are never touched. Returns how many
    rows the database inserted or changed (before the list facts)."""
    start, end = month_bounds(review.month)
    written = _insert_rows(review, start=start, end=end, recompute=recompute, limits=limits)
    _finish_with_lists(review, start=start, end=end, recompute=recompute, limits=limits)
    return written
