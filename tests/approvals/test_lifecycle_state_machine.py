"""Hypothesis state machine over lifecycle moves, packet edits, submissions, reviews and registry
edits: an automation is never live (or shadow) without an approved packet of its current version,
and retired never moves."""

import contextlib

import pytest
from hypothesis import HealthCheck, event
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from approvals import gates, services
from approvals.choices import PacketState
from approvals.models import ApprovalPacket
from registry import services as registry_services
from registry.choices import LifecycleStatus
from revops_gov.errors import ApplicationError
from revops_gov.roles import Role
from tests.approvals.factories import make_ready
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


REACHED: set[str] = set()


class Lifecycle(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.admin = UserFactory(role=Role.ADMIN)
        self.managers = [UserFactory(role=Role.MANAGER) for _ in range(3)]
        self.automation = AutomationFactory(status="in_design", merges_records=True, rule_owner=self.managers[0])
        make_ready(self.automation, self.admin)
        self.retired = False
        self.n = 0

    def _refresh(self):
        self.automation.refresh_from_db()

    @rule(
        to=st.sampled_from([s for s in LifecycleStatus.values if s != LifecycleStatus.RETIRED]),
        with_reason=st.booleans(),
    )
    def move(self, to, with_reason):
        self._move(to, with_reason)

    @precondition(lambda self: self.n >= 6)
    @rule(with_reason=st.booleans())
    def retire(self, with_reason):
        """Retiring ends the story, so it comes only after some work (else most runs stop early)."""
        self._move(LifecycleStatus.RETIRED, with_reason)

    def _move(self, to, with_reason):
        self._refresh()
        before = self.automation.status
        try:
            services.transition(
                automation=self.automation, to=to, by=self.admin, reason="Because" if with_reason else ""
            )
        except ApplicationError:
            self._refresh()
            assert self.automation.status == before
        else:
            assert before != LifecycleStatus.RETIRED
            self.retired = to == LifecycleStatus.RETIRED
            event(f"moved to {to}")
            REACHED.add(to)

    @rule()
    def edit_packet(self):
        packet = services.packet_create_draft(automation=self.automation, by=self.admin)
        services.packet_update(
            packet=packet,
            by=self.admin,
            workflow_step="Routing",
            audit_trail="Lead history",
            rollback_runner=self.admin,
            rollback_steps=f"Turn it off ({self.n})",
        )
        self.n += 1

    @rule()
    def edit_submitted_packet(self):
        packet = ApprovalPacket.objects.filter(automation=self.automation, state=PacketState.SUBMITTED).first()
        if packet:
            services.packet_update(packet=packet, by=self.admin, rule=f"Reworded {self.n}")
            self.n += 1

    @rule()
    def submit(self):
        draft = ApprovalPacket.objects.filter(automation=self.automation, state=PacketState.DRAFT).first()
        if draft:
            services.packet_submit(packet=draft, by=self.admin)

    @rule(who=st.integers(0, 3), verdict=st.sampled_from(["approve", "approve", "reject", "changes_requested"]))
    def review_one(self, who, verdict):
        self.review(who=who, verdict=verdict)

    def review(self, *, who, verdict):
        packet = ApprovalPacket.objects.filter(automation=self.automation, state=PacketState.SUBMITTED).first()
        if packet:
            person = [*self.managers, self.admin][who]
            with contextlib.suppress(ApplicationError):
                services.packet_review(packet=packet, by=person, verdict=verdict, comment="Reason")

    @rule()
    def write_submit_and_approve(self):
        """The whole happy path of a packet in one step, so the machine reaches the gated moves."""
        self.edit_packet()
        self.submit()
        for person in self.managers[1:]:
            self.review(who=self.managers.index(person), verdict="approve")

    @rule(then=st.sampled_from([LifecycleStatus.APPROVED, LifecycleStatus.SHADOW, LifecycleStatus.LIVE]))
    def approve_then_move(self, then):
        """A packet approved, then a gated move right after it: the path most runs would miss."""
        self.write_submit_and_approve()
        self._move(LifecycleStatus.APPROVED, True)
        self._move(then, True)

    @rule()
    def shadow_agreed_then_live(self):
        """The whole road to live in one step: approved, shadow, enough agreeing decisions, live."""
        self.approve_then_move(LifecycleStatus.SHADOW)
        self.shadow_run(agreed=True)
        self.shadow_run(agreed=True)
        self._move(LifecycleStatus.LIVE, True)

    @rule()
    def material_registry_edit(self):
        if self.retired:
            return
        self.n += 1
        registry_services.automation_update(
            automation=self.automation, by=self.admin, reason="Edit", rule=f"Rule {self.n}"
        )

    @rule(agreed=st.booleans())
    def shadow_run(self, agreed):
        self._refresh()
        services.shadow_observations_record(
            automation=self.automation,
            observations=[
                {
                    "event_id": f"e{self.n}",
                    "automation_action": "a",
                    "human_action": "a",
                    "agreed": agreed,
                    "observed_at": "2026-11-20T10:00:00Z",
                }
            ],
            by=self.admin,
        )
        self.n += 1

    @invariant()
    def never_running_without_an_approved_packet_of_the_current_version(self):
        if not hasattr(self, "automation"):
            return
        self._refresh()
        if self.automation.status in (LifecycleStatus.LIVE, LifecycleStatus.SHADOW, LifecycleStatus.APPROVED):
            assert gates.approved_packet(self.automation) is not None

    @invariant()
    def retired_never_moves(self):
        if getattr(self, "retired", False):
            self._refresh()
            assert self.automation.status == LifecycleStatus.RETIRED


Lifecycle.TestCase.settings = hsettings(
    max_examples=15,
    stateful_step_count=25,
    deadline=None,
    # The same exploration every run, so the check below that it reached the gated part of the
    # lifecycle is a fact about the rules, not luck.
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def _low_bar(settings):
    settings.REVOPS = {**settings.REVOPS, "SHADOW_MIN_DECISIONS": 2}


def test_lifecycle_state_machine(_low_bar):
    run = Lifecycle.TestCase("runTest")
    run.runTest()
    print("statuses reached:", sorted(REACHED))
    # The machine did explore the gated part of the lifecycle, not only refusals (the exploration
    # is derandomized, so this is the same every run).
    assert {"approved", "shadow", "live"} <= REACHED
