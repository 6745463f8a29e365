"""The launch plan's "review after two weeks" (issue 15 §6): only a review recorded at least 14
days after the current launch (`went_live_at`) counts."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from approvals import gates, services
from registry import services as registry_services
from tests.approvals.factories import approved_packet, make_ready
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db

LAUNCH = timezone.make_aware(timezone.datetime(2026, 11, 2, 9, 0))
LABEL = "Review after two weeks"


def _review_check(automation):
    automation.refresh_from_db()
    return {c.label: c for c in gates.launch_plan(automation)}[LABEL]


def _launch(automation, by, when, *, ready=False):
    with time_machine.travel(when, tick=False):
        if not ready:
            make_ready(automation, by)
            approved_packet(automation)
        services.transition(automation=automation, to="live", by=by, reason="Launch")
    automation.refresh_from_db()
    assert automation.went_live_at == when
    return automation


def _review(automation, by, when):
    with time_machine.travel(when, tick=False):
        return registry_services.automation_mark_reviewed(automation=automation, by=by, notes="Post-launch review")


def test_review_after_two_weeks_is_not_met_by_a_review_13_days_after_going_live(admin):
    automation = _launch(AutomationFactory(status="approved"), admin, LAUNCH)
    _review(automation, admin, LAUNCH + timedelta(days=13))
    check = _review_check(automation)
    assert not check.met
    assert check.detail == "due on 2026-11-16 (went live 2026-11-02)"


@pytest.mark.parametrize("days", [14, 20])
def test_review_after_two_weeks_is_met_by_a_review_14_or_more_days_after_going_live(admin, days):
    automation = _launch(AutomationFactory(status="approved"), admin, LAUNCH)
    _review(automation, admin, LAUNCH + timedelta(days=days))
    check = _review_check(automation)
    assert check.met
    assert check.detail == f"reviewed on {LAUNCH + timedelta(days=days):%Y-%m-%d}"


def test_review_after_two_weeks_is_not_met_by_a_review_before_a_re_launch(admin):
    automation = _launch(AutomationFactory(status="approved"), admin, LAUNCH)
    _review(automation, admin, LAUNCH + timedelta(days=20))
    assert _review_check(automation).met
    # Taken back to design and launched again: the earlier review was of the earlier launch.
    relaunch = LAUNCH + timedelta(days=30)
    with time_machine.travel(relaunch - timedelta(days=1), tick=False):
        services.transition(automation=automation, to="paused", by=admin, reason="Rework the rule")
        services.transition(automation=automation, to="in_design", by=admin, reason="Rework the rule")
        services.transition(automation=automation, to="approved", by=admin, reason="Reworked")
    automation = _launch(automation, admin, relaunch, ready=True)
    check = _review_check(automation)
    assert not check.met
    assert check.detail == "due on 2026-12-16 (went live 2026-12-02)"


def test_review_after_two_weeks_is_not_met_before_going_live(admin):
    automation = AutomationFactory(status="approved")
    _review(automation, admin, LAUNCH)
    check = _review_check(automation)
    assert (check.met, check.detail) == (False, "not live yet")
