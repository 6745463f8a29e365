"""`manage.py metadata_import --system <slug> PATH [--json] [--dry-run]`: the JSON the issue
specifies, a re-import all unchanged with no new rows but the snapshot, an edited flow changed
with a drift finding, and bad input refused with nothing stored."""

import json
import zipfile
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from discovery.models import DataFieldSource, Finding, MetadataSnapshot, SnapshotAutomation, SnapshotField
from registry.models import Automation, DataField, Hold
from tests.discovery.samples import BILLION_LAUGHS, DREAMHOUSE, HUBSPOT, copy_dreamhouse, edit_flow_filter, write
from tests.discovery.test_parsers import EXPECTED
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


def run(path, *args, system="salesforce"):
    out, err = StringIO(), StringIO()
    call_command("metadata_import", str(path), "--system", system, "--json", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue())


def counts():
    return (
        MetadataSnapshot.objects.count(),
        SnapshotAutomation.objects.count(),
        SnapshotField.objects.count(),
        Automation.objects.count(),
        DataField.objects.count(),
        DataFieldSource.objects.count(),
        Finding.objects.count(),
    )


def test_json_has_exactly_the_interface_of_the_issue():
    result = run(DREAMHOUSE)
    assert set(result) == {"snapshot", "system", "automations", "fields", "findings"}
    assert result["snapshot"] == MetadataSnapshot.objects.get().pk
    assert result["system"] == "salesforce"
    for automation in result["automations"]:
        assert set(automation) == {
            "external_id",
            "kind",
            "name",
            "object",
            "events",
            "active",
            "reads",
            "writes",
            "actions",
            "registry_key",
            "change",
        }
    for field in result["fields"]:
        assert set(field) == {"name", "type", "label"}
    for finding in result["findings"]:
        assert set(finding) == {"kind", "automation", "message"}


def test_dreamhouse_through_the_command_finds_the_source_table():
    result = run(DREAMHOUSE)
    found = {a["external_id"]: a for a in result["automations"]}
    assert sorted(found) == sorted(EXPECTED)
    for external_id, expected in EXPECTED.items():
        for key, value in expected.items():
            assert found[external_id][key] == value, (external_id, key)
        assert found[external_id]["change"] == "new"
    assert len(result["fields"]) == 39
    assert {"name": "Tour_Request__c.Status__c", "type": "Picklist", "label": "Status"} in result["fields"]


def test_a_second_import_is_all_unchanged_and_adds_only_the_snapshot():
    run(DREAMHOUSE)
    before = counts()
    second = run(DREAMHOUSE)
    assert {a["change"] for a in second["automations"]} == {"unchanged"}
    assert second["findings"] == []
    after = counts()
    assert after[0] == before[0] + 1
    assert after[1:] == before[1:]


def test_active_automation_without_a_record_enters_the_registry_as_discovered():
    owner = AutomationFactory(system="salesforce", external_id="").rule_owner
    Automation.objects.update(system_owner=owner)
    result = run(DREAMHOUSE)
    found = {a["external_id"]: a for a in result["automations"]}
    record = Automation.objects.get(external_id="Flow:Duplicate_Email")
    assert record.status == "discovered"
    assert record.system_owner == owner
    assert found["Flow:Duplicate_Email"]["registry_key"] == record.key
    # inactive in the CRM: not running, so not entered
    assert found["ApprovalProcess:Tour_Request__c.Tour_Request_Approval"]["registry_key"] is None
    undocumented = [f for f in result["findings"] if f["automation"] == "Flow:Duplicate_Email"]
    assert undocumented[0]["kind"] == "undocumented"
    assert "running in the CRM without a registry record or approval" in undocumented[0]["message"]
    assert Finding.objects.get(external_id="Flow:Duplicate_Email").recipient == owner


def test_an_edited_flow_filter_is_changed_with_a_drift_finding_reported_once(tmp_path):
    """The import reports the drift on its snapshot; the hold is the health monitor's
    (tests/health/test_monitors_crm_drift.py), so no rule lives twice."""
    record = AutomationFactory(
        system="salesforce", external_id="Flow:Duplicate_Email", status="live", affects_customer_communication=True
    )
    assert record.risk_tier_rank == 3
    run(DREAMHOUSE)
    project = copy_dreamhouse(tmp_path / "edited")
    edit_flow_filter(project)
    result = run(project)
    found = {a["external_id"]: a for a in result["automations"]}
    assert found["Flow:Duplicate_Email"]["change"] == "changed"
    assert found["Flow:Duplicate_Email"]["registry_key"] == record.key
    assert {a["change"] for eid, a in found.items() if eid != "Flow:Duplicate_Email"} == {"unchanged"}
    drift = Finding.objects.get(kind="definition_changed")
    assert drift.automation == record
    assert "Secondary_Email__c" in drift.evidence and "-" in drift.evidence
    assert not Hold.objects.filter(automation=record).exists()
    again = run(project)
    assert {a["change"] for a in again["automations"]} == {"unchanged"}
    assert again["findings"] == [] and Finding.objects.filter(kind="definition_changed").count() == 1


def test_medium_or_low_tier_drift_is_review_due_without_a_hold(tmp_path):
    record = AutomationFactory(system="salesforce", external_id="Flow:Duplicate_Email", status="approved")
    run(DREAMHOUSE)
    project = copy_dreamhouse(tmp_path / "edited")
    edit_flow_filter(project)
    result = run(project)
    (drift,) = [f for f in result["findings"] if f["kind"] == "definition_changed"]
    assert "review due" in drift["message"]
    assert not Hold.objects.filter(automation=record).exists()


def test_registry_live_but_inactive_in_the_crm_and_active_while_paused():
    AutomationFactory(system="salesforce", external_id="ApprovalProcess:Tour_Request__c.Tour_Request_Approval")
    AutomationFactory(system="salesforce", external_id="Flow:Duplicate_Email", status="paused")
    AutomationFactory(system="salesforce", external_id="Flow:Gone_Flow")
    kinds = {(f["kind"], f["automation"]) for f in run(DREAMHOUSE)["findings"]}
    assert ("inactive_while_live", "ApprovalProcess:Tour_Request__c.Tour_Request_Approval") in kinds
    assert ("active_while_paused", "Flow:Duplicate_Email") in kinds
    assert ("inactive_while_live", "Flow:Gone_Flow") in kinds


def test_a_field_deleted_since_the_last_import_is_a_finding_for_who_uses_it(tmp_path):
    run(DREAMHOUSE)
    project = copy_dreamhouse(tmp_path / "p")
    (project / "force-app/main/default/objects/Broker__c/fields/Realtor_User__c.field-meta.xml").unlink()
    result = run(project)
    (finding,) = [f for f in result["findings"] if f["kind"] == "field_changed"]
    assert finding["automation"] == "Flow:Tour_Request_Set_Realtor"
    assert "Broker__c.Realtor_User__c: deleted" in finding["message"]


def test_custom_fields_enter_the_data_dictionary_and_peoples_words_are_kept(tmp_path):
    run(DREAMHOUSE)
    status = DataField.objects.get(object_name="Tour_Request__c", api_name="Status__c")
    assert "Draft, Pending Approval, Approved, Rejected" in status.definition
    status.definition = "Where the tour request is in its approval."
    status.save()
    project = copy_dreamhouse(tmp_path / "p")
    path = project / "force-app/main/default/objects/Tour_Request__c/fields/Status__c.field-meta.xml"
    path.write_text(path.read_text().replace("<label>Rejected</label>", "<label>Declined</label>"))
    path.write_text(path.read_text().replace("<fullName>Rejected</fullName>", "<fullName>Declined</fullName>"))
    run(project)
    status.refresh_from_db()
    assert status.definition == "Where the tour request is in its approval."
    assert "Declined" in status.metadata_source.crm_definition


def test_dry_run_reports_and_stores_nothing():
    result = run(DREAMHOUSE, "--dry-run")
    assert result["snapshot"] is None
    assert {a["change"] for a in result["automations"]} == {"new"}
    assert counts() == (0, 0, 0, 0, 0, 0, 0)


def test_hubspot_fixtures_through_the_command():
    result = run(HUBSPOT, system="hubspot")
    found = {a["external_id"]: a for a in result["automations"]}
    assert sorted(found) == ["HubSpotFlow:585051946", "HubSpotFlow:620391120"]
    assert found["HubSpotFlow:585051946"]["writes"] == ["Contact.hs_lead_status", "Contact.lifecyclestage"]
    assert {a["change"] for a in run(HUBSPOT, system="hubspot")["automations"]} == {"unchanged"}


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda root: write(root, "flows/Cut.flow-meta.xml", b"<Flow><label>half"), id="truncated"),
        pytest.param(lambda root: write(root, "flows/Laughs.flow-meta.xml", BILLION_LAUGHS), id="billion-laughs"),
    ],
)
def test_bad_files_are_refused_naming_the_file_and_nothing_is_stored(tmp_path, make):
    project = copy_dreamhouse(tmp_path / "p")
    make(project / "force-app/main/default")
    with pytest.raises(CommandError, match=r"force-app/main/default/flows/\w+\.flow-meta\.xml"):
        run(project)
    assert counts() == (0, 0, 0, 0, 0, 0, 0)


def test_a_zip_escaping_its_folder_is_refused_and_nothing_is_stored(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("force-app/main/default/flows/Ok.flow-meta.xml", "<Flow><status>Active</status></Flow>")
        zf.writestr("../outside.flow-meta.xml", "<Flow/>")
    with pytest.raises(CommandError, match="leaves the archive"):
        run(archive)
    assert counts() == (0, 0, 0, 0, 0, 0, 0)


def test_a_truncated_file_after_a_good_import_leaves_the_previous_state(tmp_path):
    run(DREAMHOUSE)
    before = counts()
    project = copy_dreamhouse(tmp_path / "p")
    flow = project / "force-app/main/default/flows/Create_property.flow-meta.xml"
    flow.write_bytes(flow.read_bytes()[:3000])
    with pytest.raises(CommandError, match="Create_property.flow-meta.xml, line"):
        run(project)
    assert counts() == before


def test_exit_status_is_non_zero_on_bad_input(tmp_path):
    import subprocess
    import sys

    write(tmp_path, "flows/Cut.flow-meta.xml", b"<Flow>")
    done = subprocess.run(
        [sys.executable, "manage.py", "metadata_import", "--system", "salesforce", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        env={"DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode != 0
    assert "flows/Cut.flow-meta.xml" in done.stderr
