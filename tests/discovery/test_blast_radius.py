"""The blast radius (issue 17): for a field, what reads it in the CRM, then what reads what those
write; shown on the data field page and in the approval packet, and a change event about a
field flags exactly the automations in it (besides those registered as using the field)."""

import pytest

from approvals.services import packet_create_draft
from discovery import services
from registry.models import DataField
from registry.services import change_event_record
from tests.discovery.samples import DREAMHOUSE
from tests.registry.factories import AutomationFactory, DataFieldFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def linked(admin):
    """Registry records of the realtor flow, the rule reading what it writes, and an unrelated flow."""
    records = {
        "writer": AutomationFactory(system="salesforce", external_id="Flow:Tour_Request_Set_Realtor", status="live"),
        "rule": AutomationFactory(
            system="salesforce", external_id="ValidationRule:Tour_Request__c.Submit_Requires_Realtor", status="live"
        ),
        "approval": AutomationFactory(
            system="salesforce", external_id="ApprovalProcess:Tour_Request__c.Tour_Request_Approval", status="live"
        ),
        "other": AutomationFactory(system="salesforce", external_id="Flow:Duplicate_Email", status="live"),
    }
    services.metadata_import(system="salesforce", path=DREAMHOUSE, by=admin)
    return records


def test_a_change_event_about_a_field_flags_exactly_its_blast_radius(admin, linked):
    """Broker__c.Realtor_User__c is read by the realtor flow, which writes
    Tour_Request__c.Realtor_User__c, which the validation rule and the approval read."""
    broker_realtor = DataField.objects.get(object_name="Broker__c", api_name="Realtor_User__c")  # from the import
    event = change_event_record(
        by=admin,
        kind="crm_fields",
        title="Realtor lookup reworked",
        occurred_on="2026-12-01",
        data_fields=[broker_realtor],
    )
    assert set(event.automations.all()) == {linked["writer"], linked["rule"], linked["approval"]}


def test_the_data_field_page_shows_the_blast_radius(login, viewer, linked):
    field = DataField.objects.get(object_name="Tour_Request__c", api_name="Realtor_User__c")
    page = login(viewer).get(f"/data-fields/{field.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Blast radius in the CRM" in html
    assert "This change touches 2 other automations and 0 reporting-critical fields." in html
    assert f'href="/automations/{linked["rule"].key}/"' in html


def test_the_approval_packet_shows_what_the_change_touches(login, admin, linked):
    DataField.objects.filter(object_name="Tour_Request__c", api_name="Realtor_User__c").update(reporting_critical=True)
    packet = packet_create_draft(automation=linked["writer"], by=admin)
    html = login(admin).get(packet.get_absolute_url()).content.decode()
    assert "This change touches 2 other automations and 1 reporting-critical field." in html
    assert "ValidationRule:Tour_Request__c.Submit_Requires_Realtor" in html


def test_without_an_import_the_event_names_only_registered_users(admin):
    user = AutomationFactory(system="salesforce")
    field = DataFieldFactory(object_name="Broker__c", api_name="Realtor_User__c")
    user.data_fields.set([field])
    event = change_event_record(by=admin, kind="crm_fields", title="x", occurred_on="2026-12-01", data_fields=[field])
    assert list(event.automations.all()) == [user]
