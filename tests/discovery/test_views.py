"""The /discovery/ page (admins): upload, snapshots with progress, the diff between any two,
findings, linking; the automation page's "in the CRM" panel with the blast radius."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from discovery import services
from discovery.models import MetadataSnapshot
from registry.models import Automation
from tests.discovery.samples import DREAMHOUSE, copy_dreamhouse, edit_flow_filter, zip_folder
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


def zip_upload(folder, tmp_path, name="m.zip"):
    return SimpleUploadedFile(name, zip_folder(folder, tmp_path / name).read_bytes(), "application/zip")


def test_only_admins_see_the_page(login, viewer, manager, admin):
    assert login(viewer).get("/discovery/").status_code == 403
    assert login(manager).get("/discovery/").status_code == 403
    assert login(admin).get("/discovery/").status_code == 200


def test_upload_then_the_snapshot_page_lists_automations_and_findings(login, admin, tmp_path):
    client = login(admin)
    response = client.post("/discovery/", {"system": "salesforce", "file": zip_upload(DREAMHOUSE, tmp_path)})
    snapshot = MetadataSnapshot.objects.get()
    assert response.status_code == 302 and response.url == snapshot.get_absolute_url()
    page = client.get(snapshot.get_absolute_url()).content.decode()
    assert "Flow:Tour_Request_Set_Realtor" in page
    assert "Running without a registry record" in page
    assert "Broker__c.Realtor_User__c" in page


def test_a_bad_upload_shows_the_file_and_stores_nothing(login, admin):
    data = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(data, "w") as zf:
        zf.writestr("flows/Cut.flow", "<Flow>")
    bad = SimpleUploadedFile("bad.zip", data.getvalue(), "application/zip")
    response = login(admin).post("/discovery/", {"system": "salesforce", "file": bad})
    assert response.status_code == 400
    assert "flows/Cut.flow" in response.content.decode()
    assert MetadataSnapshot.objects.count() == 0


def test_diff_between_any_two_snapshots(login, admin, tmp_path):
    first = services.metadata_import(system="salesforce", path=DREAMHOUSE, by=admin).snapshot
    services.metadata_import(system="salesforce", path=DREAMHOUSE, by=admin)
    project = copy_dreamhouse(tmp_path / "p")
    edit_flow_filter(project)
    third = services.metadata_import(system="salesforce", path=project, by=admin).snapshot
    page = login(admin).get(f"{third.get_absolute_url()}?older={first.pk}").content.decode()
    assert f"Changes since #{first.pk}" in page
    assert "Secondary_Email__c" in page


def test_a_queued_snapshot_shows_its_progress(login, admin):
    snapshot = MetadataSnapshot.objects.create(
        system="salesforce", source_name="big.zip", status="running", progress=40
    )
    page = login(admin).get(snapshot.get_absolute_url()).content.decode()
    assert 'value="40"' in page and "refresh" in page


def test_link_an_inactive_crm_automation_to_a_registry_record(login, admin):
    record = AutomationFactory(system="salesforce", external_id="", name="Tour request approval")
    snapshot = services.metadata_import(system="salesforce", path=DREAMHOUSE, by=admin).snapshot
    client = login(admin)
    page = client.get(snapshot.get_absolute_url()).content.decode()
    assert f'<option value="{record.key}">' in page  # suggested by name
    external_id = "ApprovalProcess:Tour_Request__c.Tour_Request_Approval"
    client.post(f"/discovery/snapshots/{snapshot.pk}/link/", {"external_id": external_id, "automation": record.key})
    record.refresh_from_db()
    assert record.external_id == external_id


def test_automation_page_shows_the_crm_state_and_blast_radius(login, admin):
    writer = AutomationFactory(system="salesforce", external_id="Flow:Tour_Request_Set_Realtor", status="live")
    services.metadata_import(system="salesforce", path=DREAMHOUSE, by=admin)
    page = login(admin).get(writer.get_absolute_url()).content.decode()
    assert "In the CRM: <strong>active</strong>" in page
    assert "writes Tour_Request__c.Realtor_User__c" in page
    # the validation rule and the approval read the field the flow writes
    assert "This change touches 2 other automations and 0 reporting-critical fields." in page
    assert Automation.objects.filter(status="discovered").exists()


@pytest.mark.parametrize("role", ["viewer", "manager", "admin"])
def test_every_reader_follows_the_automation_page_to_the_crm_panel(request, login, admin, role):
    """The panel is on the registry's page (registered through registry.extensions, so the
    registry imports nothing of discovery); registered fields are set against the real reads and
    writes, the differences marked; only admins get the link to the snapshot page."""
    from tests.registry.factories import DataFieldFactory

    notes = DataFieldFactory(object_name="Tour_Request__c", api_name="Notes__c")
    realtor = DataFieldFactory(object_name="Tour_Request__c", api_name="Realtor_User__c")
    writer = AutomationFactory(
        system="salesforce",
        external_id="Flow:Tour_Request_Set_Realtor",
        status="live",
        data_fields=[notes, realtor],
    )
    snapshot = services.metadata_import(system="salesforce", path=DREAMHOUSE, by=admin).snapshot
    client = login(request.getfixturevalue(role))
    page = client.get(writer.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert "In the CRM: <strong>active</strong>" in html
    assert f"snapshot #{snapshot.pk}" in html
    assert "This change touches 2 other automations and 0 reporting-critical fields." in html
    rows = html.split('class="table table-sm small mb-2 discovery-fields"')[1].split("</table>")[0]
    assert "<code>Tour_Request__c.Notes__c</code>" in rows and "registered, not used in the CRM" in rows
    assert "<code>Broker__c.Realtor_User__c</code>" in rows and "used in the CRM, not registered" in rows
    # the registered field the flow really writes is no difference
    realtor_row = rows.split("<code>Tour_Request__c.Realtor_User__c</code>")[1].split("</tr>")[0]
    assert "not" not in realtor_row
    link = f'href="/discovery/snapshots/{snapshot.pk}/"'
    assert (link in html) is (role == "admin")
    assert client.get(f"/discovery/snapshots/{snapshot.pk}/").status_code == (200 if role == "admin" else 403)


def test_the_registry_does_not_import_discovery():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "registry"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "discovery" for n in names), path
