"""The review-due rule (registry.review): the post-launch review two weeks after going live, and
the Python reasons agreeing with the SQL annotation on every combination of facts."""

import itertools
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from approvals import services as approvals_services
from registry import services
from registry.choices import LifecycleStatus, ReviewCadence
from registry.models import Automation, AutomationReview
from registry.review import POST_LAUNCH_REVIEW_AFTER, review_status
from registry.selectors import automation_get, automation_queryset
from tests.approvals.factories import approved_packet, make_ready
from tests.registry.factories import AutomationFactory, ChangeEventFactory, DataFieldFactory

pytestmark = pytest.mark.django_db

START = timezone.make_aware(timezone.datetime(2026, 3, 2, 9, 0))


def _launch(automation, by):
    """Through the real lifecycle: approved, ready, packet, then the move to live."""
    make_ready(automation, by)
    approved_packet(automation)
    return approvals_services.transition(automation=automation, to="live", by=by, reason="Launch")


def _status(automation):
    now = timezone.now()
    python = review_status(automation_get(key=automation.key), now=now)
    sql = automation_queryset(now=now).get(pk=automation.pk).review_due
    assert python.due == sql, (python, sql)
    return python


def test_going_live_records_the_date_and_a_post_launch_review_is_due_two_weeks_later(admin):
    with time_machine.travel(START, tick=False):
        automation = AutomationFactory(status=LifecycleStatus.APPROVED, review_cadence=ReviewCadence.TWICE_A_YEAR)
        automation = _launch(automation, admin)
    assert automation.went_live_at == START
    assert Automation.objects.get(pk=automation.pk).went_live_at == START

    with time_machine.travel(START + POST_LAUNCH_REVIEW_AFTER - timedelta(minutes=1), tick=False):
        status = _status(automation)
        assert not status.due
        assert status.next_due_at == START + POST_LAUNCH_REVIEW_AFTER

    with time_machine.travel(START + POST_LAUNCH_REVIEW_AFTER, tick=False):
        status = _status(automation)
        assert status.due
        assert status.reasons == [
            "Post-launch review due 2026-03-16: it went live on 2026-03-02 and has not been reviewed since"
            " (last review 2026-03-02)"
        ]


def test_a_review_before_the_two_weeks_does_not_count_as_the_post_launch_review(admin):
    with time_machine.travel(START, tick=False):
        automation = _launch(AutomationFactory(status=LifecycleStatus.APPROVED), admin)
    with time_machine.travel(START + timedelta(days=3), tick=False):
        services.automation_mark_reviewed(automation=automation, by=admin, notes="First look: routing fine")
    with time_machine.travel(START + timedelta(days=15), tick=False):
        status = _status(automation)
        assert status.due
        assert "Post-launch review due 2026-03-16" in status.reasons[0]
        assert "(last review 2026-03-05)" in status.reasons[0]
        services.automation_mark_reviewed(automation=automation, by=admin, notes="Two weeks live: keep")
        status = _status(automation)
        assert not status.due
        # From now on the cadence rules again.
        assert status.next_due_at == timezone.now() + timedelta(days=int(automation.effective_review_cadence))


def test_resuming_from_paused_is_not_a_new_launch(admin):
    with time_machine.travel(START, tick=False):
        automation = _launch(AutomationFactory(status=LifecycleStatus.APPROVED), admin)
    with time_machine.travel(START + timedelta(days=20), tick=False):
        services.automation_mark_reviewed(automation=automation, by=admin, notes="Post-launch review done")
        approvals_services.transition(automation=automation, to="paused", by=admin, reason="Quarter close")
        approvals_services.transition(automation=automation, to="live", by=admin, reason="Back on")
    automation.refresh_from_db()
    assert automation.went_live_at == START
    with time_machine.travel(START + timedelta(days=40), tick=False):
        assert not _status(automation).due


def test_marking_reviewed_keeps_a_review_row_with_who_when_and_notes(admin):
    with time_machine.travel(START, tick=False):
        automation = AutomationFactory()
        services.automation_mark_reviewed(automation=automation, by=admin, notes="Owner confirmed the rule")
    review = AutomationReview.objects.get(automation=automation)
    assert (review.reviewed_by, review.reviewed_at, review.notes) == (admin, START, "Owner confirmed the rule")
    automation.refresh_from_db()
    assert (automation.last_reviewed_at, automation.last_reviewed_by) == (START, admin)
    assert automation.history.first().history_change_reason == "Reviewed: Owner confirmed the rule"


# Every combination of the facts the rule reads; Python and SQL must agree on each.
STATUSES = (LifecycleStatus.LIVE, LifecycleStatus.RETIRED, LifecycleStatus.PAUSED)
REVIEWED_DAYS_AGO = (None, 1, 20, 200)
LIVE_DAYS_AGO = (None, 5, 14, 30)
EVENTS = (False, True)
FIELD_CHANGES = (False, True)
CADENCES = (None, ReviewCadence.MONTHLY)


def test_python_and_sql_rules_agree_on_every_combination(admin):
    combos = list(itertools.product(STATUSES, REVIEWED_DAYS_AGO, LIVE_DAYS_AGO, EVENTS, FIELD_CHANGES, CADENCES))
    with time_machine.travel(START, tick=False):
        created = []
        for status, reviewed, live, event, field_change, cadence in combos:
            data_field = DataFieldFactory(changed_at=START - timedelta(days=10) if field_change else None)
            automation = AutomationFactory(
                status=status,
                created_at=START - timedelta(days=400),
                last_reviewed_at=START - timedelta(days=reviewed) if reviewed is not None else None,
                went_live_at=START - timedelta(days=live) if live is not None else None,
                review_cadence=cadence,
                data_fields=[data_field],
            )
            if event:
                ChangeEventFactory(recorded_by=admin, automations=[automation])
                automation.change_events.update(recorded_at=START - timedelta(days=10))
            created.append(automation)
        # auto_now_add ignores the factory's value: set the registration date by hand.
        Automation.objects.update(created_at=START - timedelta(days=400))
        sql = dict(automation_queryset(now=START).values_list("pk", "review_due"))
        seen = set()
        for automation, combo in zip(created, combos, strict=True):
            python = review_status(automation_get(key=automation.key), now=START)
            assert python.due == sql[automation.pk], combo
            seen.add(python.due)
    assert seen == {True, False}
