"""The CRM drift monitors (issue 17, "Drift" and "Collisions"): a metadata import through the
command or the API, then a monitor pass, and what the permit endpoint answers. The rules are
discovery's (discovery.selectors.drift); health raises the findings and holds, once per
automation and kind however many passes run."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from health import monitors
from health.models import Finding
from registry.models import Hold
from tests.discovery.samples import DREAMHOUSE, copy_dreamhouse, edit_flow_filter, zip_folder
from tests.health.factories import RunEventFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def command_import(path, system="salesforce"):
    out = StringIO()
    call_command("metadata_import", str(path), "--system", system, "--json", stdout=out)
    return json.loads(out.getvalue())


def api_import(api, token, folder, tmp_path):
    archive = zip_folder(folder, tmp_path / f"{folder.name}.zip")
    with archive.open("rb") as handle:
        response = api.as_token(token).post("/api/v1/metadata-snapshots/", {"file": handle}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def unresolved(kind):
    return Finding.objects.filter(kind=kind, status__in=("open", "acknowledged", "suppressed", "fixed"))


def permit(api, token, automation):
    response = api.as_token(token).get(f"/api/v1/automations/{automation.key}/permit/")
    assert response.status_code == 200
    return response.json()


def test_a_high_tier_flow_edited_in_the_crm_since_approval_is_held_and_the_permit_says_why(api, sf_token, tmp_path):
    record = AutomationFactory(
        system="salesforce", external_id="Flow:Duplicate_Email", status="live", affects_customer_communication=True
    )
    assert record.risk_tier_rank == 3
    command_import(DREAMHOUSE)
    monitors.monitors_run()
    assert not any("CRM" in reason for reason in permit(api, sf_token, record)["reasons"])

    project = copy_dreamhouse(tmp_path / "edited")
    edit_flow_filter(project)
    api_import(api, sf_token, project, tmp_path)
    monitors.monitors_run()
    monitors.monitors_run()  # a second pass changes nothing

    (finding,) = unresolved("crm_changed")
    assert finding.automation == record and finding.severity == "high"
    assert "changed in the CRM since it was approved" in finding.reason
    (diff,) = finding.evidence["evidence"]
    assert "-" in diff and "Secondary_Email__c" in diff  # the definition diff is the evidence
    assert Hold.objects.filter(automation=record, released_at__isnull=True).count() == 1
    answer = permit(api, sf_token, record)
    assert answer["mode"] == "blocked"
    assert any("Changed in the CRM since approval" in reason for reason in answer["reasons"])


def test_a_medium_tier_change_is_review_due_without_a_hold(api, sf_token, tmp_path):
    record = AutomationFactory(system="salesforce", external_id="Flow:Duplicate_Email", status="live")
    assert record.risk_tier_rank < 3
    command_import(DREAMHOUSE)
    project = copy_dreamhouse(tmp_path / "edited")
    edit_flow_filter(project)
    command_import(project)
    monitors.monitors_run()
    (finding,) = unresolved("crm_changed")
    assert finding.severity == "medium" and "review due" in finding.reason
    assert "Review the change made in the CRM" in finding.expected_action
    assert not Hold.objects.filter(automation=record).exists()
    assert not any("CRM" in reason for reason in permit(api, sf_token, record)["reasons"])


def test_a_change_approved_after_it_was_imported_is_no_drift(tmp_path, admin):
    """The approval covers the CRM version current when it was given: a flow changed, then
    approved again (a LifecycleMove to approved), drifts no more."""
    from registry.models import LifecycleMove

    record = AutomationFactory(system="salesforce", external_id="Flow:Duplicate_Email", status="approved")
    command_import(DREAMHOUSE)
    project = copy_dreamhouse(tmp_path / "edited")
    edit_flow_filter(project)
    command_import(project)
    monitors.monitors_run()
    assert unresolved("crm_changed").count() == 1
    LifecycleMove.objects.create(
        automation=record, from_status="design", to_status="approved", automation_version=1, by=admin, reason="ok"
    )
    monitors.monitors_run()
    assert unresolved("crm_changed").count() == 0


def test_active_in_the_crm_while_paused_and_live_while_inactive_or_missing():
    paused = AutomationFactory(system="salesforce", external_id="Flow:Duplicate_Email", status="paused")
    inactive = AutomationFactory(
        system="salesforce", external_id="ApprovalProcess:Tour_Request__c.Tour_Request_Approval", status="live"
    )
    missing = AutomationFactory(system="salesforce", external_id="Flow:Gone_Flow", status="live")
    unknown_form = AutomationFactory(system="salesforce", external_id="legacy-42", status="live")
    command_import(DREAMHOUSE)
    monitors.monitors_run()
    monitors.monitors_run()
    (active,) = unresolved("crm_active_while_paused")
    assert active.automation == paused and "registry status: paused" in active.evidence["evidence"][0]
    assert active.owner_id == paused.system_owner_id or active.owner_id is not None
    live = {f.automation: f for f in unresolved("crm_inactive_while_live")}
    assert set(live) == {inactive, missing}
    assert "inactive" in live[inactive].reason and "missing" in live[missing].reason
    assert unknown_form not in live


def test_a_collision_is_a_finding_only_when_an_automation_in_it_is_high_tier(tmp_path):
    """A copy of the realtor flow writes the same field on the same event: listed always, a
    finding only once one of the two is high tier."""
    project = copy_dreamhouse(tmp_path / "p")
    flows = project / "force-app/main/default/flows"
    (flows / "Tour_Request_Set_Realtor_Again.flow-meta.xml").write_bytes(
        (flows / "Tour_Request_Set_Realtor.flow-meta.xml").read_bytes()
    )
    low = AutomationFactory(system="salesforce", external_id="Flow:Tour_Request_Set_Realtor", status="live")
    command_import(project)
    monitors.monitors_run()
    assert not unresolved("crm_collision").exists()
    low.delete()
    high = AutomationFactory(
        system="salesforce",
        external_id="Flow:Tour_Request_Set_Realtor",
        status="live",
        affects_customer_communication=True,
    )
    monitors.monitors_run()
    monitors.monitors_run()
    (finding,) = unresolved("crm_collision")
    assert finding.automation == high
    assert "both write Tour_Request__c.Realtor_User__c" in finding.reason
    assert "Flow:Tour_Request_Set_Realtor_Again" in finding.reason


def test_a_field_deleted_in_the_crm_reaches_broke_after_change_without_a_change_event(tmp_path):
    record = AutomationFactory(system="salesforce", external_id="Flow:Tour_Request_Set_Realtor", status="live")
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        command_import(DREAMHOUSE)
    for i in range(6):
        RunEventFactory(automation=record, event_id=f"ok{i}", started_at=NOW - timedelta(days=2, hours=i))
    project = copy_dreamhouse(tmp_path / "p")
    (project / "force-app/main/default/objects/Broker__c/fields/Realtor_User__c.field-meta.xml").unlink()
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        command_import(project)
    for i in range(4):
        RunEventFactory(
            automation=record, event_id=f"bad{i}", started_at=NOW - timedelta(hours=10 - i), outcome="failure"
        )
    assert not record.change_events.exists()
    with time_machine.travel(NOW, tick=False):
        monitors.monitors_run(now=NOW)
    (finding,) = unresolved("broke_after_change")
    assert "Broker__c.Realtor_User__c: deleted" in finding.reason
    assert finding.links[0]["url"].startswith("/discovery/snapshots/")
