"""The incident loop (issue 16 §1): a failure finding is an incident — open → acknowledged → fixed
(the owner says what) → verified (clean runs after the fix) → closed. Its hold lifts on
verification, or by an admin with a reason; never on a pause, a suppression, or the evidence
leaving the window. Suppression is bounded. Did-not-run respects the lifecycle. Time is controlled
with time-machine."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from approvals import services as approvals_services
from approvals.permit import permit_for
from health import monitors, services
from health.models import Finding
from registry.models import Hold
from registry.services import hold_place
from tests.factories import UserFactory
from tests.health.factories import FindingFactory, RunEventFactory
from tests.registry.factories import AutomationFactory

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def owner(db):
    return UserFactory(username="fiona")


@pytest.fixture
def failing(db, owner):
    """A live automation whose failure rate is up: a high failure_rate_up finding that holds it."""
    automation = AutomationFactory(status="live", failure_owner=owner)
    for i in range(6):
        RunEventFactory(
            automation=automation, event_id=f"f{i}", started_at=NOW - timedelta(hours=i + 1), outcome="failure"
        )
    return automation


def open_hold(automation):
    return Hold.objects.filter(automation=automation, source="health", released_at__isnull=True).first()


def incident(automation):
    monitors.monitors_run()
    finding = Finding.objects.get(automation=automation, kind="failure_rate_up")
    assert finding.severity == "high" and open_hold(automation) is not None
    return finding


def clean_runs(automation, n, *, after, prefix="ok"):
    for i in range(n):
        RunEventFactory(
            automation=automation, event_id=f"{prefix}{i}", started_at=after + timedelta(minutes=10 * (i + 1))
        )


# --- (a) holds -----------------------------------------------------------------------------------
def test_a_hold_survives_the_evidence_leaving_the_window_and_lifts_on_verification(clock, failing, owner, settings):
    finding = incident(failing)
    clock.shift(timedelta(days=10))  # the failures leave the 7-day window
    monitors.monitors_run()
    finding.refresh_from_db()
    assert finding.status == "open" and finding.no_recent_evidence
    assert open_hold(failing) is not None
    assert permit_for(failing).mode == "blocked"

    services.finding_fix(finding=finding, by=owner, note="Retry on the lock timeout")
    settings.REVOPS = {**settings.REVOPS, "HEALTH_VERIFY_CLEAN_RUNS": {"default": 3, "failure_rate_up": 2}}
    clean_runs(failing, 1, after=NOW + timedelta(days=10))
    clock.shift(timedelta(hours=1))
    monitors.monitors_run()
    finding.refresh_from_db()
    assert finding.status == "fixed" and open_hold(failing) is not None  # one clean run of the two needed

    clean_runs(failing, 2, after=NOW + timedelta(days=10, minutes=10), prefix="ok2-")
    monitors.monitors_run()
    finding.refresh_from_db()
    assert finding.status == "verified" and finding.verified_at is not None
    assert open_hold(failing) is None
    released = Hold.objects.get(automation=failing, source="health")
    assert released.release_note.startswith("verified: 3 clean runs")
    from revops_gov.models import Delivery

    assert Delivery.objects.filter(kind="finding_verified", recipient=owner).count() == 1


def test_a_failed_run_after_the_fix_reopens_the_incident_and_keeps_the_hold(clock, failing, owner):
    finding = incident(failing)
    services.finding_fix(finding=finding, by=owner, note="Raised the API limit")
    RunEventFactory(automation=failing, event_id="after", started_at=NOW + timedelta(minutes=5), outcome="failure")
    clock.shift(timedelta(minutes=30))
    monitors.monitors_run()
    finding.refresh_from_db()
    assert finding.status == "open"
    assert open_hold(failing) is not None
    from revops_gov.models import Delivery

    assert Delivery.objects.filter(kind="finding_reopened", recipient=owner).count() == 1


def test_only_the_failure_owner_or_an_admin_says_what_was_fixed(clock, failing, owner, manager, admin):
    finding = incident(failing)
    with pytest.raises(PermissionDenied):
        services.finding_fix(finding=finding, by=manager, note="Looks fine")
    with pytest.raises(ValidationError):
        services.finding_fix(finding=finding, by=owner, note=" ")
    assert services.finding_fix(finding=finding, by=admin, note="Rolled back the field change").status == "fixed"


def test_pausing_leaves_the_finding_and_its_hold_open(clock, failing, admin):
    finding = incident(failing)
    approvals_services.transition(automation=failing, to="paused", by=admin, reason="Failing")
    monitors.monitors_run()
    finding.refresh_from_db()
    assert finding.status == "open"
    assert open_hold(failing) is not None
    # Resuming does not run it live with nothing fixed: the hold still blocks it.
    failing.refresh_from_db()
    failing.status = "live"
    failing.save()
    assert permit_for(failing).mode == "blocked"


def test_a_suppression_never_releases_a_hold(clock, failing, owner):
    finding = incident(failing)
    services.finding_suppress(finding=finding, by=owner, until=NOW + timedelta(days=2), reason="CRM outage")
    assert open_hold(failing) is not None
    monitors.monitors_run()
    assert open_hold(failing) is not None
    assert permit_for(failing).mode == "blocked"


def test_an_admin_releases_an_incident_hold_only_with_a_reason(clock, failing, owner, admin):
    finding = incident(failing)
    with pytest.raises(PermissionDenied):
        services.finding_hold_release(finding=finding, by=owner, reason="I need it running")
    with pytest.raises(ValidationError):
        services.finding_hold_release(finding=finding, by=admin, reason="")
    services.finding_hold_release(finding=finding, by=admin, reason="Quarter close: run it supervised")
    assert open_hold(failing) is None
    assert "Quarter close" in Hold.objects.get(automation=failing, source="health").release_note
    monitors.monitors_run()  # the monitor still fires, but the released hold is not placed again
    assert open_hold(failing) is None
    finding.refresh_from_db()
    assert finding.status == "open"


def test_the_hold_says_how_it_is_released(clock, failing):
    incident(failing)
    reasons = " ".join(permit_for(failing).reasons)
    assert "Released only when the incident is verified" in reasons and "by an admin with a reason" in reasons


# --- (d) suppression --------------------------------------------------------------------------------
def test_a_manager_with_no_tie_cannot_suppress(clock, failing, manager):
    finding = incident(failing)
    with pytest.raises(PermissionDenied):
        services.finding_suppress(finding=finding, by=manager, until=NOW + timedelta(days=1), reason="Noise")


def test_an_over_limit_suppression_is_refused(clock, failing, owner, admin, settings):
    finding = incident(failing)
    limit = services.suppress_max_days(failing)
    with pytest.raises(ValidationError) as refused:
        services.finding_suppress(
            finding=finding, by=admin, until=NOW + timedelta(days=limit, hours=1), reason="Ten years, please"
        )
    assert "until" in refused.value.message_dict
    settings.REVOPS = {**settings.REVOPS, "HEALTH_SUPPRESS_MAX_DAYS": {"high": 1, "medium": 1, "low": 1}}
    with pytest.raises(ValidationError):
        services.finding_suppress(finding=finding, by=owner, until=NOW + timedelta(days=2), reason="Outage")


def test_the_default_limits_are_high_7_medium_14_low_30_days(settings):
    assert settings.REVOPS["HEALTH_SUPPRESS_MAX_DAYS"] == {"high": 7, "medium": 14, "low": 30}


def test_extending_a_suppression_needs_an_admin(clock, failing, owner, admin):
    finding = incident(failing)
    services.finding_suppress(finding=finding, by=owner, until=NOW + timedelta(days=1), reason="Outage")
    with pytest.raises(PermissionDenied):
        services.finding_suppress(finding=finding, by=owner, until=NOW + timedelta(days=2), reason="Still out")
    finding = services.finding_suppress(finding=finding, by=admin, until=NOW + timedelta(days=2), reason="Still out")
    assert finding.suppressed_until == NOW + timedelta(days=2) and finding.suppressed_by == admin


# --- (e) did not run respects the lifecycle ---------------------------------------------------------
@pytest.mark.parametrize("status", ["paused", "in_design", "retired", "proposed", "approved"])
def test_did_not_run_never_fires_for_an_automation_not_shadow_or_live(clock, db, status):
    AutomationFactory(status=status, schedule_kind="interval", schedule_interval=timedelta(hours=1))
    monitors.monitors_run()
    assert not Finding.objects.filter(kind="did_not_run").exists()


def test_did_not_run_never_fires_for_a_held_automation(clock, db, admin):
    automation = AutomationFactory(status="live", schedule_kind="interval", schedule_interval=timedelta(hours=1))
    automation.created_at = NOW - timedelta(days=2)
    automation.save()
    hold_place(automation=automation, source="manual", reason="Investigating", by=admin)
    monitors.monitors_run()
    assert not Finding.objects.filter(kind="did_not_run").exists()
    Hold.objects.filter(automation=automation).update(released_at=NOW)
    monitors.monitors_run()
    assert Finding.objects.filter(kind="did_not_run", automation=automation).exists()


@pytest.mark.parametrize("status", ["shadow", "live"])
def test_did_not_run_fires_for_shadow_and_live(clock, db, status):
    automation = AutomationFactory(status=status, schedule_kind="interval", schedule_interval=timedelta(hours=1))
    automation.created_at = NOW - timedelta(days=2)
    automation.save()
    monitors.monitors_run()
    assert Finding.objects.filter(kind="did_not_run", automation=automation).exists()


# --- (b) closing ----------------------------------------------------------------------------------
def test_a_verified_incident_is_closed_by_its_owner(clock, db, owner):
    finding = FindingFactory(automation=AutomationFactory(failure_owner=owner), status="verified")
    assert services.finding_close(finding=finding, by=owner).status == "resolved"
    assert Finding.objects.get(pk=finding.pk).get_status_display() == "Closed"


# --- (f) one finding for the same failed runs -------------------------------------------------------
def test_broke_after_change_and_failure_rate_up_on_the_same_runs_are_one_finding(clock, db, owner, admin):
    from health import alerts
    from registry.services import datafield_update
    from revops_gov.models import Delivery
    from tests.registry.factories import DataFieldFactory

    automation = AutomationFactory(status="live", failure_owner=owner)
    field = DataFieldFactory(object_name="Lead", api_name="Segment")
    automation.data_fields.set([field])
    for i in range(10):
        RunEventFactory(
            automation=automation, event_id=f"b{i}", started_at=NOW - timedelta(days=5) + timedelta(hours=i)
        )
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        datafield_update(data_field=field, by=admin, reason="New segments", definition="Segment by employees.")
    for i in range(4):
        RunEventFactory(
            automation=automation, event_id=f"a{i}", started_at=NOW - timedelta(hours=i + 1), outcome="failure"
        )
    # Each monitor alone fires on these runs …
    ctx = monitors.Context(now=NOW, automations=monitors.load_automations(), stats=monitors.load_stats(NOW))
    assert monitors.broke_after_change(ctx)[1] and monitors.failure_rate_up(ctx)[1]
    # … but the pass opens one finding, and one email.
    monitors.monitors_run()
    finding = Finding.objects.get(automation=automation)
    assert finding.kind == "broke_after_change"
    assert "Lead.Segment" in finding.reason and "runs failed in the last 7 days" in finding.reason
    assert finding.evidence["failure_rate_up"]["failures"] == 4
    alerts.findings_alert()
    assert Delivery.objects.filter(kind="alert", recipient=owner).count() == 1
    monitors.monitors_run()
    assert Finding.objects.filter(automation=automation).count() == 1


def test_an_admin_releasing_the_hold_on_the_automation_page_is_not_undone_by_the_next_pass(clock, failing, admin):
    from registry.services import hold_release

    finding = incident(failing)
    hold_release(hold=open_hold(failing), by=admin, note="Supervised run for the quarter close")
    clock.shift(timedelta(minutes=10))
    monitors.monitors_run()
    assert open_hold(failing) is None
    finding.refresh_from_db()
    assert finding.hold_released_at is not None and finding.status == "open"
