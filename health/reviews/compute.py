"""The month's numbers for every reviewed automation, computed in SQL: one GROUP BY over the
month's run events (every count a FILTER), one over its decision requests, one over the findings
opened, one for runs that shared a trigger with another automation, and three reads of registry
facts. The query count does not grow with the number of automations."""

from collections import defaultdict
from datetime import date, datetime, timedelta

from django.db.models import Avg, Count, Exists, F, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from approvals.decisions.kinds import DecisionStatus
from approvals.decisions.models import DecisionRequest
from registry.choices import DataFieldStatus, LifecycleStatus
from registry.models import Automation, ChangeEvent

from ..choices import RunOutcome
from ..models import Finding, RunEvent
from .models import HealthReviewRow
from .rules import ReviewInput

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


def population(*, review_id: int | None = None) -> dict[int, Automation]:
    queryset = Automation.objects.filter(_in_review(review_id))
    fields = (
        "id", "key", "status", "rule", "trigger", "business_purpose", "output_recipient", "record_changed",
        "expected_user_action", "maturity_stage", "went_live_at",
        "rule_owner__username", "rule_owner__is_active", "failure_owner__username", "failure_owner__is_active",
    )  # fmt: skip
    return {row["id"]: row for row in queryset.order_by().values(*fields)}


def _run_counts(start, end) -> dict[int, dict]:
    no_action = Q(alerts_sent__gt=0, overridden=False, manual_reassignment=False) & ~Q(task_completed=True)
    rows = (
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
    return {row.pop("automation_id"): row for row in rows}


def _decision_counts(start, end) -> dict[int, dict]:
    rows = (
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
    return {row.pop("automation_id"): row for row in rows}


def _findings_opened(start, end) -> dict[int, int]:
    rows = (
        Finding.objects.filter(opened_at__gte=start, opened_at__lt=end)
        .order_by()
        .values("automation_id")
        .annotate(n=Count("id"))
    )
    return {row["automation_id"]: row["n"] for row in rows}


def _duplicates(start, end) -> tuple[dict[int, int], dict[int, set[int]]]:
    """Runs whose trigger window another automation also acted on in the month."""
    month = RunEvent.objects.filter(started_at__gte=start, started_at__lt=end).exclude(trigger_key="").order_by()
    shared = month.values("trigger_key").annotate(n=Count("automation_id", distinct=True)).filter(n__gt=1)
    # Counted per automation and trigger in SQL: one row per pair, not one per run.
    pairs = (
        month.filter(trigger_key__in=shared.values("trigger_key"))
        .values("automation_id", "trigger_key")
        .annotate(n=Count("id"))
        .values_list("automation_id", "trigger_key", "n")
    )
    keys_of: dict[str, set[int]] = defaultdict(set)
    runs: dict[int, int] = defaultdict(int)
    for automation_id, key, n in pairs:
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
    out: dict[int, dict[str, list[str]]] = defaultdict(lambda: {"unstable": [], "deprecated": []})
    for automation_id, obj, api, status in rows:
        out[automation_id][status].append(f"{obj}.{api}")
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


def compute(month: date, *, review_id: int | None = None) -> dict[int, ReviewInput]:
    """The review input of every reviewed automation for the month."""
    start, end = month_bounds(month)
    automations = population(review_id=review_id)
    ids_filter = _in_review(review_id, prefix="automation__")
    runs = _run_counts(start, end)
    decisions = _decision_counts(start, end)
    findings = _findings_opened(start, end)
    duplicate_runs, partners = _duplicates(start, end)
    fields = _fields(ids_filter)
    events = _change_events(ids_filter, start, end)
    keys = {pk: a["key"] for pk, a in automations.items()}
    label = f"{month:%B %Y}"
    out = {}
    for pk, a in automations.items():
        r = runs.get(pk, {})
        d = decisions.get(pk, {})
        f = fields.get(pk, {"unstable": [], "deprecated": []})
        rule_owner = a["rule_owner__username"] if a["rule_owner__is_active"] else ""
        failure_owner = a["failure_owner__username"] if a["failure_owner__is_active"] else ""
        avg = r.get("avg_response")
        out[pk] = ReviewInput(
            month_label=label,
            status=a["status"],
            runs=r.get("runs", 0),
            failures=r.get("failures", 0),
            bad_data_failures=r.get("bad_data_failures", 0),
            overrides=r.get("overridden_runs", 0) + d.get("overridden", 0),
            decision_requests=d.get("requests", 0),
            decisions_made=d.get("decided", 0),
            alerts_sent=r.get("alerts", 0),
            alerts_ignored=r.get("alerts_no_action", 0) + d.get("unanswered", 0),
            tasks_created=r.get("tasks_created", 0),
            tasks_completed=r.get("tasks_completed", 0),
            manual_corrections=r.get("manual_corrections", 0),
            exceptions=r.get("exceptions", 0),
            findings_opened=findings.get(pk, 0),
            duplicate_runs=duplicate_runs.get(pk, 0),
            sla_measured=r.get("sla_measured", 0),
            sla_met=r.get("sla_yes", 0),
            avg_response_seconds=round(avg) if avg is not None else None,
            handoffs_measured=r.get("handoffs_measured", 0),
            handoffs_complete=r.get("handoffs_complete", 0),
            maintenance_minutes=r.get("maintenance", 0),
            duplicates_found=r.get("duplicates_found", 0),
            data_quality_issues=r.get("data_quality_issues", 0),
            rule_owner=rule_owner or "",
            failure_owner=failure_owner or "",
            rule_written=bool(a["rule"].strip() and a["trigger"].strip()),
            # Visible: a person receives it and acts, or a record changes where people see it.
            output_written=bool(
                a["output_recipient"].strip() or a["expected_user_action"].strip() or a["record_changed"].strip()
            ),
            purpose_written=bool(a["business_purpose"].strip()),
            unstable_fields=f["unstable"],
            deprecated_fields=f["deprecated"],
            change_events=events.get(pk, []),
            maturity_stage=a["maturity_stage"],
            went_live_on=f"{timezone.localtime(a['went_live_at']):%Y-%m-%d}" if a["went_live_at"] else "",
            duplicates_with=sorted(keys.get(other, f"#{other}") for other in partners.get(pk, ())),
        )
    return out
