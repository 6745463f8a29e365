from datetime import timedelta

import factory
from django.utils import timezone

from health.models import Finding, PlannedHoldWindow, RunEvent
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory


class RunEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RunEvent

    automation = factory.SubFactory(AutomationFactory)
    event_id = factory.Sequence(lambda n: f"evt-{n}")
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyAttribute(lambda r: r.started_at + timedelta(seconds=2))
    outcome = "success"


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding

    automation = factory.SubFactory(AutomationFactory)
    kind = "failure_rate_up"
    severity = "medium"
    reason = "6 of 10 runs failed in the last 7 days."
    evidence = factory.LazyFunction(lambda: {"runs": 10, "failures": 6})
    owner = factory.SelfAttribute("automation.failure_owner")
    expected_action = "Read the recent errors and fix the cause."
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=3))
    opened_at = factory.LazyFunction(timezone.now)
    last_seen_at = factory.LazyFunction(timezone.now)


class PlannedHoldWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlannedHoldWindow

    automation = factory.SubFactory(AutomationFactory)
    starts_at = factory.LazyFunction(timezone.now)
    ends_at = factory.LazyAttribute(lambda w: w.starts_at + timedelta(days=2))
    reason = "Quarter-end CRM freeze."
    created_by = factory.SubFactory(UserFactory)
