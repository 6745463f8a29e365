"""When an automation is due for review, and why.

Due when it is not retired and any of these holds since its last review (or since it was created,
if never reviewed): its review cadence has passed; a change event that affects it was recorded;
a data field it uses changed definition or status. Also due when it went live two weeks ago or
more and nobody has reviewed it since that two-week mark (the guide's launch sequence: "review
after two weeks"). `review_status()` gives the reasons for one automation;
`annotate_review_due()` is the same rule in SQL for lists and filters.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from .choices import LifecycleStatus, ReviewCadence

POST_LAUNCH_REVIEW_AFTER = timedelta(days=14)


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
    cadence_due_at = base + timedelta(days=int(cadence))
    next_due_at = cadence_due_at
    reasons = []
    if cadence_due_at <= now:
        since = "last review" if automation.last_reviewed_at else "it was registered (never reviewed)"
        reasons.append(
            f"{cadence.label} review cadence passed on {cadence_due_at:%Y-%m-%d}, "
            f"{(now - base).days} days since {since}"
        )
    post_launch_at = post_launch_review_at(automation)
    if post_launch_at:
        next_due_at = min(next_due_at, post_launch_at)
        if post_launch_at <= now:
            reasons.append(
                f"Post-launch review due {post_launch_at:%Y-%m-%d}: it went live on "
                f"{automation.went_live_at:%Y-%m-%d} and has not been reviewed since"
                + (f" (last review {automation.last_reviewed_at:%Y-%m-%d})" if automation.last_reviewed_at else "")
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


def post_launch_review_at(automation) -> datetime | None:
    """When the post-launch review falls due, while it is still owed: two weeks after going live,
    until someone records a review on or after that day."""
    if not automation.went_live_at:
        return None
    due_at = automation.went_live_at + POST_LAUNCH_REVIEW_AFTER
    if automation.last_reviewed_at and automation.last_reviewed_at >= due_at:
        return None
    return due_at


def annotate_review_due(queryset, *, now: datetime):
    """Adds `review_base`, `post_launch_review_at` and `review_due` (the same rule as
    review_status, in SQL)."""
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
    queryset = queryset.annotate(
        post_launch_review_at=ExpressionWrapper(
            F("went_live_at") + POST_LAUNCH_REVIEW_AFTER, output_field=DateTimeField()
        )
    )
    post_launch_owed = Q(post_launch_review_at__lte=now) & (
        Q(last_reviewed_at__isnull=True) | Q(last_reviewed_at__lt=F("post_launch_review_at"))
    )
    return queryset.annotate(
        review_due=Case(
            When(status=LifecycleStatus.RETIRED, then=Value(False)),
            When(
                cadence_passed | post_launch_owed | Q(changed_since_review=True) | Q(field_changed_since_review=True),
                then=Value(True),
            ),
            default=Value(False),
            output_field=BooleanField(),
        )
    )
