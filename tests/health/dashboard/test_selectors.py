"""The program dashboard: counts behind links, and the maturity stage with its reasons."""

from datetime import date

import pytest
from django.utils import timezone

from health.dashboard.selectors import dashboard
from registry.choices import MaturityStage
from tests.approvals.decisions.factories import DecisionRequestFactory, LiveAutomationFactory
from tests.factories import UserFactory
from tests.health.reviews.factories import HealthReviewFactory, HealthReviewRowFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db

TEAMS = ("sales", "marketing", "cs", "finance", "revops")


def governed(**kwargs):
    """A live automation that meets the governed stage: every owner, an approved packet of its
    current version, reviewed today."""
    owner = UserFactory()
    return LiveAutomationFactory(system_owner=owner, support_contact=owner, **kwargs)


def reasons(board, stage):
    check = next(c for c in board.maturity.checks if c.stage == stage)
    return [text for text, _url in check.reasons]


def test_nothing_live_is_the_manual_stage():
    AutomationFactory(status="in_design")
    board = dashboard()
    assert board.maturity.stage == MaturityStage.MANUAL
    assert reasons(board, MaturityStage.TRIGGERED) == [
        "No automation is live yet: the work still runs on reminders and spreadsheets."
    ]


def test_a_live_automation_missing_an_owner_stays_triggered_and_says_which_owner():
    governed()
    AutomationFactory(status="live")  # no system owner, no support contact, no approved packet
    board = dashboard()
    assert board.maturity.stage == MaturityStage.TRIGGERED
    why = reasons(board, MaturityStage.GOVERNED)
    assert "1 live automation has no system owner." in why
    assert "1 live automation has no support contact." in why
    assert any("no approved packet" in text for text in why)
    urls = dict(next(c for c in board.maturity.checks if c.stage == MaturityStage.GOVERNED).reasons)
    assert urls["1 live automation has no system owner."] == "/automations/?status=live&missing_owner=system_owner"


def test_a_review_past_due_keeps_the_program_from_governed():
    governed(last_reviewed_at=timezone.now() - timezone.timedelta(days=400))
    board = dashboard()
    assert board.maturity.stage == MaturityStage.TRIGGERED
    assert reasons(board, MaturityStage.GOVERNED) == ["1 live automation is due for review."]


def test_governed_until_every_team_has_a_live_automation_and_a_handoff():
    governed(team="sales")
    board = dashboard()
    assert board.maturity.stage == MaturityStage.GOVERNED
    assert reasons(board, MaturityStage.CROSS_FUNCTIONAL) == [
        "No live automation yet for marketing, customer success, finance, RevOps.",
        "No live handoff connects one team's work to the next.",
    ]


def test_cross_functional_then_assisted_once_a_person_decides_an_ai_suggestion():
    for team in TEAMS:
        governed(team=team, workflow_type="handoff" if team == "cs" else "sla_management")
    board = dashboard()
    assert board.maturity.stage == MaturityStage.CROSS_FUNCTIONAL
    assert reasons(board, MaturityStage.ASSISTED) == [
        "No live automation uses AI to suggest actions.",
        "No AI suggestion was decided by a person in the last 90 days.",
    ]

    ai = governed(team="sales", uses_ai=True)
    DecisionRequestFactory(automation=ai, status="decided", closed_at=timezone.now())
    assert dashboard().maturity.stage == MaturityStage.ASSISTED


# That every count is the size of the list it links to, as each role, is tests/health/dashboard/test_links.py
# (issue 16): it follows the links and counts the rows instead of comparing URL strings.


def test_the_latest_monthly_review_shows_its_confirmations():
    assert dashboard().review is None
    older = HealthReviewFactory(month=date(2026, 9, 1))
    review = HealthReviewFactory(month=date(2026, 10, 1))
    admin = UserFactory(role="revops_admin")
    for automation in AutomationFactory.create_batch(4):
        HealthReviewRowFactory(review=older, automation=automation)
        HealthReviewRowFactory(
            review=review,
            automation=automation,
            confirmed_by=admin if automation.pk % 2 else None,
            confirmed_at=timezone.now() if automation.pk % 2 else None,
        )
    progress = dashboard().review
    assert progress.month.isoformat() == "2026-10-01"
    assert (progress.total, progress.confirmed + progress.waiting) == (4, 4)
    assert progress.confirmed == review.rows.filter(confirmed_at__isnull=False).count() == 2
    assert progress.waiting_url == "/reviews/2026-10/?confirmed=no"
