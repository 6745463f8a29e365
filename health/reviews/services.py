"""Every write of the monthly review: create a month's review once, re-compute its numbers, and
an admin's confirmation of a recommendation (which pauses or retires through the lifecycle
service). Keyword arguments, one transaction each, the actor in the history."""

from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from approvals import services as approvals_services
from registry import services as registry_services
from registry.choices import LifecycleStatus
from revops_gov.errors import Forbidden
from revops_gov.models import User
from revops_gov.roles import can_govern
from revops_gov.services import system_user

from ..models import RunEventFact
from .compute import month_bounds, previous_month, write_rows
from .models import HealthReview, HealthReviewRow, Recommendation
from .rules import thresholds

LIFECYCLE_FOR = {Recommendation.PAUSE: LifecycleStatus.PAUSED, Recommendation.RETIRE: LifecycleStatus.RETIRED}


def _month_ended(month: date, now: datetime) -> None:
    if month != month.replace(day=1):
        raise ValidationError({"month": "A review covers a calendar month: give its first day."})
    if month_bounds(month)[1] > now:
        raise ValidationError({"month": f"{month:%B %Y} has not ended yet; it is reviewed from the 1st of the next."})


@transaction.atomic
def monthly_review_run(
    *, month: date | None = None, now: datetime | None = None, by: User | None = None
) -> tuple[HealthReview, bool]:
    """Create the month's review (the previous calendar month by default) exactly once. The unique
    month is the claim: a second run, or a second worker at the same moment (its INSERT waits for
    the first one's commit, then fails), finds the review and changes nothing."""
    now = now or timezone.now()
    month = month or previous_month(now)
    _month_ended(month, now)
    by = by or system_user()
    try:
        with transaction.atomic():
            review = HealthReview.objects.create(
                month=month, created_at=now, computed_at=now, computed_by=by, thresholds=thresholds()
            )
    except IntegrityError:
        return HealthReview.objects.get(month=month), False
    write_rows(review, recompute=False, limits=review.thresholds)
    return review, True


@transaction.atomic
def review_recompute(*, review: HealthReview, by: User | None = None, now: datetime | None = None) -> HealthReview:
    """Re-compute the month's numbers (late events, fixed registry facts). Confirmations and notes
    stay; an automation already in the review keeps its row even if it has since been retired."""
    if by is not None and not can_govern(by):
        raise Forbidden("Only RevOps admins re-compute a review.")
    review = HealthReview.objects.select_for_update().get(pk=review.pk)
    # The thresholds of today: the recommendation and the reasons shown are derived with them.
    review.thresholds = thresholds()
    now = now or timezone.now()
    write_rows(review, recompute=True, limits=review.thresholds, now=now)
    review.computed_at = now
    review.computed_by = by or system_user()
    review.computations += 1
    review.save(update_fields=["computed_at", "computed_by", "computations", "thresholds"])
    return review


def reviews_with_late_facts(*, now: datetime) -> list[HealthReview]:
    """The reviews of months whose runs received late facts (a task completed a week later, an end,
    a correction) since they were computed, among the months whose runs are still kept. One query
    per month kept (about 13), whatever the number of runs."""
    kept_since = now - timedelta(days=settings.REVOPS["HEALTH_RUN_RETENTION_DAYS"])
    out = []
    for review in HealthReview.objects.filter(month__gte=kept_since.date().replace(day=1)):
        start, end = month_bounds(review.month)
        late = RunEventFact.objects.filter(
            run_started_at__gte=start, run_started_at__lt=end, recorded_at__gt=review.computed_at
        )
        if late.exists():
            out.append(review)
    return out


def monthly_review_tick(*, now: datetime | None = None) -> str:
    """The daily beat task: create last month's review once; while late events may still arrive
    (the first HEALTH_REVIEW["recompute_days"] days of the month) re-compute it; and re-compute any
    month whose runs received late facts since it was computed."""
    now = now or timezone.now()
    review, created = monthly_review_run(now=now)
    answer = "created" if created else "unchanged"
    if not created and now < month_bounds(review.month)[1] + timedelta(days=thresholds()["recompute_days"]):
        review_recompute(review=review, now=now)
        answer = "recomputed"
    for late in reviews_with_late_facts(now=now):
        review_recompute(review=late, now=now)
        answer = "recomputed"
    return answer


@transaction.atomic
def review_row_confirm(*, row: HealthReviewRow, by: User, decision: str, note: str = "") -> HealthReviewRow:
    """An admin confirms the recommendation or changes it, with a note. Pause and retire move the
    automation through the lifecycle service with its gates; a refused move raises with every
    reason and, being in this transaction, leaves nothing written. The confirmation is recorded as
    the automation's review in the registry."""
    if not can_govern(by):
        raise Forbidden("Only RevOps admins confirm review recommendations.")
    row = HealthReviewRow.objects.select_for_update().select_related("review", "automation").get(pk=row.pk)
    if decision not in Recommendation.values:
        raise ValidationError({"decision": f"Choose one of: {', '.join(Recommendation.values)}."})
    note = (note or "").strip()
    decision = Recommendation(decision)
    if not note and (decision != row.recommendation or decision in LIFECYCLE_FOR):
        why = "changing the recommendation" if decision != row.recommendation else f"to {decision.label.lower()}"
        raise ValidationError({"note": f"Write a note: it is needed when {why}, and kept in the history."})
    move = ""
    target = LIFECYCLE_FOR.get(decision)
    if target and row.automation.status != target:
        before = LifecycleStatus(row.automation.status)
        approvals_services.transition(
            automation=row.automation,
            to=target,
            by=by,
            reason=f"Health review {row.review.month:%B %Y}: {note}",
        )
        move = f"{before.label} → {target.label}"
    row.decision = decision
    row.note = note
    row.confirmed_by = by
    row.confirmed_at = timezone.now()
    row.lifecycle_move = move or row.lifecycle_move
    # Frozen from here: the reasons are derived with the thresholds it was confirmed with.
    row.confirmed_thresholds = row.review.thresholds
    row._history_user = by
    row._change_reason = f"{'Confirmed' if decision == row.recommendation else 'Changed to'} {decision.label.lower()}"
    row.full_clean()
    row.save()
    # A confirmed monthly review is the automation's review: who, when, what was found; the
    # reminder cycle starts again from here.
    registry_services.automation_mark_reviewed(
        automation=row.automation,
        by=by,
        notes=f"Monthly health review of {row.review.month:%B %Y}: {decision.label.lower()}"
        + (f". {note}" if note else "."),
    )
    return row
