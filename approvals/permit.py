"""The permit check: may this automation run now, and in which mode?

`permit_for()` is the one rule, used by the permit endpoint and by anything that must refuse work
for an automation that may not run (decision requests, for one). It reads registry state only
(lifecycle status, open holds); approvals never imports health — health places registry holds.
"""

from dataclasses import dataclass

from registry.choices import LifecycleStatus, RiskTier
from registry.models import Automation


@dataclass(frozen=True)
class Permit:
    key: str
    mode: str  # "live" | "shadow" | "blocked"
    reasons: tuple[str, ...]
    requires_human_decision: bool
    risk_tier: str
    version: int

    @property
    def allowed(self) -> bool:
        return self.mode != "blocked"


NOT_YET = {
    LifecycleStatus.PROPOSED: "Proposed: it has not been designed or approved yet",
    LifecycleStatus.IN_DESIGN: "In design: it needs an approved packet before it may run",
    LifecycleStatus.APPROVED: "Approved, but not yet moved to shadow or live",
    LifecycleStatus.PAUSED: "Paused",
    LifecycleStatus.RETIRED: "Retired: it must never run again",
}


def permit_for(automation: Automation) -> Permit:
    """Every reason the automation may not run, not just the first; none means it may, in the
    mode its status says. Uses `automation.holds` (prefetch it for many)."""
    reasons = []
    status = LifecycleStatus(automation.status)
    if status in NOT_YET:
        reasons.append(NOT_YET[status])
    for hold in automation.holds.all():
        if hold.is_open:
            reasons.append(f"On hold since {hold.opened_at:%Y-%m-%d %H:%M} ({hold.source}): {hold.reason}")
    mode = "blocked" if reasons else ("shadow" if status == LifecycleStatus.SHADOW else "live")
    tier = automation.risk_tier
    return Permit(
        key=automation.key,
        mode=mode,
        reasons=tuple(reasons),
        requires_human_decision=tier == RiskTier.HIGH,
        risk_tier=tier.value,
        version=automation.version,
    )
