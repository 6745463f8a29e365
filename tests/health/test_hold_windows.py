"""Planned hold windows (issue 16 §1: did-not-run never fires "inside a planned hold window"):
the monitor stays quiet inside one and its clock restarts at the window's end; the failure owner,
the system owner or an admin plans or cancels one with a reason, for a bounded time; the
automation's page shows them, the list and the API serve them, each role answered as ruled."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from health import monitors, services
from health.models import Finding, PlannedHoldWindow
from revops_gov.roles import Role
from tests.factories import UserFactory
from tests.health.factories import PlannedHoldWindowFactory, RunEventFactory
from tests.registry.factories import AutomationFactory

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def owner(db):
    return UserFactory(username="owen", role=Role.MANAGER)


@pytest.fixture
def hourly(db, owner):
    """Live, expected every hour with 30 minutes' grace; its last run was two hours ago."""
    automation = AutomationFactory(
        key="lead-routing",
        failure_owner=owner,
        rule_owner=owner,
        schedule_kind="interval",
        schedule_interval=timedelta(hours=1),
        schedule_grace=timedelta(minutes=30),
    )
    RunEventFactory(automation=automation, event_id="last", started_at=NOW - timedelta(hours=2))
    return automation


def did_not_run():
    return Finding.objects.filter(kind="did_not_run", status__in=("open", "acknowledged", "suppressed", "fixed"))


# --- the monitor ------------------------------------------------------------------------------
def test_did_not_run_stays_quiet_inside_a_planned_hold_window_and_fires_after_it(clock, hourly, owner):
    PlannedHoldWindowFactory(
        automation=hourly, starts_at=NOW - timedelta(hours=1, minutes=30), ends_at=NOW + timedelta(hours=3)
    )
    monitors.monitors_run()
    assert not did_not_run().exists()  # two hours without a run, but it was planned

    clock.shift(timedelta(hours=3, minutes=1))  # the window ended a minute ago: the clock restarts at its end
    monitors.monitors_run()
    assert not did_not_run().exists()  # the first run after the window is due 1 h (+ 30 min grace) after it

    clock.shift(timedelta(hours=1, minutes=30))
    monitors.monitors_run()
    finding = did_not_run().get()
    assert finding.evidence["expected_by"] == (NOW + timedelta(hours=4)).isoformat()


def test_a_run_missed_before_the_window_still_fires(clock, hourly):
    """The window covers what was planned, not an outage before it."""
    PlannedHoldWindowFactory(automation=hourly, starts_at=NOW + timedelta(hours=1), ends_at=NOW + timedelta(hours=5))
    monitors.monitors_run()
    assert did_not_run().exists()


def test_a_cancelled_window_silences_nothing(clock, hourly, owner):
    window = PlannedHoldWindowFactory(
        automation=hourly, starts_at=NOW - timedelta(hours=2), ends_at=NOW + timedelta(hours=3)
    )
    services.hold_window_cancel(window=window, by=owner, reason="The migration moved to January.")
    monitors.monitors_run()
    assert did_not_run().exists()


def test_a_window_on_a_cron_schedule_moves_the_expected_run_past_it(clock, owner):
    daily = AutomationFactory(
        failure_owner=owner, schedule_kind="cron", schedule_cron="0 7 * * *", schedule_grace=timedelta(hours=1)
    )
    RunEventFactory(automation=daily, started_at=NOW.replace(hour=7) - timedelta(days=1))
    PlannedHoldWindowFactory(automation=daily, starts_at=NOW.replace(hour=6), ends_at=NOW.replace(hour=9))
    monitors.monitors_run()
    assert not did_not_run().exists()  # today's 07:00 run fell in the window; the next is tomorrow's
    clock.shift(timedelta(days=1))
    monitors.monitors_run()
    assert did_not_run().get().evidence["expected_by"] == (NOW.replace(hour=7) + timedelta(days=1)).isoformat()


def test_the_windows_cost_the_pass_one_query_whatever_their_number(clock, owner):
    for i in range(5):
        automation = AutomationFactory(
            failure_owner=owner, schedule_kind="interval", schedule_interval=timedelta(hours=1)
        )
        PlannedHoldWindowFactory(automation=automation, starts_at=NOW - timedelta(hours=i + 1))
    monitors.monitors_run()
    with CaptureQueriesContext(connection) as five:
        monitors.monitors_run()
    for i in range(5):
        automation = AutomationFactory(
            failure_owner=owner, schedule_kind="interval", schedule_interval=timedelta(hours=1)
        )
        PlannedHoldWindowFactory(automation=automation, starts_at=NOW - timedelta(hours=i + 1))
    with CaptureQueriesContext(connection) as ten:
        monitors.monitors_run()
    assert len(ten) == len(five)
    assert sum("health_plannedholdwindow" in q["sql"] for q in ten.captured_queries) == 1


# --- the services -----------------------------------------------------------------------------
@pytest.fixture
def people(db, hourly, owner, admin):
    system = UserFactory(username="sysowner", role=Role.MANAGER)
    hourly.system_owner = system
    hourly.save()
    return {"failure owner": owner, "system owner": system, "admin": admin}


@pytest.mark.parametrize("who", ["failure owner", "system owner", "admin"])
def test_the_failure_owner_the_system_owner_or_an_admin_plans_and_cancels_a_window(clock, hourly, people, who):
    by = people[who]
    window = services.hold_window_plan(
        automation=hourly, by=by, starts_at=NOW, ends_at=NOW + timedelta(days=2), reason="Quarter-end freeze."
    )
    assert (window.created_by, window.reason, window.state_label) == (by, "Quarter-end freeze.", "in progress")
    assert window.history.get().history_user == by
    services.hold_window_cancel(window=window, by=by, reason="Freeze lifted early.")
    window.refresh_from_db()
    assert (window.cancelled_by, window.cancel_reason, window.state_label) == (by, "Freeze lifted early.", "cancelled")


def test_anyone_else_is_refused_even_a_manager(clock, hourly, people, manager):
    with pytest.raises(PermissionDenied):
        services.hold_window_plan(
            automation=hourly, by=manager, starts_at=NOW, ends_at=NOW + timedelta(days=1), reason="x"
        )
    window = PlannedHoldWindowFactory(automation=hourly)
    with pytest.raises(PermissionDenied):
        services.hold_window_cancel(window=window, by=manager, reason="x")
    assert PlannedHoldWindow.objects.filter(cancelled_at__isnull=True).count() == 1


@pytest.mark.parametrize(
    ("starts", "ends", "reason", "field"),
    [
        (NOW, NOW + timedelta(days=1), "  ", "reason"),
        (NOW, NOW, "freeze", "ends_at"),  # ends after it starts
        (NOW + timedelta(days=1), NOW, "freeze", "ends_at"),
        (NOW - timedelta(days=3), NOW - timedelta(days=1), "freeze", "ends_at"),  # not in the past
        (NOW, NOW + timedelta(days=14, minutes=1), "freeze", "ends_at"),  # at most 14 days
    ],
)
def test_a_window_without_a_reason_backwards_past_or_too_long_is_refused_naming_the_field(
    clock, hourly, owner, starts, ends, reason, field
):
    with pytest.raises(ValidationError) as refused:
        services.hold_window_plan(automation=hourly, by=owner, starts_at=starts, ends_at=ends, reason=reason)
    assert field in refused.value.message_dict
    assert not PlannedHoldWindow.objects.exists()


def test_the_longest_window_is_a_setting(clock, hourly, owner, settings):
    settings.REVOPS = {**settings.REVOPS, "HEALTH_HOLD_WINDOW_MAX_DAYS": 30}
    services.hold_window_plan(
        automation=hourly, by=owner, starts_at=NOW, ends_at=NOW + timedelta(days=30), reason="Migration"
    )


def test_an_ended_window_cannot_be_cancelled(clock, hourly, owner):
    window = PlannedHoldWindowFactory(
        automation=hourly, starts_at=NOW - timedelta(days=2), ends_at=NOW - timedelta(days=1)
    )
    with pytest.raises(ValidationError, match="ended"):
        services.hold_window_cancel(window=window, by=owner, reason="late")


# --- the pages --------------------------------------------------------------------------------
def test_the_automation_page_shows_its_windows_and_links_to_plan_one(clock, hourly, login, viewer):
    PlannedHoldWindowFactory(automation=hourly, reason="CRM migration weekend", ends_at=NOW + timedelta(days=1))
    page = login(viewer).get(hourly.get_absolute_url()).content.decode()
    assert "CRM migration weekend" in page and "(in progress)" in page
    assert reverse("health:automation-hold-windows", args=[hourly.key]) in page


def test_the_owner_plans_a_window_on_the_page(clock, hourly, owner, login):
    url = reverse("health:hold-window-plan", args=[hourly.key])
    response = login(owner).post(
        url, {"starts_at": "2026-11-26T08:00", "ends_at": "2026-11-27T08:00", "reason": "Territory reload"}
    )
    assert response.status_code == 302
    window = PlannedHoldWindow.objects.get()
    assert (window.starts_at, window.created_by) == (datetime(2026, 11, 26, 8, tzinfo=UTC), owner)
    page = login(owner).get(reverse("health:automation-hold-windows", args=[hourly.key])).content.decode()
    assert "Territory reload" in page and "Plan a hold window" in page and "planned" in page


def test_a_bad_window_on_the_page_is_a_form_error_not_a_500(clock, hourly, owner, login):
    response = login(owner).post(
        reverse("health:hold-window-plan", args=[hourly.key]),
        {"starts_at": "2026-11-26T08:00", "ends_at": "2026-12-26T08:00", "reason": "Too long"},
    )
    assert response.status_code == 400
    assert "at most 14 days" in response.content.decode()
    assert not PlannedHoldWindow.objects.exists()


def test_a_manager_who_owns_nothing_sees_no_form_and_is_refused(clock, hourly, manager, login):
    page = login(manager).get(reverse("health:automation-hold-windows", args=[hourly.key])).content.decode()
    assert "Plan a hold window" not in page
    response = login(manager).post(
        reverse("health:hold-window-plan", args=[hourly.key]),
        {"starts_at": "2026-11-26T08:00", "ends_at": "2026-11-27T08:00", "reason": "Mine now"},
    )
    assert response.status_code == 400 and "Only the failure owner" in response.content.decode()
    assert not PlannedHoldWindow.objects.exists()


def test_cancelling_on_the_page(clock, hourly, owner, login):
    window = PlannedHoldWindowFactory(automation=hourly, ends_at=NOW + timedelta(days=1))
    response = login(owner).post(reverse("health:hold-window-cancel", args=[window.pk]), {"reason": "Not needed"})
    assert response.status_code == 302
    window.refresh_from_db()
    assert window.cancelled_by == owner


def test_the_list_page_shows_current_and_past_windows_and_the_findings_page_links_to_it(clock, hourly, login, viewer):
    PlannedHoldWindowFactory(automation=hourly, reason="Freeze ahead", starts_at=NOW + timedelta(days=1))
    PlannedHoldWindowFactory(
        automation=hourly, reason="Last weekend", starts_at=NOW - timedelta(days=3), ends_at=NOW - timedelta(days=2)
    )
    page = login(viewer).get(reverse("health:hold-window-list")).content.decode()
    assert "Freeze ahead" in page and "Last weekend" in page and "ended" in page
    assert reverse("health:hold-window-list") in login(viewer).get(reverse("health:finding-list")).content.decode()


# --- the API ----------------------------------------------------------------------------------
def test_the_owner_plans_and_cancels_through_the_api(clock, hourly, owner, api):
    api.force_login(owner)
    body = {
        "automation": hourly.key,
        "starts_at": "2026-11-26T08:00:00Z",
        "ends_at": "2026-11-27T08:00:00Z",
        "reason": "Reload",
    }
    created = api.post(reverse("api:hold-window-list"), body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["state"] == "planned" and created.json()["automation"] == hourly.key
    listed = api.get(reverse("api:hold-window-list"), {"automation": hourly.key, "current": "true"}).json()
    assert [w["id"] for w in listed["results"]] == [created.json()["id"]]
    cancelled = api.post(
        reverse("api:hold-window-cancel", args=[created.json()["id"]]), {"reason": "No"}, format="json"
    )
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "automation": "nope",
                "starts_at": "2026-11-26T08:00:00Z",
                "ends_at": "2026-11-27T08:00:00Z",
                "reason": "x",
            },
            "automation",
        ),
        (
            {
                "automation": "lead-routing",
                "starts_at": "2026-11-26T08:00:00Z",
                "ends_at": "2026-11-25T08:00:00Z",
                "reason": "x",
            },
            "ends_at",
        ),
        (
            {"automation": "lead-routing", "starts_at": "yesterday", "ends_at": "2026-11-27T08:00:00Z", "reason": "x"},
            "starts_at",
        ),
    ],
)
def test_bad_input_through_the_api_is_a_400_naming_the_field(clock, hourly, owner, api, body, field):
    api.force_login(owner)
    response = api.post(reverse("api:hold-window-list"), body, format="json")
    assert response.status_code == 400 and field in response.json()["fields"], response.content


def test_a_manager_who_owns_nothing_is_refused_by_the_api(clock, hourly, manager, api):
    api.force_login(manager)
    body = {
        "automation": hourly.key,
        "starts_at": "2026-11-26T08:00:00Z",
        "ends_at": "2026-11-27T08:00:00Z",
        "reason": "x",
    }
    assert api.post(reverse("api:hold-window-list"), body, format="json").status_code == 403
    assert not PlannedHoldWindow.objects.exists()
