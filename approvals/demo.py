"""Demo approvals: every automation that runs has the approved packet that lets it run, shadow
automations have their readiness, test plan and shadow runs, and one new high-tier packet waits
for the managers. Idempotent: automations that already have packets are left alone."""

from datetime import timedelta

from django.utils import timezone

from registry.choices import APPROVED_STATUSES, LifecycleStatus
from registry.models import Automation
from revops_gov.models import User

from . import rules, services
from .choices import PacketState, TestKind, TrainingStep
from .models import ApprovalPacket

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
        "exception_path": automation.exception_path
        or "Records the rule cannot place go to the RevOps exception queue, reviewed daily by the exception owner.",
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


def load(*, stdout=None) -> int:
    people = {u.username: u for u in User.objects.filter(username__in=("alex", "jordan", *MANAGERS))}
    if "alex" not in people:
        return 0
    admin = people["alex"]
    with_packets = set(ApprovalPacket.objects.values_list("automation_id", flat=True).distinct())
    created = 0
    for automation in Automation.objects.exclude(pk__in=with_packets).select_related("rule_owner", "system_owner"):
        runner = automation.system_owner or admin
        if automation.status in APPROVED_STATUSES:
            draft = services.packet_create_draft(automation=automation, by=admin)
            draft = services.packet_update(packet=draft, by=admin, **_sections(automation, runner))
            packet = services.packet_submit(packet=draft, by=admin)
            _approve(packet, people)
            created += 1
        if automation.status == LifecycleStatus.SHADOW:
            _shadow(automation, admin)
    waiting = (
        Automation.objects.filter(status=LifecycleStatus.IN_DESIGN, risk_tier_rank=3)
        .exclude(pk__in=with_packets)
        .exclude(packets__state=PacketState.SUBMITTED)
        .first()
    )
    if waiting:
        draft = services.packet_create_draft(automation=waiting, by=admin)
        draft = services.packet_update(packet=draft, by=admin, **_sections(waiting, admin))
        services.packet_submit(packet=draft, by=admin)
        created += 1
    from .decisions import demo as decisions_demo

    return created + decisions_demo.load(stdout=stdout)


def _shadow(automation: Automation, admin: User) -> None:
    """Ready, tested and two weeks of shadow runs at about 97 % agreement."""
    for item in ("audit_trail", "users_understand", "reporting_impact", *TrainingStep.values):
        services.readiness_tick(automation=automation, item=item, note="Confirmed in the launch review", by=admin)
    for kind, (description, expected) in TEST_CASES.items():
        case = services.test_case_save(
            automation=automation, by=admin, kind=kind, description=description, expected=expected
        )
        services.test_case_run(case=case, by=admin, passed=True, actual=expected)
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
