"""The findings page, one finding's page and the health panel on the automation page."""

import csv
import io
import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from health import services
from health.models import Finding, RunEvent
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
    finding = FindingFactory(automation=AutomationFactory(failure_owner=manager))
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
    finding = FindingFactory(automation=AutomationFactory(failure_owner=manager))
    day = (timezone.now() + timedelta(days=3)).date()
    response = login(manager).post(
        f"/findings/{finding.pk}/suppress", {"until": f"{day}T00:00+19:18", "reason": "CRM maintenance"}
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.suppressed_until.utcoffset().total_seconds() == 0
    assert finding.suppressed_until.isoformat().startswith(f"{day - timedelta(days=1)}T04:42")


@pytest.mark.django_db
def test_a_manager_with_no_tie_is_refused_suppressing_on_the_page(login, manager):
    finding = FindingFactory()
    until = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = login(manager).post(f"/findings/{finding.pk}/suppress", {"until": until, "reason": "Noise"})
    assert response.status_code == 400
    assert "Only the failure owner or an admin" in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == "open"


@pytest.mark.django_db
def test_the_owner_says_what_was_fixed_and_the_page_shows_who_is_told_and_the_suppressions(login, manager, admin):
    finding = FindingFactory(automation=AutomationFactory(failure_owner=manager), owner=manager)
    client = login(manager)
    page = client.get(f"/findings/{finding.pk}/").content.decode()
    assert "the failure owner" in page and "Mark fixed" in page
    response = client.post(f"/findings/{finding.pk}/fix", {"note": "Retry on timeout"})
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.status == "fixed" and finding.fix_note == "Retry on timeout"
    other = FindingFactory(kind="did_not_run", automation=AutomationFactory(failure_owner=manager))
    until = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/findings/{other.pk}/suppress", {"until": until, "reason": "Scheduler migration"})
    listing = client.get("/suppressions/").content.decode()
    assert "Scheduler migration" in listing and str(manager) in listing


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


# --- The runs page --------------------------------------------------------------------------------
def _runs(automation, n, *, start=None, **fields):
    start = start or timezone.now() - timedelta(days=2)
    RunEvent.objects.bulk_create(
        [
            RunEvent(automation=automation, event_id=f"e{i:05d}", started_at=start + timedelta(minutes=i),
                     finished_at=start + timedelta(minutes=i, seconds=3), outcome=fields.get("outcome", "success"))
            for i in range(n)
        ]
    )  # fmt: skip


def _links(html: str, rel: str) -> list[str]:
    return [unescape(href) for href in re.findall(rf'rel="{rel}" href="([^"]+)"', html)]


@pytest.mark.django_db
def test_the_runs_page_pages_through_every_run_once_newest_first_and_back(login, viewer):
    automation = AutomationFactory(key="lead-routing")
    _runs(automation, 120)
    client = login(viewer)
    url = reverse("health:automation-runs", args=[automation.key])
    seen, pages = [], [url]
    while pages:
        response = client.get(pages[-1] if pages[-1].startswith("/") else url + pages[-1])
        assert response.status_code == 200
        ids = [item["run"].event_id for item in response.context["runs"]]
        seen += ids
        older = _links(response.content.decode(), "next")
        pages = [older[0]] if older else []
    assert seen == [f"e{i:05d}" for i in range(119, -1, -1)]  # newest first, each once
    # From the last page, "Newer" leads back through the same pages.
    newer = _links(response.content.decode(), "prev")
    back = client.get(url + newer[0])
    assert [item["run"].event_id for item in back.context["runs"]] == [f"e{i:05d}" for i in range(69, 19, -1)]


@pytest.mark.django_db
def test_the_runs_page_filters_by_outcome_date_range_and_event_id(login, viewer):
    automation = AutomationFactory()
    now = timezone.now()
    RunEventFactory(
        automation=automation, event_id="old-failure", started_at=now - timedelta(days=10), outcome="failure"
    )
    RunEventFactory(
        automation=automation, event_id="new-failure", started_at=now - timedelta(days=1), outcome="failure"
    )
    RunEventFactory(automation=automation, event_id="new-success", started_at=now - timedelta(days=1))
    RunEventFactory(event_id="other-automation", outcome="failure")
    client = login(viewer)
    url = reverse("health:automation-runs", args=[automation.key])

    def ids(**params):
        return {item["run"].event_id for item in client.get(url, params).context["runs"]}

    assert ids() == {"old-failure", "new-failure", "new-success"}
    assert ids(outcome="failure") == {"old-failure", "new-failure"}
    since = (timezone.localdate() - timedelta(days=3)).isoformat()
    assert ids(outcome="failure", since=since) == {"new-failure"}
    assert ids(until=(timezone.localdate() - timedelta(days=5)).isoformat()) == {"old-failure"}
    assert ids(event_id="new-success") == {"new-success"}


@pytest.mark.django_db
def test_bad_filters_and_cursors_are_a_message_not_a_500(login, viewer):
    automation = AutomationFactory()
    client = login(viewer)
    url = reverse("health:automation-runs", args=[automation.key])
    response = client.get(url, {"since": "2026-12-05", "until": "2026-12-01", "outcome": "nope", "after": "x~y"})
    assert response.status_code == 200
    assert "until" in response.context["form"].errors and "outcome" in response.context["form"].errors
    export = client.get(reverse("health:automation-runs-export", args=[automation.key]), {"since": "yesterday"})
    assert export.status_code == 400 and "From" in export.content.decode()
    assert client.get(reverse("health:automation-runs", args=["no-such-automation"])).status_code == 404


@pytest.mark.django_db
def test_the_runs_page_costs_the_same_queries_at_ten_and_five_hundred_runs(login, viewer):
    automation = AutomationFactory()
    client = login(viewer)
    url = reverse("health:automation-runs", args=[automation.key])
    counts = []
    for n in (10, 500):
        RunEvent.objects.filter(automation=automation).delete()
        _runs(automation, n)
        services.runs_ingest(items=[{"automation": automation.key, "event_id": "e00001", "task_completed": True}],
                             by=viewer)  # fmt: skip
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_the_runs_chart_is_pygal_svg_inline_without_script_or_cdn(login, viewer):
    automation = AutomationFactory(name="<script>alert(1)</script> routing")
    _runs(automation, 5, outcome="failure")
    _runs(automation, 0)
    response = login(viewer).get(reverse("health:automation-runs", args=[automation.key]))
    html = response.content.decode()
    chart = html[html.index('<svg xmlns="http://www.w3.org/2000/svg"') :]
    chart = chart[: chart.index("</svg>")]
    assert "pygal-chart" in chart and "Failure rate" in chart and "Failure" in chart
    assert "<script" not in chart and "kozea.github.io" not in chart
    assert not re.search(r'(href|src)="(https?:)?//', chart)  # nothing loaded from elsewhere
    assert "<script>alert(1)" not in html


@pytest.mark.django_db
def test_a_run_shows_its_late_facts_and_corrections(login, viewer, admin):
    automation = AutomationFactory(system="salesforce")
    services.runs_ingest(items=[{"automation": automation.key, "event_id": "r1", "outcome": "success",
                                 "started_at": timezone.now().isoformat()}], by=admin)  # fmt: skip
    services.runs_ingest(items=[{"automation": automation.key, "event_id": "r1", "outcome": "failure"}], by=admin)
    html = login(viewer).get(reverse("health:automation-runs", args=[automation.key])).content.decode()
    assert "1 late fact" in html and "success → failure" in html and "Corrected" in html


@pytest.mark.django_db
def test_the_csv_export_streams_every_filtered_run_with_formulas_quoted(login, viewer):
    automation = AutomationFactory()
    _runs(automation, 130)
    RunEventFactory(automation=automation, event_id="=HYPERLINK(1)", outcome="failure", error="-bad")
    response = login(viewer).get(reverse("health:automation-runs-export", args=[automation.key]))
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["event_id", "started_at", "finished_at", "outcome"] and len(rows) == 132
    failures = login(viewer).get(
        reverse("health:automation-runs-export", args=[automation.key]), {"outcome": "failure"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(failures.streaming_content).decode())))
    assert len(rows) == 2 and rows[1][0] == "'=HYPERLINK(1)" and "'-bad" in rows[1]


@pytest.mark.django_db
def test_the_automation_page_and_the_finding_page_link_to_the_runs(login, viewer):
    automation = AutomationFactory()
    _runs(automation, 3)
    finding = FindingFactory(automation=automation, kind="failure_rate_up")
    client = login(viewer)
    runs_url = reverse("health:automation-runs", args=[automation.key])
    for page in (automation.get_absolute_url(), finding.get_absolute_url()):
        html = client.get(page).content.decode()
        hrefs = [unescape(h) for h in re.findall(r'href="([^"]+)"', html) if h.startswith(runs_url)]
        assert hrefs, page
        opened = client.get(hrefs[0])
        assert opened.status_code == 200 and opened.context["automation"] == automation
        assert len(opened.context["runs"]) == (3 if page == automation.get_absolute_url() else 0)


@pytest.mark.django_db
def test_the_findings_page_shows_findings_opened_and_resolved_per_week(login, viewer):
    FindingFactory()
    FindingFactory(status="resolved", resolved_at=timezone.now(), opened_at=timezone.now() - timedelta(weeks=2))
    response = login(viewer).get("/findings/")
    html = response.content.decode()
    assert html.count("pygal-sparkline") == 2
    assert 'aria-label="Findings opened per week' in html and 'aria-label="Findings resolved per week' in html
    trend = response.context["trend"]
    assert (trend["opened_total"], trend["resolved_total"], trend["opened_this_week"]) == (2, 1, 1)
