"""A month of simulated runs, counted on a real mail server (issue 16, "Tests that must exist"):
several automations and owners, failing and healthy runs; the monitors run three times and the
digests twice over the month. Each incident sends exactly one alert per recipient, one reminder
when its due date passes, one escalation where the owner has a manager; each digest lists only
what changed since that person's last one; running the pass and the digest again sends nothing."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from health import services, tasks
from health.models import Finding, RunEvent
from tests.factories import UserFactory
from tests.health.factories import PlannedHoldWindowFactory, RunEventFactory
from tests.registry.factories import AutomationFactory

START = datetime(2026, 10, 4, 0, 0, tzinfo=UTC)  # four weeks of healthy history: the baseline
MONTH = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
EVERY = timedelta(hours=2)


def at(day: int, hour: int = 12) -> datetime:
    return MONTH.replace(day=day, hour=hour)


@pytest.fixture
def world(db):
    boss = UserFactory(username="boss", email="boss@example.com")
    owen = UserFactory(username="owen", email="owen@example.com", manager=boss)
    sara = UserFactory(username="sara", email="sara@example.com")
    sam = UserFactory(username="sam", email="sam@example.com")
    every_2h = {"schedule_kind": "interval", "schedule_interval": EVERY, "schedule_grace": timedelta(hours=1)}
    automations = {
        # fails half its runs from 4 November: an incident (high, holds), owned by owen
        "routing": AutomationFactory(name="Lead routing", rule_owner=owen, failure_owner=owen),
        "healthy": AutomationFactory(name="Stale next steps", rule_owner=owen, failure_owner=owen),
        # stops reporting after 14 November: did not run, owned by sara (no manager)
        "sync": AutomationFactory(name="Customer sync", rule_owner=sara, failure_owner=sara, **every_2h),
        # fails every run from 21 November; no failure owner: its system owner is told
        "renewals": AutomationFactory(
            name="Renewal tasks", rule_owner=boss, failure_owner=None, system_owner=sam, exception_owner=sam
        ),
        # quiet from 26 November inside a planned hold window: nobody is told
        "planned": AutomationFactory(name="Quote approvals", rule_owner=sara, failure_owner=sara, **every_2h),
    }
    PlannedHoldWindowFactory(
        automation=automations["planned"], starts_at=at(26, 0), ends_at=at(29, 0), reason="CPQ upgrade", created_by=sara
    )
    return {"people": {"boss": boss, "owen": owen, "sara": sara, "sam": sam}, "automations": automations}


def outcome(name: str, when: datetime, n: int) -> str | None:
    """What the CRM reports for run n of an automation at `when` (None: no run)."""
    if name == "routing" and when >= at(4, 0):
        return "failure" if n % 2 else "success"
    if name == "sync" and when >= at(15, 0):
        return None
    if name == "renewals" and when >= at(21, 0):
        return "failure"
    if name == "planned" and at(26, 0) <= when < at(29, 0):
        return None
    return "success"


class Simulation:
    def __init__(self, automations, traveller):
        self.automations, self.traveller, self.reported_until = automations, traveller, START

    def until(self, moment: datetime) -> None:
        """Every run up to `moment`, as the CRMs would have reported them, then the clock at `moment`."""
        rows, when = [], self.reported_until
        while when < moment:
            n = int((when - START) / EVERY)
            for name, automation in self.automations.items():
                result = outcome(name, when, n)
                if result:
                    rows.append(
                        RunEventFactory.build(
                            automation=automation, event_id=f"{name}-{n}", started_at=when, outcome=result
                        )
                    )
            when += EVERY
        RunEvent.objects.bulk_create(rows)
        self.reported_until = when
        self.traveller.move_to(moment)


def test_a_month_of_runs_three_monitor_passes_two_digests_one_alert_per_incident_per_recipient(world, smtp_server):
    with time_machine.travel(START, tick=False) as traveller:
        month = Simulation(world["automations"], traveller)
        for day, task in [
            (8, "monitors"),
            (10, "owen acknowledges"),
            (12, "digest"),
            (18, "monitors"),
            (25, "digest"),
            (28, "monitors"),
        ]:
            month.until(at(day))
            if task == "monitors":
                tasks.monitors_run()
            elif task == "digest":
                tasks.findings_digest()
            else:
                finding = Finding.objects.get(automation=world["automations"]["routing"])
                services.finding_acknowledge(finding=finding, by=world["people"]["owen"], note="Looking at it")
        sent = Counter((m.recipients, m.subject) for m in smtp_server.messages)

        # Running the pass, the alerts and the digest again sends nothing new.
        tasks.monitors_run()
        tasks.findings_alert()
        tasks.findings_digest()
        assert Counter((m.recipients, m.subject) for m in smtp_server.messages) == sent

    prefix = "[RevOps Governance] "
    told = {(to[0], subject.removeprefix(prefix)): n for (to, subject), n in sent.items()}
    assert told == {
        # Lead routing: opened on the 8th, overdue (due the 11th) reminded on the 18th, escalated on the 28th
        ("owen@example.com", "Failure rate up: Lead routing"): 1,
        ("owen@example.com", "Overdue: Failure rate up on Lead routing"): 1,
        ("boss@example.com", "Escalated: Failure rate up on Lead routing"): 1,
        # Customer sync: opened on the 18th, reminded on the 28th; sara has no manager: no escalation
        ("sara@example.com", "Did not run: Customer sync"): 1,
        ("sara@example.com", "Overdue: Did not run on Customer sync"): 1,
        # Renewal tasks: no failure owner, so its system owner
        ("sam@example.com", "Failure rate up: Renewal tasks"): 1,
        # The digests: owen's on the 12th (Lead routing acknowledged, past due, not reminded yet);
        # sara's on the 25th (Customer sync past due); owen has nothing new on the 25th (his
        # acknowledgement was in the last one), sam nothing on either day.
        ("owen@example.com", "1 health finding changed"): 1,
        ("sara@example.com", "1 health finding changed"): 1,
    }
    owen_digest = next(m for m in smtp_server.to("owen@example.com") if "changed" in m.subject)
    assert f"Lead routing: acknowledged by {world['people']['owen']}, past its due date" in owen_digest.body
    assert "Stale next steps" not in owen_digest.body
    sara_digest = next(m for m in smtp_server.to("sara@example.com") if "changed" in m.subject)
    assert "Customer sync: past its due date" in sara_digest.body and "Lead routing" not in sara_digest.body
    # The quiet automation inside its planned hold window opened nothing.
    assert not Finding.objects.filter(automation=world["automations"]["planned"]).exists()
    assert not Finding.objects.filter(automation=world["automations"]["healthy"]).exists()
