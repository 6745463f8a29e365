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


# --- issue 15 §3: the decision tiles, followed as each role -----------------------------------
def _decision_tiles(html: str) -> list[tuple[str, str, int]]:
    """(label, url, number) of each decision tile in the "Needs attention" list."""
    import re
    from html import unescape

    section = html[html.index('id="attention-heading"') :]
    section = section[: section.index("</section>")]
    tiles = re.findall(r'href="([^"]+)">\s*([^<]+?)\s*<span class="badge[^"]*">(\d+)</span>', section)
    return [(label, unescape(url), int(n)) for url, label, n in tiles if "ecisions" in label]


@pytest.mark.parametrize("role", ["revops_admin", "manager", "viewer"])
def test_each_decision_tile_opens_a_page_the_role_may_open_listing_as_many_as_it_counts(client, role):
    from datetime import timedelta

    from django.utils import timezone

    from tests.approvals.decisions.factories import DecisionRequestFactory

    person = UserFactory(role=role)
    past, later = timezone.now() - timedelta(hours=2), timezone.now() + timedelta(hours=5)
    report = UserFactory(role="manager", manager=person)
    for assignee, due in ((person, past), (person, later), (report, past), (report, later)):
        DecisionRequestFactory(assignee=assignee, due_at=due)
    DecisionRequestFactory(due_at=past)  # waits for someone else
    DecisionRequestFactory(due_at=later)
    client.force_login(person)

    tiles = _decision_tiles(client.get(reverse("dashboard:dashboard")).content.decode())

    assert len(tiles) == 2, tiles
    for label, url, number in tiles:
        page = client.get(url)
        assert page.status_code == 200, f"{label} → {url} as {role}: {page.status_code}"
        rows = page.content.decode().count('class="card decision-card')
        assert rows == number, f"{label} counts {number}, {url} lists {rows} as {role}"
    # An admin counts every open request; anyone else what waits for them and their reports.
    assert [n for _, _, n in tiles] == {"revops_admin": [6, 3], "manager": [4, 2], "viewer": [4, 2]}[role]
