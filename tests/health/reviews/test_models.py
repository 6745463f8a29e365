"""A review row's derived facts: rates and the answered questions come from its stored counts and
facts, never stored twice."""

import pytest

from tests.health.reviews.factories import HealthReviewRowFactory

pytestmark = pytest.mark.django_db


def test_rates_are_derived_from_the_counts():
    row = HealthReviewRowFactory(runs=40, failures=10, overrides=5, decisions_made=10, alerts_sent=30,
                                 decision_requests=10, alerts_ignored=20, sla_measured=0)  # fmt: skip
    assert (row.failure_rate, row.override_rate, row.ignored_rate, row.sla_rate) == (0.25, 0.1, 0.5, None)


def test_questions_are_answered_from_the_row():
    row = HealthReviewRowFactory(runs=0, failures=0, recommendation="retire",
                                 facts={"deprecated_fields": ["Lead.Region__c"], "rule_owner": "dana"})  # fmt: skip
    answers = {q["question"]: q["answer"] for q in row.questions}
    assert answers["Is it still used?"] == "No runs this month."
    assert answers["Is its data still trusted?"] == "Not trusted: Lead.Region__c."
    assert answers["Which failures came from unclear ownership?"] == "No clear owner is named."
    assert answers["Should it be retired?"] == "Recommended: retire."
