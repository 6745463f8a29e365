"""The dashboard page: the admins' home, the same queries for ten automations or a hundred."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import UserFactory
from tests.health.factories import FindingFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(role="revops_admin"))
    return client


def test_home_is_the_dashboard_for_admins_and_the_queue_for_managers(client):
    client.force_login(UserFactory(role="revops_admin"))
    assert client.get(reverse("home")).url == reverse("dashboard:dashboard")
    client.force_login(UserFactory(role="manager"))
    assert client.get(reverse("home")).url == reverse("decisions:queue")
    client.force_login(UserFactory(role="viewer"))
    assert client.get(reverse("home")).url == reverse("dashboard:dashboard")


def test_the_page_shows_each_number_as_a_link_and_the_stage_with_its_reasons(admin_client):
    automation = AutomationFactory(status="live")
    FindingFactory(automation=automation, severity="high")
    page = admin_client.get(reverse("dashboard:dashboard")).content.decode()
    assert "Maturity stage: 2 · Triggered" in page
    assert "Not yet <strong>3 · Governed</strong> because:" in page
    assert 'href="/automations/?status=live&amp;missing_owner=system_owner"' in page
    assert 'href="/findings/?severity=high"' in page
    assert "(1 in all)" in page


def test_the_page_costs_the_same_queries_whatever_the_number_of_automations(admin_client):
    def count_queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse("dashboard:dashboard")).status_code == 200
        return len(captured)

    AutomationFactory.create_batch(3, status="live")
    count_queries()  # warm the session and the shared caches
    few = count_queries()
    for automation in AutomationFactory.create_batch(30, status="live"):
        FindingFactory(automation=automation)
    count_queries()
    assert count_queries() == few


def test_the_trends_are_charts_that_add_no_number_or_link_to_the_dashboard(admin_client):
    from tests.health.reviews.factories import HealthReviewRowFactory

    FindingFactory()
    HealthReviewRowFactory(recommendation="adjust")
    html = admin_client.get(reverse("dashboard:dashboard")).content.decode()
    trends = html[html.index('id="trends-heading"') :]
    trends = trends[: trends.index("</section>")]
    assert trends.count("pygal-sparkline") == 2 and "Recommendations per month" in trends
    assert "<a " not in trends and "<script" not in trends
