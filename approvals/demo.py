"""Demo approvals: every automation that runs has the approved packet that lets it run, shadow
automations have their readiness, test plan and shadow runs, and one new high-tier packet waits
for the managers. Idempotent: automations that already have packets are left alone."""

from datetime import timedelta

from django.utils import timezone

from registry import services as registry_services
from registry.choices import DataFieldStatus, LifecycleStatus, RiskTier
from registry.models import Automation, DataField
from revops_gov.models import User

from . import rules, services
from .choices import PacketState, TestKind, TrainingStep
from .models import ApprovalPacket

S = LifecycleStatus
DEFAULT_EXCEPTION_PATH = (
    "Records the rule cannot place go to the RevOps exception queue, reviewed daily by the exception owner."
)
MANAGERS = ("morgan", "maria", "priya", "frank")

TEST_CASES = {
    TestKind.COMMON: ("A typical record from the main segment.", "The expected owner or task, within the SLA."),
    TestKind.EDGE: ("A record with no country and a personal email domain.", "Goes to the RevOps exception queue."),
    TestKind.BAD_DATA: ("A record whose key field is empty or stale.", "Skipped and logged, no change made."),
    TestKind.PERMISSION: ("Run as the integration user with read-only access.", "Refused and reported."),
    TestKind.ROLLBACK: ("Turn the automation off mid-run.", "No partial updates; the runbook restores owners."),
    TestKind.NOTIFICATION: ("The alert a rep receives.", "Says why, what to do, and how to override."),
    TestKind.REPORTING: ("Pipeline and forecast dashboards after a run.", "No change to board metrics."),
}


def _sections(automation: Automation, runner: User) -> dict:
    return {
        "workflow_step": f"{automation.get_workflow_type_display()}: {automation.business_purpose}",
        "audit_trail": automation.override_log_location or "Field history on the record and the automation run log.",
        "rollback_steps": (
            "1. Deactivate the automation in the CRM. 2. Revert records changed since launch from the run log. "
            "3. Tell the affected team in the RevOps channel."
        ),
        "rollback_runner": runner,
        "exception_path": automation.exception_path or DEFAULT_EXCEPTION_PATH,
        "owner": str(automation.rule_owner or runner),
    }


def _approve(packet: ApprovalPacket, people: dict) -> None:
    automation = packet.automation
    approvers = [
        people[name]
        for name in MANAGERS
        if name in people and people[name].pk not in (automation.rule_owner_id, packet.submitted_by_id)
    ]
    # The demo's approvers are all managers: the first ones the tier's rule asks for meet it.
    for person in approvers[: rules.approver_rule(automation.risk_tier).approvers]:
        services.packet_review(packet=packet, by=person, verdict="approve", comment="Clear rule, owner and rollback.")


# The road from proposed to each status the registry's demo table gives, move by move.
ROADS = {
    S.PROPOSED: (),
    S.IN_DESIGN: (S.IN_DESIGN,),
    S.APPROVED: (S.IN_DESIGN, S.APPROVED),
    S.SHADOW: (S.IN_DESIGN, S.APPROVED, S.SHADOW),
    S.LIVE: (S.IN_DESIGN, S.APPROVED, S.SHADOW, S.LIVE),
    S.PAUSED: (S.IN_DESIGN, S.APPROVED, S.SHADOW, S.LIVE, S.PAUSED),
    S.RETIRED: (S.RETIRED,),
}
WHY = {
    S.IN_DESIGN: "Taken on by RevOps",
    S.APPROVED: "Packet approved",
    S.SHADOW: "Ready and tested: shadow mode",
    S.LIVE: "Shadow agreement met: launched with monitoring",
    S.PAUSED: "Paused while the territory model is rebuilt",
    S.RETIRED: "Replaced by the new routing; retired",
}


def load(*, stdout=None) -> int:
    """Walk every demo automation still proposed to its status in the registry's demo table with
    the real moves: a packet written, submitted and approved; readiness ticked, the test plan run
    and passed, shadow runs agreeing; then the move, through its gate."""
    from registry.demo import AUTOMATIONS

    people = {u.username: u for u in User.objects.filter(username__in=("alex", "jordan", *MANAGERS))}
    if "alex" not in people:
        return 0
    admin = people["alex"]
    targets = {spec["key"]: LifecycleStatus(spec["status"]) for spec in AUTOMATIONS}
    created = 0
    proposed = list(
        Automation.objects.filter(status=S.PROPOSED, key__in=targets, lifecycle_moves__isnull=True)
        .select_related("rule_owner", "system_owner")
        .order_by("key")
    )
    launched = [a for a in proposed if targets[a.key] in (S.SHADOW, S.LIVE, S.PAUSED)]
    # The demo's launched automations have gaps a launch would not allow (a field found unreliable,
    # an owner who left): each is launched as it was then, and the gap opens afterwards.
    doubted = {
        f.pk: f.status
        for f in DataField.objects.filter(automations__in=launched).exclude(status=DataFieldStatus.TRUSTED).distinct()
    }
    for field in DataField.objects.filter(pk__in=doubted):
        registry_services.datafield_update(
            data_field=field, by=admin, reason="Checked at the launch review", status=DataFieldStatus.TRUSTED
        )
    for automation in proposed:
        created += _walk(automation, targets[automation.key], people, admin)
    for field in DataField.objects.filter(pk__in=doubted):
        registry_services.datafield_update(
            data_field=field,
            by=admin,
            reason="Found unreliable after the CRM migration",
            status=doubted[field.pk],
        )
    waiting = (
        Automation.objects.filter(status=S.IN_DESIGN, risk_tier_rank=3, packets__isnull=True)
        .exclude(packets__state=PacketState.SUBMITTED)
        .order_by("key")
        .first()
    )
    if waiting:
        draft = services.packet_create_draft(automation=waiting, by=admin)
        draft = services.packet_update(packet=draft, by=admin, **_sections(waiting, admin))
        services.packet_submit(packet=draft, by=admin)
        created += 1
    from .decisions import demo as decisions_demo

    return created + decisions_demo.load(stdout=stdout)


def _walk(automation: Automation, target: str, people: dict, admin: User) -> int:
    launched = target in (S.SHADOW, S.LIVE, S.PAUSED)
    missing_owners = {}
    if launched:
        missing_owners = {
            role: None for role in ("rule_owner", "failure_owner") if getattr(automation, f"{role}_id") is None
        }
        documented = {
            "exception_path": automation.exception_path or DEFAULT_EXCEPTION_PATH,
            "exception_owner": automation.exception_owner or automation.rule_owner or admin,
        }
        registry_services.automation_update(
            automation=automation,
            by=admin,
            reason="Documented at the launch review",
            **documented,
            **dict.fromkeys(missing_owners, automation.system_owner or admin),
        )
    for to in ROADS[target]:
        automation.refresh_from_db()
        if to == S.APPROVED:
            runner = automation.system_owner or admin
            draft = services.packet_create_draft(automation=automation, by=admin)
            draft = services.packet_update(packet=draft, by=admin, **_sections(automation, runner))
            _approve(services.packet_submit(packet=draft, by=admin), people)
        if to == S.SHADOW:
            _ready(automation, admin)
        if to == S.LIVE and automation.risk_tier != RiskTier.LOW:
            _shadow(automation, admin)
        services.transition(automation=automation, to=to, by=admin, reason=WHY[to])
    if target == S.SHADOW:
        _shadow(automation, admin)  # what shadow mode has gathered so far
    _set_back(automation)
    if missing_owners:
        registry_services.automation_update(
            automation=automation, by=admin, reason="The owner left the team; nobody is named yet", **missing_owners
        )
    return 1 if ROADS[target] else 0


# The demo's story starts months ago: each automation was registered, then moved a week at a time.
STORY_STARTS_DAYS_AGO = 120


def _set_back(automation: Automation) -> None:
    """Date the walk's moves as the story tells them (the moves themselves were made through their
    gates just now): registered STORY_STARTS_DAYS_AGO days ago, one move a week after, so last
    month's health review sees the automations that ran then."""
    start = timezone.now() - timedelta(days=STORY_STARTS_DAYS_AGO)
    Automation.objects.filter(pk=automation.pk).update(created_at=start)
    moves = list(automation.lifecycle_moves.order_by("created_at", "pk"))
    for week, move in enumerate(moves, start=1):
        # A history row is never edited through the model (append-only); the demo dates it once.
        type(move).objects.filter(pk=move.pk).update(created_at=start + timedelta(weeks=week))
        if move.to_status == S.LIVE:
            Automation.objects.filter(pk=automation.pk).update(went_live_at=start + timedelta(weeks=week))


def _ready(automation: Automation, admin: User) -> None:
    """Readiness ticked and every kind of the test plan run and passed."""
    for item in ("audit_trail", "users_understand", "reporting_impact", *TrainingStep.values):
        services.readiness_tick(automation=automation, item=item, note="Confirmed in the launch review", by=admin)
    for kind, (description, expected) in TEST_CASES.items():
        case = services.test_case_save(
            automation=automation, by=admin, kind=kind, description=description, expected=expected
        )
        services.test_case_run(case=case, by=admin, passed=True, actual=expected)


def _shadow(automation: Automation, admin: User) -> None:
    """Two weeks of shadow runs at about 97 % agreement."""
    start = timezone.now() - timedelta(days=14)
    services.shadow_observations_record(
        automation=automation,
        observations=[
            {
                "event_id": f"demo-shadow-{automation.key}-{i}",
                "automation_action": "Assign to the territory owner",
                "human_action": "Assign to the territory owner" if i % 33 else "Kept with the current owner",
                "agreed": bool(i % 33),
                "observed_at": start + timedelta(hours=i * 3),
            }
            for i in range(100)
        ],
        by=admin,
    )
