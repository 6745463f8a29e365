"""The API card cache never serves a card that a change has made stale."""

import pytest
from django.utils import timezone

from registry import services
from tests.registry.factories import AutomationFactory, DataFieldFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def read(api, admin_token):
    client = api.as_token(admin_token)

    def _read(automation):
        response = client.get(f"/api/v1/automations/{automation.key}/")
        assert response.status_code == 200
        return response.json()

    return _read


def test_a_cached_card_is_read_without_touching_the_database(read, django_assert_num_queries):
    automation = AutomationFactory()
    read(automation)
    with django_assert_num_queries(0):
        read(automation)


def test_an_edit_is_visible_at_once(read, admin):
    automation = AutomationFactory(name="Before")
    assert read(automation)["name"] == "Before"
    services.automation_update(automation=automation, by=admin, reason="Rename", name="After")
    assert read(automation)["name"] == "After"


def test_a_data_field_status_change_is_visible_at_once(read, admin):
    field = DataFieldFactory()
    automation = AutomationFactory(data_fields=[field])
    assert read(automation)["uses_untrusted_field"] is False
    services.datafield_update(data_field=field, by=admin, reason="In flux", status="unstable")
    card = read(automation)
    assert card["uses_untrusted_field"] is True
    assert card["review_due"] is True


def test_a_change_event_is_visible_at_once(read, admin):
    automation = AutomationFactory()
    assert read(automation)["review_due"] is False
    services.change_event_record(
        by=admin,
        kind="territories",
        title="Territories redrawn",
        occurred_on=timezone.now().date(),
        automations=[automation],
    )
    assert read(automation)["review_due"] is True


def test_a_hold_is_visible_at_once(read, admin):
    automation = AutomationFactory()
    assert read(automation)["on_hold"] is False
    hold = services.hold_place(automation=automation, source="manual", reason="Stop", by=admin)
    assert read(automation)["on_hold"] is True
    services.hold_release(hold=hold, by=admin, note="Go")
    assert read(automation)["on_hold"] is False


def test_a_cached_card_still_respects_the_token_scope(api, read, hs_token):
    automation = AutomationFactory(system="salesforce")
    read(automation)  # cached by an admin read
    assert api.as_token(hs_token).get(f"/api/v1/automations/{automation.key}/").status_code == 404
