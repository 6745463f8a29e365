import factory
from django.utils import timezone

from registry.models import Automation, ChangeEvent, DataField
from tests.factories import UserFactory


class DataFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataField

    object_name = "Lead"
    api_name = factory.Sequence(lambda n: f"Field_{n}__c")
    label = factory.LazyAttribute(lambda f: f.api_name.replace("__c", "").replace("_", " "))
    definition = "What the field means."
    source_of_truth = "salesforce"
    status = "trusted"


class AutomationFactory(factory.django.DjangoModelFactory):
    """A plainly documented low-tier automation; set flags to raise the tier."""

    class Meta:
        model = Automation
        skip_postgeneration_save = True

    key = factory.Sequence(lambda n: f"automation-{n}")
    name = factory.Sequence(lambda n: f"Automation {n}")
    business_purpose = "Remind owners of stale next steps."
    workflow_type = "sla_management"
    team = "sales"
    system = "salesforce"
    trigger = "Daily at 7:00."
    rule = "Open opportunities with a next step older than 14 days."
    rule_owner = factory.SubFactory(UserFactory)
    failure_owner = factory.SelfAttribute("rule_owner")
    exception_owner = factory.SelfAttribute("rule_owner")
    status = "live"
    last_reviewed_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def data_fields(automation, create, extracted, **kwargs):
        if create and extracted:
            automation.data_fields.set(extracted)


class ChangeEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChangeEvent
        skip_postgeneration_save = True

    kind = "territories"
    title = "Territories redrawn for FY27"
    occurred_on = factory.LazyFunction(lambda: timezone.now().date())
    recorded_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def automations(event, create, extracted, **kwargs):
        if create and extracted:
            event.automations.set(extracted)
