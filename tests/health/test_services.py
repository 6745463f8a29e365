"""Retention, thresholds and finding actions."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from health import services
from health.ingest import parse_item
from health.models import Finding, RunEvent, RunEventFact
from tests.health.factories import FindingFactory, RunEventFactory
from tests.registry.factories import AutomationFactory


@pytest.mark.django_db
def test_purge_deletes_only_events_past_retention_in_batches_and_leaves_findings(settings):
    settings.REVOPS = {**settings.REVOPS, "HEALTH_PURGE_BATCH": 3}
    automation = AutomationFactory()
    now = timezone.now()
    for i in range(7):
        RunEventFactory(automation=automation, started_at=now - timedelta(days=401 + i))
    RunEventFactory(automation=automation, event_id="recent", started_at=now - timedelta(days=399))
    finding = FindingFactory(automation=automation, evidence={"runs": 7})
    assert services.runs_purge(now=now) == 7
    assert list(RunEvent.objects.values_list("event_id", flat=True)) == ["recent"]
    finding.refresh_from_db()
    assert finding.evidence == {"runs": 7}
    assert services.runs_purge(now=now) == 0


@pytest.mark.django_db
def test_purge_takes_the_late_facts_of_the_purged_runs_with_them(settings, admin):
    settings.REVOPS = {**settings.REVOPS, "HEALTH_PURGE_BATCH": 2}
    automation = AutomationFactory()
    now = timezone.now()
    old = [item | {"automation": automation.key} for item in (
        {"event_id": f"old-{i}", "started_at": (now - timedelta(days=402)).isoformat(), "outcome": "running"}
        for i in range(3))]  # fmt: skip
    recent = {"automation": automation.key, "event_id": "recent", "started_at": (now - timedelta(days=1)).isoformat(),
              "outcome": "running"}  # fmt: skip
    services.runs_ingest(items=[*old, recent], by=admin)
    ends = [{"automation": automation.key, "event_id": i["event_id"], "outcome": "success"} for i in [*old, recent]]
    services.runs_ingest(items=ends, by=admin)
    assert RunEventFact.objects.count() == 4
    assert services.runs_purge(now=now) == 3
    assert list(RunEventFact.objects.values_list("event_id", flat=True)) == ["recent"]


@pytest.mark.django_db
def test_retention_is_configurable(settings):
    settings.REVOPS = {**settings.REVOPS, "HEALTH_RUN_RETENTION_DAYS": 30}
    RunEventFactory(started_at=timezone.now() - timedelta(days=31))
    assert services.runs_purge() == 1


@pytest.mark.django_db
def test_thresholds_are_audited_with_who_and_why(admin):
    automation = AutomationFactory()
    thresholds = services.thresholds_set(automation=automation, by=admin, reason="Busy queue", alert_budget_day=5)
    record = thresholds.history.first()
    assert (record.history_user, record.history_change_reason, record.alert_budget_day) == (admin, "Busy queue", 5)
    with pytest.raises(ValidationError):
        services.thresholds_set(automation=automation, by=admin, reason="", alert_budget_day=6)


@pytest.mark.django_db
def test_only_an_open_finding_can_be_acknowledged(admin):
    finding = FindingFactory(status="resolved")
    with pytest.raises(ValidationError):
        services.finding_acknowledge(finding=finding, by=admin)


@pytest.mark.django_db
def test_one_unresolved_finding_per_automation_and_kind_is_enforced_by_the_database():
    finding = FindingFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        FindingFactory(automation=finding.automation, kind=finding.kind)
    Finding.objects.filter(pk=finding.pk).update(status="resolved")
    FindingFactory(automation=finding.automation, kind=finding.kind)


@pytest.mark.django_db
def test_a_finding_opens_with_the_automation_failure_owner_and_a_due_date(admin):
    automation = AutomationFactory()
    with time_machine.travel(timezone.now(), tick=False):
        services.findings_sync(
            hits=[services.Hit(automation.pk, "stale_data", "Data 30 h old.", {"worst_staleness_seconds": 108000})],
            checked={"stale_data": {automation.pk}},
            owners={automation.pk: automation.failure_owner_id},
            now=timezone.now(),
        )
        finding = Finding.objects.get()
        assert finding.owner == automation.failure_owner
        assert finding.due_at == timezone.now() + timedelta(days=2)
        assert finding.expected_action.startswith("Fix the upstream sync")
        assert finding.history.first().history_change_reason == "Opened by its monitor"


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "automation",
                "event_id",
                "started_at",
                "outcome",
                "records_affected",
                "overridden",
                "mode",
                "fields_changed",
                "junk",
            ]
        ),
        st.one_of(
            st.none(), st.text(max_size=5), st.integers(-5, 5), st.booleans(), st.lists(st.text(max_size=3), max_size=2)
        ),
    )
)
def test_any_item_is_either_clean_or_answered_with_named_fields(item):
    clean, errors = parse_item(item)
    assert bool(clean) or bool(errors)
    if errors:
        assert all(isinstance(messages, list) and messages for messages in errors.values())
    else:
        assert {"automation", "event_id", "started_at", "outcome"} <= set(clean)
