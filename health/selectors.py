"""Reused reads of the health app, scoped to the caller."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from .choices import UNRESOLVED, RunOutcome
from .models import Finding, PlannedHoldWindow, RunEvent, RunEventFact

CHART_DAYS = 30


def run_queryset(*, system: str | None = None):
    queryset = RunEvent.objects.select_related("automation")
    return queryset.filter(automation__system=system) if system else queryset


def finding_queryset(*, system: str | None = None):
    queryset = Finding.objects.select_related("automation", "owner")
    return queryset.filter(automation__system=system) if system else queryset


def open_findings(*, system: str | None = None):
    return finding_queryset(system=system).filter(status__in=UNRESOLVED)


def _rate(failures: int, runs: int) -> float | None:
    return failures / runs if runs else None


def automation_run_summary(automation, *, now=None) -> dict:
    """Last run, last success, runs and failure rate over 7 and 30 days, and the daily bars of a
    30-day chart: two queries whatever the number of runs."""
    now = now or timezone.now()
    since30, since7 = now - timedelta(days=CHART_DAYS), now - timedelta(days=7)
    finished = Q(outcome__in=(RunOutcome.SUCCESS, RunOutcome.FAILURE))
    runs = RunEvent.objects.filter(automation=automation).order_by()
    totals = runs.aggregate(
        last_run=Max("started_at"),
        last_success=Max("started_at", filter=Q(outcome=RunOutcome.SUCCESS)),
        runs7=Count("id", filter=finished & Q(started_at__gte=since7)),
        failures7=Count("id", filter=Q(outcome=RunOutcome.FAILURE, started_at__gte=since7)),
        runs30=Count("id", filter=finished & Q(started_at__gte=since30)),
        failures30=Count("id", filter=Q(outcome=RunOutcome.FAILURE, started_at__gte=since30)),
    )
    per_day = {
        row["day"]: row
        for row in runs.filter(started_at__gte=since30)
        .annotate(day=TruncDate("started_at"))
        .values("day")
        .annotate(n=Count("id"), failed=Count("id", filter=Q(outcome=RunOutcome.FAILURE)))
    }
    days = [(now - timedelta(days=CHART_DAYS - 1 - i)).date() for i in range(CHART_DAYS)]
    peak = max((row["n"] for row in per_day.values()), default=0) or 1
    bars = []
    height = 60
    for i, day in enumerate(days):
        row = per_day.get(day, {"n": 0, "failed": 0})
        h = round(row["n"] / peak * height)
        fh = round(row["failed"] / peak * height)
        bars.append(
            {
                "x": i * 10,
                "day": day,
                "n": row["n"],
                "failed": row["failed"],
                "y": height - h,
                "h": h,
                "fy": height - fh,
                "fh": fh,
            }
        )
    return {
        **totals,
        "rate7": _rate(totals["failures7"], totals["runs7"]),
        "rate30": _rate(totals["failures30"], totals["runs30"]),
        "bars": bars,
        "chart_height": height,
        "chart_width": CHART_DAYS * 10,
    }


# --- The runs page ----------------------------------------------------------------------------
RUNS_PAGE_SIZE = 50
CHART_MAX_DAYS = 366


@dataclass(frozen=True)
class Cursor:
    """A position in the runs, newest first: the (started_at, id) of a run. Keyset pagination: a
    page starts from the cursor through the (automation, started_at, id) index, never by an
    OFFSET, so page 10,000 costs what page 1 does."""

    started_at: datetime
    id: int

    def __str__(self) -> str:
        return f"{self.started_at.isoformat()}~{self.id}"

    @classmethod
    def parse(cls, value: str | None) -> "Cursor | None":
        """None for a missing or malformed cursor (the first page, never an error)."""
        try:
            started, pk = (value or "").rsplit("~", 1)
            parsed = datetime.fromisoformat(started)
        except ValueError:
            return None
        if timezone.is_naive(parsed) or not pk.isdigit():
            return None
        return cls(parsed, int(pk))


def runs_filtered(automation, *, outcome: str = "", since=None, until=None, event_id: str = ""):
    """One automation's runs with the page's filters: outcome, a start time range [since, until),
    an event id."""
    runs = RunEvent.objects.filter(automation=automation)
    if outcome:
        runs = runs.filter(outcome=outcome)
    if since:
        runs = runs.filter(started_at__gte=since)
    if until:
        runs = runs.filter(started_at__lt=until)
    if event_id:
        runs = runs.filter(event_id=event_id)
    return runs


def runs_page(runs, *, after: Cursor | None = None, before: Cursor | None = None, size: int = RUNS_PAGE_SIZE):
    """One page of runs, newest first, from a cursor: (runs, newer cursor or None, older cursor or
    None). `after` pages to older runs, `before` back to newer ones. One query (size + 1 rows tell
    whether there is more); the redundant `started_at <=` bound lets the index seek to the cursor."""
    if before:
        newer = runs.filter(started_at__gte=before.started_at).filter(
            Q(started_at__gt=before.started_at) | Q(id__gt=before.id)
        )
        rows = list(newer.order_by("started_at", "id")[: size + 1])
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        return (
            rows,
            (Cursor(rows[0].started_at, rows[0].id) if more_newer and rows else None),
            (Cursor(rows[-1].started_at, rows[-1].id) if rows else None),
        )
    if after:
        runs = runs.filter(started_at__lte=after.started_at).filter(
            Q(started_at__lt=after.started_at) | Q(id__lt=after.id)
        )
    rows = list(runs.order_by("-started_at", "-id")[: size + 1])
    more_older = len(rows) > size
    rows = rows[:size]
    newer_cursor = Cursor(rows[0].started_at, rows[0].id) if after and rows else None
    older_cursor = Cursor(rows[-1].started_at, rows[-1].id) if more_older else None
    return rows, newer_cursor, older_cursor


def late_facts_of(automation, event_ids) -> dict[str, list]:
    """The late facts of these runs (one query), by event id, oldest first."""
    out: dict[str, list] = {}
    for fact in RunEventFact.objects.filter(automation=automation, event_id__in=list(event_ids)).select_related(
        "reported_by"
    ):
        out.setdefault(fact.event_id, []).append(fact)
    return out


def runs_per_day(runs, *, first: date, last: date) -> tuple[list[date], dict[date, dict[str, int]]]:
    """Runs per local day and outcome over [first, last] (at most CHART_MAX_DAYS days): one GROUP BY."""
    first = max(first, last - timedelta(days=CHART_MAX_DAYS - 1))
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(first, time.min), tz)
    end = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min), tz)
    counts: dict[date, dict[str, int]] = {}
    for row in (
        runs.filter(started_at__gte=start, started_at__lt=end)
        .annotate(day=TruncDate("started_at", tzinfo=tz))
        .order_by()
        .values("day", "outcome")
        .annotate(n=Count("id"))
    ):
        counts.setdefault(row["day"], {})[row["outcome"]] = row["n"]
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return days, counts


def findings_per_week(*, weeks: int = 12, now=None) -> tuple[list[date], list[int], list[int]]:
    """Findings opened and resolved per week (Monday to Sunday, local time) over the last `weeks`
    weeks, this one included: two GROUP BYs."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    monday = today - timedelta(days=today.weekday())
    mondays = [monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    tz = timezone.get_current_timezone()
    since = timezone.make_aware(datetime.combine(mondays[0], time.min), tz)

    def per_week(field: str, **filters) -> list[int]:
        rows = (
            Finding.objects.filter(**{f"{field}__gte": since}, **filters)
            .annotate(week=TruncWeek(field, tzinfo=tz))
            .order_by()
            .values("week")
            .annotate(n=Count("id"))
        )
        counts = {(r["week"].date() if isinstance(r["week"], datetime) else r["week"]): r["n"] for r in rows}
        return [counts.get(m, 0) for m in mondays]

    return mondays, per_week("opened_at"), per_week("resolved_at", resolved_at__isnull=False)


def hold_windows_current(*, automation=None, now=None):
    """Planned hold windows not cancelled and not ended, soonest first (the automation's, or all)."""
    now = now or timezone.now()
    windows = PlannedHoldWindow.objects.filter(cancelled_at__isnull=True, ends_at__gt=now).select_related(
        "automation", "created_by"
    )
    return windows.filter(automation=automation) if automation is not None else windows


def hold_windows_past(*, automation=None, now=None, days: int = 90):
    """Windows ended or cancelled in the last `days`, newest first."""
    now = now or timezone.now()
    windows = (
        PlannedHoldWindow.objects.filter(starts_at__gte=now - timedelta(days=days))
        .filter(Q(cancelled_at__isnull=False) | Q(ends_at__lte=now))
        .select_related("automation", "created_by", "cancelled_by")
        .order_by("-starts_at", "-pk")
    )
    return windows.filter(automation=automation) if automation is not None else windows
