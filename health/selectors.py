"""Reused reads of the health app, scoped to the caller."""

from datetime import timedelta

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from .choices import UNRESOLVED, RunOutcome
from .models import Finding, RunEvent

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
