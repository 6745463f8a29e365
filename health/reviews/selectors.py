"""Reused reads of the monthly review: the list of reviews with their progress, one review's rows
(filtered, sorted, each page in a constant number of queries), one automation's trend, and the
backlog's candidates ready for automation."""

from django.conf import settings
from django.db.models import Count, F, FloatField, Q, QuerySet
from django.db.models.functions import Cast, NullIf

from backlog.choices import BOARD_STATUSES, Group
from backlog.selectors import candidate_queryset

from .models import HealthReview, HealthReviewRow, Recommendation


def _progress_counts():
    counts = {
        "rows_total": Count("rows"),
        "rows_confirmed": Count("rows", filter=Q(rows__confirmed_at__isnull=False)),
        "rows_noisy": Count("rows", filter=Q(rows__noisy=True)),
    }
    for value in Recommendation.values:
        counts[f"rows_{value}"] = Count("rows", filter=Q(rows__recommendation=value))
    return counts


def review_list() -> QuerySet[HealthReview]:
    """Every review, newest first, with its row counts by recommendation and its confirmations."""
    return HealthReview.objects.select_related("computed_by").annotate(**_progress_counts()).order_by("-month")


def review_get(*, year: int, month: int) -> HealthReview:
    return review_list().get(month__year=year, month__month=month)


def _rate(part: str, *whole: str):
    total = F(whole[0])
    for name in whole[1:]:
        total = total + F(name)
    return Cast(F(part), FloatField()) / NullIf(Cast(total, FloatField()), 0.0)


# The sort keys the review table offers, each a column or the same rate as the row's property.
SORTS = {
    "name": "automation__name",
    "team": "automation__team",
    "runs": "runs",
    "failure_rate": "failure_rate_sql",
    "override_rate": "override_rate_sql",
    "ignored": "alerts_ignored",
    "maintenance": "maintenance_minutes",
    "recommendation": "recommendation",
    "confirmed": "confirmed_at",
}


def review_rows(*, review: HealthReview, filters: dict | None = None) -> QuerySet[HealthReviewRow]:
    filters = filters or {}
    queryset = (
        HealthReviewRow.objects.filter(review=review)
        .select_related("review", "automation", "automation__rule_owner", "confirmed_by")
        .annotate(
            failure_rate_sql=_rate("failures", "runs"),
            override_rate_sql=_rate("overrides", "runs", "decisions_made"),
        )
    )
    if filters.get("recommendation"):
        queryset = queryset.filter(recommendation=filters["recommendation"])
    if filters.get("team"):
        queryset = queryset.filter(automation__team=filters["team"])
    if filters.get("owner"):
        queryset = queryset.filter(automation__rule_owner__username=filters["owner"])
    if filters.get("confirmed") == "yes":
        queryset = queryset.filter(confirmed_at__isnull=False)
    elif filters.get("confirmed") == "no":
        queryset = queryset.filter(confirmed_at__isnull=True)
    sort = filters.get("sort") or "name"
    descending = sort.startswith("-")
    column = SORTS.get(sort.lstrip("-"), "automation__name")
    order = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True)
    return queryset.order_by(order, "pk")


def row_get(*, pk: int) -> HealthReviewRow:
    return HealthReviewRow.objects.select_related(
        "review", "automation", "automation__rule_owner", "automation__failure_owner", "confirmed_by"
    ).get(pk=pk)


def automation_trend(*, automation_id: int, months: int | None = None) -> dict:
    """The automation's last N monthly rows (oldest first) and an SVG bar chart of its runs with
    the failure rate as a line: one query."""
    months = months or settings.REVOPS["HEALTH_REVIEW"]["trend_months"]
    rows = list(
        HealthReviewRow.objects.filter(automation_id=automation_id)
        .select_related("review")
        .order_by("-review__month")[:months]
    )[::-1]
    height, step = 60, 24
    peak = max((r.runs for r in rows), default=0) or 1
    bars, points = [], []
    for i, row in enumerate(rows):
        h = round(row.runs / peak * height)
        bars.append({"x": i * step, "y": height - h, "h": h, "row": row})
        rate = row.failure_rate
        if rate is not None:
            points.append(f"{i * step + 8},{height - round(rate * height)}")
    return {"rows": rows, "bars": bars, "points": " ".join(points), "height": height, "width": max(len(rows), 1) * step}


def ready_candidates(*, limit: int = 10) -> tuple[list, int]:
    """ "Which manual work is now ready for automation?": the backlog's ready group, best score first."""
    queryset = candidate_queryset().filter(group_key=Group.READY.value, status__in=BOARD_STATUSES)
    return list(queryset[:limit]), queryset.count()
