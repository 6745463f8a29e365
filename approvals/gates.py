"""The derived facts of approvals, computed in one place and shown with their reasons: the
readiness checklist, the test plan, the shadow agreement, the launch plan and every lifecycle
move's gate."""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Q

from registry.choices import DataFieldStatus, LifecycleStatus, RiskTier
from registry.models import Automation
from registry.review import POST_LAUNCH_REVIEW_AFTER

from . import rules
from .choices import PacketState, ReadinessItem, TestKind, TrainingStep
from .models import ApprovalPacket, ShadowObservation

S = LifecycleStatus

# Which moves exist at all; each one's gate says whether it is allowed now.
MOVES: dict[str, tuple[str, ...]] = {
    S.PROPOSED: (S.IN_DESIGN, S.RETIRED),
    S.IN_DESIGN: (S.APPROVED, S.RETIRED),
    S.APPROVED: (S.SHADOW, S.LIVE, S.IN_DESIGN, S.RETIRED),
    S.SHADOW: (S.LIVE, S.PAUSED, S.IN_DESIGN, S.RETIRED),
    S.LIVE: (S.PAUSED, S.RETIRED),
    S.PAUSED: (S.LIVE, S.IN_DESIGN, S.RETIRED),
    S.RETIRED: (),
    # Found running in the CRM (discovery): adopted into design, or recorded retired in the CRM.
    S.DISCOVERED: (S.IN_DESIGN, S.RETIRED),
}
NEEDS_REASON = (S.PAUSED, S.RETIRED)


@dataclass(frozen=True)
class Check:
    label: str
    met: bool
    detail: str = ""


@dataclass
class Gate:
    to: str
    checks: list[Check] = field(default_factory=list)

    @property
    def unmet(self) -> list[str]:
        return [f"{c.label}: {c.detail}" if c.detail else c.label for c in self.checks if not c.met]

    @property
    def open(self) -> bool:
        return not self.unmet

    @property
    def label(self) -> str:
        return LifecycleStatus(self.to).label


@dataclass(frozen=True)
class Agreement:
    decisions: int
    agreed: int
    bar: float
    minimum: int

    @property
    def rate(self) -> float | None:
        return self.agreed / self.decisions if self.decisions else None

    @property
    def meets_bar(self) -> bool:
        return self.decisions >= self.minimum and (self.rate or 0) >= self.bar

    @property
    def explanation(self) -> str:
        if not self.decisions:
            return f"no shadow decisions recorded yet (needs at least {self.minimum} at {self.bar:.0%})"
        return (
            f"{self.rate:.1%} agreement over {self.decisions} decisions "
            f"(needs at least {self.minimum} decisions at {self.bar:.0%})"
        )


def shadow_agreement(automation: Automation, *, recorded_before=None) -> Agreement:
    """Agreement of the current version's shadow runs with the humans (one aggregate query);
    `recorded_before`: only those recorded by then (what a move into live saw)."""
    observations = ShadowObservation.objects.filter(automation=automation, automation_version=automation.version)
    if recorded_before is not None:
        observations = observations.filter(created_at__lte=recorded_before)
    row = observations.aggregate(n=Count("pk"), agreed=Count("pk", filter=Q(agreed=True)))
    return Agreement(
        decisions=row["n"],
        agreed=row["agreed"],
        bar=settings.REVOPS["SHADOW_AGREEMENT_BAR"],
        minimum=settings.REVOPS["SHADOW_MIN_DECISIONS"],
    )


def approved_packet(automation: Automation) -> ApprovalPacket | None:
    """The approved packet covering the automation's current version, if its approvals meet the
    approver rule of the automation's current tier (a tier raised after the approval voids it
    until the new rule is met). One query for the packet, two for its reviews and their groups."""
    packet = latest_approved_packet(automation)
    if packet is None or not rules.rule_status(packet, tier=automation.risk_tier).met:
        return None
    return packet


def latest_approved_packet(automation: Automation) -> ApprovalPacket | None:
    """The latest packet approved for the current version, whatever its approvals now meet (the
    packet page says what the current tier's rule is missing), with what the rule reads."""
    packet = (
        ApprovalPacket.objects.filter(
            automation=automation, state=PacketState.APPROVED, automation_version=automation.version
        )
        .prefetch_related(*rules.REVIEWS_PREFETCH)
        .order_by("-number")
        .first()
    )
    if packet is not None:
        packet.automation = automation
    return packet


def plan_cases(automation: Automation) -> list:
    """The automation's test cases, each with its run history (2 queries; none when the caller
    prefetched `test_cases` with `TestCase.objects.with_runs()`)."""
    cached = getattr(automation, "_prefetched_objects_cache", {}).get("test_cases")
    if cached is not None and all(hasattr(c, "run_history") for c in cached):
        return list(cached)
    return list(automation.test_cases.with_runs())


def test_plan(automation: Automation) -> list[Check]:
    """Each kind of the guide's test plan: at least one case, and every case's latest run against
    the automation's current registry version passed. Evidence gathered for an earlier version
    never counts for a later one: after a material change every case is run again."""
    version = automation.version
    latest = [(c, c.latest_run(version)) for c in plan_cases(automation)]
    checks = []
    for kind in TestKind:
        of_kind = [(c, run) for c, run in latest if c.kind == kind]
        not_run = [c for c, run in of_kind if run is None]
        failed = [c for c, run in of_kind if run is not None and not run.passed]
        if not of_kind:
            checks.append(Check(kind.label, False, "no case written"))
        elif failed:
            checks.append(Check(kind.label, False, f"{len(failed)} of {len(of_kind)} failed at version {version}"))
        elif not_run:
            checks.append(Check(kind.label, False, f"{len(not_run)} of {len(of_kind)} not run for version {version}"))
        else:
            checks.append(Check(kind.label, True, f"{len(of_kind)} passed at version {version}"))
    return checks


test_plan.__test__ = False  # a function of the product, not a pytest test


def readiness(automation: Automation) -> list[Check]:
    """The guide's readiness checklist: computed where data proves it, ticked by a person otherwise."""
    ticks = {t.item: t for t in automation.readiness_ticks.all()}
    fields = list(automation.data_fields.all())

    def ticked(item):
        tick = ticks.get(item)
        if tick is None:
            return Check(item.label, False, "not ticked yet")
        if tick.automation_version != automation.version:
            # Evidence for an earlier version never counts for a later one.
            return Check(
                item.label,
                False,
                f"ticked for version {tick.automation_version}; confirm it again for version {automation.version}",
            )
        return Check(item.label, True, f"ticked by {tick.ticked_by}: {tick.note}")

    untrusted = [f.qualified_name for f in fields if f.status != DataFieldStatus.TRUSTED]
    tests = test_plan(automation)
    return [
        Check(
            ReadinessItem.RULE_DOCUMENTED.label,
            bool(automation.rule.strip() and automation.trigger.strip()),
            "rule and trigger written in the registry" if automation.rule.strip() else "the rule is not written",
        ),
        Check(
            ReadinessItem.DATA_SOURCE_TRUSTED.label,
            bool(fields) and not untrusted,
            (f"not trusted: {', '.join(untrusted)}" if untrusted else f"{len(fields)} trusted fields")
            if fields
            else "no data fields linked",
        ),
        Check(
            ReadinessItem.OWNER_NAMED.label,
            bool(automation.rule_owner_id and automation.failure_owner_id),
            "rule and failure owner named" if automation.rule_owner_id else "no rule owner",
        ),
        Check(
            ReadinessItem.EXCEPTION_PATH.label,
            bool(automation.exception_path.strip() and automation.exception_owner_id),
            "written, with an exception owner" if automation.exception_path.strip() else "not written",
        ),
        Check(
            ReadinessItem.TEST_CASES.label,
            all(c.met for c in tests),
            f"{sum(c.met for c in tests)} of {len(tests)} test kinds passed",
        ),
        ticked(ReadinessItem.AUDIT_TRAIL),
        ticked(ReadinessItem.USERS_UNDERSTAND),
        ticked(ReadinessItem.REPORTING_IMPACT),
        Check(
            ReadinessItem.REVIEW_CADENCE.label,
            True,
            f"{automation.effective_review_cadence.label.lower()}",
        ),
    ]


MANUAL_ITEMS = (ReadinessItem.AUDIT_TRAIL, ReadinessItem.USERS_UNDERSTAND, ReadinessItem.REPORTING_IMPACT)


def post_launch_review(automation: Automation) -> Check:
    """The guide's "review after two weeks": met only by a review recorded at least 14 days after
    the current launch (`went_live_at`); a review before a re-launch, or too early, does not count.
    `last_reviewed_at` is the latest recorded review (registry.services.automation_mark_reviewed)."""
    label = "Review after two weeks"
    if not automation.went_live_at:
        return Check(label, False, "not live yet")
    due_at = automation.went_live_at + POST_LAUNCH_REVIEW_AFTER
    reviewed_at = automation.last_reviewed_at
    if reviewed_at and reviewed_at >= due_at:
        return Check(label, True, f"reviewed on {reviewed_at:%Y-%m-%d}")
    return Check(label, False, f"due on {due_at:%Y-%m-%d} (went live {automation.went_live_at:%Y-%m-%d})")


def launch_plan(automation: Automation) -> list[Check]:
    """Where the automation stands in the guide's launch sequence and change management."""
    checks = readiness(automation)
    by_label = {c.label: c for c in checks}
    ticks = {t.item for t in automation.readiness_ticks.all()}
    moves = {m.to_status for m in automation.lifecycle_moves.all()}
    training = [Check(step.label, step in ticks, "" if step in ticks else "not done") for step in TrainingStep]
    status = automation.status
    return [
        by_label[ReadinessItem.RULE_DOCUMENTED.label],
        Check(
            "Confirm the data source",
            by_label[ReadinessItem.DATA_SOURCE_TRUSTED.label].met,
            by_label[ReadinessItem.DATA_SOURCE_TRUSTED.label].detail,
        ),
        Check(
            "Test normal and edge cases",
            by_label[ReadinessItem.TEST_CASES.label].met,
            by_label[ReadinessItem.TEST_CASES.label].detail,
        ),
        Check("Run in shadow mode", S.SHADOW in moves or status == S.SHADOW, shadow_agreement(automation).explanation),
        Check(
            "Train users",
            all(c.met for c in training),
            "; ".join(f"{c.label}: {'done' if c.met else 'not done'}" for c in training),
        ),
        Check("Launch with monitoring", S.LIVE in moves or status == S.LIVE),
        post_launch_review(automation),
    ]


def requirements(automation: Automation, status: str, *, standing: bool = False) -> list[Check]:
    """What being in `status` demands of the automation's current version: the one statement of the
    invariant. A move's gate checks it before the move (with who may move and why, and no open
    hold); `invariant_violations` checks it of every automation as it stands.

    - approved, shadow, live: an approved packet of the current version meeting the approver
      rule of the current tier;
    - shadow, live: the readiness checklist complete and the test plan passed for that version;
    - live: the shadow bar met for that version, or the low-tier exemption (no shadow run at all).

    `standing`: of an automation already there, the evidence only (packet, ticks, test plan, shadow
    runs, all of its version). What the registry documents (owners, exception path, trusted data)
    is checked at every move; its later loss is a health finding, not an undone launch."""
    status = LifecycleStatus(status)
    checks = []
    if status in (S.APPROVED, S.SHADOW, S.LIVE):
        packet = approved_packet(automation)
        checks.append(
            Check(
                f"An approved packet for version {automation.version}",
                packet is not None,
                f"packet v{packet.number}" if packet else "no packet approved for the current version",
            )
        )
    if status in (S.SHADOW, S.LIVE):
        items = readiness(automation)
        if standing:
            evidence = {str(i.label) for i in (*MANUAL_ITEMS, ReadinessItem.TEST_CASES)}
            items = [c for c in items if c.label in evidence]
        missing = [c.label for c in items if not c.met]
        checks.append(
            Check("Readiness checklist complete", not missing, f"missing: {', '.join(missing)}" if missing else "")
        )
        tests = test_plan(automation)
        failing = [f"{c.label} ({c.detail})" for c in tests if not c.met]
        checks.append(
            Check("Test plan complete and passed", not failing, f"missing: {', '.join(failing)}" if failing else "")
        )
    if status == S.LIVE:
        went_live = None
        if standing:
            # As it stands, live was entered by its last move there: judged on what that move saw.
            move = automation.lifecycle_moves.filter(to_status=S.LIVE).order_by("-created_at", "-pk").first()
            went_live = move.created_at if move else None
        agreement = shadow_agreement(automation, recorded_before=went_live)
        if automation.risk_tier == RiskTier.LOW and not agreement.decisions:
            # The guide's exemption: a low-tier automation may skip shadow mode; one that ran in
            # shadow for this version is held to what its shadow runs showed.
            checks.append(Check("Shadow period", True, "optional for low tier"))
        else:
            checks.append(
                Check(
                    "Shadow agreement meets the bar",
                    agreement.meets_bar,
                    f"version {automation.version}: {agreement.explanation}",
                )
            )
    return checks


def gate(automation: Automation, to: str, *, by=None, reason: str | None = None) -> Gate:
    """Every condition of one move, met or not. `by` adds who-may-move; `reason` is checked unless None
    (a page shows the gate before anyone has written a reason)."""
    from revops_gov.roles import can_govern

    current = LifecycleStatus(automation.status)
    to = LifecycleStatus(to)
    result = Gate(to=to)
    checks = result.checks
    allowed = MOVES[current]
    if to not in allowed:
        if current == S.RETIRED:
            detail = "retired is final"
        else:
            detail = f"from {current.label.lower()} it can move to {', '.join(s.label.lower() for s in allowed)}"
        checks.append(Check(f"{current.label} cannot move to {to.label.lower()}", False, detail))
        return result
    if by is not None:
        may = can_govern(by) or (to == S.PAUSED and automation.failure_owner_id == by.pk)
        checks.append(
            Check("Who may move it", may, "" if may else "only RevOps admins (and the failure owner, to pause)")
        )
    if to in NEEDS_REASON and reason is not None:
        checks.append(Check("A reason is given", bool((reason or "").strip()), "say why; it is kept in the history"))
    checks.extend(requirements(automation, to))
    if to in (S.SHADOW, S.LIVE):
        holds = list(automation.holds.filter(released_at__isnull=True).values_list("reason", flat=True))
        checks.append(
            Check("No open hold", not holds, f"held: {'; '.join(holds)}; release the hold first" if holds else "")
        )
    return result


def next_moves(automation: Automation, *, by=None) -> list[Gate]:
    return [gate(automation, to, by=by) for to in MOVES[automation.status]]
