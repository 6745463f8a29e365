"""The permit check: may this automation run now, and in which mode?

`permit_for()` is the one rule, used by the permit endpoint and by anything that must refuse work
for an automation that may not run (decision requests, for one). It reads registry state
(lifecycle status, open holds) and this app's packets; approvals never imports health — health
places registry holds.

`permit_cached()` is the hot path of the endpoint: the answer is cached under the automation's
registry generation (registry.cache), which every transition, hold, packet decision and registry
edit bumps, so a pause is never answered "live" from the cache.
"""

from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.cache import cache

from registry import cache as registry_cache
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
    if status in (LifecycleStatus.SHADOW, LifecycleStatus.LIVE) and not _has_approved_packet(automation):
        reasons.append(f"No approved packet covers version {automation.version}: it changed since its approval")
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


def _has_approved_packet(automation: Automation) -> bool:
    from .choices import PacketState

    return automation.packets.filter(state=PacketState.APPROVED, automation_version=automation.version).exists()


def _permit_key(automation_key: str, generation: int) -> str:
    return f"approvals:permit:{automation_key}:{generation}"


def permit_cached(automation_key: str) -> tuple[dict, str] | None:
    """The permit answer as a dict and the automation's system (for token scoping), or None when
    no such automation exists. Read from the cache; rebuilt when anything about it changed."""
    generation = registry_cache.automation_generation(automation_key)
    key = _permit_key(automation_key, generation)
    hit = cache.get(key)
    if hit is not None:
        return hit
    automation = Automation.objects.filter(key=automation_key).prefetch_related("holds").first()
    if automation is None:
        return None
    answer = asdict(permit_for(automation))
    answer["reasons"] = list(answer["reasons"])
    hit = (answer, automation.system)
    cache.set(key, hit, settings.REVOPS["PERMIT_CACHE_SECONDS"])
    return hit
