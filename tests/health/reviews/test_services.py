"""Creating a month's review exactly once, re-computing it without losing a confirmation, and an
admin's confirmation, which pauses or retires through the lifecycle service and its gates."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone

from approvals.models import LifecycleMove
from approvals.services import TransitionRefused
from health import services as ingest
from health.reviews import services
from health.reviews.models import HealthReview, HealthReviewRow
from revops_gov.errors import Forbidden
from tests.health.factories import RunEventFactory
from tests.health.reviews.factories import NOVEMBER, in_november
from tests.health.reviews.factories import ReviewedAutomationFactory as AutomationFactory

DECEMBER_2ND = in_november(30) + timedelta(days=2)


@pytest.fixture
def clock():
    with time_machine.travel(DECEMBER_2ND, tick=False) as traveller:
        yield traveller


def _busy(automation, n=20, **fields):
    for i in range(n):
        RunEventFactory(automation=automation, started_at=in_november(1 + i % 28, 8), **fields)


@pytest.mark.django_db
def test_the_monthly_run_reviews_the_previous_month_once(clock):
    automation = AutomationFactory()
    _busy(automation)
    review, created = services.monthly_review_run()
    assert created and review.month == NOVEMBER
    again, created_again = services.monthly_review_run()
    assert (again.pk, created_again) == (review.pk, False)
    assert HealthReview.objects.count() == 1
    row = HealthReviewRow.objects.get(review=review, automation=automation)
    assert (row.runs, row.recommendation, row.reasons[0].rule) == (20, "keep", "healthy")


@pytest.mark.django_db
def test_a_month_that_has_not_ended_is_refused(clock):
    with pytest.raises(ValidationError) as exc:
        services.monthly_review_run(month=NOVEMBER.replace(month=12))
    assert "has not ended" in str(exc.value)


@pytest.mark.django_db
def test_recomputing_updates_unconfirmed_rows_and_writes_a_confirmed_rows_new_figures_beside_it(clock, admin):
    confirmed, open_ = AutomationFactory(), AutomationFactory()
    _busy(confirmed, n=10)
    _busy(open_, n=10)
    review, _ = services.monthly_review_run()
    row = HealthReviewRow.objects.get(review=review, automation=confirmed)
    services.review_row_confirm(row=row, by=admin, decision="keep", note="Healthy, keep it")
    reasons_confirmed = [r.text for r in row.reasons]
    # Late events arrive for November, and a new automation went live meanwhile.
    _busy(confirmed, n=8, outcome="failure")
    _busy(open_, n=8, outcome="failure")
    newcomer = AutomationFactory()
    services.review_recompute(review=review, by=admin)
    row = HealthReviewRow.objects.select_related("review").get(pk=row.pk)
    # Frozen: the confirmed numbers, recommendation and reasons stay…
    assert (row.runs, row.failures, row.recommendation) == (10, 0, "keep")
    assert [r.text for r in row.reasons] == reasons_confirmed
    assert (row.decision, row.note, row.confirmed_by) == ("keep", "Healthy, keep it", admin)
    # …and the new figures are beside them, the difference flagged.
    assert row.figures_changed and row.recomputed_at is not None
    assert row.recomputed["figures"]["runs"] == 18 and row.recomputed["figures"]["failures"] == 8
    assert row.recomputed["recommendation"] == "adjust"
    assert {"runs", "failures", "recommendation"} <= set(row.recomputed["differs"])
    assert {c["name"]: (c["confirmed"], c["now"]) for c in row.recomputed_changes}["runs"] == (10, 18)
    other = HealthReviewRow.objects.get(review=review, automation=open_)
    assert (other.runs, other.failures, other.recommendation) == (18, 8, "adjust")
    assert "failing" in {r.rule for r in other.reasons} and not other.figures_changed
    assert HealthReviewRow.objects.filter(review=review, automation=newcomer).exists()
    review.refresh_from_db()
    assert review.computations == 2 and review.computed_by == admin


@pytest.mark.django_db
def test_a_confirmed_rows_reasons_keep_the_thresholds_it_was_confirmed_with(clock, admin, settings):
    automation = AutomationFactory()
    _busy(automation, n=10)
    _busy(automation, n=3, outcome="failure")  # 3 of 13 failed: 23 %, over the 20 % bar
    review, _ = services.monthly_review_run()
    row = HealthReviewRow.objects.get(review=review)
    assert row.recommendation == "adjust"
    services.review_row_confirm(row=row, by=admin, decision="adjust", note="Fix the validation rule")
    settings.REVOPS = {**settings.REVOPS, "HEALTH_REVIEW": {**settings.REVOPS["HEALTH_REVIEW"], "failure_rate": 0.5}}
    services.review_recompute(review=review, by=admin)
    row = HealthReviewRow.objects.select_related("review").get(pk=row.pk)
    assert row.review.thresholds["failure_rate"] == 0.5
    assert row.recommendation == "adjust" and "failing" in {r.rule for r in row.reasons}
    assert row.recomputed["recommendation"] == "keep" and row.figures_changed


@pytest.mark.django_db
def test_late_facts_change_the_reviews_tasks_completed_and_a_confirmed_row_does_not_change(admin):
    """Tasks created on 28 November and completed a week later, on 5 December: the review of
    November counts them once the late facts arrive (the daily tick re-computes the month, past its
    first days, because late facts arrived since it was computed), except in the confirmed row."""
    counted, confirmed = AutomationFactory(key="lead-routing"), AutomationFactory(key="sla-nudge")
    for automation in (counted, confirmed):
        runs = [{"automation": automation.key, "event_id": f"t{i}", "started_at": in_november(28, 9 + i).isoformat(),
                 "outcome": "success", "task_created": True, "alerts_sent": 1} for i in range(6)]  # fmt: skip
        with time_machine.travel(in_november(28, 18), tick=False):
            ingest.runs_ingest(items=runs, by=admin)
    with time_machine.travel(DECEMBER_2ND, tick=False):
        assert services.monthly_review_tick() == "created"
        row = HealthReviewRow.objects.get(automation=confirmed)
        services.review_row_confirm(row=row, by=admin, decision="keep", note="Looks fine")
    before = HealthReviewRow.objects.select_related("review").get(automation=confirmed)
    assert (before.tasks_created, before.tasks_completed, before.alerts_ignored) == (6, 0, 6)
    reasons_confirmed = [r.text for r in before.reasons]
    a_week_later = in_november(28, 9) + timedelta(days=7)
    with time_machine.travel(a_week_later, tick=False):
        late = [{"automation": a.key, "event_id": f"t{i}", "task_completed_at": a_week_later.isoformat()}
                for a in (counted, confirmed) for i in range(6)]  # fmt: skip
        assert ingest.runs_ingest(items=late, by=admin).summary["merged"] == 12
    with time_machine.travel(a_week_later + timedelta(days=1), tick=False):
        assert services.monthly_review_tick() == "recomputed"
    row = HealthReviewRow.objects.get(automation=counted)
    assert (row.tasks_created, row.tasks_completed, row.alerts_ignored) == (6, 6, 0)
    after = HealthReviewRow.objects.select_related("review").get(automation=confirmed)
    assert (after.tasks_created, after.tasks_completed, after.alerts_ignored) == (6, 0, 6)
    assert (after.recommendation, [r.text for r in after.reasons]) == (before.recommendation, reasons_confirmed)
    assert after.figures_changed
    assert after.recomputed["figures"]["tasks_completed"] == 6 and after.recomputed["figures"]["alerts_ignored"] == 0


@pytest.mark.django_db
def test_the_population_is_who_was_shadow_live_or_paused_at_any_moment_of_the_month(admin):
    """Read from the lifecycle moves, not today's status."""

    def registered(key, status, moves=()):
        automation = AutomationFactory(key=key, status=status)
        for when, from_status, to_status in moves:
            with time_machine.travel(when, tick=False):
                LifecycleMove.objects.create(automation=automation, from_status=from_status, to_status=to_status,
                                             automation_version=1, by=admin, reason="test")  # fmt: skip
        return automation

    october, december = in_november(15) - timedelta(days=31), in_november(30) + timedelta(days=3)
    retired_in_month = registered("retired-on-the-20th", "retired", [(october, "shadow", "live"),
                                                                     (in_november(20), "live", "retired")])  # fmt: skip
    paused_now = registered("paused-in-december", "paused", [(october, "shadow", "live"),
                                                            (december, "live", "paused")])  # fmt: skip
    went_live = registered("live-from-the-25th", "live", [(in_november(25), "approved", "live")])
    retired_before = registered("retired-in-october", "retired", [(october, "live", "retired")])
    shadow_later = registered("shadow-in-december", "shadow", [(december, "approved", "shadow")])
    with time_machine.travel(december + timedelta(days=1), tick=False):
        review, _ = services.monthly_review_run()
    rows = {row.automation.key: row.status for row in review.rows.select_related("automation")}
    assert rows == {retired_in_month.key: "retired", paused_now.key: "live", went_live.key: "live"}
    assert retired_before.key not in rows and shadow_later.key not in rows


@pytest.mark.django_db
def test_a_retired_automation_keeps_its_row_when_recomputed(clock, admin):
    automation = AutomationFactory()
    review, _ = services.monthly_review_run()
    row = HealthReviewRow.objects.get(review=review)
    services.review_row_confirm(row=row, by=admin, decision="retire", note="Nobody uses it")
    services.review_recompute(review=review, by=admin)
    row.refresh_from_db()
    automation.refresh_from_db()
    assert automation.status == "retired" and (row.decision, row.note) == ("retire", "Nobody uses it")


@pytest.mark.django_db
def test_the_daily_tick_creates_then_recomputes_while_late_events_may_arrive_then_stops(clock):
    automation = AutomationFactory()
    assert services.monthly_review_tick() == "created"
    RunEventFactory(automation=automation, started_at=in_november(20))
    assert services.monthly_review_tick() == "recomputed"
    assert HealthReviewRow.objects.get(automation=automation).runs == 1
    clock.move_to(in_november(30) + timedelta(days=6))
    RunEventFactory(automation=automation, started_at=in_november(21))
    assert services.monthly_review_tick() == "unchanged"
    assert HealthReviewRow.objects.get(automation=automation).runs == 1
    assert HealthReview.objects.count() == 1


@pytest.mark.django_db
def test_confirming_pause_pauses_through_the_lifecycle(clock, admin):
    automation = AutomationFactory(rule_owner=None)
    _busy(automation)
    review, _ = services.monthly_review_run()
    row = HealthReviewRow.objects.get(review=review)
    assert row.recommendation == "pause"
    row = services.review_row_confirm(row=row, by=admin, decision="pause", note="No rule owner since the reorg")
    automation.refresh_from_db()
    assert automation.status == "paused" and row.lifecycle_move == "Live → Paused"
    move = LifecycleMove.objects.get(automation=automation)
    assert move.by == admin and "No rule owner since the reorg" in move.reason
    last = row.history.first()
    assert last.history_user == admin and last.decision == "pause"


@pytest.mark.django_db
def test_a_confirmed_row_is_the_automations_review_and_restarts_its_reminder_cycle(clock, admin):
    automation = AutomationFactory(last_reviewed_at=timezone.now() - timedelta(days=400))
    _busy(automation)
    review, _ = services.monthly_review_run()
    row = HealthReviewRow.objects.get(review=review)
    services.review_row_confirm(row=row, by=admin, decision="adjust", note="Tighten the territory rule")
    automation.refresh_from_db()
    assert automation.last_reviewed_by == admin
    recorded = automation.reviews.get()
    assert automation.last_reviewed_at == recorded.reviewed_at > timezone.now() - timedelta(days=1)
    assert recorded.reviewed_by == admin
    assert recorded.notes == f"Monthly health review of {review.month:%B %Y}: adjust. Tighten the territory rule"


@pytest.mark.django_db
def test_changing_the_recommendation_needs_a_note(clock, admin):
    _busy(AutomationFactory())
    review, _ = services.monthly_review_run()
    row = HealthReviewRow.objects.get(review=review)
    with pytest.raises(ValidationError) as exc:
        services.review_row_confirm(row=row, by=admin, decision="adjust", note=" ")
    assert "note" in exc.value.message_dict
    confirmed = services.review_row_confirm(row=row, by=admin, decision="keep")
    assert confirmed.decision == "keep" and confirmed.confirmed_by == admin


@pytest.mark.django_db
def test_a_refused_lifecycle_move_stores_nothing(clock, admin):
    automation = AutomationFactory()
    review, _ = services.monthly_review_run()
    row = HealthReviewRow.objects.get(review=review)
    # A material change sent it back to design after the review: in design cannot be paused.
    automation.status = "in_design"
    automation.save()
    with pytest.raises(TransitionRefused) as exc:
        services.review_row_confirm(row=row, by=admin, decision="pause", note="Stop it")
    assert "cannot move to paused" in exc.value.message
    row.refresh_from_db()
    automation.refresh_from_db()
    assert (row.decision, row.note, row.confirmed_at, automation.status) == ("", "", None, "in_design")
    assert not LifecycleMove.objects.exists() and row.history.count() == 0


@pytest.mark.django_db
def test_only_admins_confirm(clock, manager):
    AutomationFactory()
    review, _ = services.monthly_review_run()
    with pytest.raises(Forbidden):
        services.review_row_confirm(row=review.rows.get(), by=manager, decision="keep")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_workers_at_once_create_one_review(round_):
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent writers need PostgreSQL: SQLite serialises every write, so there is no race.")
    automations = [AutomationFactory() for _ in range(5)]
    for automation in automations:
        RunEventFactory(automation=automation, started_at=in_november(3))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def work():
        try:
            barrier.wait()
            results.append(services.monthly_review_run(now=DECEMBER_2ND))
        except Exception as exc:  # noqa: BLE001 - the test reports whatever a worker raised
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(created for _, created in results) == [False, True]
    assert HealthReview.objects.count() == 1
    assert HealthReviewRow.objects.count() == 5


@pytest.mark.django_db
def test_confirming_pause_of_an_automation_already_paused_moves_nothing(clock, admin):
    automation = AutomationFactory(status="paused", rule_owner=None)
    review, _ = services.monthly_review_run()
    row = services.review_row_confirm(row=review.rows.get(), by=admin, decision="pause", note="Stays paused")
    assert row.decision == "pause" and row.lifecycle_move == ""
    assert not LifecycleMove.objects.filter(automation=automation).exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_running_the_beat_task_at_once_create_one_review():
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent writers need PostgreSQL: SQLite serialises every write, so there is no race.")
    from health.reviews.tasks import monthly_review

    for _ in range(4):
        RunEventFactory(automation=AutomationFactory(), started_at=in_november(3))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def work():
        try:
            barrier.wait()
            results.append(monthly_review.apply().get())
        except Exception as exc:  # noqa: BLE001 - the test reports whatever a worker raised
            errors.append(exc)
        finally:
            connections.close_all()

    with time_machine.travel(DECEMBER_2ND, tick=False):
        threads = [threading.Thread(target=work) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors
    # One claims the month and creates it; the other finds it and (late events) re-computes it.
    assert sorted(results) == ["created", "recomputed"]
    assert HealthReview.objects.count() == 1 and HealthReviewRow.objects.count() == 4
