"""A month's review rows, written by the database: one statement joins the reviewed automations
(who was shadow, live or paused at any moment of the month, read from the lifecycle moves; their
registry facts) to one GROUP BY over the month's run events (every count a FILTER, late facts
included: they are merged into the runs), one over its decision requests and one over the findings
opened, and decides each row with the rules' SQL form (rules.verdict_sql); one INSERT … SELECT
moves the rows into the review. Python finishes only the automations with a list fact — untrusted
or deprecated fields, change events, runs on a trigger another automation also acted on — which
`recommend` decides itself, and the confirmed rows, which are frozen: their re-computed figures
are written beside them. The query count does not grow with the number of automations, and no
per-automation work runs in Python for the others."""

import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from functools import reduce
from operator import and_, or_

from django.db import connection
from django.db.models import (
    Avg,
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, JSONObject, Trim, TruncDate
from django.utils import timezone

from approvals.decisions.kinds import DecisionStatus
from approvals.decisions.models import DecisionRequest
from registry.choices import DataFieldStatus, LifecycleStatus
from registry.models import Automation, ChangeEvent

from ..choices import FAILED_OUTCOMES, RunOutcome
from ..models import Finding, RunEvent
from .models import HealthReview, HealthReviewRow
from .rules import COUNT_FIELDS, FACT_FIELDS, FLAG_FACTS, LIST_FACTS, recommend, review_input, verdict_sql

# Reviewed: what ran in the month — an automation that was shadow, live or paused at any moment of
# it, whatever it is today (proposed, in design and approved have not run yet; retired ones were
# gone). An automation already in the review keeps its row when re-computed.
REVIEWED_STATUSES = (LifecycleStatus.SHADOW, LifecycleStatus.LIVE, LifecycleStatus.PAUSED)
# The lifecycle history, read through the relation (registry keeps the table and related name).
LifecycleMove = Automation._meta.get_field("lifecycle_moves").related_model
COMPUTED_TABLE = "review_rows_computed"


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in the current time zone."""
    start = timezone.make_aware(datetime(month.year, month.month, 1))
    nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return start, timezone.make_aware(datetime(nxt.year, nxt.month, 1))


def previous_month(now: datetime) -> date:
    first = timezone.localtime(now).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1)


def _status_at(moment, *, inclusive: bool = True):
    """The automation's lifecycle status at a moment, from its lifecycle moves: the status the last
    move at (or before) it went to; before any move, the status the first move left; no move at
    all, today's status. `moment` is a value or an expression of the automation's row."""
    moves = LifecycleMove.objects.filter(automation=OuterRef("pk"))
    before = moves.filter(**{"created_at__lte" if inclusive else "created_at__lt": moment})
    return Coalesce(
        Subquery(before.order_by("-created_at", "-pk").values("to_status")[:1]),
        Subquery(moves.order_by("created_at", "pk").values("from_status")[:1]),
        F("status"),
        output_field=CharField(),
    )


def _in_month(start, end) -> Q:
    """Shadow, live or paused at any moment of [start, end): in one of those statuses when the month
    began, or moved into one during it — and registered before the month ended, or reporting runs
    in it (the registry may document an automation that ran in the CRM before it was registered:
    an import of existing automations)."""
    moved_in = LifecycleMove.objects.filter(
        automation=OuterRef("pk"), created_at__gte=start, created_at__lt=end, to_status__in=REVIEWED_STATUSES
    )
    ran = RunEvent.objects.filter(automation=OuterRef("pk"), started_at__gte=start, started_at__lt=end)
    return (Q(status_at_start__in=REVIEWED_STATUSES) | Exists(moved_in)) & (Q(created_at__lt=end) | Exists(ran))


def _sql(queryset) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return sql, list(params)


def _reviewed(review_id: int | None, start, end):
    """The automations reviewed: shadow, live or paused at any moment of the month, or (re-computing)
    already in the review."""
    condition = _in_month(start, end)
    automations = Automation.objects.alias(status_at_start=_status_at(start))
    if review_id is not None:
        condition |= Exists(HealthReviewRow.objects.filter(review_id=review_id, automation=OuterRef("pk")))
    return automations.filter(condition)


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


def _population(review_id: int | None, start, end):
    """One row per automation reviewed: its status at the month's end, the registry facts the row
    keeps (as JSON), and the practical standard's four answers the rules read."""
    texts = ("rule", "trigger", "business_purpose", "output_recipient", "expected_user_action", "record_changed")
    return (
        _reviewed(review_id, start, end)
        .order_by()
        .alias(**{f"{name}_trimmed": Trim(name) for name in texts})
        .annotate(
            a_id=F("pk"),
            a_status=_status_at(end, inclusive=False),
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
            failures=Count("id", filter=Q(outcome__in=FAILED_OUTCOMES)),
            bad_data_failures=Count("id", filter=Q(outcome__in=FAILED_OUTCOMES, data_quality_issue=True)),
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
COMPUTED_COLUMNS = (*COUNT_SQL, "status", "facts", "noisy", "recommendation")


def _insert_rows(review: HealthReview, *, start, end, recompute: bool, limits: dict) -> int:
    """Every reviewed automation's row, inserted or (re-computation) updated in place — except the
    confirmed ones, which are frozen (see _recompute_confirmed). The confirmation columns are
    written only on insert, so a re-computation cannot lose them.

    Two statements: the rows are computed into a temporary table first, because PostgreSQL plans
    no parallel workers for a SELECT inside an INSERT (it does for CREATE TABLE AS): the GROUP BY
    over the month's run events runs on every core, then one INSERT … ON CONFLICT moves them. The
    temporary table stays until write_rows drops it: the confirmed rows read their new figures
    from it."""
    table = HealthReviewRow._meta.db_table
    population, population_params = _sql(_population(review.pk if recompute else None, start, end))
    runs, runs_params = _sql(_run_counts(start, end))
    decisions, decisions_params = _sql(_decision_counts(start, end))
    findings, findings_params = _sql(_findings_opened(start, end))
    (recommendation, recommendation_params), (noisy, noisy_params) = verdict_sql(limits)
    counts = ", ".join(f"{sql} AS {name}" for name, sql in COUNT_SQL.items())
    computed = COMPUTED_COLUMNS
    compute_sql = f"""
        CREATE TEMPORARY TABLE {COMPUTED_TABLE} AS
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
    columns = ", ".join(("review_id", "automation_id", *computed, "decision", "note", "lifecycle_move",
                         "figures_changed"))  # fmt: skip
    insert_sql = (
        f"INSERT INTO {table} ({columns}) SELECT %s, automation_id, {', '.join(computed)}, '', '', '', FALSE "
        f"FROM {COMPUTED_TABLE}"
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
        insert_sql += (
            f" WHERE 1 = 1 ON CONFLICT (review_id, automation_id) DO UPDATE SET {updates} "
            f"WHERE {table}.confirmed_at IS NULL AND ({changed})"
        )
    with connection.cursor() as cursor:
        cursor.execute(compute_sql, compute_params)
        cursor.execute(insert_sql, [review.pk])
        return cursor.rowcount


def _lists(review: HealthReview, *, start, end) -> tuple[dict[int, dict], dict[int, int]]:
    """The list facts of the review's automations (fields, change events, other automations acting
    on the same triggers) and their runs duplicating another automation's."""
    ids_filter = Q(automation_id__in=HealthReviewRow.objects.filter(review=review).values("automation_id"))
    lists: dict[int, dict] = defaultdict(dict)
    for automation_id, facts in _fields(ids_filter).items():
        lists[automation_id] |= facts
    for automation_id, events in _change_events(ids_filter, start, end).items():
        lists[automation_id]["change_events"] = events
    duplicate_runs, partners = _duplicates(start, end)
    if partners:
        keys = dict(
            Automation.objects.filter(pk__in={pk for ids in partners.values() for pk in ids}).values_list("pk", "key")
        )
        for automation_id, ids in partners.items():
            lists[automation_id]["duplicates_with"] = sorted(keys.get(pk, f"#{pk}") for pk in ids)
    return dict(lists), dict(duplicate_runs)


def _finish_with_lists(review: HealthReview, *, lists: dict[int, dict], duplicate_runs: dict[int, int], limits):
    """The unconfirmed rows of automations with a list fact: their lists into the row's facts, their
    duplicate runs, and the recommendation and noise from `recommend`, which reads the lists."""
    if not lists:
        return
    rows = list(HealthReviewRow.objects.filter(review=review, confirmed_at__isnull=True, automation_id__in=list(lists)))
    for row in rows:
        row.review = review
        facts = lists[row.automation_id]
        if "duplicates_with" in facts:
            row.duplicate_runs = duplicate_runs.get(row.automation_id, 0)
        row.facts = row.facts | {name: facts[name] for name in LIST_FACTS if name in facts}
        verdict = recommend(row.review_input, limits)
        row.recommendation, row.noisy = verdict.recommendation, verdict.noisy
    HealthReviewRow.objects.bulk_update(rows, ["facts", "duplicate_runs", "recommendation", "noisy"], batch_size=500)


def _facts_of(value) -> dict:
    facts = json.loads(value) if isinstance(value, str) else dict(value or {})
    for name in FLAG_FACTS:
        if name in facts:
            facts[name] = bool(facts[name])
    return facts


def _recompute_confirmed(review: HealthReview, *, lists, duplicate_runs, limits, now) -> int:
    """A confirmed row is frozen: its re-computed figures, facts and recommendation go beside it
    (`recomputed`), with the names of what differs and the flag `figures_changed`; its own numbers,
    facts, recommendation and (with the thresholds it was confirmed with) its reasons stay as
    confirmed. Two queries whatever the number of confirmed rows. Returns how many differ."""
    table = HealthReviewRow._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.automation_id, {', '.join(f'c.{n}' for n in COMPUTED_COLUMNS)} FROM {COMPUTED_TABLE} c "
            f"JOIN {table} r ON r.automation_id = c.automation_id AND r.review_id = %s "
            "WHERE r.confirmed_at IS NOT NULL",
            [review.pk],
        )
        fresh = {row[0]: dict(zip(COMPUTED_COLUMNS, row[1:], strict=True)) for row in cursor.fetchall()}
    if not fresh:
        return 0
    rows = list(HealthReviewRow.objects.filter(review=review, automation_id__in=list(fresh)))
    changed = 0
    for row in rows:
        new = fresh[row.automation_id]
        figures = {name: (None if new[name] is None else int(new[name])) for name in COUNT_FIELDS}
        facts = _facts_of(new["facts"])
        own_lists = lists.get(row.automation_id, {})
        facts |= {name: own_lists[name] for name in LIST_FACTS if name in own_lists}
        recommendation, noisy = new["recommendation"], bool(new["noisy"])
        if own_lists:
            if "duplicates_with" in own_lists:
                figures["duplicate_runs"] = duplicate_runs.get(row.automation_id, 0)
            verdict = recommend(review_input(counts=figures, facts=facts, status=new["status"]), limits)
            recommendation, noisy = verdict.recommendation, verdict.noisy
        confirmed_facts = _facts_of(row.facts)
        differs = [name for name in COUNT_FIELDS if getattr(row, name) != figures[name]]
        differs += [name for name in FACT_FIELDS if confirmed_facts.get(name) != facts.get(name)]
        if recommendation != row.recommendation:
            differs.append("recommendation")
        row.recomputed = {"figures": figures, "facts": facts, "status": new["status"],
                          "recommendation": recommendation, "noisy": noisy, "differs": differs}  # fmt: skip
        row.recomputed_at = now
        row.figures_changed = bool(differs)
        changed += bool(differs)
    HealthReviewRow.objects.bulk_update(rows, ["recomputed", "recomputed_at", "figures_changed"], batch_size=500)
    return changed


def write_rows(review: HealthReview, *, recompute: bool, limits: dict, now: datetime | None = None) -> int:
    """Compute the month's rows of the review: new automations get a row, unconfirmed rows get the
    new numbers, facts and recommendation, confirmed rows get the new figures beside them;
    confirmations and notes are never touched. Returns how many rows the database inserted or
    changed (before the list facts)."""
    start, end = month_bounds(review.month)
    try:
        written = _insert_rows(review, start=start, end=end, recompute=recompute, limits=limits)
        lists, duplicate_runs = _lists(review, start=start, end=end)
        _finish_with_lists(review, lists=lists, duplicate_runs=duplicate_runs, limits=limits)
        if recompute:
            _recompute_confirmed(
                review, lists=lists, duplicate_runs=duplicate_runs, limits=limits, now=now or timezone.now()
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {COMPUTED_TABLE}")
    return written
