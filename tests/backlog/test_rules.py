"""The backlog's rules by table and by property: group derivation, flags and score arithmetic,
and their SQL forms agreeing with them."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backlog.choices import Group, ScoringMethod
from backlog.models import Candidate
from backlog.rules import (
    DEFAULT_WEIGHTS,
    FACTOR_NAMES,
    HIGH_RISK,
    JUDGMENT_FLAG_FIELDS,
    JUDGMENT_FLAGS,
    LOW_VOLUME,
    QUESTION_FIELDS,
    WEAK_DATA,
    compute_score,
    derive_flags,
    derive_group,
    flag_q,
    group_expression,
    is_avoided,
    is_deferred,
    material_risk_threshold,
    score_expression,
)
from tests.backlog.factories import CandidateFactory
from tests.registry.factories import DataFieldFactory

ALL_YES = dict.fromkeys(QUESTION_FIELDS, "yes")
NO_JUDGMENT = dict.fromkeys(JUDGMENT_FLAG_FIELDS, False)


# --- Group derivation table ------------------------------------------------------------------
@pytest.mark.parametrize("flag", JUDGMENT_FLAGS, ids=lambda f: f.field)
def test_each_judgment_flag_keeps_the_work_human(flag):
    derivation = derive_group(judgment={**NO_JUDGMENT, flag.field: True}, answers=ALL_YES)
    assert derivation.group == Group.KEEP_HUMAN
    assert derivation.judgment == [flag.label]
    assert derivation.reasons == [f"Needs human judgment: {flag.label.lower()}"]


def test_all_four_yes_is_ready():
    derivation = derive_group(judgment=NO_JUDGMENT, answers=ALL_YES)
    assert derivation.group == Group.READY
    assert derivation.missing == []


@pytest.mark.parametrize(
    ("field", "answer", "missing"),
    [
        ("rule_clear", "partly", "rule not agreed (answered partly)"),
        ("rule_clear", "no", "rule not agreed (answered no)"),
        ("rule_clear", "", "rule clear: not answered"),
        ("data_reliable", "no", "data not reliable (answered no)"),
        ("data_reliable", "", "data reliable: not answered"),
        ("exception_known", "partly", "exception owner unknown (answered partly)"),
        ("value_measurable", "no", "value not measurable (answered no)"),
        ("value_measurable", "", "value measurable: not answered"),
    ],
)
def test_each_missing_answer_is_listed(field, answer, missing):
    derivation = derive_group(judgment=NO_JUDGMENT, answers={**ALL_YES, field: answer})
    assert derivation.group == Group.NEEDS_DESIGN
    assert derivation.missing == [missing]
    assert derivation.reasons == [f"Missing: {missing}"]


def test_an_unnamed_exception_owner_is_named_as_missing():
    derivation = derive_group(
        judgment=NO_JUDGMENT, answers={**ALL_YES, "exception_known": "no"}, exception_owner_named=False
    )
    assert derivation.missing == ["exception owner unknown"]


def test_every_missing_piece_is_listed_at_once():
    derivation = derive_group(
        judgment=NO_JUDGMENT,
        answers={"rule_clear": "yes", "data_reliable": "partly", "exception_known": "", "value_measurable": "yes"},
        untrusted_fields=[("Account.Tier__c", "Unstable")],
        exception_owner_named=False,
    )
    assert derivation.missing == ["field Account.Tier__c unstable", "exception owner unknown"]


def test_an_untrusted_field_makes_data_reliable_yes_not_count():
    derivation = derive_group(
        judgment=NO_JUDGMENT,
        answers=ALL_YES,
        untrusted_fields=[("Lead.Segment__c", "Unstable"), ("Lead.Region__c", "Deprecated")],
    )
    assert derivation.group == Group.NEEDS_DESIGN
    assert derivation.missing == ["field Lead.Segment__c unstable", "field Lead.Region__c deprecated"]


def test_an_explicit_override_with_a_reason_lets_data_reliable_count():
    derivation = derive_group(
        judgment=NO_JUDGMENT,
        answers=ALL_YES,
        untrusted_fields=[("Lead.Segment__c", "Unstable")],
        data_override_reason="Only the stable EMEA values are read.",
    )
    assert derivation.group == Group.READY


def test_judgment_wins_over_missing_answers_and_still_lists_them():
    derivation = derive_group(judgment={**NO_JUDGMENT, "judgment_forecast_override": True}, answers={})
    assert derivation.group == Group.KEEP_HUMAN
    assert len(derivation.missing) == 4


answers = st.sampled_from(["yes", "partly", "no", ""])


@given(
    judgment=st.fixed_dictionaries({name: st.booleans() for name in JUDGMENT_FLAG_FIELDS}),
    answers=st.fixed_dictionaries(dict.fromkeys(QUESTION_FIELDS, answers)),
    untrusted=st.lists(st.tuples(st.sampled_from(["Lead.A", "Account.B"]), st.sampled_from(["Unstable"])), max_size=2),
    override=st.sampled_from(["", "checked by hand"]),
    owner=st.booleans(),
)
def test_the_group_is_always_exactly_one_of_three_and_explains_itself(judgment, answers, untrusted, override, owner):
    derivation = derive_group(
        judgment=judgment,
        answers=answers,
        untrusted_fields=untrusted,
        data_override_reason=override,
        exception_owner_named=owner,
    )
    assert derivation.group in set(Group)
    assert derivation.reasons
    assert (derivation.group == Group.KEEP_HUMAN) == any(judgment.values())
    assert (derivation.group == Group.READY) == (not any(judgment.values()) and not derivation.missing)


# --- Flags -----------------------------------------------------------------------------------
FACTORS_OK = {"volume": 4, "risk": 2, "data_readiness": 4}


@pytest.mark.parametrize(
    ("factors", "risk_reduction", "expected"),
    [
        (FACTORS_OK, 0, []),
        ({**FACTORS_OK, "risk": 4, "data_readiness": 2}, 0, ["defer"]),
        ({**FACTORS_OK, "risk": 5, "data_readiness": 1}, 0, ["defer"]),
        ({**FACTORS_OK, "risk": 3, "data_readiness": 1}, 0, []),
        ({**FACTORS_OK, "risk": 5, "data_readiness": 3}, 0, []),
        ({**FACTORS_OK, "volume": 2}, 0, ["avoid"]),
        ({**FACTORS_OK, "volume": 1}, 49_999, ["avoid"]),
        ({**FACTORS_OK, "volume": 1}, 50_000, []),
        ({**FACTORS_OK, "volume": 3}, 0, []),
        ({"volume": 1, "risk": 5, "data_readiness": 1}, 0, ["defer", "avoid"]),
        ({"volume": None, "risk": None, "data_readiness": None}, 0, []),
    ],
)
def test_defer_and_avoid_flags_follow_the_guide(factors, risk_reduction, expected):
    flags = derive_flags(factors=factors, risk_reduction=Decimal(risk_reduction))
    assert [f.flag.value for f in flags] == expected
    for flag in flags:
        assert flag.rule and flag.reason


maybe_factor = st.one_of(st.none(), st.integers(min_value=1, max_value=5))


@given(
    volume=maybe_factor,
    risk=maybe_factor,
    readiness=maybe_factor,
    risk_reduction=st.integers(min_value=0, max_value=200_000),
)
def test_defer_and_avoid_are_raised_exactly_as_the_guide_says(volume, risk, readiness, risk_reduction):
    """ "Defer high-risk workflows when data readiness is weak"; "avoid low-volume automations
    unless the risk is material" (risk reduction at or above the material threshold)."""
    factors = {"volume": volume, "risk": risk, "data_readiness": readiness}
    raised = {f.flag.value for f in derive_flags(factors=factors, risk_reduction=Decimal(risk_reduction))}
    high_risk = risk is not None and risk >= HIGH_RISK
    weak_data = readiness is not None and readiness <= WEAK_DATA
    low_volume = volume is not None and volume <= LOW_VOLUME
    material = Decimal(risk_reduction) >= material_risk_threshold()
    assert ("defer" in raised) == (high_risk and weak_data)
    assert ("avoid" in raised) == (low_volume and not material)
    assert is_deferred(risk=risk, data_readiness=readiness) == (high_risk and weak_data)
    assert is_avoided(volume=volume, risk_reduction=Decimal(risk_reduction), threshold=material_risk_threshold()) == (
        low_volume and not material
    )


def test_the_flag_thresholds_are_the_guides_words_in_numbers():
    assert (HIGH_RISK, WEAK_DATA, LOW_VOLUME) == (4, 2, 2)
    assert material_risk_threshold() == Decimal("50000")


@pytest.mark.django_db
def test_flag_filters_agree_with_the_flags():
    candidates = [
        CandidateFactory(factor_volume=v, factor_risk=r, factor_data_readiness=d, risk_reduction_per_year=x)
        for v, r, d, x in [(1, 5, 1, 0), (1, 2, 4, 100_000), (4, 4, 2, 0), (4, 1, 5, 0), (2, 1, 5, 0)]
    ]
    for flag in ("defer", "avoid"):
        in_sql = set(Candidate.objects.filter(flag_q(flag)).values_list("pk", flat=True))
        in_python = {c.pk for c in candidates if flag in [f.flag.value for f in c.flags]}
        assert in_sql == in_python


# --- Score -----------------------------------------------------------------------------------
FACTORS_7 = {"volume": 5, "risk": 2, "rule_clarity": 4, "data_readiness": 3, "exception_clarity": 1}
FACTORS_7 |= {"user_impact": 2, "maintenance_cost": 3}
WEIGHTS_7 = {name: Decimal("1") for name in FACTOR_NAMES} | {"volume": Decimal("3"), "risk": Decimal("2")}


def test_the_score_shows_its_arithmetic_and_every_factor_raises_it():
    score = compute_score(FACTORS_7, WEIGHTS_7, version=7)
    assert [(c.factor.name, c.value, c.weight, c.points) for c in score.contributions] == [
        ("volume", 5, Decimal("3"), Decimal("15")),
        ("risk", 2, Decimal("2"), Decimal("4")),
        ("rule_clarity", 4, Decimal("1"), Decimal("4")),
        ("data_readiness", 3, Decimal("1"), Decimal("3")),
        ("exception_clarity", 1, Decimal("1"), Decimal("1")),
        ("user_impact", 2, Decimal("1"), Decimal("2")),
        ("maintenance_cost", 3, Decimal("1"), Decimal("3")),
    ]
    assert score.total == Decimal("32")
    assert score.arithmetic == "(5 × +3) + (2 × +2) + (4 × +1) + (3 × +1) + (1 × +1) + (2 × +1) + (3 × +1) = 32"
    assert score.version == 7 and score.method == "guide"


def test_a_version_before_issue_15_keeps_its_arithmetic_with_risk_and_cost_against():
    score = compute_score(FACTORS_7, WEIGHTS_7, version=1, method=ScoringMethod.RISK_AGAINST)
    assert [c.weight for c in score.contributions if c.factor.name in ("risk", "maintenance_cost")] == [
        Decimal("-2"),
        Decimal("-1"),
    ]
    assert score.total == Decimal("18")
    assert score.arithmetic == "(5 × +3) + (2 × -2) + (4 × +1) + (3 × +1) + (1 × +1) + (2 × +1) + (3 × -1) = 18"


def test_no_score_until_all_seven_factors_are_scored():
    score = compute_score({"volume": 5}, DEFAULT_WEIGHTS)
    assert score.total is None
    assert "Risk" in score.unscored and len(score.unscored) == 6
    assert score.arithmetic.startswith("Not scored:")


one_to_five = st.integers(min_value=1, max_value=5)
factor_values = st.fixed_dictionaries(dict.fromkeys(FACTOR_NAMES, one_to_five))
weights = st.fixed_dictionaries(
    {name: st.decimals(min_value=0, max_value=10, places=2, allow_nan=False) for name in FACTOR_NAMES}
)


@given(
    factors=factor_values,
    weights=weights,
    factor=st.sampled_from(FACTOR_NAMES),
    by=st.integers(min_value=1, max_value=4),
)
def test_raising_any_factor_never_lowers_the_score(factors, weights, factor, by):
    """The guide's table: a high score on every factor (risk and maintenance included) means
    higher priority, so raising volume, risk, clarity or maintenance never lowers the score."""
    raised = min(factors[factor] + by, 5)
    before = compute_score(factors, weights).total
    after = compute_score({**factors, factor: raised}, weights).total
    assert after >= before


@given(factors=factor_values, weights=weights)
def test_raising_risk_with_a_positive_weight_raises_the_score(factors, weights):
    if factors["risk"] == 5 or weights["risk"] == 0:
        return
    before = compute_score(factors, weights).total
    assert compute_score({**factors, "risk": factors["risk"] + 1}, weights).total > before


@given(factors=factor_values)
def test_the_default_weights_rank_high_volume_high_risk_clear_rule_first(factors):
    """ "Prioritize high-volume, high-risk, clear-rule workflows first": with the same other
    factors, a 5/5/5 on those three outscores any other combination of them."""
    top = compute_score({**factors, "volume": 5, "risk": 5, "rule_clarity": 5}, DEFAULT_WEIGHTS).total
    assert top >= compute_score(factors, DEFAULT_WEIGHTS).total


@given(factors=factor_values, weights=weights)
def test_the_contributions_sum_to_the_score(factors, weights):
    score = compute_score(factors, weights)
    assert sum(c.points for c in score.contributions) == score.total
    assert len(score.contributions) == 7


@pytest.mark.django_db
@pytest.mark.parametrize("method", list(ScoringMethod))
def test_the_sql_score_equals_the_python_score(method):
    weights = {name: Decimal("1.25") for name in FACTOR_NAMES} | {"risk": Decimal("2.5")}
    candidates = [
        CandidateFactory(**{f"factor_{n}": (i + j) % 5 + 1 for j, n in enumerate(FACTOR_NAMES)}) for i in range(5)
    ]
    rows = dict(Candidate.objects.annotate(s=score_expression(weights, method)).values_list("pk", "s"))
    for c in candidates:
        assert Decimal(rows[c.pk]).quantize(Decimal("0.01")) == compute_score(c.factors, weights, method=method).total


@pytest.mark.django_db
def test_the_sql_group_equals_the_derived_group():
    unstable = DataFieldFactory(status="unstable")
    cases = [
        CandidateFactory(ready=True),
        CandidateFactory(ready=True, judgment_icp_change=True),
        CandidateFactory(ready=True, data_fields=[unstable]),
        CandidateFactory(ready=True, data_fields=[unstable], data_override_reason="Read only the stable values"),
        CandidateFactory(ready=True, value_measurable="partly"),
        CandidateFactory(),
    ]
    sql = dict(Candidate.objects.annotate(g=group_expression()).values_list("pk", "g"))
    assert [sql[c.pk] for c in cases] == [c.derivation.group.value for c in cases]
    assert [sql[c.pk] for c in cases] == [
        "ready",
        "keep_human",
        "needs_design",
        "ready",
        "needs_design",
        "needs_design",
    ]
