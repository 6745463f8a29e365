"""POST /api/v1/metadata-snapshots/ with an integration token (scoped to its system): a zip or
HubSpot JSON in, 201 with the command's JSON; 400 naming the file; 413 over the cap; GET list and
one snapshot with its diff. Large uploads are queued for the worker."""

import io
import json
import zipfile

import pytest
from django.test import override_settings

from discovery import services
from discovery.models import MetadataSnapshot, SnapshotAutomation
from tests.discovery.samples import BILLION_LAUGHS, DREAMHOUSE, HUBSPOT, copy_dreamhouse, edit_flow_filter, zip_folder
from tests.discovery.test_parsers import EXPECTED

pytestmark = pytest.mark.django_db
URL = "/api/v1/metadata-snapshots/"


def zipped(folder, tmp_path, name="metadata.zip"):
    return io.BytesIO(zip_folder(folder, tmp_path / name).read_bytes())


def upload(client, data: io.BytesIO, name="metadata.zip"):
    data.name = name
    return client.post(URL, {"file": data}, format="multipart")


def test_zip_upload_with_an_integration_token_answers_201_with_the_command_json(api, sf_token, tmp_path):
    response = upload(api.as_token(sf_token), zipped(DREAMHOUSE, tmp_path))
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"snapshot", "system", "automations", "fields", "findings"}
    assert body["system"] == "salesforce"
    assert sorted(a["external_id"] for a in body["automations"]) == sorted(EXPECTED)
    assert len(body["fields"]) == 39


def test_second_upload_is_unchanged_and_an_edited_one_changed_with_its_diff(api, sf_token, tmp_path):
    client = api.as_token(sf_token)
    upload(client, zipped(DREAMHOUSE, tmp_path, "a.zip"))
    second = upload(client, zipped(DREAMHOUSE, tmp_path, "b.zip")).json()
    assert {a["change"] for a in second["automations"]} == {"unchanged"}
    project = copy_dreamhouse(tmp_path / "edited")
    edit_flow_filter(project)
    third = upload(client, zipped(project, tmp_path, "c.zip")).json()
    changed = [a["external_id"] for a in third["automations"] if a["change"] == "changed"]
    assert changed == ["Flow:Duplicate_Email"]
    detail = client.get(f"{URL}{third['snapshot']}/").json()
    assert detail["diff"]["previous"] == second["snapshot"]
    (row,) = detail["diff"]["automations"]
    assert row["external_id"] == "Flow:Duplicate_Email"
    assert "+recordLookups[Get_Contacts].filters[0].field = Secondary_Email__c" in row["definition_diff"]


def test_hubspot_json_body_with_a_hubspot_token(api, hs_token):
    body = (HUBSPOT / "flows_list.json").read_bytes()
    response = api.as_token(hs_token).generic("POST", URL, body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert [a["external_id"] for a in response.json()["automations"]] == ["HubSpotFlow:620391120"]
    assert response.json()["system"] == "hubspot"


def test_a_token_imports_and_sees_only_its_own_system(api, sf_token, hs_token, tmp_path):
    upload(api.as_token(sf_token), zipped(DREAMHOUSE, tmp_path))
    hubspot = api.as_token(hs_token)
    assert hubspot.get(URL).json()["results"] == []
    snapshot = MetadataSnapshot.objects.get()
    assert hubspot.get(f"{URL}{snapshot.pk}/").status_code == 404
    assert api.as_token(sf_token).get(URL).json()["results"][0]["id"] == snapshot.pk


@pytest.mark.parametrize(
    "member,content",
    [
        ("force-app/main/default/flows/Laughs.flow-meta.xml", BILLION_LAUGHS),
        ("force-app/main/default/flows/Cut.flow-meta.xml", b"<Flow><label>half"),
        ("../escape.flow-meta.xml", b"<Flow/>"),
    ],
)
def test_bad_input_is_400_naming_the_file_and_stores_nothing(api, sf_token, member, content):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        zf.writestr(member, content)
    data.seek(0)
    response = upload(api.as_token(sf_token), data)
    assert response.status_code == 400
    assert response.json()["file"] == member
    assert member in response.json()["message"]
    assert MetadataSnapshot.objects.count() == 0


def test_truncated_hubspot_json_is_400_with_the_line(api, hs_token):
    body = (HUBSPOT / "flow_lifecycle.json").read_bytes()[:600]
    response = api.as_token(hs_token).generic("POST", URL, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["line"] is not None


def test_over_the_size_cap_is_413(api, sf_token, tmp_path):
    with override_settings(REVOPS={**services.settings.REVOPS, "DISCOVERY_MAX_ARCHIVE_BYTES": 1000}):
        response = upload(api.as_token(sf_token), zipped(DREAMHOUSE, tmp_path))
    assert response.status_code == 413
    assert MetadataSnapshot.objects.count() == 0


def test_zip_bomb_is_413(api, sf_token):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("flows/Bomb.flow", b"<Flow>" + b" " * 3_000_000 + b"</Flow>")
    data.seek(0)
    with override_settings(REVOPS={**services.settings.REVOPS, "DISCOVERY_MAX_FILE_BYTES": 1_000_000}):
        response = upload(api.as_token(sf_token), data)
    assert response.status_code == 413
    assert "flows/Bomb.flow" in response.json()["message"]


def test_a_viewer_may_list_but_not_import(api, viewer, tmp_path):
    api.force_login(viewer)
    assert api.get(URL).status_code == 200
    assert upload(api, zipped(DREAMHOUSE, tmp_path)).status_code == 403


def test_an_admin_names_the_system(api, admin, tmp_path):
    api.force_login(admin)
    data = zipped(DREAMHOUSE, tmp_path)
    data.name = "m.zip"
    response = api.post(f"{URL}?system=salesforce", {"file": data}, format="multipart")
    assert response.status_code == 201
    missing = api.post(URL, {"file": zipped(DREAMHOUSE, tmp_path, "n.zip")}, format="multipart")
    assert missing.status_code == 400


def test_a_large_upload_is_queued_and_the_worker_task_imports_it(
    api, sf_token, tmp_path, django_capture_on_commit_callbacks
):
    from discovery.tasks import metadata_import_run

    with (
        override_settings(REVOPS={**services.settings.REVOPS, "DISCOVERY_WORKER_FROM_BYTES": 100}),
        django_capture_on_commit_callbacks(execute=False),
    ):
        response = upload(api.as_token(sf_token), zipped(DREAMHOUSE, tmp_path))
    assert response.status_code == 202
    snapshot = MetadataSnapshot.objects.get(pk=response.json()["snapshot"])
    assert snapshot.status == "queued"
    assert metadata_import_run(snapshot.pk) == "done"
    assert metadata_import_run(snapshot.pk) == "done"  # twice: nothing more
    snapshot.refresh_from_db()
    assert (snapshot.progress, snapshot.automation_count, snapshot.upload_path) == (100, 7, "")
    assert SnapshotAutomation.objects.count() == 7
    detail = api.as_token(sf_token).get(f"{URL}{snapshot.pk}/").json()
    assert detail["status"] == "done" and len(detail["automations"]) == 7


def test_a_queued_bad_upload_fails_with_the_error_and_stores_nothing(db, admin, tmp_path):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as zf:
        zf.writestr("flows/Cut.flow", b"<Flow>")
    path = services.upload_save(chunks=[data.getvalue()], filename="bad.zip")
    snapshot = services.import_queue(system="salesforce", path=path, by=admin, source_name="bad.zip")
    services.queued_import_run(snapshot_id=snapshot.pk)
    snapshot.refresh_from_db()
    assert snapshot.status == "failed"
    assert "flows/Cut.flow" in snapshot.error
    assert SnapshotAutomation.objects.count() == 0
    assert not path.exists()


def test_json_of_detail_lists_findings(api, sf_token, tmp_path):
    body = upload(api.as_token(sf_token), zipped(DREAMHOUSE, tmp_path)).json()
    detail = api.as_token(sf_token).get(f"{URL}{body['snapshot']}/").json()
    assert detail["findings"] == body["findings"]
    assert json.dumps(detail)  # serializable


def test_a_json_object_that_is_no_flow_is_400_and_stores_nothing(api, hs_token):
    from discovery.models import MetadataSnapshot

    response = api.as_token(hs_token).post("/api/v1/metadata-snapshots/", {}, format="json")
    assert response.status_code == 400
    assert "not a HubSpot v4 flow" in str(response.json())
    assert not MetadataSnapshot.objects.exists()
