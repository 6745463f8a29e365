"""The beat task: scheduled daily, and running it twice creates one review."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings

from health.reviews.models import HealthReview, HealthReviewRow
from health.reviews.tasks import monthly_review
from tests.health.reviews.factories import ReviewedAutomationFactory, in_november


def test_the_task_is_in_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["health-monthly-review"]
    assert entry["task"] == monthly_review.name and entry["schedule"].hour == {6}


@pytest.mark.django_db
def test_the_task_run_twice_creates_one_review_per_month():
    ReviewedAutomationFactory()
    with time_machine.travel(in_november(30) + timedelta(days=1, hours=2), tick=False):
        assert monthly_review.apply().get() == "created"
        assert monthly_review.apply().get() == "recomputed"
    with time_machine.travel(in_november(30) + timedelta(days=20), tick=False):
        assert monthly_review.apply().get() == "unchanged"
    with time_machine.travel(in_november(30) + timedelta(days=32), tick=False):
        assert monthly_review.apply().get() == "created"  # December's
    assert sorted(str(r.month) for r in HealthReview.objects.all()) == ["2026-11-01", "2026-12-01"]
    assert HealthReviewRow.objects.count() == 2
