"""Issue 15 §6: re-drafting a packet starts from the current registry record, and the packet page
shows each section's diff against the previous packet version."""

import pytest
from django.urls import reverse

from approvals import selectors, services
from approvals.choices import PacketState
from registry import services as registry_services
from tests.approvals.factories import PacketFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


def _approved_v1(automation, admin, **sections):
    return PacketFactory(
        automation=automation, number=1, state=PacketState.APPROVED, automation_version=automation.version, **sections
    )


def test_a_re_draft_picks_up_a_changed_registry_rule_and_keeps_the_rest_of_the_previous_packet(admin):
    automation = AutomationFactory(status="approved", rule="Territory owner wins", override_log_location="")
    first = _approved_v1(
        automation, admin, rule="Territory owner wins", rollback_steps="Turn the flow off.", audit_trail="Lead history"
    )
    automation = registry_services.automation_update(
        automation=automation, by=admin, reason="Named accounts first", rule="Named account owner wins"
    )
    draft = services.packet_create_draft(automation=automation, by=admin)
    assert draft.number == 2
    assert draft.rule == "Named account owner wins"  # the registry now, not v1
    assert draft.trigger == automation.trigger
    assert (draft.workflow_step, draft.rollback_steps, draft.rollback_runner) == (
        first.workflow_step,
        "Turn the flow off.",
        first.rollback_runner,
    )
    assert draft.audit_trail == "Lead history"  # where the registry says nothing, the previous packet stays


def test_editing_a_decided_packet_starts_the_new_version_from_the_registry(login, admin):
    automation = AutomationFactory(status="approved", rule="Territory owner wins")
    _approved_v1(automation, admin, rule="Territory owner wins")
    registry_services.automation_update(
        automation=automation, by=admin, reason="Named accounts first", rule="Named account owner wins"
    )
    page = login(admin).get(reverse("approvals:packet-edit", args=[automation.key])).content.decode()
    assert "Named account owner wins" in page and "Territory owner wins" not in page


def test_the_packet_page_shows_each_sections_diff_against_the_previous_version(login, admin):
    automation = AutomationFactory(status="approved", rule="Territory owner wins")
    _approved_v1(automation, admin, rule="Territory owner wins")
    registry_services.automation_update(
        automation=automation, by=admin, reason="Named accounts first", rule="Named <b>account</b> owner wins"
    )
    draft = services.packet_create_draft(automation=automation, by=admin)
    page = login(admin).get(draft.get_absolute_url()).content.decode()
    assert "Changes against the previous version v1" in page
    assert "<del>Territory</del><ins>Named &lt;b&gt;account&lt;/b&gt;</ins> owner wins" in page
    assert "<b>account</b>" not in page  # user text is escaped, never markup
    assert "unchanged" in page  # the sections the re-draft did not change
    first = automation.packets.get(number=1)
    assert "Changes against the previous version" not in login(admin).get(first.get_absolute_url()).content.decode()


def test_the_version_diff_says_unchanged_for_equal_sections(admin):
    automation = AutomationFactory(status="approved")
    first = _approved_v1(automation, admin, **services.draft_sections(automation, None))
    draft = services.packet_create_draft(automation=automation, by=admin)
    services.packet_update(packet=draft, by=admin, rollback_steps=first.rollback_steps + " Tell the team.")
    diff = selectors.packet_version_diff(automation.packets.get(number=2))
    rows = {r["name"]: r for r in diff["rows"]}
    assert diff["previous"] == first and diff["changed"] == 1
    assert rows["rule"]["unchanged"] and rows["rule"]["html"] == ""
    assert str(rows["rollback_steps"]["html"]).endswith("<ins> Tell the team.</ins>")
