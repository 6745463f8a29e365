"""Pings and the findings API, scoped by system."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health.models import RunEvent, RunEventFact
from tests.health.factories import FindingFactory, RunEventFactory
from tests.registry.factories import AutomationFactory


@pytest.fixture
def sf_automation(db):
    return AutomationFactory(system="salesforce", key="sf-sla")


def test_ping_start_then_success_closes_the_same_run(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    assert client.post("/api/v1/automations/sf-sla/runs/start").status_code == 201
    run = RunEvent.objects.get()
    assert run.outcome == "running" and run.finished_at is None
    response = client.post("/api/v1/automations/sf-sla/runs/success")
    assert response.status_code == 200
    run.refresh_from_db()
    assert run.outcome == "success" and run.finished_at is not None


def test_ping_failure_body_is_the_error_text(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    response = client.post(
        "/api/v1/automations/sf-sla/runs/failure?rid=run-7",
        data=b"FIELD_CUSTOM_VALIDATION_EXCEPTION",
        content_type="text/plain",
    )
    assert response.status_code == 201
    run = RunEvent.objects.get(event_id="run-7")
    assert run.outcome == "failure" and run.error == "FIELD_CUSTOM_VALIDATION_EXCEPTION"


def test_ping_with_a_run_id_is_idempotent(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    client.post("/api/v1/automations/sf-sla/runs/start?rid=r1")
    client.post("/api/v1/automations/sf-sla/runs/start?rid=r1")
    client.post("/api/v1/automations/sf-sla/runs/success?rid=r1")
    client.post("/api/v1/automations/sf-sla/runs/success?rid=r1")
    assert list(RunEvent.objects.values_list("event_id", "outcome")) == [("r1", "success")]


def test_a_ping_answers_what_it_did_to_the_run(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    started = client.post("/api/v1/automations/sf-sla/runs/start?rid=r1").json()
    assert (started["status"], started["run"]["event_id"], started["run"]["outcome"]) == ("created", "r1", "running")
    ended = client.post("/api/v1/automations/sf-sla/runs/success?rid=r1").json()
    assert (ended["status"], ended["merged"], ended["run"]["outcome"]) == (
        "merged",
        ["finished_at", "outcome"],
        "success",
    )
    again = client.post("/api/v1/automations/sf-sla/runs/success?rid=r1").json()
    assert again["status"] == "duplicate"


def test_a_failure_ping_for_a_run_stored_as_a_success_is_kept_as_a_correction(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    client.post("/api/v1/automations/sf-sla/runs/success?rid=r1")
    response = client.post(
        "/api/v1/automations/sf-sla/runs/failure?rid=r1", data=b"Owner inactive", content_type="text/plain"
    )
    assert response.status_code == 200
    assert response.json()["corrected"] == [{"field": "outcome", "was": "success", "now": "failure"}]
    assert response.json()["merged"] == ["error"]
    fact = RunEventFact.objects.get(field="outcome")
    assert (fact.kind, fact.source, fact.old_value, fact.new_value) == ("corrected", "ping", "success", "failure")
    assert RunEvent.objects.get().outcome == "failure"


def test_a_failure_ping_takes_its_error_as_text_or_as_json(api, sf_token, sf_automation):
    client = api.as_token(sf_token)
    response = client.post("/api/v1/automations/sf-sla/runs/failure?rid=j1", {"error": "Owner inactive"}, format="json")
    assert response.status_code == 201 and RunEvent.objects.get(event_id="j1").error == "Owner inactive"
    bad = client.post("/api/v1/automations/sf-sla/runs/failure?rid=j2", data=b"{nope", content_type="application/json")
    assert bad.status_code == 400 and "error" in bad.json()["fields"]
    assert not RunEvent.objects.filter(event_id="j2").exists()


@pytest.mark.parametrize("path", ["startx", "start/", "successful", "Start", "failure.json"])
def test_the_ping_kind_is_exactly_start_success_or_failure(api, sf_token, sf_automation, path):
    assert api.as_token(sf_token).post(f"/api/v1/automations/sf-sla/runs/{path}").status_code == 404
    assert not RunEvent.objects.exists()


def test_the_schema_documents_the_ping_kinds_and_rid(api, admin):
    api.force_login(admin)
    schema = api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/automations/{key}/runs/{kind}"]["post"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert sorted(parameters["kind"]["schema"]["enum"]) == ["failure", "start", "success"]
    assert "pattern" not in parameters["kind"]["schema"]
    assert parameters["rid"]["in"] == "query" and parameters["rid"]["description"]
    assert operation["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/PingResult")


def test_ping_of_another_systems_automation_is_404(api, hs_token, sf_automation):
    assert api.as_token(hs_token).post("/api/v1/automations/sf-sla/runs/start").status_code == 404
    assert not RunEvent.objects.exists()


def test_unknown_ping_kind_is_404(api, sf_token, sf_automation):
    assert api.as_token(sf_token).post("/api/v1/automations/sf-sla/runs/explode").status_code == 404


def test_findings_are_scoped_to_the_tokens_system(api, sf_token, hs_token, sf_automation):
    FindingFactory(automation=sf_automation)
    assert api.as_token(hs_token).get("/api/v1/findings/").json()["count"] == 0
    body = api.as_token(sf_token).get("/api/v1/findings/?kind=failure_rate_up").json()
    assert body["count"] == 1
    assert body["results"][0]["automation"] == "sf-sla"
    assert body["results"][0]["evidence"] == {"runs": 10, "failures": 6}


def test_bad_filter_is_a_400_naming_it(api, admin):
    api.force_login(admin)
    response = api.get("/api/v1/findings/?severity=apocalyptic")
    assert response.status_code == 400
    assert "severity" in response.json()["fields"]


def test_runs_since_reads_any_iso_offset_in_utc(api, sf_token, sf_automation):
    """ISO 8601 allows offsets PostgreSQL refuses (beyond ±15:59): an answer, never a 500."""
    client = api.as_token(sf_token)
    client.post(f"/api/v1/automations/{sf_automation.key}/runs/start", {})
    assert client.get("/api/v1/runs/", {"since": "2026-06-29T16:54:43-18:30"}).json()["count"] == 1
    assert client.get("/api/v1/runs/", {"since": "2999-01-01T00:00:00+19:18"}).json()["count"] == 0
    response = client.get("/api/v1/runs/", {"since": "yesterday"})
    assert response.status_code == 400
    assert "since" in response.json()["fields"]


@pytest.mark.django_db
def test_list_endpoints_query_count_is_constant(api, admin):
    api.force_login(admin)
    for url, make in (
        ("/api/v1/findings/", lambda: FindingFactory()),
        (
            "/api/v1/runs/",
            RunEventFactory,
        ),
    ):
        counts = []
        for n in (10, 30):
            while len(api.get(url).json()["results"]) < n:
                make()
            with CaptureQueriesContext(connection) as ctx:
                assert api.get(url).status_code == 200
            counts.append(len(ctx.captured_queries))
        assert counts[0] == counts[1], url


def test_the_schema_documents_that_new_runs_of_retired_or_unlaunched_automations_are_refused(api, admin):
    api.force_login(admin)
    schema = api.get("/api/schema/?format=json").json()
    for path in ("/api/v1/runs/", "/api/v1/automations/{key}/runs/{kind}"):
        description = schema["paths"][path]["post"]["description"]
        assert "retired" in description and "in-design" in description and "`automation`" in description, path


def test_the_schema_documents_the_hold_window_endpoints(api, admin):
    api.force_login(admin)
    paths = api.get("/api/schema/?format=json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/hold-windows/"])
    assert "post" in paths["/api/v1/hold-windows/{id}/cancel/"]
