"""Run events in: one or a batch, duplicates stored once, bad items answered with their fields."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from approvals.models import ShadowObservation
from health import services
from health.ingest import PARSERS, merge_facts, run_errors
from health.models import RunEvent, RunEventFact
from registry.models import Automation
from revops_gov.models import Integration
from tests.registry.factories import AutomationFactory, DataFieldFactory

URL = "/api/v1/runs/"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def item(automation, event_id, **extra):
    return {
        "automation": automation.key,
        "event_id": event_id,
        "started_at": T0.isoformat(),
        "finished_at": (T0 + timedelta(seconds=3)).isoformat(),
        "outcome": "success",
        **extra,
    }


@pytest.fixture
def sf_automation(db):
    return AutomationFactory(system="salesforce", key="sf-lead-routing")


def test_route_is_the_documented_one():
    assert reverse("api:run-list") == URL


def test_one_event_is_created_then_reported_duplicate(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    body = item(sf_automation, "a1", records_affected=1, owner_assigned="dana", alerts_sent=1, sla_met=True)
    first = client.post(URL, body, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["results"][0]["status"] == "created"
    again = client.post(URL, body, format="json")
    assert again.status_code == 200
    assert again.json()["results"][0]["status"] == "duplicate"
    run = RunEvent.objects.get()
    assert (run.records_affected, run.owner_assigned, run.sla_met) == (1, "dana", True)


def test_a_bad_single_event_is_a_400_naming_the_field(api, sf_token, sf_automation):
    response = api.as_token(sf_token).post(
        URL, item(sf_automation, "a1", outcome="exploded", started_at="yesterday"), format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"outcome", "started_at"}
    assert not RunEvent.objects.exists()


def test_mixed_batch_stores_the_good_items_and_answers_each(api, sf_token, sf_automation):
    batch = [
        item(sf_automation, "ok-1"),
        item(sf_automation, "bad-1", records_affected=-3),
        item(sf_automation, "ok-1"),  # the same event twice in one batch
        {"event_id": "no-automation"},
        "not an object",
        item(sf_automation, "bad-2", finished_at=(T0 - timedelta(hours=1)).isoformat()),
        item(sf_automation, "ok-2", mode="shadow", action="route to dana", human_outcome="route to dana"),
    ]
    response = api.as_token(sf_token).post(URL, batch, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == {"created": 2, "merged": 0, "duplicate": 1, "error": 4}
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["created", "error", "duplicate", "error", "error", "error", "created"]
    assert body["results"][1]["fields"] == {"records_affected": ["Give a whole number, zero or more."]}
    assert "automation" in body["results"][3]["fields"]
    assert "finished_at" in body["results"][5]["fields"]
    assert set(RunEvent.objects.values_list("event_id", flat=True)) == {"ok-1", "ok-2"}


def test_batch_limit_is_one_thousand(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    too_many = [item(sf_automation, f"e{i}") for i in range(1001)]
    response = client.post(URL, too_many, format="json")
    assert response.status_code == 400
    assert "batch" in response.json()["fields"]
    assert not RunEvent.objects.exists()
    response = client.post(URL, too_many[:1000], format="json")
    assert response.status_code == 200
    assert RunEvent.objects.count() == 1000


def test_a_token_reports_only_on_its_own_system(api, hs_token, sf_automation):
    response = api.as_token(hs_token).post(URL, [item(sf_automation, "x")], format="json")
    assert response.json()["results"][0]["status"] == "error"
    assert "automation" in response.json()["results"][0]["fields"]
    assert not RunEvent.objects.exists()


def test_a_token_lists_only_its_own_systems_runs(api, sf_token, hs_token, sf_automation):
    services.runs_ingest(items=[item(sf_automation, "x")], by=None)
    assert api.as_token(hs_token).get(URL).json()["count"] == 0
    assert api.as_token(sf_token).get(URL).json()["count"] == 1


def test_ingest_query_count_does_not_grow_with_the_batch(admin, sf_automation):
    other = AutomationFactory()
    counts = []
    for size in (10, 400):
        items = [item(sf_automation if i % 2 else other, f"{size}-{i}") for i in range(size)]
        with CaptureQueriesContext(connection) as ctx:
            result = services.runs_ingest(items=items, by=admin)
        assert result.summary["created"] == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_reporting_critical_changes_and_staleness_are_derived_at_ingest(admin, sf_automation):
    DataFieldFactory(object_name="Opportunity", api_name="ForecastCategory", reporting_critical=True)
    services.runs_ingest(
        items=[
            item(
                sf_automation,
                "c1",
                fields_changed=["Opportunity.ForecastCategory"],
                data_as_of=(T0 - timedelta(hours=5)).isoformat(),
            ),
            item(sf_automation, "c2", fields_changed=["Lead.Status"]),
        ],
        by=admin,
    )
    c1, c2 = RunEvent.objects.order_by("event_id")
    assert (c1.reporting_critical_changed, c1.staleness_seconds) == (True, 5 * 3600)
    assert (c2.reporting_critical_changed, c2.staleness_seconds) == (False, None)


def test_shadow_runs_feed_the_shadow_agreement_of_approvals(admin, sf_automation):
    services.runs_ingest(
        items=[
            item(sf_automation, "s1", mode="shadow", action="Route to Dana", human_outcome="route to dana"),
            item(sf_automation, "s2", mode="shadow", owner_assigned="dana", human_outcome="sam"),
            item(sf_automation, "s3", mode="shadow", action="Route to Sam"),  # no human outcome: no comparison
            item(sf_automation, "live", action="x"),
        ],
        by=admin,
    )
    observations = ShadowObservation.objects.filter(automation=sf_automation).order_by("event_id")
    assert [(o.event_id, o.automation_action, o.human_action, o.agreed) for o in observations] == [
        ("s1", "Route to Dana", "route to dana", True),
        ("s2", "dana", "sam", False),
    ]
    assert observations[0].observed_at == T0 + timedelta(seconds=3)


def test_a_repeated_shadow_event_is_observed_once(admin, sf_automation):
    batch = [item(sf_automation, "s1", mode="shadow", action="a", human_outcome="a")]
    services.runs_ingest(items=batch, by=admin)
    services.runs_ingest(items=batch, by=admin)
    assert ShadowObservation.objects.filter(automation=sf_automation).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_two_concurrent_batches_with_the_same_ids_store_each_once(admin):
    automation = AutomationFactory()
    batch = [item(automation, f"same-{i}") for i in range(300)]
    results, barrier = [], threading.Barrier(2)

    def send():
        from django.db import connection as thread_connection

        barrier.wait()
        try:
            results.append(services.runs_ingest(items=batch, by=None).summary)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert RunEvent.objects.count() == 300
    assert sorted(r["created"] for r in results) == [0, 300] or sum(r["created"] for r in results) == 300
    assert sum(r["created"] for r in results) == 300
    assert sum(r["duplicate"] for r in results) == 300


# --- Late facts: a later report of a stored run ---------------------------------------------------
def post(client, body):
    response = client.post(URL, body, format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()


def test_a_later_report_ends_a_running_run_and_names_the_facts_it_added(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    post(client, item(sf_automation, "r1", outcome="running", finished_at=None))
    end = (T0 + timedelta(minutes=4)).isoformat()
    body = post(client, [{"automation": sf_automation.key, "event_id": "r1", "outcome": "success", "finished_at": end}])
    assert body["summary"] == {"created": 0, "merged": 1, "duplicate": 0, "error": 0}
    assert body["results"][0] == {
        "index": 0,
        "event_id": "r1",
        "status": "merged",
        "merged": ["finished_at", "outcome"],
        "corrected": [],
    }
    run = RunEvent.objects.get()
    assert (run.outcome, run.finished_at) == ("success", T0 + timedelta(minutes=4))
    facts = RunEventFact.objects.order_by("field")
    assert [(f.field, f.kind, f.old_value, f.new_value, f.source) for f in facts] == [
        ("finished_at", "added", None, end, "api"),
        ("outcome", "added", "running", "success", "api"),
    ]
    # Who said so: the integration, through its service user.
    assert {f.reported_by for f in facts} == {Integration.objects.get(name="salesforce-prod").service_user}


def test_a_contradicting_fact_is_kept_as_a_correction_with_its_history(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    post(client, item(sf_automation, "r1"))
    body = post(client, {"automation": sf_automation.key, "event_id": "r1", "outcome": "failure", "error": "Inactive"})
    assert body["results"][0]["status"] == "merged"
    assert body["results"][0]["merged"] == ["error"]
    assert body["results"][0]["corrected"] == [{"field": "outcome", "was": "success", "now": "failure"}]
    assert RunEvent.objects.get().outcome == "failure"
    correction = RunEventFact.objects.get(field="outcome")
    assert (correction.kind, correction.old_value, correction.new_value) == ("corrected", "success", "failure")
    assert correction.reported_by is not None and correction.recorded_at is not None


def test_a_late_fact_needs_only_the_identity_and_a_completion_time_completes_the_task(admin, sf_automation):
    services.runs_ingest(items=[item(sf_automation, "r1", task_created=True)], by=admin)
    completed = (T0 + timedelta(days=7)).isoformat()
    late = {"automation": sf_automation.key, "event_id": "r1", "task_completed_at": completed, "sla_met": False}
    result = services.runs_ingest(items=[late], by=admin)
    assert result.results[0]["merged"] == ["sla_met", "task_completed", "task_completed_at"]
    run = RunEvent.objects.get()
    assert (run.task_completed, run.task_completed_at, run.sla_met) == (True, T0 + timedelta(days=7), False)
    assert services.runs_ingest(items=[late], by=admin).results[0]["status"] == "duplicate"


def test_a_late_fact_about_an_unknown_event_names_what_a_first_report_needs(admin, sf_automation):
    late = {"automation": sf_automation.key, "event_id": "nope", "task_completed": True}
    result = services.runs_ingest(items=[late], by=admin)
    assert result.results[0]["status"] == "error"
    assert set(result.results[0]["fields"]) == {"started_at", "outcome"}
    assert not RunEvent.objects.exists()


@pytest.mark.parametrize(
    ("report", "field"),
    [
        ({"started_at": (T0 + timedelta(hours=1)).isoformat()}, "started_at"),
        ({"mode": "shadow"}, "mode"),
        ({"finished_at": (T0 - timedelta(hours=1)).isoformat()}, "finished_at"),
        ({"task_completed_at": (T0 - timedelta(days=1)).isoformat()}, "task_completed_at"),
        ({"override_reason": "Named account"}, "override_reason"),
        ({"outcome": "nonsense"}, "outcome"),
    ],
)
def test_a_late_fact_that_cannot_be_true_is_an_error_naming_the_field_and_changes_nothing(
    api, sf_token, sf_automation, report, field
):
    client = api.as_token(sf_token)
    post(client, item(sf_automation, "r1"))
    before = RunEvent.objects.values().get()
    response = client.post(URL, {"automation": sf_automation.key, "event_id": "r1", **report}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert RunEvent.objects.values().get() == before
    assert not RunEventFact.objects.exists()


def test_running_reported_after_the_end_is_an_older_state_and_changes_nothing(admin, sf_automation):
    services.runs_ingest(items=[item(sf_automation, "r1")], by=admin)
    late_start = {"automation": sf_automation.key, "event_id": "r1", "started_at": T0.isoformat(), "outcome": "running"}
    assert services.runs_ingest(items=[late_start], by=admin).results[0]["status"] == "duplicate"
    assert RunEvent.objects.get().outcome == "success"


def test_reports_of_one_event_in_one_batch_apply_in_order(admin, sf_automation):
    start = item(sf_automation, "r1", outcome="running", finished_at=None)
    end = {"automation": sf_automation.key, "event_id": "r1", "outcome": "failure",
           "finished_at": (T0 + timedelta(seconds=9)).isoformat()}  # fmt: skip
    result = services.runs_ingest(items=[start, end, end], by=admin)
    assert [r["status"] for r in result.results] == ["created", "merged", "duplicate"]
    assert RunEvent.objects.get().outcome == "failure"


def test_the_single_endpoint_answers_a_merge_with_200(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    assert client.post(URL, item(sf_automation, "r1"), format="json").status_code == 201
    response = client.post(URL, {"automation": sf_automation.key, "event_id": "r1", "overridden": True,
                                 "override_reason": "Named account"}, format="json")  # fmt: skip
    assert response.status_code == 200
    assert response.json()["results"][0]["merged"] == ["overridden", "override_reason"]


def test_merging_late_facts_does_not_query_per_run(admin, sf_automation):
    """The same statements for 10 late facts as for 400 on PostgreSQL; SQLite's 999-parameter cap
    makes Django split the bulk UPDATE and INSERT into chunks, never one per run."""
    counts = []
    for size in (10, 400):
        services.runs_ingest(items=[item(sf_automation, f"{size}-{i}") for i in range(size)], by=admin)
        late = [
            {"automation": sf_automation.key, "event_id": f"{size}-{i}", "task_completed": True} for i in range(size)
        ]
        with CaptureQueriesContext(connection) as ctx:
            result = services.runs_ingest(items=late, by=admin)
        assert result.summary["merged"] == size
        counts.append(len(ctx.captured_queries))
    if connection.vendor == "postgresql":
        assert counts[0] == counts[1]
    else:
        assert counts[1] <= counts[0] + 400 // 80


def test_a_late_human_outcome_completes_a_shadow_comparison(admin, sf_automation):
    services.runs_ingest(items=[item(sf_automation, "s1", mode="shadow", action="Route to Dana")], by=admin)
    assert not ShadowObservation.objects.exists()
    late = {"automation": sf_automation.key, "event_id": "s1", "human_outcome": "route to dana"}
    services.runs_ingest(items=[late], by=admin)
    assert ShadowObservation.objects.get().agreed is True


@given(
    report=st.fixed_dictionaries(
        {},
        optional={
            "outcome": st.sampled_from(["running", "success", "failure", "skipped", "timed_out"]),
            "finished_at": st.sampled_from([None, T0 + timedelta(seconds=5), T0 + timedelta(hours=2)]),
            "sla_met": st.sampled_from([None, True, False]),
            "overridden": st.booleans(),
            "override_reason": st.sampled_from(["", "Named account"]),
            "alerts_sent": st.integers(0, 3),
            "task_completed": st.sampled_from([None, True, False]),
            "task_completed_at": st.sampled_from([None, T0 + timedelta(days=7)]),
            "error": st.sampled_from(["", "Timeout"]),
        },
    ),
    stored_outcome=st.sampled_from(["running", "success", "failure", "timed_out"]),
)
def test_a_report_merged_once_is_a_duplicate_the_second_time(report, stored_outcome):
    stored = dict.fromkeys(PARSERS) | {"started_at": T0, "mode": "live", "outcome": stored_outcome,
              "overridden": False, "override_reason": "", "alerts_sent": 0, "manual_reassignment": False,
              "error": "", "fields_changed": []}  # fmt: skip
    if stored_outcome != "running":
        stored["finished_at"] = T0 + timedelta(seconds=3)
    given = {name for name, value in report.items() if value is not None}
    changes, errors = merge_facts(stored, report, given)
    if errors:
        assert not changes
        assert all(name in PARSERS for name in errors)
        return
    merged = stored | {name: new for name, (_, _, new) in changes.items()}
    assert not run_errors(merged)
    assert merge_facts(merged, report, given) == ({}, {})
    for name, (kind, old, new) in changes.items():
        assert old == stored[name] and new != old
        assert kind in ("added", "corrected")


# --- Runs of automations that may not run -----------------------------------------------------------
@pytest.mark.parametrize("status", ["proposed", "in_design", "approved", "retired"])
def test_a_new_run_of_an_automation_that_may_not_run_is_refused_on_every_entry_point(api, sf_token, status):
    automation = AutomationFactory(system="salesforce", key="sf-gone", status=status)
    client = api.as_token(sf_token)
    single = client.post(URL, item(automation, "r1"), format="json")
    assert single.status_code == 400
    assert status.replace("_", " ") in single.json()["fields"]["automation"][0]
    batch = post(client, [item(automation, "r2")])
    assert batch["results"][0]["status"] == "error" and "automation" in batch["results"][0]["fields"]
    for kind in ("start", "success", "failure"):
        ping = client.post(f"/api/v1/automations/sf-gone/runs/{kind}?rid=p-{kind}")
        assert ping.status_code == 400, kind
        assert "automation" in ping.json()["fields"]
    assert not RunEvent.objects.exists()


@pytest.mark.parametrize("status", ["shadow", "live", "paused"])
def test_shadow_live_and_paused_automations_report_runs(api, sf_token, status):
    automation = AutomationFactory(system="salesforce", key="sf-runs", status=status)
    client = api.as_token(sf_token)
    assert client.post(URL, item(automation, "r1"), format="json").status_code == 201
    assert post(client, [item(automation, "r2")])["results"][0]["status"] == "created"
    assert client.post("/api/v1/automations/sf-runs/runs/start").status_code == 201


def test_late_facts_about_a_retired_automations_runs_are_still_accepted(api, sf_token, sf_automation, admin):
    client = api.as_token(sf_token)
    post(client, item(sf_automation, "r1", task_created=True))
    post(client, item(sf_automation, "r2", outcome="running", finished_at=None))
    Automation.objects.filter(pk=sf_automation.pk).update(status="retired")
    late = {"automation": sf_automation.key, "event_id": "r1", "task_completed": True}
    assert post(client, [late])["results"][0]["status"] == "merged"
    assert client.post("/api/v1/automations/sf-lead-routing/runs/success?rid=r2").status_code == 200
    assert dict(RunEvent.objects.values_list("event_id", "outcome")) == {"r1": "success", "r2": "success"}
    assert RunEvent.objects.get(event_id="r1").task_completed is True


def test_an_item_whose_event_id_is_not_text_is_answered_with_no_event_id(admin, sf_automation):
    result = services.runs_ingest(items=[item(sf_automation, "x") | {"event_id": {"id": 1}}], by=admin)
    assert result.results[0]["event_id"] is None and "event_id" in result.results[0]["fields"]
