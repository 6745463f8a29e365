import factory

from backlog.models import Candidate
from tests.factories import UserFactory

READY = {
    "trigger": "A web-form lead is created from a strategic account's domain.",
    "rule": "Route to the named account owner; otherwise the territory queue.",
    "exception_path": "Unmatched domains go to the RevOps queue, resolved within a day.",
    "rule_clear": "yes",
    "data_reliable": "yes",
    "exception_known": "yes",
    "value_measurable": "yes",
    "factor_volume": 5,
    "factor_risk": 2,
    "factor_rule_clarity": 5,
    "factor_data_readiness": 4,
    "factor_exception_clarity": 4,
    "factor_user_impact": 4,
    "factor_maintenance_cost": 2,
}


class CandidateFactory(factory.django.DjangoModelFactory):
    """A new, unscored request; `CandidateFactory(ready=True)` is scored and ready to automate
    (its stored score is set by the test through the services when it matters)."""

    class Meta:
        model = Candidate
        skip_postgeneration_save = True

    class Params:
        ready = factory.Trait(
            exception_owner=factory.SubFactory(UserFactory),
            owner=factory.SubFactory(UserFactory),
            status="triaged",
            **READY,
        )

    title = factory.Sequence(lambda n: f"Candidate workflow {n}")
    workflow_type = "lead_routing"
    pain_point = "Leads wait hours for an owner."
    team = "sales"
    system = "salesforce"
    requester = factory.SubFactory(UserFactory)
    volume_per_month = 1200
    time_saved_hours_per_month = 40

    @factory.post_generation
    def data_fields(candidate, create, extracted, **kwargs):
        if create and extracted:
            candidate.data_fields.set(extracted)
