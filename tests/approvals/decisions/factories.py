from datetime import timedelta

import factory
from django.utils import timezone

from approvals.decisions.models import DecisionRequest
from tests.approvals.factories import approved_packet
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory


class LiveAutomationFactory(AutomationFactory):
    """An automation allowed to run live: status live (by default) and an approved packet of its
    current version, which the permit check asks for before any decision may be queued. Its
    owners (the exception owner, who is asked by default) are managers: only someone holding the
    decide capability may be assigned a decision."""

    rule_owner = factory.SubFactory(UserFactory, role="manager")

    @factory.post_generation
    def approved(obj, create, extracted, **kwargs):
        if create and obj.status in ("approved", "shadow", "live") and extracted is not False:
            approved_packet(obj)


class DecisionRequestFactory(factory.django.DjangoModelFactory):
    """An open strategic lead route waiting for the automation's exception owner."""

    class Meta:
        model = DecisionRequest

    automation = factory.SubFactory(LiveAutomationFactory, reassigns_strategic_ownership=True)
    kind = "strategic_lead_route"
    record_system = factory.SelfAttribute("automation.system")
    record_object = "Lead"
    record_id = factory.Sequence(lambda n: f"00Q{n:012d}")
    record_url = factory.LazyAttribute(lambda r: f"https://acme.my.salesforce.com/{r.record_id}")
    why = "Lead from a named strategic account; territory and named owner disagree."
    evidence = factory.LazyFunction(lambda: [{"label": "Account tier", "value": "Strategic"}])
    proposed_action = "Route to the named account owner."
    assignee = factory.LazyAttribute(lambda r: r.automation.exception_owner or UserFactory(role="manager"))
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=4))
    expires_at = factory.LazyAttribute(lambda r: r.due_at + timedelta(days=7))
    created_by = factory.SubFactory(UserFactory)
