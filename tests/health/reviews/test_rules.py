"""The recommendation: one case per reason of the guide's "What to retire", the practical
standard, noise, and keep for a healthy automation (pure functions: no database); and the rules'
SQL form, which the database applies to ten thousand automations at once, giving the same answers."""

import random

import pytest
from django.db import connection

from health.reviews.rules import LIST_FACTS, NEEDS_A_PERSON, ReviewInput, questions, recommend, verdict_sql

LIMITS = {
    "min_runs": 5,
    "failure_rate": 0.2,
    "override_rate": 0.3,
    "ignored_share": 0.5,
    "noisy_min_alerts": 10,
    "noisy_ratio": 1.5,
    "duplicate_share": 0.2,
    "maintenance_minutes": 240,
}


def healthy(**changes) -> ReviewInput:
    """120 clean runs, owned, documented, with alerts that lead to tasks done."""
    values = {
        "month_label": "November 2026",
        "runs": 120,
        "failures": 2,
        "alerts_sent": 40,
        "alerts_ignored": 2,
        "tasks_created": 45,
        "tasks_completed": 42,
        "rule_owner": "dana",
        "failure_owner": "sam",
    }
    return ReviewInput(**(values | changes))


def rules_of(verdict) -> list[str]:
    return [reason.rule for reason in verdict.reasons]


def test_a_healthy_automation_is_kept_and_says_why():
    verdict = recommend(healthy(), LIMITS)
    assert verdict.recommendation == "keep"
    assert rules_of(verdict) == ["healthy"]
    assert "120 runs" in verdict.reasons[0].text and not verdict.noisy


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        ({"rule_owner": ""}, "no rule owner"),
        ({"failure_owner": ""}, "no failure owner"),
        ({"rule_written": False}, "a current rule"),
        ({"output_written": False}, "a visible output"),
        ({"purpose_written": False}, "a reason to exist"),
    ],
)
def test_failing_the_practical_standard_pauses_until_someone_can_explain_it(changes, missing):
    verdict = recommend(healthy(**changes), LIMITS)
    assert verdict.recommendation == "pause"
    assert rules_of(verdict) == ["practical_standard"]
    assert missing in verdict.reasons[0].text
    assert "until someone can explain it" in verdict.reasons[0].text


def test_no_one_acting_on_the_alerts_recommends_retire():
    verdict = recommend(healthy(alerts_sent=60, alerts_ignored=45, tasks_completed=50), LIMITS)
    assert verdict.recommendation == "retire"
    assert "alerts_ignored" in rules_of(verdict)
    assert "45 of 60 (75%)" in verdict.reasons[0].text


def test_more_alerts_than_decisions_is_noisy_and_asks_for_an_adjustment():
    # 30 alerts, 20 of them acted on (not "ignored most of the time"), but only 12 tasks completed.
    verdict = recommend(healthy(alerts_sent=30, alerts_ignored=10, tasks_created=12, tasks_completed=12), LIMITS)
    assert verdict.noisy
    assert verdict.recommendation == "adjust"
    assert rules_of(verdict) == ["noisy"]


def test_a_few_alerts_are_never_noisy():
    verdict = recommend(healthy(alerts_sent=6, alerts_ignored=2, tasks_created=0, tasks_completed=0), LIMITS)
    assert not verdict.noisy and verdict.recommendation == "keep"


def test_decision_requests_count_as_alerts_and_decisions_as_actions():
    data = healthy(alerts_sent=0, alerts_ignored=0, tasks_created=0, tasks_completed=0)
    data.decision_requests, data.decisions_made = 20, 20
    assert not recommend(data, LIMITS).noisy
    data.decisions_made = 5
    assert recommend(data, LIMITS).noisy


def test_duplicating_another_workflow_recommends_retire():
    verdict = recommend(healthy(duplicate_runs=40, duplicates_with=["lead-routing-emea"]), LIMITS)
    assert verdict.recommendation == "retire"
    assert rules_of(verdict) == ["duplicates"]
    assert "lead-routing-emea" in verdict.reasons[0].text


def test_a_few_shared_triggers_are_not_duplication():
    assert recommend(healthy(duplicate_runs=3, duplicates_with=["other"]), LIMITS).recommendation == "keep"


def test_a_deprecated_field_recommends_retire_or_redesign():
    verdict = recommend(healthy(deprecated_fields=["Lead.Region__c"]), LIMITS)
    assert verdict.recommendation == "retire"
    assert rules_of(verdict) == ["deprecated_fields"] and "Lead.Region__c" in verdict.reasons[0].text


def test_a_change_event_asks_to_update_the_rule():
    verdict = recommend(healthy(change_events=["“Territories FY27” (Territories changed, 2026-11-03)"]), LIMITS)
    assert verdict.recommendation == "adjust"
    assert rules_of(verdict) == ["business_changed"] and "Territories FY27" in verdict.reasons[0].text


def test_an_unused_workflow_recommends_retire():
    verdict = recommend(healthy(runs=0, failures=0, alerts_sent=0, alerts_ignored=0, tasks_created=0,
                                tasks_completed=0), LIMITS)  # fmt: skip
    assert verdict.recommendation == "retire"
    assert rules_of(verdict) == ["not_used"]


def test_a_paused_automation_without_runs_is_not_called_unused():
    data = healthy(runs=0, failures=0, alerts_sent=0, alerts_ignored=0, tasks_created=0, tasks_completed=0)
    data.status = "paused"
    assert recommend(data, LIMITS).recommendation == "keep"


def test_more_cleanup_than_value_recommends_retire():
    verdict = recommend(healthy(runs=40, failures=6, manual_corrections=10, exceptions=8), LIMITS)
    assert verdict.recommendation == "retire"
    assert "more_cleanup_than_value" in rules_of(verdict)
    assert "24 failures, manual corrections and exceptions against 16 clean runs" in " ".join(
        r.text for r in verdict.reasons
    )


def test_admin_maintenance_time_shows_saves_rep_time_but_creates_cleanup():
    verdict = recommend(healthy(maintenance_minutes=300), LIMITS)
    assert verdict.recommendation == "adjust"
    assert rules_of(verdict) == ["admin_cleanup"] and "creates admin cleanup" in verdict.reasons[0].text


def test_users_routinely_overriding_it_asks_for_an_adjustment():
    verdict = recommend(healthy(overrides=48), LIMITS)
    assert verdict.recommendation == "adjust"
    assert rules_of(verdict) == ["overridden"] and "40%" in verdict.reasons[0].text


def test_rates_are_not_judged_on_too_few_runs():
    assert recommend(healthy(runs=4, failures=3, overrides=3), LIMITS).recommendation == "keep"


def test_a_high_failure_rate_asks_for_an_adjustment():
    verdict = recommend(healthy(failures=30), LIMITS)
    assert verdict.recommendation == "adjust" and rules_of(verdict) == ["failing"]


def test_the_strongest_action_wins_and_every_reason_is_kept():
    verdict = recommend(healthy(rule_owner="", overrides=48, deprecated_fields=["Lead.Region__c"]), LIMITS)
    assert verdict.recommendation == "retire"
    assert rules_of(verdict) == ["deprecated_fields", "practical_standard", "overridden"]


def test_questions_are_answered_from_data_or_marked_for_a_person():
    data = healthy(failures=4, bad_data_failures=1, unstable_fields=["Lead.Segment__c"])
    answers = {q["question"]: q for q in questions(data, recommend(data, LIMITS).recommendation)}
    assert answers["Is it still used?"]["answer"] == "Yes: 120 runs."
    assert answers["Were its alerts ignored?"]["answer"] == "2 of 40 alerts had no action taken."
    assert answers["Is its data still trusted?"]["answer"] == "Not trusted: Lead.Segment__c."
    assert answers["Did it save time or reduce risk?"]["answer"].startswith("42 tasks completed")
    bad_data = answers["Which failures came from bad data?"]
    assert not bad_data["from_data"] and "needs a person for the other 3" in bad_data["answer"]
    ownership = answers["Which failures came from unclear ownership?"]
    assert not ownership["from_data"] and ownership["answer"].startswith(NEEDS_A_PERSON)
    assert answers["Should it be retired?"]["answer"] == "Recommended: adjust."


def test_the_noisy_ratio_is_a_setting_and_one_is_the_guide_taken_literally():
    data = healthy(alerts_sent=40, alerts_ignored=2, tasks_completed=38)
    assert not recommend(data, LIMITS).noisy
    assert recommend(data, LIMITS | {"noisy_ratio": 1.0}).noisy


def test_the_launch_review_and_the_maturity_stage_are_asked():
    data = healthy(went_live_on="2026-11-10", maturity_stage=3)
    answers = {q["question"]: q for q in questions(data, "keep")}
    launch = answers["Was it reviewed two weeks after launch?"]
    assert launch["from_data"] and "due on 2026-11-24" in launch["answer"]
    stage = answers["Is this the right level of automation for the workflow?"]
    assert not stage["from_data"] and "3 · Governed" in stage["answer"]
    assert "Was it reviewed two weeks after launch?" not in {q["question"] for q in questions(healthy(), "keep")}


# --- the SQL form: the same answers --------------------------------------------------------------
SQL_COLUMNS = (
    "status", "runs", "failures", "overrides", "decision_requests", "decisions_made", "alerts_sent", "alerts_ignored",
    "tasks_completed", "manual_corrections", "exceptions", "maintenance_minutes",
)  # fmt: skip


def sql_verdict(data: ReviewInput, limits: dict) -> tuple[str, bool]:
    """What the database decides for a row with these numbers and facts."""
    (recommendation, recommendation_params), (noisy, noisy_params) = verdict_sql(limits)
    values = [getattr(data, name) for name in SQL_COLUMNS] + [
        bool(data.rule_owner and data.failure_owner), data.rule_written, data.output_written, data.purpose_written,
    ]  # fmt: skip
    names = (*SQL_COLUMNS, "owned", "rule_written", "output_written", "purpose_written")
    source = "SELECT " + ", ".join(f"%s AS {name}" for name in names)
    with connection.cursor() as cursor:
        sql = f"SELECT {recommendation}, {noisy} FROM ({source}) c"
        cursor.execute(sql, [*recommendation_params, *noisy_params, *values])
        decided, is_noisy = cursor.fetchone()
    return decided, bool(is_noisy)


def _random_input(rng: random.Random) -> ReviewInput:
    """Numbers around every threshold of LIMITS, with and without owners and documentation."""
    runs = rng.choice([0, 0, 3, 4, 5, 6, 10, 20, 40, 120])
    return healthy(
        status=rng.choice(["live", "live", "shadow", "paused"]),
        runs=runs,
        failures=rng.randint(0, runs),
        overrides=rng.randint(0, runs + 5),
        manual_corrections=rng.randint(0, max(runs // 3, 1)),
        exceptions=rng.randint(0, max(runs // 3, 1)),
        decision_requests=rng.choice([0, 0, 5, 10, 20]),
        decisions_made=rng.choice([0, 3, 5, 10, 20]),
        alerts_sent=rng.choice([0, 4, 6, 9, 10, 15, 30, 60]),
        alerts_ignored=rng.randint(0, 40),
        tasks_completed=rng.choice([0, 4, 5, 6, 12, 20, 40]),
        maintenance_minutes=rng.choice([0, 239, 240, 241, 500]),
        rule_owner=rng.choice(["dana", "dana", ""]),
        failure_owner=rng.choice(["sam", "sam", ""]),
        rule_written=rng.random() > 0.1,
        output_written=rng.random() > 0.1,
        purpose_written=rng.random() > 0.1,
    )


@pytest.mark.django_db
@pytest.mark.parametrize("limits", [LIMITS, LIMITS | {"noisy_ratio": 1.0, "failure_rate": 0.25, "min_runs": 10}])
def test_the_database_decides_as_recommend_does_for_every_rule_without_a_list_fact(limits):
    rng = random.Random(8)
    inputs = [_random_input(rng) for _ in range(400)]
    inputs += [  # the cases above, each rule once
        healthy(), healthy(rule_owner=""), healthy(failure_owner=""), healthy(rule_written=False),
        healthy(output_written=False), healthy(purpose_written=False),
        healthy(alerts_sent=60, alerts_ignored=45, tasks_completed=50),
        healthy(alerts_sent=30, alerts_ignored=10, tasks_created=12, tasks_completed=12),
        healthy(alerts_sent=6, alerts_ignored=2, tasks_completed=0), healthy(runs=0, failures=0, alerts_sent=0),
        healthy(runs=0, failures=0, alerts_sent=0, status="paused"),
        healthy(runs=40, failures=6, manual_corrections=10, exceptions=8), healthy(maintenance_minutes=300),
        healthy(overrides=48), healthy(runs=4, failures=3, overrides=3), healthy(failures=30),
        healthy(runs=5, failures=1), healthy(runs=10, overrides=3), healthy(alerts_sent=40, tasks_completed=38),
    ]  # fmt: skip
    decided = {}
    for data in inputs:
        assert not any(getattr(data, name) for name in LIST_FACTS)
        verdict = recommend(data, limits)
        assert sql_verdict(data, limits) == (verdict.recommendation, verdict.noisy), data
        decided[verdict.recommendation] = decided.get(verdict.recommendation, 0) + 1
    assert set(decided) == {"keep", "adjust", "pause", "retire"}  # the inputs reach every answer
