"""Review pages showing text people typed (see tests/xss.py): the confirmation note, and the
automation's name and owner in the rows."""

from django.urls import reverse

from tests.factories import UserFactory
from tests.health.reviews.factories import HealthReviewRowFactory
from tests.registry.factories import AutomationFactory
from tests.xss import PAYLOAD, XssCase


def _review_row(admin) -> list[str]:
    automation = AutomationFactory(name=PAYLOAD, key="xss-reviewed", rule_owner=UserFactory(first_name=PAYLOAD))
    row = HealthReviewRowFactory(automation=automation, note=PAYLOAD, decision="keep", confirmed_by=admin)
    month = {"year": row.review.month.year, "month": row.review.month.month}
    return [
        reverse("reviews:detail", kwargs=month),
        row.get_absolute_url(),
        reverse("reviews:trend", args=[automation.key]),
    ]


XSS_CASES = [XssCase("health review row", _review_row)]
