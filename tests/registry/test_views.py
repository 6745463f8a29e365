"""The registry pages: what each role sees and may do, forms that explain errors, constant queries."""

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from registry import services
from registry.models import Automation, ChangeEvent, Hold
from revops_gov.concurrency import revision_of
from tests.factories import UserFactory
from tests.registry.csv_files import BAD_CELLS, csv_file
from tests.registry.factories import AutomationFactory, DataFieldFactory

pytestmark = pytest.mark.django_db

FORM = {
    "key": "renewal-task-creation",
    "name": "Renewal task creation",
    "business_purpose": "Create renewal tasks 120 days before contract end.",
    "workflow_type": "renewal",
    "team": "cs",
    "system": "salesforce",
    "trigger": "Daily at 6:00.",
    "rule": "Contracts ending in 120 days without a renewal opportunity.",
    "creates_internal_tasks": "on",
    "maturity_stage": "3",
    "schedule_kind": "cron",
    "schedule_cron": "0 6 * * *",
    "schedule_grace": "01:00:00",
}


def test_anonymous_goes_to_login(client):
    response = client.get(reverse("registry:automation-list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_person_without_a_role_is_forbidden(login, outsider):
    assert login(outsider).get(reverse("registry:automation-list")).status_code == 403


def test_viewer_reads_but_cannot_open_forms(login, viewer):
    automation = AutomationFactory()
    client = login(viewer)
    assert client.get(reverse("registry:automation-list")).status_code == 200
    assert client.get(automation.get_absolute_url()).status_code == 200
    assert client.get(reverse("registry:automation-create")).status_code == 403
    assert client.post(reverse("registry:automation-edit", args=[automation.key]), {}).status_code == 403


def test_detail_explains_the_tier_and_its_controls(login, viewer):
    automation = AutomationFactory(merges_records=True)
    page = login(viewer).get(automation.get_absolute_url()).content.decode()
    assert "Merges records where account history may be affected" in page
    assert "Human approval" in page


def test_detail_warns_about_untrusted_fields(login, viewer):
    automation = AutomationFactory(
        data_fields=[DataFieldFactory(api_name="Tier__c", object_name="Account", status="unstable")]
    )
    page = login(viewer).get(automation.get_absolute_url()).content.decode()
    assert "Data readiness" in page and "Account.Tier__c" in page


def test_admin_registers_an_automation(login, admin):
    response = login(admin).post(reverse("registry:automation-create"), FORM)
    assert response.status_code == 302
    automation = Automation.objects.get(key="renewal-task-creation")
    assert automation.risk_tier == "medium"
    assert automation.history.latest().history_user == admin


def test_form_errors_are_shown_on_the_fields_and_nothing_is_saved(login, admin):
    response = login(admin).post(
        reverse("registry:automation-create"), {**FORM, "schedule_cron": "sometimes", "name": ""}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved" in page
    assert "is not a valid cron expression" in page
    assert not Automation.objects.exists()


def test_tier_below_floor_is_refused_in_the_form(login, admin):
    data = {**FORM, "merges_records": "on", "risk_tier_override": "low", "risk_tier_override_reason": "we trust it"}
    response = login(admin).post(reverse("registry:automation-create"), data)
    assert response.status_code == 400
    assert "cannot be lowered below high" in response.content.decode()


def test_edit_needs_a_reason_and_history_shows_the_diff(login, admin):
    client = login(admin)
    client.post(reverse("registry:automation-create"), FORM)
    edit = reverse("registry:automation-edit", args=["renewal-task-creation"])
    assert client.post(edit, {**FORM, "name": "Renewal tasks"}).status_code == 400
    opened = {"revision": revision_of(Automation.objects.get(key="renewal-task-creation"))}
    response = client.post(edit, {**FORM, **opened, "name": "Renewal tasks", "change_reason": "Shorter name"})
    assert response.status_code == 302
    history = client.get(reverse("registry:automation-history", args=["renewal-task-creation"])).content.decode()
    assert "Shorter name" in history
    assert "Renewal task creation" in history and "Renewal tasks" in history


def test_import_page_reports_the_bad_row(login, admin):
    content = (
        b"key,name,business_purpose,workflow_type,team,system,trigger,rule\n"
        b"lead-dedupe,Lead dedupe,Clean leads,crm_hygiene,revops,salesforce,Nightly,Same email\n"
        b"bad-team,Bad team,x,crm_hygiene,legal,salesforce,Nightly,x\n"
    )
    upload = SimpleUploadedFile("export.csv", content, content_type="text/csv")
    response = login(admin).post(reverse("registry:automation-import"), {"file": upload})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported" in page
    assert "<td>3</td><td><code>team</code></td>" in page
    assert not Automation.objects.exists()


def _upload(client, content, name="export.csv"):
    upload = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(reverse("registry:automation-import"), {"file": upload})


def _checked(response) -> str:
    match = re.search(r'name="checked" value="([^"]+)"', response.content.decode())
    assert match, "the check offers no confirmation"
    return html.unescape(match.group(1))


@pytest.mark.parametrize("case", BAD_CELLS)
def test_import_page_shows_every_bad_cell_as_a_row_error_and_stores_nothing(login, admin, case):
    DataFieldFactory(object_name="Lead", api_name="Segment__c")
    overrides, column = BAD_CELLS[case]
    response = _upload(login(admin), csv_file({"key": "good-one"}, {"key": "bad-one", **overrides}))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported" in page
    assert f"<td>3</td><td><code>{column}</code></td>" in page
    assert 'name="checked"' not in page
    assert not Automation.objects.exists()


def test_import_page_checks_first_writes_nothing_and_imports_on_confirm(login, admin):
    DataFieldFactory(object_name="Lead", api_name="Segment__c")
    AutomationFactory(key="known", name="Old name")
    client = login(admin)
    response = _upload(client, csv_file({"key": "new-one"}, {"key": "known", "status": "live", "last_reviewed_at": ""}))
    assert response.status_code == 200, re.findall(r"<td>.*?</tr>", response.content.decode())
    page = response.content.decode()
    assert "Nothing has been written yet" in page
    assert "Importing will register 1, update 1 and leave 0 unchanged" in page
    assert "All rows are written together, or none" in page
    assert list(Automation.objects.values_list("key", "name")) == [("known", "Old name")]
    assert not Automation.history.filter(key="new-one").exists()

    response = client.post(reverse("registry:automation-import"), {"checked": _checked(response)})
    assert response.status_code == 200
    assert "1 registered, 1 updated, 0 unchanged" in response.content.decode()
    assert Automation.objects.get(key="new-one").status == "proposed"
    assert Automation.objects.get(key="known").name == "Automation x"


def test_import_confirmation_checks_again_and_stores_nothing_if_a_row_went_bad(login, admin):
    DataFieldFactory(object_name="Lead", api_name="Segment__c")
    client = login(admin)
    morgan = UserFactory(username="morgan")
    response = _upload(client, csv_file({"key": "first"}, {"key": "second", "rule_owner": "morgan"}))
    checked = _checked(response)
    morgan.is_active = False
    morgan.save()
    response = client.post(reverse("registry:automation-import"), {"checked": checked})
    assert response.status_code == 400
    page = response.content.decode()
    assert "The registry changed since the check" in page
    assert "<td>3</td><td><code>rule_owner</code></td>" in page
    assert not Automation.objects.exists()


def test_import_confirmation_not_made_by_the_page_is_refused(login, admin, manager):
    DataFieldFactory(object_name="Lead", api_name="Segment__c")
    response = _upload(login(admin), csv_file({"key": "first"}))
    checked = _checked(response)
    url = reverse("registry:automation-import")
    response = login(admin).post(url, {"checked": checked[:-3] + "abc"})
    assert response.status_code == 400
    assert "not one this page made for you" in response.content.decode()
    other_admin = UserFactory(role="revops_admin")
    assert login(other_admin).post(url, {"checked": checked}).status_code == 400
    assert not Automation.objects.exists()


def test_import_refuses_a_file_that_is_not_csv(login, admin):
    upload = SimpleUploadedFile("picture.png", b"\x89PNG", content_type="image/png")
    response = login(admin).post(reverse("registry:automation-import"), {"file": upload})
    assert response.status_code == 400
    assert "Upload a .csv file" in response.content.decode()


def test_export_streams_the_filtered_registry(login, viewer):
    AutomationFactory(team="sales", key="sales-one")
    AutomationFactory(team="cs", key="cs-one")
    response = login(viewer).get(reverse("registry:automation-export") + "?team=sales")
    body = b"".join(response.streaming_content).decode()
    assert "sales-one" in body and "cs-one" not in body


def test_bulk_owner_assignment_from_the_list(login, admin, manager):
    first, second = AutomationFactory(failure_owner=None), AutomationFactory(failure_owner=None)
    response = login(admin).post(
        reverse("registry:automation-bulk-owner"),
        {
            "automations": [first.key, second.key],
            "role": "failure_owner",
            "owner": manager.pk,
            "change_reason": "Stock-take",
        },
    )
    assert response.status_code == 302
    assert Automation.objects.filter(failure_owner=manager).count() == 2


def test_hold_placed_and_released_from_the_page(login, admin):
    automation = AutomationFactory()
    client = login(admin)
    client.post(reverse("registry:hold-place", args=[automation.key]), {"reason": "Routing loop in production"})
    hold = Hold.objects.get()
    assert "Routing loop in production" in client.get(automation.get_absolute_url()).content.decode()
    client.post(reverse("registry:hold-release", args=[automation.key, hold.pk]), {"note": "Loop fixed"})
    hold.refresh_from_db()
    assert hold.released_by == admin


def test_change_event_form_records_and_flags(login, admin):
    automation = AutomationFactory()
    response = login(admin).post(
        reverse("registry:changeevent-create"),
        {
            "kind": "segments",
            "title": "New mid-market band",
            "occurred_on": "2026-11-01",
            "automations": [automation.pk],
        },
    )
    assert response.status_code == 302
    assert ChangeEvent.objects.get().automations.get() == automation


def test_data_field_edit_reports_automations_due(login, admin):
    field = DataFieldFactory()
    AutomationFactory(data_fields=[field])
    data = {
        "object_name": field.object_name,
        "api_name": field.api_name,
        "label": field.label,
        "definition": "New meaning",
        "source_of_truth": "salesforce",
        "status": "trusted",
        "change_reason": "Redefined",
        "revision": revision_of(field),
    }
    response = login(admin).post(reverse("registry:datafield-edit", args=[field.pk]), data, follow=True)
    assert "1 automation(s) using it are now due for review" in response.content.decode()


@pytest.mark.parametrize(
    "url_name", ["registry:automation-list", "registry:datafield-list", "registry:changeevent-list"]
)
def test_list_pages_use_constant_queries(login, admin, url_name):
    client = login(admin)
    owner = admin
    field = DataFieldFactory()

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse(url_name)).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(10):
        automation = AutomationFactory(rule_owner=owner, data_fields=[field])
        ChangeEvent.objects.create(
            kind="segments", title="x", occurred_on="2026-11-01", recorded_by=admin
        ).automations.add(automation)
    at_ten = queries()
    for _ in range(490):
        automation = AutomationFactory(rule_owner=owner, data_fields=[field])
    at_five_hundred = queries()
    assert at_ten == at_five_hundred


def test_the_page_shows_review_overdue_with_reasons_next_due_date_and_review_history(login, admin):
    start = timezone.make_aware(timezone.datetime(2026, 1, 5, 9, 0))
    with time_machine.travel(start, tick=False):
        automation = AutomationFactory(review_cadence=30)
        services.automation_mark_reviewed(automation=automation, by=admin, notes="Owner confirmed the rule")
    client = login(admin)
    with time_machine.travel(start + timedelta(days=10), tick=False):
        page = client.get(automation.get_absolute_url()).content.decode()
    assert "Review overdue" not in page
    assert "2026-02-04" in page  # next due: one monthly cadence after the review
    assert "2026-01-05</strong> by Alice Admin: Owner confirmed the rule" in page
    with time_machine.travel(start + timedelta(days=31), tick=False):
        page = client.get(automation.get_absolute_url()).content.decode()
    assert "Review overdue" in page
    assert "Monthly review cadence passed on 2026-02-04, 31 days since last review" in page


def test_admin_edits_the_review_cadence_in_the_form(login, admin):
    client = login(admin)
    client.post(reverse("registry:automation-create"), FORM)
    edit = reverse("registry:automation-edit", args=["renewal-task-creation"])
    opened = {"revision": revision_of(Automation.objects.get(key="renewal-task-creation"))}
    response = client.post(
        edit, {**FORM, **opened, "review_cadence": "30", "change_reason": "Reviewed monthly from now"}
    )
    assert response.status_code == 302
    automation = Automation.objects.get(key="renewal-task-creation")
    assert automation.review_cadence == 30
    assert automation.review_cadence_days == 30
    opened = {"revision": revision_of(automation)}
    response = client.post(edit, {**FORM, **opened, "review_cadence": "7", "change_reason": "Weekly"})
    assert response.status_code == 400
    assert "review_cadence" in response.context["form"].errors


# --- issue 16: the filters the dashboard links with -------------------------------------------
def _listed(client, query: str) -> set[str]:
    response = client.get(reverse("registry:automation-export") + query)
    assert response.status_code == 200
    return {line.split(",")[0] for line in b"".join(response.streaming_content).decode().splitlines()[1:]}


def test_the_yes_no_filters_read_yes_and_no_as_true_and_false(login, viewer):
    stale = AutomationFactory(key="stale", last_reviewed_at=timezone.now() - timedelta(days=400))
    fresh = AutomationFactory(key="fresh", last_reviewed_at=timezone.now())
    client = login(viewer)
    for yes, no in (("yes", "no"), ("true", "false"), ("Yes", "No")):
        assert stale.key in _listed(client, f"?review_due={yes}")
        assert fresh.key not in _listed(client, f"?review_due={yes}")
        assert fresh.key in _listed(client, f"?review_due={no}")
    assert client.get(reverse("registry:automation-list") + "?review_due=maybe").status_code == 200
    assert _listed(client, "?review_due=maybe") == set()


def test_the_retired_and_packet_filters(login, viewer):
    from tests.approvals.factories import approved_packet

    AutomationFactory(key="retired-high", status="retired", risk_tier_override="high")
    AutomationFactory(key="live-high", status="live", risk_tier_override="high")
    approved_packet(AutomationFactory(key="live-approved", status="live"))
    client = login(viewer)
    assert _listed(client, "?tier=high&retired=no") == {"live-high"}
    assert _listed(client, "?tier=high&retired=yes") == {"retired-high"}
    assert _listed(client, "?status=live&packet=missing") == {"live-high"}
    assert _listed(client, "?status=live&packet=approved") == {"live-approved"}
