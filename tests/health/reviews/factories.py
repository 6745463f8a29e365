from datetime import date, datetime

import factory
from django.utils import timezone

from health.reviews.models import HealthReview, HealthReviewRow
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory

NOVEMBER = date(2026, 11, 1)


def in_november(day: int, hour: int = 9) -> datetime:
    return timezone.make_aware(datetime(2026, 11, day, hour))


class HealthReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HealthReview

    month = NOVEMBER
    created_at = factory.LazyFunction(timezone.now)
    computed_at = factory.LazyFunction(timezone.now)
    computed_by = factory.SubFactory(UserFactory)


class HealthReviewRowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HealthReviewRow

    review = factory.SubFactory(HealthReviewFactory)
    automation = factory.SubFactory(AutomationFactory)
    status = "live"
    runs = 120
    failures = 3
    recommendation = "keep"
    # What the registry said of an owned, documented automation: 120 runs with 3 failures is healthy.
    facts = factory.LazyFunction(
        lambda: {
            "rule_owner": "dana",
            "failure_owner": "sam",
            "rule_written": True,
            "output_written": True,
            "purpose_written": True,
        }  # fmt: skip
    )


class RegisteredAutomationFactory(AutomationFactory):
    """An automation registered before the month reviewed (on 1 October 2026), as one that is in
    November's review was; `registered=<datetime>` says when otherwise."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def registered(obj, create, extracted, **kwargs):
        when = extracted or timezone.make_aware(datetime(2026, 10, 1))
        type(obj).objects.filter(pk=obj.pk).update(created_at=when)
        obj.created_at = when


class ReviewedAutomationFactory(RegisteredAutomationFactory):
    """A live automation meeting the guide's practical standard: owner, rule, visible output, purpose."""

    output_recipient = "The opportunity owner."
    expected_user_action = "Update the next step."
