import pytest

from health import demo
from health.models import Finding, RunEvent


@pytest.mark.django_db
def test_demo_shows_a_few_findings_and_loads_once():
    from approvals import demo as approvals_demo
    from registry import demo as registry_demo
    from revops_gov import demo as people_demo

    people_demo.load()
    registry_demo.load()
    approvals_demo.load()  # walks the automations to their statuses
    assert demo.load() > 0
    runs, findings = RunEvent.objects.count(), Finding.objects.count()
    assert 1 <= findings <= 6  # a few actionable findings, not a flood
    assert demo.load() == 0
    assert (RunEvent.objects.count(), Finding.objects.count()) == (runs, findings)


@pytest.mark.django_db
def test_demo_shows_last_months_review_once():
    from approvals import demo as approvals_demo
    from health.reviews.compute import previous_month
    from health.reviews.models import HealthReview
    from registry import demo as registry_demo
    from revops_gov import demo as people_demo

    people_demo.load()
    registry_demo.load()
    approvals_demo.load()  # walks the automations to their statuses
    demo.load()
    review = HealthReview.objects.get()
    assert review.month == previous_month(review.created_at)
    rows = list(review.rows.all())
    assert rows and all(row.runs > 0 for row in rows if row.status in ("live", "shadow"))
    assert {"keep"} < {row.recommendation for row in rows}  # some kept, some not
    demo.load()
    assert HealthReview.objects.count() == 1
