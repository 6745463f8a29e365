from datetime import timedelta

import factory
from django.utils import timezone

from approvals.decisions.models import DecisionRequest
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory


class DecisionRequestFactory(factory.django.DjangoModelFactory):
    """An open strategic lead route waiting for the automation's exception owner."""

    class Meta:
        model = DecisionRequest

    automation = factory.SubFactory(AutomationFactory, reassigns_strategic_ownership=True)
    kind = "strategic_lead_route"
    record_system = factory.SelfAttribute("automation.system")
    record_object = "Lead"
    record_id = factory.Sequence(lambda n: f"00Q{n:012d}")
    record_url = factory.LazyAttribute(lambda r: f"https://acme.my.salesforce.com/{r.record_id}")
    why = "Lead from a named strategic account; territory and named owner disagree."
    evidence = factory.LazyFunction(lambda: [{"label": "Account tier", "value": "Strategic"}])
    proposed_action = "Route to the named account owner."
    assignee = factory.LazyAttribute(lambda r: r.automation.exception_owner or UserFactory())
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=4))
    expires_at = factory.LazyAttribute(lambda r: r.due_at + timedelta(days=7))
    created_by = factory.SubFactory(UserFactory)
