"""Run events in: one or a batch, duplicates stored once, bad items answered with their fields."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from approvals.models import ShadowObservation
from health import services
from health.models import RunEvent
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
    assert body["summary"] == {"created": 2, "duplicate": 1, "error": 4}
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
