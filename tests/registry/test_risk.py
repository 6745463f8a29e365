"""Risk tier: derived from the impact flags, raised by hand, never lowered below the floor."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from registry.choices import TIER_RANK, ReviewCadence, RiskTier
from registry.models import Automation
from registry.risk import IMPACT_FLAG_FIELDS, IMPACT_FLAGS, LOW_TIER_REASON, derive_tier, tier_floor
from registry.selectors import automation_queryset
from tests.registry.factories import AutomationFactory

HIGH_FLAGS = [flag.field for flag in IMPACT_FLAGS if flag.tier == RiskTier.HIGH]
MEDIUM_FLAGS = [flag.field for flag in IMPACT_FLAGS if flag.tier == RiskTier.MEDIUM]


def test_no_flag_is_low_tier_with_its_reason():
    assert tier_floor({}) == (RiskTier.LOW, (LOW_TIER_REASON,))


@pytest.mark.parametrize("flag", HIGH_FLAGS)
def test_each_high_impact_flag_makes_the_tier_high(flag):
    floor, reasons = tier_floor({flag: True})
    assert floor == RiskTier.HIGH
    assert reasons == (next(f.label for f in IMPACT_FLAGS if f.field == flag),)


@pytest.mark.parametrize("flag", MEDIUM_FLAGS)
def test_each_medium_flag_makes_the_tier_medium(flag):
    assert tier_floor({flag: True})[0] == RiskTier.MEDIUM


def test_high_flags_win_over_medium_and_all_of_them_are_reasons():
    floor, reasons = tier_floor({"merges_records": True, "uses_ai": True, "assigns_ownership": True})
    assert floor == RiskTier.HIGH
    assert len(reasons) == 2


def test_raise_by_hand_goes_above_the_floor():
    derivation = derive_tier({"assigns_ownership": True}, override="high")
    assert derivation.floor == RiskTier.MEDIUM
    assert derivation.tier == RiskTier.HIGH
    assert derivation.raised_by_hand


def test_an_override_below_the_floor_never_lowers_the_tier():
    derivation = derive_tier({"uses_ai": True}, override="low")
    assert derivation.tier == RiskTier.HIGH
    assert not derivation.raised_by_hand


def test_controls_accumulate_with_the_tier():
    low = derive_tier({}).controls
    high = derive_tier({"uses_ai": True}).controls
    assert [c for _, c in low] == ["A named owner", "A suppression rule for its alerts"]
    assert {tier for tier, _ in high} == {RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH}
    assert any("Human approval" in c for _, c in high)


flags_strategy = st.fixed_dictionaries({field: st.booleans() for field in IMPACT_FLAG_FIELDS})
override_strategy = st.sampled_from(["", "low", "medium", "high"])


@given(flags=flags_strategy, override=override_strategy)
def test_tier_is_never_below_the_floor_and_only_rises_by_override(flags, override):
    derivation = derive_tier(flags, override)
    assert TIER_RANK[derivation.tier] >= TIER_RANK[derivation.floor]
    if derivation.tier != derivation.floor:
        assert derivation.raised_by_hand and derivation.tier == RiskTier(override)


class TestSqlTierMatchesPython(HypothesisTestCase):
    """Filters and sorting use the generated columns; the card uses Python. Both come from IMPACT_FLAGS."""

    @settings(max_examples=40, deadline=None)
    @given(flags=flags_strategy, override=override_strategy, cadence=st.sampled_from([None, *ReviewCadence.values]))
    def test_generated_columns_agree_with_python_derivation(self, flags, override, cadence):
        automation = AutomationFactory(risk_tier_override=override, review_cadence=cadence, **flags)
        annotated = automation_queryset().get(pk=automation.pk)
        assert annotated.risk_tier_rank == TIER_RANK[derive_tier(flags, override).tier]
        assert annotated.risk_floor_rank == TIER_RANK[derive_tier(flags, override).floor]
        assert annotated.review_cadence_days == int(annotated.effective_review_cadence)
        Automation.objects.filter(pk=automation.pk).delete()
