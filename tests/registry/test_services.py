"""The registry's write rules: tier floor, cadence defaults, material changes, history with
user and reason, change events and field changes making reviews due, holds."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from registry import services
from registry.choices import LifecycleStatus, OwnerRole, ReviewCadence, RiskTier
from registry.models import Automation, Hold
from registry.review import review_status
from registry.selectors import automation_get, automation_queryset
from tests.registry.factories import AutomationFactory, DataFieldFactory

pytestmark = pytest.mark.django_db

BASE = {
    "name": "Inbound lead routing",
    "business_purpose": "Route inbound leads within five minutes.",
    "workflow_type": "lead_routing",
    "team": "sales",
    "system": "salesforce",
    "trigger": "A lead is created from a web form.",
    "rule": "Named account owner wins, then territory, then capacity.",
}


def create(admin, *, status=None, **extra):
    """Registered (always proposed); `status` then stands for the moves the approvals layer makes
    (the registry knows no gates), written as its one writer writes them."""
    automation = services.automation_create(by=admin, key=extra.pop("key", "lead-routing"), **{**BASE, **extra})
    if status is not None:
        Automation.objects.filter(pk=automation.pk).update(status=status)
        automation.refresh_from_db()
    return automation


def test_tier_cannot_be_lowered_below_what_the_flags_imply(admin):
    with pytest.raises(ValidationError) as error:
        create(admin, merges_records=True, risk_tier_override="low", risk_tier_override_reason="we trust it")
    assert "cannot be lowered below high" in str(error.value.message_dict["risk_tier_override"])
    assert not Automation.objects.exists()


def test_tier_can_be_raised_with_a_reason(admin):
    automation = create(admin, assigns_ownership=True)
    services.risk_tier_raise(automation=automation, tier="high", by=admin, reason="Routes strategic accounts too")
    automation.refresh_from_db()
    assert automation.risk_tier == RiskTier.HIGH
    assert automation.tier.floor == RiskTier.MEDIUM
    assert automation.risk_tier_override_reason == "Routes strategic accounts too"


def test_raising_needs_a_reason(admin):
    with pytest.raises(ValidationError) as error:
        create(admin, risk_tier_override="medium")
    assert "risk_tier_override_reason" in error.value.message_dict


def test_raise_to_the_floor_clears_the_override(admin):
    automation = create(admin, assigns_ownership=True, risk_tier_override="high", risk_tier_override_reason="x")
    services.risk_tier_raise(automation=automation, tier="medium", by=admin, reason="Back to derived")
    automation.refresh_from_db()
    assert automation.risk_tier_override == ""
    assert automation.risk_tier == RiskTier.MEDIUM


def test_new_flags_that_overtake_an_override_drop_it(admin):
    automation = create(admin, risk_tier_override="medium", risk_tier_override_reason="cautious")
    services.automation_update(automation=automation, by=admin, reason="It merges records", merges_records=True)
    automation.refresh_from_db()
    assert automation.risk_tier == RiskTier.HIGH
    assert automation.risk_tier_override == ""


@pytest.mark.parametrize(
    ("flags", "cadence"),
    [
        ({}, ReviewCadence.TWICE_A_YEAR),
        ({"assigns_ownership": True}, ReviewCadence.QUARTERLY),
        ({"uses_ai": True}, ReviewCadence.MONTHLY),
    ],
)
def test_review_cadence_defaults_by_tier(admin, flags, cadence):
    automation = create(admin, **flags)
    assert automation.effective_review_cadence == cadence
    annotated = automation_queryset().get(pk=automation.pk)
    assert annotated.review_cadence_days == int(cadence)


def test_review_cadence_set_by_hand_wins(admin):
    automation = create(admin, review_cadence=ReviewCadence.QUARTERLY)  # low tier: quarterly is more often
    assert automation.effective_review_cadence == ReviewCadence.QUARTERLY


def test_history_records_user_and_reason(admin):
    automation = create(admin, reason="Documented from the Salesforce flow")
    services.automation_update(
        automation=automation, by=admin, reason="Capacity rule added", rule="Territory, then capacity."
    )
    latest, first = list(automation.history.order_by("-history_date"))
    assert (first.history_user, first.history_change_reason) == (admin, "Documented from the Salesforce flow")
    assert (latest.history_user, latest.history_change_reason) == (admin, "Capacity rule added")
    assert latest.rule == "Territory, then capacity."


def test_an_edit_without_a_reason_is_refused(admin):
    automation = create(admin)
    with pytest.raises(ValidationError) as error:
        services.automation_update(automation=automation, by=admin, reason="  ", name="Renamed")
    assert "change_reason" in error.value.message_dict
    automation.refresh_from_db()
    assert automation.name == BASE["name"]


def test_an_edit_that_changes_nothing_writes_nothing(admin):
    automation = create(admin)
    services.automation_update(automation=automation, by=admin, reason="Same again", name=BASE["name"])
    assert automation.history.count() == 1


def test_data_fields_and_tags_are_one_history_version(admin):
    segment = DataFieldFactory(api_name="Segment__c")
    automation = create(admin, data_fields=[segment], tags=["Inbound", "EMEA"])
    assert automation.history.count() == 1
    assert sorted(t.name for t in automation.tags.all()) == ["emea", "inbound"]


def test_material_change_bumps_the_version_and_sends_a_live_automation_back_to_design(admin):
    automation = create(admin, status=LifecycleStatus.LIVE)
    services.automation_update(automation=automation, by=admin, reason="New tie-break", rule="Capacity first.")
    automation.refresh_from_db()
    assert automation.version == 2
    assert automation.status == LifecycleStatus.IN_DESIGN
    assert "back to in design" in automation.history.latest().history_change_reason


def test_a_material_change_back_to_design_is_a_lifecycle_move_saying_which_fields(admin):
    automation = create(admin, status=LifecycleStatus.LIVE)
    services.automation_update(automation=automation, by=admin, reason="New tie-break", rule="Capacity first.")
    move = automation.lifecycle_moves.get()
    assert (move.from_status, move.to_status, move.by, move.automation_version) == ("live", "in_design", admin, 2)
    assert move.reason.startswith("material change: rule")


def test_a_new_automation_is_born_proposed_whatever_the_caller_asks(admin):
    for status in ("in_design", "approved", "shadow", "live", "paused", "retired"):
        with pytest.raises(ValidationError) as error:
            services.automation_create(by=admin, key=f"born-{status}", **{**BASE, "status": status})
        assert "registered as proposed" in str(error.value.message_dict["status"])
    assert not Automation.objects.exists()
    assert create(admin).status == LifecycleStatus.PROPOSED


def test_changing_the_fields_used_is_material(admin):
    automation = create(admin, status=LifecycleStatus.APPROVED)
    services.automation_update(automation=automation, by=admin, reason="Uses segment", data_fields=[DataFieldFactory()])
    automation.refresh_from_db()
    assert (automation.version, automation.status) == (2, LifecycleStatus.IN_DESIGN)
    assert automation.lifecycle_moves.get().reason.startswith("material change: data fields")


def test_documentation_change_is_not_material(admin):
    automation = create(admin, status=LifecycleStatus.LIVE)
    services.automation_update(automation=automation, by=admin, reason="Clearer", business_purpose="Faster response.")
    automation.refresh_from_db()
    assert (automation.version, automation.status) == (1, LifecycleStatus.LIVE)


def test_status_is_not_editable_through_update(admin):
    automation = create(admin)
    with pytest.raises(ValidationError) as error:
        services.automation_update(automation=automation, by=admin, reason="go", status=LifecycleStatus.LIVE)
    assert "lifecycle move" in str(error.value.message_dict["status"])


def test_invalid_cron_is_refused_with_the_field_named(admin):
    with pytest.raises(ValidationError) as error:
        create(admin, schedule_kind="cron", schedule_cron="every monday")
    assert "schedule_cron" in error.value.message_dict


def test_bulk_owner_assignment_changes_only_what_differs(admin, manager):
    first, second = AutomationFactory(failure_owner=None), AutomationFactory(failure_owner=manager)
    changed = services.automations_assign_owner(
        automations=[first, second],
        role=OwnerRole.FAILURE,
        owner=manager,
        by=admin,
        reason="Owners from the stock-take",
    )
    assert changed == 1
    first.refresh_from_db()
    assert first.failure_owner == manager
    assert first.history.latest().history_change_reason == "Owners from the stock-take"


def test_recording_a_change_event_makes_its_automations_due_for_review(admin):
    reviewed_today = AutomationFactory()
    untouched = AutomationFactory()
    assert not review_status(automation_get(key=reviewed_today.key), now=timezone.now()).due
    services.change_event_record(
        by=admin,
        kind="territories",
        title="EMEA territories redrawn",
        occurred_on=timezone.now().date(),
        automations=[reviewed_today],
    )
    status = review_status(automation_get(key=reviewed_today.key), now=timezone.now())
    assert status.due and "EMEA territories redrawn" in status.reasons[0]
    due_keys = set(automation_queryset().filter(review_due=True).values_list("key", flat=True))
    assert due_keys == {reviewed_today.key}
    assert untouched.key not in due_keys


def test_a_change_event_on_a_field_reaches_every_automation_using_it(admin):
    segment = DataFieldFactory(api_name="Segment__c")
    users = [AutomationFactory(data_fields=[segment]) for _ in range(4)]
    AutomationFactory()
    event = services.change_event_record(
        by=admin,
        kind="crm_fields",
        title="Lead.Segment redefined",
        occurred_on=timezone.now().date(),
        data_fields=[segment],
    )
    assert set(event.automations.all()) == set(users)


def test_a_change_event_must_affect_something(admin):
    with pytest.raises(ValidationError):
        services.change_event_record(by=admin, kind="segments", title="x", occurred_on=timezone.now().date())


def test_a_field_status_change_makes_its_automations_due_for_review(admin):
    segment = DataFieldFactory()
    automation = AutomationFactory(data_fields=[segment])
    services.datafield_update(data_field=segment, by=admin, reason="Definition in flux", status="unstable")
    status = review_status(automation_get(key=automation.key), now=timezone.now())
    assert status.due
    assert f"Field {segment.qualified_name} changed" in status.reasons[0]
    assert automation_queryset().get(pk=automation.pk).review_due


def test_a_field_label_change_does_not_trigger_reviews(admin):
    segment = DataFieldFactory()
    AutomationFactory(data_fields=[segment])
    services.datafield_update(data_field=segment, by=admin, reason="Typo", label="Segment (size band)")
    segment.refresh_from_db()
    assert segment.changed_at is None
    assert not automation_queryset().filter(review_due=True).exists()


def test_review_falls_due_when_the_cadence_passes(admin):
    automation = create(admin, uses_ai=True, status=LifecycleStatus.LIVE)
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        now = timezone.now()
        assert review_status(automation_get(key=automation.key), now=now).due
        assert automation_queryset(now=now).get(pk=automation.pk).review_due
    services.automation_mark_reviewed(automation=automation, by=admin, notes="Rule still current")
    assert not automation_queryset().get(pk=automation.pk).review_due


def test_retired_automations_are_never_due(admin):
    automation = AutomationFactory(
        status=LifecycleStatus.RETIRED, last_reviewed_at=timezone.now() - timedelta(days=900)
    )
    assert not review_status(automation_get(key=automation.key), now=timezone.now()).due
    assert not automation_queryset().get(pk=automation.pk).review_due


def test_one_open_hold_per_source(admin):
    automation = AutomationFactory()
    first = services.hold_place(
        automation=automation, source="health.finding:1", reason="Failing since the field change", by=admin
    )
    again = services.hold_place(automation=automation, source="health.finding:1", reason="Still failing", by=admin)
    assert first.pk == again.pk
    assert automation_queryset().get(pk=automation.pk).has_open_hold
    services.hold_release(hold=first, by=admin, note="Fixed")
    assert not automation_queryset().get(pk=automation.pk).has_open_hold
    assert Hold.objects.get(pk=first.pk).released_by == admin


def test_a_released_hold_cannot_be_released_again(admin):
    hold = services.hold_place(automation=AutomationFactory(), source="manual", reason="Stop", by=admin)
    services.hold_release(hold=hold, by=admin, note="ok")
    with pytest.raises(services.ApplicationError, match="already released"):
        services.hold_release(hold=hold, by=admin, note="again")


def test_the_first_version_is_created_with_its_fields_and_the_next_diff_is_exact(admin):
    segment = DataFieldFactory(api_name="Segment__c")
    automation = create(admin, data_fields=[segment])
    first = automation.history.get()
    assert first.history_type == "+"
    assert [f.datafield_id for f in first.data_fields.all()] == [segment.pk]
    services.automation_update(automation=automation, by=admin, reason="Rename", name="Routing v2")
    latest = automation.history.latest()
    assert [change.field for change in latest.diff_against(first).changes] == ["name"]
