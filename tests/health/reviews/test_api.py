"""The read-only review API: reviews with their progress, rows with numbers, questions and reasons."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.health.reviews.factories import HealthReviewFactory, HealthReviewRowFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


def test_reviews_list_with_their_progress(api, viewer):
    review = HealthReviewFactory()
    HealthReviewRowFactory(review=review, recommendation="retire", decision="retire", confirmed_at=review.created_at)
    HealthReviewRowFactory(review=review)
    api.force_login(viewer)
    body = api.get("/api/v1/health-reviews/").json()
    assert body["count"] == 1
    assert body["results"][0] | {"created_at": None, "computed_at": None} == {
        "id": review.pk,
        "month": "2026-11",
        "created_at": None,
        "computed_at": None,
        "computed_by": review.computed_by.username,
        "computations": 1,
        "rows": 2,
        "confirmed": 1,
        "recommendations": {"keep": 1, "adjust": 0, "pause": 0, "retire": 1},
    }


def test_rows_filter_by_month_recommendation_and_automation(api, viewer):
    HealthReviewRowFactory(automation=AutomationFactory(key="sla-nudge"), recommendation="adjust")
    HealthReviewRowFactory(review=HealthReviewFactory(month=date(2026, 10, 1)))
    api.force_login(viewer)
    assert api.get("/api/v1/health-review-rows/").json()["count"] == 2
    body = api.get("/api/v1/health-review-rows/?month=2026-11&recommendation=adjust").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert (row["automation"], row["month"], row["failure_rate"]) == ("sla-nudge", "2026-11", 0.025)
    assert row["reasons"][0]["rule"] == "healthy" and row["questions"][0]["from_data"] is True
    assert api.get("/api/v1/health-review-rows/?automation=other").json()["count"] == 0


def test_a_bad_filter_is_a_400_naming_it(api, viewer):
    api.force_login(viewer)
    response = api.get("/api/v1/health-review-rows/?month=November")
    assert response.status_code == 400 and "month" in response.json()["fields"]


def test_list_endpoints_query_count_is_constant(api, admin):
    api.force_login(admin)
    review = HealthReviewFactory()
    for url, make in (
        ("/api/v1/health-review-rows/", lambda: HealthReviewRowFactory(review=review)),
        ("/api/v1/health-reviews/", lambda: HealthReviewRowFactory(review=HealthReviewFactory(month=_next_month()))),
    ):
        counts = []
        for n in (3, 12):
            while len(api.get(url).json()["results"]) < n:
                make()
            with CaptureQueriesContext(connection) as ctx:
                assert api.get(url).status_code == 200
            counts.append(len(ctx.captured_queries))
        assert counts[0] == counts[1], url


_months = iter(date(2020 + i // 12, i % 12 + 1, 1) for i in range(200))


def _next_month():
    return next(_months)


def test_the_schema_documents_the_review_routes(api, viewer):
    api.force_login(viewer)
    schema = api.get("/api/schema/?format=json").json()
    assert "/api/v1/health-reviews/" in schema["paths"] and "/api/v1/health-review-rows/{id}/" in schema["paths"]
