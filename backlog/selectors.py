"""Reads of the backlog that the board, the CSV export and the API share."""

from django.db.models import Count, F, Prefetch, QuerySet

from registry.models import DataField

from .choices import Group
from .models import Candidate
from .rules import group_expression

# Highest score first; ties break by expected value (time saved, then risk reduction).
ORDERING = (
    F("score").desc(nulls_last=True),
    F("time_saved_hours_per_month").desc(),
    F("risk_reduction_per_year").desc(),
    "pk",
)


def candidate_queryset(*, system: str | None = None) -> QuerySet[Candidate]:
    """Candidates with what a card shows, in a constant number of queries; `group` is a SQL
    annotation (rules.group_expression), the reasons come from `Candidate.derivation`."""
    queryset = (
        Candidate.objects.select_related(
            "requester",
            "owner",
            "maintenance_owner",
            "exception_owner",
            "scoring_model",
            "promotion_override__created_by",
        )
        .prefetch_related(Prefetch("data_fields", queryset=DataField.objects.order_by("object_name", "api_name")))
        .annotate(group_key=group_expression())
        .order_by(*ORDERING)
    )
    return queryset.filter(system=system) if system else queryset


def candidate_get(*, pk: int, system: str | None = None) -> Candidate:
    return candidate_queryset(system=system).select_related("automation", "promoted_by").get(pk=pk)


def board_columns(queryset: QuerySet[Candidate], *, size: int) -> list[dict]:
    """The three columns, each its best `size` candidates by score, with the column's total."""
    totals = {
        row["group_key"]: row["n"]
        for row in queryset.order_by().values("group_key").annotate(n=Count("pk")).values("group_key", "n")
    }
    columns = []
    for group in (Group.READY, Group.NEEDS_DESIGN, Group.KEEP_HUMAN):
        cards = list(queryset.filter(group_key=group.value)[:size])
        columns.append({"group": group, "cards": cards, "total": totals.get(group.value, 0)})
    return columns
