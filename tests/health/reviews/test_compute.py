"""The month's rows, written by the database from run events, decision requests, findings and the
registry, for the automations a review covers; the automations with list facts finished in Python."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.decisions.models import Decision
from health.reviews.compute import month_bounds, previous_month, write_rows
from health.reviews.models import HealthReview
from health.reviews.rules import ReviewInput, thresholds
from tests.approvals.decisions.factories import DecisionRequestFactory
from tests.factories import UserFactory
from tests.health.factories import FindingFactory, RunEventFactory
from tests.health.reviews.factories import (
    NOVEMBER,
    HealthReviewFactory,
    HealthReviewRowFactory,
    ReviewedAutomationFactory,
    in_november,
)
from tests.health.reviews.factories import RegisteredAutomationFactory as AutomationFactory
from tests.registry.factories import ChangeEventFactory, DataFieldFactory

pytestmark = pytest.mark.django_db


def compute(month=NOVEMBER) -> dict[int, ReviewInput]:
    """Write the month's rows (a new review, or re-computing the one there) and read them back as
    the rules read them."""
    review = HealthReview.objects.filter(month=month).first()
    recompute = review is not None
    review = review or HealthReviewFactory(month=month)
    write_rows(review, recompute=recompute, limits=thresholds())
    return {row.automation_id: row.review_input for row in review.rows.select_related("review")}


def recommendations() -> dict[int, tuple[str, bool]]:
    return {row.automation_id: (row.recommendation, row.noisy) for row in HealthReview.objects.get().rows.all()}


def test_the_previous_calendar_month_and_its_bounds():
    assert previous_month(in_november(1, 0)) == NOVEMBER.replace(month=10)
    assert previous_month(in_november(30, 23) + timedelta(hours=2)) == NOVEMBER
    start, end = month_bounds(NOVEMBER)
    assert (start, end) == (in_november(1, 0), in_november(30, 0) + timedelta(days=1))


def test_run_event_counts_of_the_month_only():
    automation = AutomationFactory()
    run = RunEventFactory.create
    run(automation=automation, started_at=in_november(2), outcome="failure", data_quality_issue=True)
    run(automation=automation, started_at=in_november(3), outcome="failure")
    run(automation=automation, started_at=in_november(4), overridden=True, alerts_sent=3)
    run(automation=automation, started_at=in_november(5), alerts_sent=2, task_created=True, task_completed=True)
    run(automation=automation, started_at=in_november(6), alerts_sent=4, task_created=True, task_completed=False)
    run(automation=automation, started_at=in_november(7), manual_reassignment=True, handoff_complete=False)
    run(automation=automation, started_at=in_november(8), sla_met=True, response_time_seconds=100,
        maintenance_minutes=30, duplicate_found=True, handoff_complete=True)  # fmt: skip
    run(automation=automation, started_at=in_november(9), sla_met=False, response_time_seconds=200)
    run(automation=automation, started_at=in_november(10), outcome="running")
    run(automation=automation, started_at=in_november(1, 0) - timedelta(seconds=1), outcome="failure")  # October
    data = compute(NOVEMBER)[automation.pk]
    assert (data.runs, data.failures, data.bad_data_failures, data.overrides) == (8, 2, 1, 1)
    # Ignored: the 4 alerts of the run whose task was not completed; the overridden run's 3 were acted on.
    assert (data.alerts_sent, data.alerts_ignored) == (9, 4)
    assert (data.tasks_created, data.tasks_completed, data.manual_corrections, data.exceptions) == (2, 1, 1, 2)
    assert (data.sla_measured, data.sla_met, data.avg_response_seconds) == (2, 1, 150)
    assert (data.duplicates_found, data.handoffs_measured, data.handoffs_complete) == (1, 2, 1)
    assert (data.maintenance_minutes, data.data_quality_issues) == (30, 1)


def test_decision_requests_count_as_alerts_and_their_overrides_as_overrides():
    automation = AutomationFactory(reassigns_strategic_ownership=True)
    decided, overridden, expired, waiting, on_time = (
        DecisionRequestFactory(automation=automation, created_at=in_november(day)) for day in (2, 3, 4, 5, 29)
    )
    for request, option, overrides in ((decided, "accept_owner", False), (overridden, "override", True)):
        request.status = "decided"
        request.save()
        Decision.objects.create(request=request, option=option, overrides=overrides, decided_by=UserFactory())
    expired.status = "expired"
    expired.save()
    waiting.due_at = in_november(6)
    waiting.save()
    on_time.due_at = in_november(30, 0) + timedelta(days=2)
    on_time.save()
    data = compute(NOVEMBER)[automation.pk]
    assert (data.decision_requests, data.decisions_made, data.overrides) == (5, 2, 1)
    assert data.alerts_ignored == 2  # the expired one and the one left open past its due time


def test_findings_opened_in_the_month():
    automation = AutomationFactory()
    FindingFactory(automation=automation, opened_at=in_november(3))
    FindingFactory(automation=automation, opened_at=in_november(1) - timedelta(days=3), kind="stale_data")
    assert compute(NOVEMBER)[automation.pk].findings_opened == 1


def test_runs_sharing_a_trigger_with_another_automation_are_duplicates():
    first, second, alone = AutomationFactory(key="route-a"), AutomationFactory(key="route-b"), AutomationFactory()
    for i in range(3):
        RunEventFactory(automation=first, trigger_key=f"lead-{i}", started_at=in_november(2))
        RunEventFactory(automation=second, trigger_key=f"lead-{i}", started_at=in_november(2, 10))
    RunEventFactory(automation=alone, trigger_key="lead-9", started_at=in_november(2))
    data = compute(NOVEMBER)
    assert (data[first.pk].duplicate_runs, data[first.pk].duplicates_with) == (3, ["route-b"])
    assert data[second.pk].duplicates_with == ["route-a"]
    assert (data[alone.pk].duplicate_runs, data[alone.pk].duplicates_with) == (0, [])


def test_registry_facts_owners_fields_and_change_events():
    trusted, shaky, old = (DataFieldFactory(status=s) for s in ("trusted", "unstable", "deprecated"))
    with time_machine.travel(in_november(1), tick=False):
        automation = AutomationFactory(
            data_fields=[trusted, shaky, old],
            rule_owner=None,
            failure_owner=UserFactory(),
            went_live_at=in_november(10),
            maturity_stage=3,
        )
    with time_machine.travel(in_november(12), tick=False):
        ChangeEventFactory(automations=[automation], title="Territories FY27")
    data = compute(NOVEMBER)[automation.pk]
    assert data.rule_owner == "" and data.failure_owner
    assert data.unstable_fields == [shaky.qualified_name] and data.deprecated_fields == [old.qualified_name]
    assert len(data.change_events) == 1 and "Territories FY27" in data.change_events[0]
    assert (data.went_live_on, data.maturity_stage) == ("2026-11-10", 3)


def test_only_shadow_live_and_paused_automations_are_reviewed():
    reviewed = {AutomationFactory(status=s).pk for s in ("shadow", "live", "paused")}
    skipped = {AutomationFactory(status=s).pk for s in ("proposed", "in_design", "approved", "retired")}
    data = compute(NOVEMBER)
    assert reviewed <= set(data) and not skipped & set(data)
    # Re-computing a review keeps the automations already in it, whatever their status now.
    kept = skipped.pop()
    HealthReviewRowFactory(review=HealthReview.objects.get(), automation_id=kept)
    data = compute(NOVEMBER)
    assert kept in data and not skipped & set(data)


def test_the_query_count_does_not_grow_with_the_automations():
    counts = []
    review = HealthReviewFactory(month=NOVEMBER)
    for n in (3, 12):
        while review.rows.count() < n:
            automation = AutomationFactory(data_fields=[DataFieldFactory(status="unstable")])
            RunEventFactory(automation=automation, started_at=in_november(4), trigger_key="t")
            RunEventFactory(automation=AutomationFactory(), started_at=in_november(4))
            ChangeEventFactory(automations=[automation])
            write_rows(review, recompute=True, limits=thresholds())
        # Some rows confirmed (frozen): their new figures are written beside them in bulk.
        review.rows.filter(pk__in=review.rows.order_by("pk").values("pk")[: n // 3]).update(
            confirmed_at=in_november(30), decision="keep"
        )
        with CaptureQueriesContext(connection) as ctx:
            write_rows(review, recompute=True, limits=thresholds())
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_a_visible_output_is_a_person_who_acts_or_a_record_people_see_change():
    notified = AutomationFactory(output_recipient="The opportunity owner.")
    writes = AutomationFactory(record_changed="Account firmographics")
    silent = AutomationFactory(output_recipient="", expected_user_action="", record_changed="")
    data = compute(NOVEMBER)
    assert data[notified.pk].output_written and data[writes.pk].output_written
    assert not data[silent.pk].output_written


def test_the_database_decides_the_rows_without_list_facts_and_python_those_with_them():
    quiet = ReviewedAutomationFactory()  # no runs: not used
    busy = ReviewedAutomationFactory()
    failing = ReviewedAutomationFactory()
    on_old_field = ReviewedAutomationFactory(data_fields=[DataFieldFactory(status="deprecated")])
    for i in range(10):
        RunEventFactory(automation=busy, started_at=in_november(2 + i))
        RunEventFactory(automation=failing, started_at=in_november(2 + i), outcome="failure" if i < 3 else "success")
        RunEventFactory(automation=on_old_field, started_at=in_november(2 + i))
    compute(NOVEMBER)
    decided = recommendations()
    assert decided[quiet.pk] == ("retire", False)
    assert decided[busy.pk] == ("keep", False)
    assert decided[failing.pk] == ("adjust", False)
    assert decided[on_old_field.pk] == ("retire", False)  # deprecated fields: a list fact, decided in Python
    rows = {row.automation_id: row for row in HealthReview.objects.get().rows.select_related("review")}
    assert [r.rule for r in rows[on_old_field.pk].reasons] == ["deprecated_fields"]
    assert [r.rule for r in rows[failing.pk].reasons] == ["failing"]


def test_a_list_fact_that_went_away_is_gone_after_recomputing():
    field = DataFieldFactory(status="deprecated")
    automation = ReviewedAutomationFactory(data_fields=[field])
    for i in range(10):
        RunEventFactory(automation=automation, started_at=in_november(2 + i))
    assert compute(NOVEMBER)[automation.pk].deprecated_fields == [field.qualified_name]
    field.status = "trusted"
    field.save()
    data = compute(NOVEMBER)[automation.pk]
    assert data.deprecated_fields == [] and recommendations()[automation.pk] == ("keep", False)


def test_recomputing_rewrites_only_the_rows_whose_numbers_changed():
    busy, quiet = ReviewedAutomationFactory(), ReviewedAutomationFactory()
    for i in range(10):
        RunEventFactory(automation=busy, started_at=in_november(2 + i))
    review = HealthReviewFactory(month=NOVEMBER)
    assert write_rows(review, recompute=False, limits=thresholds()) >= 2
    assert write_rows(review, recompute=True, limits=thresholds()) == 0  # nothing new: nothing rewritten
    RunEventFactory(automation=quiet, started_at=in_november(20))  # a late event
    assert write_rows(review, recompute=True, limits=thresholds()) == 1
    assert review.rows.get(automation=quiet).runs == 1
