"""The review cadence's floor by risk tier: a high-tier automation is reviewed at least every 30
days (the guide: "review automation health monthly"), a medium one every 90, a low one every 180
(settings REVOPS["REVIEW_CADENCE_MAX_DAYS"]). A cadence set by hand may be shorter, never longer.
One rule, `cadence_refusal`, called by Automation.clean() — so the forms, the API and the CSV
import refuse a longer one with the same message — and by the data migration that brought
existing rows down."""

from django.conf import settings
from django.core import checks

from .choices import DEFAULT_CADENCE_BY_TIER, ReviewCadence, RiskTier


def max_days(tier: RiskTier) -> int:
    return int(settings.REVOPS["REVIEW_CADENCE_MAX_DAYS"][RiskTier(tier).value])


def longest_allowed(tier: RiskTier) -> ReviewCadence:
    """The longest cadence a tier allows (a tier's default is always allowed: see the check)."""
    return max((c for c in ReviewCadence if int(c) <= max_days(tier)), key=int)


def cadence_refusal(tier: RiskTier, cadence: int | None) -> str | None:
    """Why this cadence is too long for the tier, or None. Empty follows the tier's default."""
    if not cadence or int(cadence) <= max_days(tier):
        return None
    label = ReviewCadence(cadence).label.lower() if cadence in ReviewCadence.values else f"every {cadence} days"
    allowed = ", ".join(c.label.lower() for c in ReviewCadence if int(c) <= max_days(tier))
    return (
        f"A {RiskTier(tier).label.lower()}-tier automation is reviewed at least every {max_days(tier)} days; "
        f"{label} ({int(cadence)} days) is too long. Choose {allowed}, or leave it empty to follow the tier."
    )


@checks.register(checks.Tags.compatibility)
def check_cadence_floor(app_configs=None, **kwargs):
    """Each tier's default cadence must be within its floor (REVOPS["REVIEW_CADENCE_MAX_DAYS"])."""
    errors = []
    limits = settings.REVOPS.get("REVIEW_CADENCE_MAX_DAYS", {})
    for tier in RiskTier:
        if tier.value not in limits:
            errors.append(
                checks.Error(f"REVOPS['REVIEW_CADENCE_MAX_DAYS'] has no {tier.value} tier.", id="registry.E001")
            )
        elif int(DEFAULT_CADENCE_BY_TIER[tier]) > int(limits[tier.value]):
            errors.append(
                checks.Error(
                    f"The {tier.value} tier's review cadence floor ({limits[tier.value]} days) is shorter than its "
                    f"default cadence ({DEFAULT_CADENCE_BY_TIER[tier].label.lower()}, "
                    f"{int(DEFAULT_CADENCE_BY_TIER[tier])} days).",
                    hint="Raise REVOPS_REVIEW_CADENCE_MAX_DAYS_" + tier.value.upper() + ".",
                    id="registry.E002",
                )
            )
    return errors
