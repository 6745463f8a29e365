"""When an automation is due for review, and why.

Due when it is not retired and any of these holds since its last review (or since it was created,
if never reviewed): its review cadence has passed; a change event that affects it was recorded;
a data field it uses changed definition or status. `review_status()` gives the reasons for one
automation; `annotate_review_due()` is the same rule in SQL for lists and filters.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import BooleanField, Case, DateTimeField, Exists, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce

from .choices import LifecycleStatus, ReviewCadence


@dataclass
class ReviewStatus:
    due: bool
    next_due_at: datetime | None
    reasons: list[str] = field(default_factory=list)


def review_status(automation, *, now: datetime) -> ReviewStatus:
    """Uses `automation.change_events` and `automation.data_fields` (prefetch them for lists)."""
    if automation.status == LifecycleStatus.RETIRED:
        return ReviewStatus(due=False, next_due_at=None)
    base = automation.last_reviewed_at or automation.created_at
    cadence = automation.effective_review_cadence
    next_due_at = base + timedelta(days=int(cadence))
    reasons = []
    if next_due_at <= now:
        since = "last review" if automation.last_reviewed_at else "it was registered (never reviewed)"
        reasons.append(
            f"{cadence.label} review cadence passed on {next_due_at:%Y-%m-%d}, {(now - base).days} days since {since}"
        )
    for event in automation.change_events.all():
        if event.recorded_at > base:
            reasons.append(
                f"Change event “{event.title}” ({event.get_kind_display()}) recorded {event.recorded_at:%Y-%m-%d}"
            )
    for data_field in automation.data_fields.all():
        if data_field.changed_at and data_field.changed_at > base:
            reasons.append(
                f"Field {data_field.qualified_name} changed on {data_field.changed_at:%Y-%m-%d} "
                f"(now {data_field.get_status_display().lower()})"
            )
    return ReviewStatus(due=bool(reasons), next_due_at=next_due_at, reasons=reasons)


def annotate_review_due(queryset, *, now: datetime):
    """Adds `review_base` and `review_due` (the same rule as review_status, in SQL)."""
    from .models import ChangeEvent, DataField

    queryset = queryset.annotate(
        review_base=Coalesce("last_reviewed_at", "created_at", output_field=DateTimeField()),
    ).annotate(
        changed_since_review=Exists(
            ChangeEvent.objects.filter(automations=OuterRef("pk"), recorded_at__gt=OuterRef("review_base"))
        ),
        field_changed_since_review=Exists(
            DataField.objects.filter(automations=OuterRef("pk"), changed_at__gt=OuterRef("review_base"))
        ),
    )
    cadence_passed = Q()
    for cadence in ReviewCadence:
        cadence_passed |= Q(review_cadence_days=int(cadence), review_base__lte=now - timedelta(days=int(cadence)))
    return queryset.annotate(
        review_due=Case(
            When(status=LifecycleStatus.RETIRED, then=Value(False)),
            When(cadence_passed | Q(changed_since_review=True) | Q(field_changed_since_review=True), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
