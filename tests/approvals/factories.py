import factory

from approvals.choices import PacketState, ReadinessItem, TestKind, TrainingStep, Verdict
from approvals.models import ApprovalPacket, PacketReview, ReadinessTick, TestCase, TestRun
from approvals.services import draft_sections
from registry.models import Automation
from revops_gov.roles import Role
from tests.factories import UserFactory


class PacketFactory(factory.django.DjangoModelFactory):
    """A complete draft packet; `approved_packet()` gives one that covers the current version."""

    class Meta:
        model = ApprovalPacket

    automation = factory.SubFactory("tests.registry.factories.AutomationFactory")
    number = factory.Sequence(lambda n: n + 1)
    workflow_step = "Lead assignment after a web form."
    trigger = factory.LazyAttribute(lambda p: p.automation.trigger)
    rule = factory.LazyAttribute(lambda p: p.automation.rule)
    # As the registry names the rule owner, so a re-draft (which takes the owner from the registry) keeps it.
    owner = factory.LazyAttribute(lambda p: draft_sections(p.automation, None)["owner"] or "Sales operations")
    exception_path = "Unroutable leads go to the RevOps queue."
    audit_trail = "Lead history and the routing log."
    rollback_steps = "1. Deactivate the flow. 2. Reassign from the log."
    rollback_runner = factory.SubFactory(UserFactory)
    created_by = factory.SelfAttribute("rollback_runner")


def approved_packet(automation, *, approvers=None, **kwargs) -> ApprovalPacket:
    """An approved packet for the automation's current version (what live and shadow need),
    approved by `approvers` (default: two managers, which meets the approver rule of every tier)."""
    packet = PacketFactory(
        automation=automation, state=PacketState.APPROVED, automation_version=automation.version, **kwargs
    )
    if approvers is None:
        approvers = [UserFactory(role=Role.MANAGER), UserFactory(role=Role.MANAGER)]
    for person in approvers:
        PacketReview.objects.create(packet=packet, reviewer=person, verdict=Verdict.APPROVE)
    return packet


class TestCaseFactory(factory.django.DjangoModelFactory):
    """A case; `passed=True/False` also records a run of it at the automation's current version
    (`passed=None`, the default: not run)."""

    __test__ = False

    class Meta:
        model = TestCase
        skip_postgeneration_save = True

    automation = factory.SubFactory("tests.registry.factories.AutomationFactory")
    kind = TestKind.COMMON
    description = "A strategic account lead from the web form."
    expected = "Routed to the named account owner."
    recorded_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def passed(case, create, extracted, **kwargs):
        if create and extracted is not None:
            TestRunFactory(case=case, passed=extracted, run_by=case.recorded_by)


class TestRunFactory(factory.django.DjangoModelFactory):
    """A run of a case at its automation's current registry version."""

    __test__ = False

    class Meta:
        model = TestRun

    case = factory.SubFactory(TestCaseFactory)
    automation_version = factory.LazyAttribute(
        lambda r: Automation.objects.values_list("version", flat=True).get(pk=r.case.automation_id)
    )
    passed = True
    actual = "Routed to the named account owner."
    run_by = factory.SubFactory(UserFactory)


def make_ready(automation, by) -> None:
    """Everything the shadow gate asks besides the packet: a test plan passed at the current
    version, a trusted field, an exception path and every ticked item and training step."""
    from registry import services as registry_services
    from tests.registry.factories import DataFieldFactory

    if not automation.exception_path:
        registry_services.automation_update(
            automation=automation, by=by, reason="Documented", exception_path="Unroutable leads go to the RevOps queue."
        )
    if not automation.data_fields.exists():
        automation.data_fields.add(DataFieldFactory())
    for kind in TestKind:
        TestCaseFactory(automation=automation, kind=kind, recorded_by=by, passed=True)
    for item in (
        ReadinessItem.AUDIT_TRAIL,
        ReadinessItem.USERS_UNDERSTAND,
        ReadinessItem.REPORTING_IMPACT,
        *TrainingStep,
    ):
        ReadinessTick.objects.create(
            automation=automation,
            item=item,
            note="Done in the launch meeting",
            ticked_by=by,
            automation_version=automation.version,
        )
