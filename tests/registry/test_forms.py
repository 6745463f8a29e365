"""The CSV import form refuses what is not a CSV, or too big, with a form error (never a 500)."""

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from registry.models import Automation

pytestmark = pytest.mark.django_db
HEADER = b"key,name,business_purpose,workflow_type,team,system,trigger,rule\n"
ROW = b"lead-dedupe,Lead dedupe,Clean leads,crm_hygiene,revops,salesforce,Nightly,Same email\n"


def _post(client, upload):
    return client.post(reverse("registry:automation-import"), {"file": upload})


@pytest.mark.parametrize("content_type", ["image/png", "text/html", "application/pdf", "application/x-msdownload"])
def test_a_csv_name_with_another_content_type_is_refused(login, admin, content_type):
    response = _post(login(admin), SimpleUploadedFile("export.csv", HEADER + ROW, content_type=content_type))
    assert response.status_code == 400
    assert f"This is a {content_type} file, not CSV." in response.content.decode()
    assert not Automation.objects.exists()


def test_an_oversized_file_is_refused_with_a_form_error(login, admin):
    with override_settings(REVOPS={**settings.REVOPS, "CSV_IMPORT_MAX_BYTES": 1024}):
        upload = SimpleUploadedFile("export.csv", HEADER + ROW * 20, content_type="text/csv")
        response = _post(login(admin), upload)
    assert response.status_code == 400
    assert "larger than 1 KB; split it and import each part." in response.content.decode()
    assert not Automation.objects.exists()


def test_a_file_within_the_limits_is_checked_and_offered_for_import(login, admin):
    response = _post(login(admin), SimpleUploadedFile("export.csv", HEADER + ROW, content_type="text/csv"))
    assert response.status_code == 200
    assert 'name="checked"' in response.content.decode()
    assert not Automation.objects.exists()
