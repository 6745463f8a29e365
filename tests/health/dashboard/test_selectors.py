"""The program dashboard: counts behind links, and the maturity stage with its reasons."""

import pytest
from django.utils import timezone

from health.dashboard.selectors import dashboard
from registry.choices import MaturityStage
from tests.approvals.decisions.factories import DecisionRequestFactory, LiveAutomationFactory
from tests.backlog.factories import CandidateFactory
from tests.factories import UserFactory
from tests.health.factories import FindingFactory
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


def test_every_count_is_the_size_of_the_list_it_links_to(client, django_user_model):
    AutomationFactory.create_batch(2, status="live", risk_tier_override="high")
    AutomationFactory(status="retired")
    stale = AutomationFactory(status="paused", last_reviewed_at=timezone.now() - timezone.timedelta(days=400))
    FindingFactory(automation=stale, severity="high")
    FindingFactory(automation=stale, severity="low", status="resolved")
    DecisionRequestFactory()
    DecisionRequestFactory(due_at=timezone.now() - timezone.timedelta(hours=1))
    CandidateFactory(ready=True)
    CandidateFactory()

    board = dashboard()
    by_status = {tile.label: tile for tile in board.by_status}
    assert by_status["Live"].count == 4  # two here, two behind the decision requests
    assert by_status["Retired"].count == 1
    assert by_status["Live"].url == "/automations/?status=live"
    assert {tile.label: tile.count for tile in board.by_tier}["High tier"] >= 2
    findings = {tile.label: tile for tile in board.findings_by_severity}
    assert findings["High severity"].count == 1
    assert findings["Low severity"].count == 0  # resolved findings are not open
    assert findings["High severity"].url == "/findings/?severity=high"
    attention = {tile.label: tile for tile in board.attention}
    assert attention["Decisions waiting"].count == 2
    assert attention["Decisions past due"].count == 1
    assert attention["Backlog ready to automate"].count == 1
    assert attention["Backlog ready to automate"].url == "/backlog/?group=ready"
    assert attention["Reviews overdue"].count == 1
    assert attention["Reviews overdue"].url == "/automations/?review_due=yes"
