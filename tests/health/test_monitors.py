"""Each monitor: fires on the guide's case, quiet when healthy, updates rather than duplicates,
resolves when the condition clears. Time is controlled with time-machine."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals import services as approvals_services
from approvals.choices import ReadinessItem
from health import monitors, services
from health.models import Finding, RunEvent, RunEventFact
from registry.models import Automation, Hold
from registry.services import change_event_record, datafield_update
from tests.health.factories import RunEventFactory
from tests.registry.factories import AutomationFactory, DataFieldFactory

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def automation(db):
    return AutomationFactory(status="live")


def runs(automation, n, *, start, every=timedelta(hours=1), prefix="r", **fields):
    return [
        RunEventFactory(automation=automation, event_id=f"{prefix}{i}", started_at=start + i * every, **fields)
        for i in range(n)
    ]


def unresolved(kind=None):
    qs = Finding.objects.filter(status__in=("open", "acknowledged", "suppressed", "fixed"))
    return qs.filter(kind=kind) if kind else qs


def run_pass(now=None):
    return monitors.monitors_run(now=now)


# --- did not run ------------------------------------------------------------------------------
def test_did_not_run_fires_after_interval_plus_grace_and_resolves_on_the_next_run(clock, automation):
    automation.schedule_kind, automation.schedule_interval = "interval", timedelta(hours=1)
    automation.schedule_grace = timedelta(minutes=30)
    automation.save()
    RunEventFactory(automation=automation, started_at=NOW - timedelta(hours=1, minutes=20))
    run_pass()
    assert not unresolved().exists()  # 1 h 20 min since the last run: within interval + grace

    clock.shift(timedelta(minutes=20))
    run_pass()
    finding = unresolved("did_not_run").get()
    assert "Expected a run by" in finding.reason
    assert finding.owner == automation.failure_owner
    assert finding.evidence["last_run"]

    clock.shift(timedelta(minutes=10))
    run_pass()
    assert unresolved().count() == 1  # updated, not duplicated
    assert Finding.objects.get().last_seen_at == NOW + timedelta(minutes=30)

    RunEventFactory(automation=automation, started_at=NOW + timedelta(minutes=31))
    clock.shift(timedelta(minutes=5))
    run_pass()
    finding.refresh_from_db()
    assert finding.status == "resolved"
    assert "no longer fires" in finding.resolution_note


def test_did_not_run_follows_a_cron_schedule(clock, automation):
    automation.schedule_kind, automation.schedule_cron = "cron", "0 7 * * *"  # daily at 07:00
    automation.schedule_grace = timedelta(hours=1)
    automation.save()
    RunEventFactory(automation=automation, started_at=NOW.replace(hour=7) - timedelta(days=1))
    run_pass()
    assert unresolved("did_not_run").exists()  # today's 07:00 run is missing at 12:00
    RunEventFactory(automation=automation, event_id="today", started_at=NOW.replace(hour=7))
    run_pass()
    assert not unresolved().exists()


def test_event_driven_automations_are_never_late(clock, automation):
    run_pass()
    assert not Finding.objects.exists()


# --- ran twice ----------------------------------------------------------------------------------
def test_ran_twice_fires_on_two_runs_for_one_trigger_and_on_overlap(clock, automation):
    RunEventFactory(automation=automation, trigger_key="lead-1", started_at=NOW - timedelta(hours=3))
    RunEventFactory(automation=automation, trigger_key="lead-2", started_at=NOW - timedelta(hours=2))
    run_pass()
    assert not unresolved().exists()

    RunEventFactory(automation=automation, trigger_key="lead-1", started_at=NOW - timedelta(hours=1))
    run_pass()
    finding = unresolved("ran_twice").get()
    assert finding.evidence["same_trigger"] == {"lead-1": 2}
    assert finding.severity == "high"

    other = AutomationFactory()
    RunEventFactory(automation=other, started_at=NOW - timedelta(minutes=30), finished_at=NOW - timedelta(minutes=10))
    RunEventFactory(automation=other, started_at=NOW - timedelta(minutes=20), finished_at=NOW - timedelta(minutes=5))
    run_pass()
    assert unresolved("ran_twice").count() == 2
    assert "started before the previous one finished" in unresolved("ran_twice").get(automation=other).reason

    # A high "ran twice" holds its automation, so it is an incident: the evidence leaving the
    # window never closes it, it says "no recent evidence" (issue 16 §1).
    clock.shift(timedelta(days=1))
    run_pass()
    assert unresolved("ran_twice").count() == 2
    assert all(f.no_recent_evidence for f in unresolved("ran_twice"))


# --- timed out --------------------------------------------------------------------------------------
def test_a_run_never_ended_within_the_maximum_duration_times_out_and_opens_a_finding(clock, automation, admin):
    services.run_ping(automation=automation, kind="start", run_id="stuck", by=admin)
    clock.shift(timedelta(hours=23, minutes=59))
    run_pass()
    assert RunEvent.objects.get().outcome == "running"
    assert not unresolved("timed_out").exists()
    clock.shift(timedelta(minutes=2))
    run_pass()
    assert RunEvent.objects.get().outcome == "timed_out"
    finding = unresolved("timed_out").get()
    assert finding.evidence["timed_out_runs"] == 1 and "timed out" in finding.reason
    assert not unresolved("running_too_long").exists()  # no run is still running
    fact = RunEventFact.objects.get()
    assert (fact.field, fact.kind, fact.old_value, fact.new_value, fact.source) == (
        "outcome", "inferred", "running", "timed_out", "monitor",
    )  # fmt: skip
    # The real end, reported late, replaces the inference.
    services.run_ping(automation=automation, kind="failure", run_id="stuck", by=admin, body="Hung on a lock")
    assert RunEvent.objects.get().outcome == "failure"


def test_an_automations_own_maximum_duration_wins_over_the_default(clock, automation, admin):
    services.thresholds_set(automation=automation, by=admin, reason="Nightly batch", max_duration=timedelta(hours=2))
    other = AutomationFactory(status="live")
    services.run_ping(automation=automation, kind="start", by=admin)
    services.run_ping(automation=other, kind="start", by=admin)
    clock.shift(timedelta(hours=3))
    assert services.runs_time_out() == 1
    assert dict(RunEvent.objects.values_list("automation_id", "outcome")) == {
        automation.pk: "timed_out",
        other.pk: "running",
    }


# --- running too long -----------------------------------------------------------------------------
def test_a_start_without_an_end_past_the_expected_duration_is_running_too_long(clock, automation, admin):
    services.run_ping(automation=automation, kind="start", by=admin)
    clock.shift(timedelta(minutes=59))
    run_pass()
    assert not unresolved().exists()
    clock.shift(timedelta(minutes=2))
    run_pass()
    assert unresolved("running_too_long").get().evidence["open_runs"] == 1
    services.run_ping(automation=automation, kind="success", by=admin)
    run_pass()
    assert not unresolved().exists()
    assert RunEvent.objects.get().outcome == "success"


def test_expected_duration_can_be_set_per_automation(clock, automation, admin):
    services.thresholds_set(
        automation=automation, by=admin, reason="Nightly sync", expected_duration=timedelta(hours=3)
    )
    services.run_ping(automation=automation, kind="start", by=admin)
    clock.shift(timedelta(hours=2))
    run_pass()
    assert not unresolved().exists()


# --- stale data -------------------------------------------------------------------------------------
def test_stale_data_fires_when_data_is_older_than_allowed(clock, automation, admin):
    services.runs_ingest(
        items=[
            {
                "automation": automation.key,
                "event_id": "s1",
                "started_at": (NOW - timedelta(hours=1)).isoformat(),
                "outcome": "success",
                "data_as_of": (NOW - timedelta(hours=30)).isoformat(),
            },
            {
                "automation": automation.key,
                "event_id": "s0",
                "started_at": (NOW - timedelta(hours=2)).isoformat(),
                "outcome": "success",
                "data_as_of": (NOW - timedelta(hours=3)).isoformat(),
            },
        ],
        by=admin,
    )
    run_pass()
    finding = unresolved("stale_data").get()
    assert "29 h old" in finding.reason
    clock.shift(timedelta(days=1, hours=1))
    run_pass()
    assert not unresolved().exists()


# --- wrong owner --------------------------------------------------------------------------------------
def test_wrong_owner_fires_when_overrides_exceed_the_threshold_in_the_last_runs(clock, automation):
    start = NOW - timedelta(days=3)
    runs(automation, 10, start=start, prefix="ok")
    runs(automation, 3, start=start + timedelta(hours=20), prefix="ovr", overridden=True)
    run_pass()
    assert not unresolved().exists()  # 3 of 13 = 23 %, under 30 %
    runs(automation, 3, start=start + timedelta(hours=30), prefix="re", manual_reassignment=True)
    run_pass()
    finding = unresolved("wrong_owner").get()
    assert finding.evidence["overridden_or_reassigned"] == 6
    # The last N runs only: 50 clean runs later the old overrides fall out of the window.
    runs(automation, 50, start=start + timedelta(hours=40), every=timedelta(minutes=30), prefix="new")
    run_pass()
    assert not unresolved().exists()


# --- too many alerts ------------------------------------------------------------------------------------
def test_too_many_alerts_fires_over_the_daily_budget(clock, automation, admin):
    runs(automation, 5, start=NOW - timedelta(hours=6), alerts_sent=9)
    run_pass()
    assert not unresolved().exists()  # 45 of 50 a day
    services.thresholds_set(automation=automation, by=admin, reason="Low-noise team", alert_budget_day=20)
    run_pass()
    assert unresolved("too_many_alerts").get().evidence == {
        "alerts_day": 45,
        "alerts_week": 45,
        "budget_day": 20,
        "budget_week": 200,
    }


# --- broke after a change ---------------------------------------------------------------------------------
def test_broke_after_field_change_names_the_field_and_holds_the_automation(clock, automation, admin):
    field = DataFieldFactory(object_name="Lead", api_name="Segment")
    automation.data_fields.set([field])
    runs(automation, 10, start=NOW - timedelta(days=5), prefix="before")
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        datafield_update(data_field=field, by=admin, reason="New segments", definition="Segment by employees.")
    runs(automation, 4, start=NOW - timedelta(days=1), prefix="after", outcome="failure")
    run_pass()
    finding = unresolved("broke_after_change").get()
    assert "field change Lead.Segment" in finding.reason
    assert finding.evidence["failures_after"] == 4
    hold = Hold.objects.get(automation=automation, released_at__isnull=True)
    assert hold.source == "health"

    from approvals.permit import permit_for

    assert permit_for(automation).mode == "blocked"

    # Clean runs alone never lift it (issue 16 §1): the owner says what was fixed, then the monitor
    # sees clean runs after the fix.
    runs(automation, 20, start=NOW - timedelta(hours=10), every=timedelta(minutes=20), prefix="clean")
    run_pass()
    assert unresolved("broke_after_change").get().no_recent_evidence
    hold.refresh_from_db()
    assert hold.released_at is None
    services.finding_fix(finding=finding, by=admin, note="Mapped the new segments")
    runs(automation, 3, start=NOW + timedelta(minutes=5), prefix="fixed")
    clock.shift(timedelta(hours=1))
    run_pass()
    assert not unresolved().exists()
    hold.refresh_from_db()
    assert hold.released_at is not None


def test_broke_after_change_event_names_the_change(clock, automation, admin):
    runs(automation, 5, start=NOW - timedelta(days=4), prefix="before")
    change_event_record(
        by=admin, kind="territories", title="FY27 territories", occurred_on=NOW.date(), automations=[automation]
    )
    runs(automation, 3, start=NOW + timedelta(minutes=1), every=timedelta(minutes=1), prefix="after", outcome="failure")
    clock.shift(timedelta(minutes=5))
    run_pass()
    assert "FY27 territories" in unresolved("broke_after_change").get().reason


def test_failures_without_a_change_are_not_blamed_on_one(clock, automation):
    runs(automation, 4, start=NOW - timedelta(days=1), outcome="failure")
    run_pass()
    assert not unresolved("broke_after_change").exists()


# --- reporting side effects ------------------------------------------------------------------------------
def test_records_far_beyond_the_expected_volume_are_a_reporting_side_effect(clock, automation):
    runs(automation, 10, start=NOW - timedelta(days=20), records_affected=10, prefix="base")
    runs(automation, 3, start=NOW - timedelta(days=1), records_affected=12, prefix="ok")
    run_pass()
    assert not unresolved().exists()
    RunEventFactory(automation=automation, started_at=NOW - timedelta(hours=1), records_affected=900)
    run_pass()
    finding = unresolved("reporting_side_effects").get()
    assert finding.evidence["records_max"] == 900
    assert "900 records" in finding.reason


def test_reporting_critical_changes_fire_unless_reporting_impact_is_confirmed(clock, automation, admin):
    RunEventFactory(automation=automation, started_at=NOW - timedelta(hours=1), reporting_critical_changed=True)
    run_pass()
    assert unresolved("reporting_side_effects").exists()
    approvals_services.readiness_tick(
        automation=automation,
        item=ReadinessItem.REPORTING_IMPACT,
        note="Forecast dashboard owners signed off",
        by=admin,
    )
    run_pass()
    # It held the automation: an incident, open until verified, now without recent evidence.
    assert unresolved("reporting_side_effects").get().no_recent_evidence


# --- failure rate up ---------------------------------------------------------------------------------------
def test_failure_rate_up_against_the_baseline(clock, automation):
    runs(automation, 20, start=NOW - timedelta(days=20), prefix="base")
    runs(automation, 8, start=NOW - timedelta(days=2), prefix="ok")
    runs(automation, 2, start=NOW - timedelta(days=1), prefix="bad", outcome="failure")
    run_pass()
    assert not unresolved().exists()  # 20 % is not above 0 % + 20 %
    runs(automation, 3, start=NOW - timedelta(hours=5), prefix="worse", outcome="failure")
    run_pass()
    finding = unresolved("failure_rate_up").get()
    assert finding.evidence["failures"] == 5
    assert finding.severity == "high"


# --- the pass as a whole --------------------------------------------------------------------------------
def test_pausing_resolves_a_did_not_run_but_never_an_incident(clock, automation):
    automation.schedule_kind, automation.schedule_interval = "interval", timedelta(hours=1)
    automation.save()
    runs(automation, 6, start=NOW - timedelta(days=1), outcome="failure")
    run_pass()
    assert unresolved("did_not_run").exists() and unresolved("failure_rate_up").exists()
    automation.status = "paused"
    automation.save()
    run_pass()
    assert not unresolved("did_not_run").exists()  # nobody expects a paused automation to run
    assert unresolved("failure_rate_up").exists()  # pausing fixed nothing (issue 16 §1)
    assert Hold.objects.filter(automation=automation, released_at__isnull=True).exists()


def test_running_the_pass_twice_opens_nothing_twice(clock, automation):
    runs(automation, 6, start=NOW - timedelta(days=1), outcome="failure")
    first, second = run_pass(), run_pass()
    assert first["opened"] >= 1 and second["opened"] == 0
    assert unresolved().count() == first["opened"]


def _world(n, start):
    """n live hourly automations that all ran ten minutes ago (bulk, so 1,000 stays fast)."""
    owner = AutomationFactory().failure_owner
    template = AutomationFactory.build(failure_owner=owner, rule_owner=owner, exception_owner=owner)
    fields = {f.attname: getattr(template, f.attname) for f in Automation._meta.concrete_fields if not f.generated}
    fields.pop("id")
    created = Automation.objects.bulk_create(
        [
            Automation(
                **{
                    **fields,
                    "key": f"bulk-{start + i}",
                    "name": f"Bulk {start + i}",
                    "status": "live",
                    "schedule_kind": "interval",
                    "schedule_interval": timedelta(hours=1),
                }
            )
            for i in range(n)
        ]
    )
    RunEvent.objects.bulk_create(
        [
            RunEvent(automation=a, event_id="w", started_at=NOW - timedelta(minutes=10), outcome="success")
            for a in created
        ]
    )


def test_the_pass_query_count_is_constant_in_the_number_of_automations(clock, db):
    run_pass()  # the first pass creates its lock row and the system user
    counts = []
    for n, start in ((10, 0), (990, 10)):
        _world(n, start)
        with CaptureQueriesContext(connection) as ctx:
            run_pass()
        counts.append(len(ctx.captured_queries))
    assert Automation.objects.filter(status="live").count() >= 1000
    assert counts[0] == counts[1]
    assert not Finding.objects.exists()


def test_a_suppressed_finding_stays_quiet_until_its_time_then_reopens(clock, automation, admin):
    runs(automation, 6, start=NOW - timedelta(days=1), outcome="failure")
    run_pass()
    finding = unresolved("failure_rate_up").get()
    services.finding_suppress(finding=finding, by=admin, until=NOW + timedelta(hours=2), reason="Known CRM outage")
    # A suppression silences alerts; it never releases a hold (issue 16 §1).
    assert Hold.objects.filter(released_at__isnull=True).exists()
    run_pass()
    finding.refresh_from_db()
    assert finding.status == "suppressed"
    clock.shift(timedelta(hours=3))
    run_pass()
    finding.refresh_from_db()
    assert finding.status == "open"
