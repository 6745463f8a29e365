"""Risk tier: derived from an automation's impact flags, raised by hand, never lowered.

The guide's risk-based design: low-risk automations create reminders or suggestions; medium ones
assign ownership, update non-critical fields or trigger internal tasks; high ones affect customers,
forecast, pricing, strategic ownership or revenue recognition (and the human-in-the-loop list).
`IMPACT_FLAGS` is the one table both the Python derivation (one automation, with its reasons) and
the SQL expressions (generated columns on Automation, for filtering and sorting) are built from.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import Case, PositiveSmallIntegerField, Q, Value, When
from django.db.models.functions import Coalesce

from .choices import TIER_RANK, RiskTier


@dataclass(frozen=True)
class ImpactFlag:
    field: str
    label: str
    tier: RiskTier


IMPACT_FLAGS: tuple[ImpactFlag, ...] = (
    ImpactFlag("affects_customer_communication", "Sends or changes customer-facing communication", RiskTier.HIGH),
    ImpactFlag("affects_forecast_or_board_metrics", "Changes forecast category or board-facing metrics", RiskTier.HIGH),
    ImpactFlag("reassigns_strategic_ownership", "Reassigns a strategic account or active opportunity", RiskTier.HIGH),
    ImpactFlag("triggers_pricing_workflow", "Triggers a pricing, discount or contract workflow", RiskTier.HIGH),
    ImpactFlag("affects_revenue_recognition", "Affects revenue recognition", RiskTier.HIGH),
    ImpactFlag("merges_records", "Merges records where account history may be affected", RiskTier.HIGH),
    ImpactFlag(
        "flags_churn_in_exec_reporting", "Flags a customer for churn risk in executive reporting", RiskTier.HIGH
    ),
    ImpactFlag("creates_expansion_pipeline", "Creates expansion pipeline from a customer signal", RiskTier.HIGH),
    ImpactFlag("uses_ai", "Uses AI to prepare or take the action", RiskTier.HIGH),
    ImpactFlag("assigns_ownership", "Assigns ownership of records", RiskTier.MEDIUM),
    ImpactFlag("updates_noncritical_fields", "Updates non-critical fields", RiskTier.MEDIUM),
    ImpactFlag("creates_internal_tasks", "Triggers internal tasks", RiskTier.MEDIUM),
)
IMPACT_FLAG_FIELDS = tuple(flag.field for flag in IMPACT_FLAGS)

LOW_TIER_REASON = "Creates reminders or suggestions only (no impact flag set)"

CONTROLS_BY_TIER: dict[RiskTier, tuple[str, ...]] = {
    RiskTier.LOW: ("A named owner", "A suppression rule for its alerts"),
    RiskTier.MEDIUM: ("An exception path with an owner", "An audit log of what it changed and of overrides"),
    RiskTier.HIGH: (
        "Human approval: an approved packet before launch, and high-impact outputs go through the decision queue",
    ),
}


@dataclass(frozen=True)
class TierDerivation:
    floor: RiskTier
    tier: RiskTier
    reasons: tuple[str, ...]
    raised_by_hand: bool

    @property
    def controls(self) -> list[tuple[RiskTier, str]]:
        """Controls the tier requires; they accumulate as risk rises ("more approval and logging")."""
        return [
            (tier, control)
            for tier in (RiskTier.LOW, RiskTier.MEDIUM, RiskTier.HIGH)
            if TIER_RANK[tier] <= TIER_RANK[self.tier]
            for control in CONTROLS_BY_TIER[tier]
        ]


def tier_floor(flags: Mapping[str, bool]) -> tuple[RiskTier, tuple[str, ...]]:
    """The lowest tier the impact flags allow, and the flags that put it there."""
    for tier in (RiskTier.HIGH, RiskTier.MEDIUM):
        reasons = tuple(flag.label for flag in IMPACT_FLAGS if flag.tier == tier and flags.get(flag.field))
        if reasons:
            return tier, reasons
    return RiskTier.LOW, (LOW_TIER_REASON,)


def derive_tier(flags: Mapping[str, bool], override: str = "") -> TierDerivation:
    floor, reasons = tier_floor(flags)
    tier = floor
    raised = bool(override) and TIER_RANK[RiskTier(override)] > TIER_RANK[floor]
    if raised:
        tier = RiskTier(override)
    return TierDerivation(floor=floor, tier=tier, reasons=reasons, raised_by_hand=raised)


def _any_flag(tier: RiskTier) -> Q:
    q = Q()
    for flag in IMPACT_FLAGS:
        if flag.tier == tier:
            q |= Q(**{flag.field: True})
    return q


def _at_least(tier: RiskTier) -> Q:
    """SQL condition: the effective tier is at least `tier` (a flag of that tier, or raised to it)."""
    return _any_flag(tier) | Q(risk_tier_override=tier.value)


def floor_rank_expression():
    """SQL for the derived tier's rank (1 low … 3 high), from the flags alone."""
    return Case(
        When(_any_flag(RiskTier.HIGH), then=Value(TIER_RANK[RiskTier.HIGH])),
        When(_any_flag(RiskTier.MEDIUM), then=Value(TIER_RANK[RiskTier.MEDIUM])),
        default=Value(TIER_RANK[RiskTier.LOW]),
        output_field=PositiveSmallIntegerField(),
    )


def tier_rank_expression():
    """SQL for the effective tier's rank: the floor, or the hand-raised tier when higher."""
    return Case(
        When(_at_least(RiskTier.HIGH), then=Value(TIER_RANK[RiskTier.HIGH])),
        When(_at_least(RiskTier.MEDIUM), then=Value(TIER_RANK[RiskTier.MEDIUM])),
        default=Value(TIER_RANK[RiskTier.LOW]),
        output_field=PositiveSmallIntegerField(),
    )


def cadence_days_expression():
    """SQL for the review cadence in days: set by hand, or the default for the effective tier."""
    from .choices import DEFAULT_CADENCE_BY_TIER

    return Coalesce(
        "review_cadence",
        Case(
            When(_at_least(RiskTier.HIGH), then=Value(int(DEFAULT_CADENCE_BY_TIER[RiskTier.HIGH]))),
            When(_at_least(RiskTier.MEDIUM), then=Value(int(DEFAULT_CADENCE_BY_TIER[RiskTier.MEDIUM]))),
            default=Value(int(DEFAULT_CADENCE_BY_TIER[RiskTier.LOW])),
        ),
        output_field=PositiveSmallIntegerField(),
    )
