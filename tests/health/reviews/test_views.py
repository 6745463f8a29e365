"""The review pages: the list, one month (filters, sort, progress, ready candidates), one row
(questions, reasons, value, trend, confirm), the trend page, CSV, print and re-compute."""

import csv
import io
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.models import LifecycleMove
from backlog.models import Candidate
from health.reviews.models import HealthReviewRow
from tests.factories import UserFactory
from tests.health.factories import RunEventFactory
from tests.health.reviews.factories import HealthReviewFactory, HealthReviewRowFactory, in_november
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db
URL = "/reviews/2026-11/"


def _rows(review, n):
    owner = UserFactory()
    for _ in range(n):
        HealthReviewRowFactory(review=review, automation=AutomationFactory(rule_owner=owner))


def test_review_page_query_count_is_constant_in_the_number_of_automations(login, viewer):
    review = HealthReviewFactory()
    client = login(viewer)
    counts = []
    for n in (5, 40):
        _rows(review, n - review.rows.count())
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL)
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_list_shows_each_month_with_its_progress(login, viewer, admin):
    review = HealthReviewFactory()
    HealthReviewRowFactory(review=review, recommendation="retire", confirmed_at=review.created_at, decision="retire")
    HealthReviewRowFactory(review=review)
    HealthReviewFactory(month=date(2026, 10, 1))
    page = login(viewer).get("/reviews/").content.decode()
    assert "November 2026" in page and "October 2026" in page and "1 of 2" in page


def test_the_month_filters_by_recommendation_team_and_owner_and_sorts(login, viewer):
    review = HealthReviewFactory()
    dana = UserFactory(username="dana")
    HealthReviewRowFactory(review=review, automation=AutomationFactory(name="Lead router", team="marketing",
                           rule_owner=dana), recommendation="retire", runs=5)  # fmt: skip
    HealthReviewRowFactory(review=review, automation=AutomationFactory(name="SLA nudge", team="sales"), runs=90)
    client = login(viewer)
    page = client.get(URL).content.decode()
    assert "Lead router" in page and "SLA nudge" in page and "Confirmations: 0 of 2" in page
    assert "SLA nudge" not in client.get(URL + "?recommendation=retire").content.decode()
    assert "Lead router" not in client.get(URL + "?team=sales").content.decode()
    assert "SLA nudge" not in client.get(URL + "?owner=dana").content.decode()
    page = client.get(URL + "?sort=-runs").content.decode()
    assert page.index("SLA nudge") < page.index("Lead router")
    page = client.get(URL + "?sort=runs").content.decode()
    assert page.index("Lead router") < page.index("SLA nudge")


def test_bad_filters_are_ignored_not_a_500(login, viewer):
    HealthReviewFactory()
    assert login(viewer).get(URL + "?recommendation=explode&sort=drop").status_code == 200


def test_an_unknown_month_is_a_404(login, viewer):
    assert login(viewer).get("/reviews/2026-13/").status_code == 404
    assert login(viewer).get("/reviews/2019-01/").status_code == 404


def test_the_review_links_ready_backlog_candidates(login, viewer):
    from tests.backlog.factories import CandidateFactory

    HealthReviewFactory()
    CandidateFactory(title="Auto-assign renewal tasks", ready=True)
    CandidateFactory(title="Discount approvals")
    page = login(viewer).get(URL).content.decode()
    assert "Which manual work is now ready for automation?" in page
    assert "Auto-assign renewal tasks" in page and "Discount approvals" not in page
    assert Candidate.objects.count() == 2


def test_the_row_page_shows_reasons_questions_value_and_trend(login, viewer):
    automation = AutomationFactory(name="Inbound routing")
    HealthReviewRowFactory(review=HealthReviewFactory(month=date(2026, 10, 1)), automation=automation, runs=80)
    row = HealthReviewRowFactory(
        review=HealthReviewFactory(), automation=automation, maintenance_minutes=310, sla_measured=10, sla_met=9
    )
    page = login(viewer).get(row.get_absolute_url()).content.decode()
    # The reason is derived from the row's numbers: 310 minutes is over the 240-minute bar.
    assert "310 minutes of admin maintenance in November 2026" in page and "Is it still used?" in page
    assert "310 min" in page and "9 of 10" in page
    assert page.count("<rect") == 2 and "Oct 2026" in page
    assert "Confirm</button>" not in page  # viewers read, admins confirm
    trend = login(viewer).get(f"/reviews/automations/{automation.key}/").content.decode()
    assert trend.count("<rect") == 2


def test_an_admin_confirms_retire_and_the_automation_is_retired(login, admin):
    row = HealthReviewRowFactory(recommendation="retire")
    response = login(admin).post(f"/reviews/rows/{row.pk}/confirm/", {"decision": "retire", "note": "No one uses it"})
    assert response.status_code == 302
    row.refresh_from_db()
    row.automation.refresh_from_db()
    assert row.automation.status == "retired" and row.decision == "retire" and row.confirmed_by == admin
    assert LifecycleMove.objects.get(automation=row.automation).to_status == "retired"
    assert "Confirmations: 1 of 1" in login(admin).get(URL).content.decode()


def test_a_refused_move_is_a_form_error_and_nothing_is_stored(login, admin):
    row = HealthReviewRowFactory(recommendation="pause", automation=AutomationFactory(status="in_design"))
    response = login(admin).post(f"/reviews/rows/{row.pk}/confirm/", {"decision": "pause", "note": "Stop"})
    assert response.status_code == 400
    assert "cannot move to paused" in response.content.decode()
    row.refresh_from_db()
    assert (row.decision, row.confirmed_at) == ("", None)
    assert not LifecycleMove.objects.exists()


def test_a_missing_note_is_a_form_error_naming_it(login, admin):
    row = HealthReviewRowFactory()
    response = login(admin).post(f"/reviews/rows/{row.pk}/confirm/", {"decision": "adjust"})
    assert response.status_code == 400
    assert "Write a note" in response.content.decode()
    response = login(admin).post(f"/reviews/rows/{row.pk}/confirm/", {"decision": "explode"})
    assert response.status_code == 400 and "valid choice" in response.content.decode()


def test_csv_export_has_every_row_and_quotes_formulas(login, viewer):
    review = HealthReviewFactory()
    HealthReviewRowFactory(review=review, automation=AutomationFactory(name="=HYPERLINK(1)"), note="+cmd")
    HealthReviewRowFactory(review=review)
    response = login(viewer).get(URL + "export.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 2
    quoted = next(r for r in rows if "HYPERLINK" in r["automation"])
    assert quoted["automation"] == "'=HYPERLINK(1)" and quoted["note"] == "'+cmd"
    assert quoted["failure_rate"] == "0.0250" and quoted["recommendation"] == "keep"


def test_the_page_prints_without_navigation(login, viewer):
    HealthReviewFactory()
    page = login(viewer).get(URL).content.decode()
    assert "css/review.css" in page and "window.print()" in page
    from pathlib import Path

    from django.contrib.staticfiles import finders

    css = Path(finders.find("css/review.css")).read_text()
    assert "@media print" in css and "nav.navbar" in css


def test_an_admin_recomputes_and_confirmations_stay(login, admin):
    automation = AutomationFactory(output_recipient="Owner", expected_user_action="Act")
    row = HealthReviewRowFactory(automation=automation, runs=0, decision="keep", note="Fine", confirmed_at=None)
    RunEventFactory(automation=automation, started_at=in_november(5))
    response = login(admin).post("/reviews/2026-11/recompute/")
    assert response.status_code == 302
    row = HealthReviewRow.objects.get(pk=row.pk)
    assert row.runs == 1 and (row.decision, row.note) == ("keep", "Fine")


def test_the_automation_page_shows_its_latest_review_and_the_nav_links_reviews(login, viewer):
    # 40 alerts that led to 10 completed tasks: noisy (the reason is derived from the row's numbers).
    row = HealthReviewRowFactory(recommendation="adjust", noisy=True, alerts_sent=40, tasks_completed=10)
    page = login(viewer).get(row.automation.get_absolute_url()).content.decode()
    assert "Monthly health review" in page and "Noisy: 40 alerts led to 10" in page
    assert f"/reviews/automations/{row.automation.key}/" in page and 'href="/reviews/"' in page
    alone = AutomationFactory()
    assert "Not in a monthly review yet" in login(viewer).get(alone.get_absolute_url()).content.decode()


def test_the_django_admin_lists_reviews_read_only(client, admin):
    row = HealthReviewRowFactory()
    admin.is_superuser = admin.is_staff = True
    admin.save()
    client.force_login(admin)
    assert client.get("/admin/health/healthreviewrow/").status_code == 200
    assert client.get(f"/admin/health/healthreview/{row.review.pk}/change/").status_code == 200
    assert client.get("/admin/health/healthreview/add/").status_code == 403


def test_the_reviews_pages_chart_recommendations_per_month(login, viewer):
    for month, recommendation in ((date(2026, 10, 1), "keep"), (date(2026, 11, 1), "retire")):
        HealthReviewRowFactory(review=HealthReviewFactory(month=month), recommendation=recommendation)
    client = login(viewer)
    for url in ("/reviews/", "/reviews/2026-11/"):
        html = client.get(url).content.decode()
        assert "Recommendations per month" in html and "pygal-chart" in html, url
        assert "Oct 26" in html and "Nov 26" in html


def test_a_confirmed_rows_page_shows_the_figures_recomputed_beside_it(login, viewer, admin):
    row = HealthReviewRowFactory(
        confirmed_at=timezone.now(), confirmed_by=admin, decision="keep", figures_changed=True,
        recomputed_at=timezone.now(),
        recomputed={"figures": {"runs": 140}, "facts": {}, "recommendation": "adjust",
                    "differs": ["runs", "recommendation"]},
    )  # fmt: skip
    html = login(viewer).get(row.get_absolute_url()).content.decode()
    assert "the figures changed" in html
    assert "Runs: 120 when confirmed → 140 now" in html and "Keep when confirmed → Adjust now" in html
