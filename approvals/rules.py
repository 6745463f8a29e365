"""The approver rule by tier (issue 15 §2), in one place: who must approve a packet before it counts.

| tier   | needs                                   |
|--------|-----------------------------------------|
| low    | 1 approver, a manager or a RevOps admin |
| medium | 1 manager                               |
| high   | 2 distinct approvers, at least 1 manager|

A "manager" is a member of the Manager role group: a RevOps admin is an approver but not a
manager (high risk means "human approval required", and the guide's approvers are the business
side's managers). The submitter's and the rule owner's approvals never count, at any tier.

The rule is evaluated against the tier the automation has *now*: raise the tier after an approval
and the approval no longer counts until the new rule is met (`gates.approved_packet`).

Reads `packet.reviews.all()`, `reviewer.groups.all()` and `packet.automation`: prefetch them
(`REVIEWS_PREFETCH`) and the rule costs no further query.
"""

from dataclasses import dataclass

from django.db.models import Prefetch

from registry.choices import RiskTier
from revops_gov.roles import Role

from .choices import Verdict
from .models import ApprovalPacket, PacketReview


@dataclass(frozen=True)
class ApproverRule:
    tier: RiskTier
    approvers: int
    managers: int

    @property
    def text(self) -> str:
        """What the rule needs, in the words of the packet page: "2 approvers incl. a manager"."""
        if self.managers == 0:
            return f"{_count(self.approvers, 'approver')} (a manager or an admin)"
        if self.approvers == self.managers:
            return _count(self.managers, "manager")
        return f"{_count(self.approvers, 'approver')} incl. {_article(self.managers, 'manager')}"

    def __str__(self) -> str:
        return self.text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _article(n: int, noun: str) -> str:
    return f"a {noun}" if n == 1 else _count(n, noun)


RULES = {
    RiskTier.LOW: ApproverRule(RiskTier.LOW, approvers=1, managers=0),
    RiskTier.MEDIUM: ApproverRule(RiskTier.MEDIUM, approvers=1, managers=1),
    RiskTier.HIGH: ApproverRule(RiskTier.HIGH, approvers=2, managers=1),
}


def approver_rule(tier: str) -> ApproverRule:
    """The approver rule of a risk tier."""
    return RULES[RiskTier(tier)]


def is_manager(user) -> bool:
    """Member of the Manager role group (reads `user.groups.all()`: prefetch it for many)."""
    return any(group.name == Role.MANAGER.label for group in user.groups.all())


@dataclass(frozen=True)
class RuleStatus:
    """Where a packet stands against its tier's rule: what it needs, what it has, whether it is met."""

    rule: ApproverRule
    approvers: tuple  # the distinct reviewers whose approval counts, in review order
    managers: int

    @property
    def met(self) -> bool:
        return len(self.approvers) >= self.rule.approvers and self.managers >= self.rule.managers

    @property
    def needs(self) -> str:
        return self.rule.text

    @property
    def missing_managers(self) -> int:
        return max(self.rule.managers - self.managers, 0)

    @property
    def missing_approvers(self) -> int:
        return max(self.rule.approvers - len(self.approvers), 0)

    @property
    def has(self) -> str:
        """ "1 (no manager yet)", "2 incl. a manager", "0"."""
        n = len(self.approvers)
        if self.rule.managers and n:
            if self.missing_managers:
                return f"{n} (no manager yet)" if not self.managers else f"{n} ({_count(self.managers, 'manager')})"
            if n > self.managers:
                return f"{n} incl. {_article(self.managers, 'manager')}"
            return _count(n, "manager")
        return str(n)

    @property
    def text(self) -> str:
        return f"needs: {self.needs} — has: {self.has}"

    def as_dict(self) -> dict:
        return {"tier": self.rule.tier.value, "needs": self.needs, "has": self.has, "met": self.met}


def counted_approvers(packet: ApprovalPacket) -> list:
    """The distinct reviewers who approved this packet version, without the submitter and the
    automation's rule owner (their approvals never count)."""
    excluded = {packet.submitted_by_id, packet.automation.rule_owner_id} - {None}
    seen, approvers = set(), []
    for review in sorted(packet.reviews.all(), key=lambda r: (r.created_at, r.pk)):
        if review.verdict != Verdict.APPROVE or review.reviewer_id in excluded or review.reviewer_id in seen:
            continue
        seen.add(review.reviewer_id)
        approvers.append(review.reviewer)
    return approvers


def rule_status(packet: ApprovalPacket, *, tier: str | None = None) -> RuleStatus:
    """The packet's approvals against the rule of `tier` (default: the automation's current tier)."""
    rule = approver_rule(tier or packet.automation.risk_tier)
    approvers = counted_approvers(packet)
    return RuleStatus(rule=rule, approvers=tuple(approvers), managers=sum(1 for u in approvers if is_manager(u)))


def approval_refusal(packet: ApprovalPacket, *, by, tier: str | None = None) -> str | None:
    """Why an approval by `by` could not help meet the rule (None: it can). A non-manager may
    not take the last approver place while a manager is still missing."""
    status = rule_status(packet, tier=tier)
    if status.met or is_manager(by) or not status.missing_managers:
        return None
    if status.missing_approvers > status.missing_managers:
        return None
    tier = status.rule.tier
    return (
        f"A {tier.label.lower()}-tier packet needs a manager among its approvers "
        f"(needs: {status.needs} — has: {status.has}); a manager must approve it."
    )


# What the rule reads, for a packet queryset: reviews with their reviewers and the reviewers' groups.
REVIEWS_PREFETCH = (
    Prefetch("reviews", queryset=PacketReview.objects.select_related("reviewer").order_by("created_at", "pk")),
    "reviews__reviewer__groups",
)
