import pytest
from django.urls import reverse

from approvals.models import ShadowObservation
from tests.approvals.factories import approved_packet, make_ready
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


def permit_url(key):
    return reverse("api:automation-permit", args=[key])


def test_the_permit_answers_mode_reasons_tier_and_version(api, sf_token):
    automation = AutomationFactory(status="live", key="lead-routing", merges_records=True)
    approved_packet(automation)
    response = api.as_token(sf_token).get(permit_url("lead-routing"))
    assert response.status_code == 200
    assert response.json() == {
        "key": "lead-routing",
        "mode": "live",
        "reasons": [],
        "requires_human_decision": True,
        "risk_tier": "high",
        "version": 1,
    }


def test_the_permit_lists_every_blocked_reason(api, sf_token, admin):
    from registry.services import hold_place

    automation = AutomationFactory(status="paused", key="held")
    hold_place(automation=automation, source="health.finding:3", reason="Stale data", by=admin)
    body = api.as_token(sf_token).get(permit_url("held")).json()
    assert body["mode"] == "blocked" and len(body["reasons"]) == 2


def test_a_token_of_another_system_gets_404(api, hs_token):
    AutomationFactory(status="live", key="sf-only", system="salesforce")
    assert api.as_token(hs_token).get(permit_url("sf-only")).status_code == 404
    assert api.as_token(hs_token).get(permit_url("missing")).status_code == 404


def test_no_stale_live_after_a_pause_over_the_api(api, admin_token, sf_token):
    automation = AutomationFactory(status="live", key="pausable")
    approved_packet(automation)
    assert api.as_token(sf_token).get(permit_url("pausable")).json()["mode"] == "live"
    response = api.as_token(admin_token).post(
        reverse("api:automation-transition", args=["pausable"]), {"to": "paused", "reason": "Failing"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["mode"] == "blocked"
    assert api.as_token(sf_token).get(permit_url("pausable")).json()["mode"] == "blocked"


def test_a_refused_transition_answers_409_with_every_reason(api, admin_token):
    AutomationFactory(status="approved", key="not-ready")
    response = api.as_token(admin_token).post(
        reverse("api:automation-transition", args=["not-ready"]), {"to": "shadow"}, format="json"
    )
    assert response.status_code == 409
    assert len(response.json()["extra"]["reasons"]) == 3


def test_transition_input_errors_name_the_field(api, admin_token):
    AutomationFactory(key="x1")
    response = api.as_token(admin_token).post(
        reverse("api:automation-transition", args=["x1"]), {"to": "flying"}, format="json"
    )
    assert response.status_code == 400 and "to" in response.json()["fields"]


def test_integration_and_manager_tokens_cannot_transition(api, sf_token, manager):
    from tests.factories import personal_token

    AutomationFactory(key="x2")
    url = reverse("api:automation-transition", args=["x2"])
    assert api.as_token(sf_token).post(url, {"to": "in_design"}, format="json").status_code == 403
    assert api.as_token(personal_token(manager)).post(url, {"to": "in_design"}, format="json").status_code == 403


def test_shadow_observations_feed_the_live_gate(api, sf_token, admin_token, admin, settings):
    settings.REVOPS = {**settings.REVOPS, "SHADOW_MIN_DECISIONS": 3}
    automation = AutomationFactory(status="shadow", key="shadowed", merges_records=True)
    approved_packet(automation)
    make_ready(automation, admin)
    obs = [
        {
            "event_id": f"e{i}",
            "automation_action": "merge",
            "human_action": "merge",
            "agreed": True,
            "observed_at": "2026-11-20T10:00:00Z",
        }
        for i in range(3)
    ]
    url = reverse("api:automation-shadow-observations", args=["shadowed"])
    response = api.as_token(sf_token).post(url, {"observations": obs}, format="json")
    assert response.status_code == 201 and response.json() == {"created": 3, "agreement_rate": 1.0}
    assert api.as_token(sf_token).post(url, {"observations": obs}, format="json").json()["created"] == 0
    assert ShadowObservation.objects.count() == 3
    moved = api.as_token(admin_token).post(
        reverse("api:automation-transition", args=["shadowed"]), {"to": "live"}, format="json"
    )
    assert moved.status_code == 200, moved.json()


def test_shadow_observations_refuse_bad_items_naming_them(api, sf_token):
    AutomationFactory(status="shadow", key="s2")
    url = reverse("api:automation-shadow-observations", args=["s2"])
    response = api.as_token(sf_token).post(url, {"observations": [{"event_id": "e1"}]}, format="json")
    assert response.status_code == 400
    assert any(name.startswith("observations") for name in response.json()["fields"])


def test_shadow_observations_only_in_shadow_mode(api, sf_token):
    AutomationFactory(status="live", key="s3")
    obs = [
        {
            "event_id": "e",
            "automation_action": "a",
            "human_action": "a",
            "agreed": True,
            "observed_at": "2026-11-20T10:00:00Z",
        }
    ]
    response = api.as_token(sf_token).post(
        reverse("api:automation-shadow-observations", args=["s3"]), {"observations": obs}, format="json"
    )
    assert response.status_code == 400 and "key" in response.json()["fields"]


def test_shadow_observations_of_another_system_404(api, hs_token):
    AutomationFactory(status="shadow", key="s4", system="salesforce")
    response = api.as_token(hs_token).post(
        reverse("api:automation-shadow-observations", args=["s4"]), {"observations": []}, format="json"
    )
    assert response.status_code == 404
