"""CSV import validates every row first, reports line and column, writes all or nothing, and
re-importing the same file changes nothing."""

import csv
import io

import pytest
from django.test import override_settings

from registry import csv_io
from registry.models import Automation
from registry.selectors import automation_queryset
from tests.registry.csv_files import BAD_CELLS, HEADER, csv_file, row
from tests.registry.factories import AutomationFactory, DataFieldFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def segment():
    return DataFieldFactory(object_name="Lead", api_name="Segment__c")


def test_valid_file_registers_every_row_with_the_import_as_history_reason(admin, segment):
    content = (HEADER + row("dedupe-leads") + row("dedupe-accounts", merges_records="yes")).encode()
    result = csv_io.import_automations(content=content, by=admin, filename="crm-export.csv")
    assert result.errors == []
    assert sorted(result.created) == ["dedupe-accounts", "dedupe-leads"]
    automation = Automation.objects.get(key="dedupe-accounts")
    assert automation.risk_tier == "high"
    assert automation.failure_owner == admin
    assert list(automation.data_fields.all()) == [segment]
    record = automation.history.latest()
    assert (record.history_user, record.history_change_reason) == (admin, "CSV import of crm-export.csv")


def test_bad_rows_are_named_by_line_and_column_and_nothing_is_written(admin, segment):
    content = (
        HEADER
        + row("good-one")
        + row("Bad Key!")
        + row("unknown-owner", failure_owner="nobody@example.com")
        + row("bad-field", data_fields="Lead.Segmnt__c", workflow_type="telepathy")
    ).encode()
    result = csv_io.import_automations(content=content, by=admin)
    assert not Automation.objects.exists()
    assert not result.written
    errors = {(e.line, e.column) for e in result.errors}
    assert {(3, "key"), (4, "failure_owner"), (5, "data_fields"), (5, "workflow_type")} <= errors
    assert result.bad_lines == [3, 4, 5]
    message = next(e.message for e in result.errors if e.column == "failure_owner")
    assert "nobody@example.com" in message


@pytest.mark.parametrize("case", BAD_CELLS)
def test_every_bad_cell_is_a_row_error_naming_row_and_column_and_nothing_is_stored(admin, segment, case):
    overrides, column = BAD_CELLS[case]
    content = csv_file({"key": "good-one"}, {"key": "bad-one", **overrides})
    result = csv_io.import_automations(content=content, by=admin)
    assert [(e.line, e.column) for e in result.errors] == [(3, column)], result.errors
    assert not result.written
    assert not Automation.objects.exists()
    assert not Automation.history.exists()


def test_a_row_the_service_refuses_after_the_check_stores_nothing_of_the_file(admin, segment, monkeypatch):
    from django.core.exceptions import ValidationError

    from registry import services

    create = services.automation_create

    def refuse_the_second(**kwargs):
        if kwargs["key"] == "second":
            raise ValidationError({"rule": "Refused late, as a concurrent change would."})
        return create(**kwargs)

    monkeypatch.setattr(services, "automation_create", refuse_the_second)
    result = csv_io.import_automations(content=csv_file({"key": "first"}, {"key": "second"}), by=admin)
    assert [(e.line, e.column) for e in result.errors] == [(3, "rule")]
    assert (result.written, result.created) == (False, [])
    assert not Automation.objects.exists()


def test_checking_a_file_stores_nothing_and_says_what_importing_would_do(admin, segment):
    AutomationFactory(key="known", name="Old name", status="live")
    known = {"key": "known", "name": "New name", "status": "live", "last_reviewed_at": ""}
    content = csv_file({"key": "new-one"}, known)
    result = csv_io.import_automations(content=content, by=admin, dry_run=True)
    assert result.errors == []
    assert (result.created, result.updated, result.written) == (["new-one"], ["known"], False)
    assert list(Automation.objects.values_list("key", "name")) == [("known", "Old name")]


def test_a_new_row_is_registered_as_proposed(admin, segment):
    result = csv_io.import_automations(
        content=csv_file({"key": "said-proposed", "status": "proposed"}, {"key": "said-nothing", "status": ""}),
        by=admin,
    )
    assert result.errors == []
    assert set(Automation.objects.values_list("status", flat=True)) == {"proposed"}


def test_an_existing_row_may_repeat_its_status(admin, segment):
    AutomationFactory(key="known", status="live", name="Old name")
    exported = "".join(csv_io.export_lines(automation_queryset())).replace("Old name", "New name")
    assert ",live," in exported
    result = csv_io.import_automations(content=exported.encode(), by=admin)
    assert (result.errors, result.updated) == ([], ["known"])
    assert Automation.objects.values_list("name", "status").get() == ("New name", "live")


def test_reimporting_the_same_file_changes_nothing(admin, segment):
    content = (HEADER + row("dedupe-leads") + row("dedupe-accounts")).encode()
    csv_io.import_automations(content=content, by=admin)
    versions = sorted(Automation.history.values_list("history_id", flat=True))
    again = csv_io.import_automations(content=content, by=admin)
    assert again.created == [] and again.updated == []
    assert sorted(again.unchanged) == ["dedupe-accounts", "dedupe-leads"]
    assert sorted(Automation.history.values_list("history_id", flat=True)) == versions


def test_a_changed_row_updates_the_automation(admin, segment):
    csv_io.import_automations(content=(HEADER + row("dedupe-leads")).encode(), by=admin)
    result = csv_io.import_automations(content=(HEADER + row("dedupe-leads", name="Lead dedupe")).encode(), by=admin)
    assert result.updated == ["dedupe-leads"]
    assert Automation.objects.get(key="dedupe-leads").name == "Lead dedupe"


def test_a_status_change_by_import_is_refused(admin, segment):
    csv_io.import_automations(content=(HEADER + row("dedupe-leads")).encode(), by=admin)
    result = csv_io.import_automations(content=(HEADER + row("dedupe-leads", status="retired")).encode(), by=admin)
    assert [(e.line, e.column) for e in result.errors] == [(2, "status")]


def test_duplicate_keys_in_one_file_are_reported(admin, segment):
    result = csv_io.import_automations(content=(HEADER + row("same") + row("same")).encode(), by=admin)
    assert [(e.line, e.column) for e in result.errors] == [(3, "key")]


def test_export_imports_back_unchanged(admin, segment):
    AutomationFactory(data_fields=[segment], uses_ai=True, schedule_kind="cron", schedule_cron="0 7 * * 1-5")
    AutomationFactory(failure_owner=None, review_cadence=90)
    exported = "".join(csv_io.export_lines(automation_queryset().order_by("key"))).encode()
    result = csv_io.import_automations(content=exported, by=admin)
    assert result.errors == []
    assert result.created == [] and result.updated == []
    assert len(result.unchanged) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00k\x00e", "not UTF-8"),
        (b"key,name,colour\n", "unknown column"),
        (b"name\n", "required column"),
    ],
)
def test_unreadable_files_are_refused_whole(admin, content, message):
    with pytest.raises(csv_io.CsvFileError, match=message):
        csv_io.import_automations(content=content, by=admin)


@override_settings(REVOPS={"CSV_IMPORT_MAX_BYTES": 100, "CSV_IMPORT_MAX_ROWS": 5000, "TOKEN_CACHE_SECONDS": 60})
def test_files_over_the_size_limit_are_refused(admin):
    with pytest.raises(csv_io.CsvFileError, match="larger than"):
        csv_io.import_automations(content=b"key,name\n" + b"a,b\n" * 50, by=admin)


def test_export_quotes_cells_a_spreadsheet_would_run_as_formulas_and_imports_them_back(admin, segment):
    AutomationFactory(
        key="formulas",
        name='=HYPERLINK("http://evil.example","click")',
        business_purpose="+1 to everything",
        trigger="-2+3",
        rule="@SUM(A1)",
    )
    exported = "".join(csv_io.export_lines(automation_queryset()))
    record = dict(zip(*csv.reader(io.StringIO(exported)), strict=True))
    assert record["name"] == '\'=HYPERLINK("http://evil.example","click")'
    quoted = (record["business_purpose"], record["trigger"], record["rule"])
    assert quoted == ("'+1 to everything", "'-2+3", "'@SUM(A1)")
    result = csv_io.import_automations(content=exported.encode(), by=admin)
    assert (result.errors, result.unchanged) == ([], ["formulas"])
    assert Automation.objects.get().name.startswith("=HYPERLINK")
