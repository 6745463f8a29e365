"""The findings page, one finding's page and the health panel on the automation page."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from health.models import Finding
from tests.factories import UserFactory
from tests.health.factories import FindingFactory, RunEventFactory
from tests.registry.factories import AutomationFactory


def _findings(n):
    owner = UserFactory()
    for _ in range(n):
        FindingFactory(automation=AutomationFactory(failure_owner=owner), owner=owner)


@pytest.mark.django_db
def test_findings_page_query_count_is_constant(login, viewer):
    client = login(viewer)
    counts = []
    for n in (10, 40):
        _findings(n - Finding.objects.count())
        with CaptureQueriesContext(connection) as ctx:
            response = client.get("/findings/")
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_findings_page_filters_by_kind_owner_and_severity(login, viewer):
    owner = UserFactory(username="owner1")
    FindingFactory(kind="stale_data", severity="high", owner=owner, reason="Data 30 h old")
    FindingFactory(kind="did_not_run", severity="low", reason="Expected a run by")
    FindingFactory(kind="ran_twice", status="resolved", reason="Old one")
    client = login(viewer)
    page = client.get("/findings/").content.decode()
    assert "Data 30 h old" in page and "Expected a run by" in page and "Old one" not in page
    page = client.get("/findings/?kind=stale_data").content.decode()
    assert "Data 30 h old" in page and "Expected a run by" not in page
    assert "Expected a run by" not in client.get("/findings/?owner=owner1").content.decode()
    assert "Data 30 h old" not in client.get("/findings/?severity=low").content.decode()
    assert "Old one" in client.get("/findings/?status=resolved").content.decode()


@pytest.mark.django_db
def test_empty_findings_page_explains_itself(login, viewer):
    assert "No findings match" in login(viewer).get("/findings/").content.decode()


@pytest.mark.django_db
def test_a_manager_acknowledges_a_finding(login, manager):
    finding = FindingFactory()
    response = login(manager).post(f"/findings/{finding.pk}/acknowledge", {"note": "Looking at it"})
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.status == "acknowledged" and finding.acknowledged_by == manager
    assert finding.history.first().history_change_reason == "Acknowledged: Looking at it"


@pytest.mark.django_db
def test_suppress_needs_a_future_time_and_a_reason(login, manager):
    finding = FindingFactory()
    client = login(manager)
    response = client.post(f"/findings/{finding.pk}/suppress", {"until": "2001-01-01T00:00", "reason": ""})
    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode()
    until = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/findings/{finding.pk}/suppress", {"until": until, "reason": "CRM maintenance"})
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.status == "suppressed" and finding.suppression_reason == "CRM maintenance"


@pytest.mark.django_db
def test_suppress_until_with_any_iso_offset_is_stored_in_utc(login, manager):
    """A typed offset PostgreSQL refuses (beyond ±15:59) is read in UTC, never a 500."""
    finding = FindingFactory()
    response = login(manager).post(
        f"/findings/{finding.pk}/suppress", {"until": "2999-01-01T00:00+19:18", "reason": "CRM maintenance"}
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.suppressed_until.utcoffset().total_seconds() == 0
    assert finding.suppressed_until.isoformat().startswith("2998-12-31T04:42")


@pytest.mark.django_db
def test_finding_page_shows_reason_evidence_action_and_owner(login, viewer):
    finding = FindingFactory()
    page = login(viewer).get(f"/findings/{finding.pk}/").content.decode()
    for text in (finding.reason, "Expected action", finding.expected_action, "failures", str(finding.owner)):
        assert text in page


@pytest.mark.django_db
def test_automation_page_shows_runs_rates_chart_and_open_findings(login, viewer):
    automation = AutomationFactory()
    now = timezone.now()
    for i in range(8):
        RunEventFactory(
            automation=automation,
            started_at=now - timedelta(days=i, hours=1),
            outcome="failure" if i % 4 == 0 else "success",
        )
    FindingFactory(automation=automation, reason="Failing since Monday")
    page = login(viewer).get(automation.get_absolute_url()).content.decode()
    assert 'id="health-heading"' in page
    assert "Last success" in page
    assert "8 runs, 25 % failed" in page  # 30 days
    assert "<svg" in page and "health-bar-fail" in page
    assert "Failing since Monday" in page


@pytest.mark.django_db
def test_automation_page_without_runs_explains_how_to_report_them(login, viewer):
    automation = AutomationFactory()
    page = login(viewer).get(automation.get_absolute_url()).content.decode()
    assert "No run reported yet" in page and "/api/v1/runs/" in page
