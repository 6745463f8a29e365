"""The registry API: contract per resource (anonymous refused, wrong role refused, allowed role
works and leaves a history row), token scoping by system, errors naming the field."""

from datetime import timedelta

import pytest

from registry.models import Automation, ChangeEvent, DataField
from tests.factories import personal_token
from tests.registry.factories import AutomationFactory, DataFieldFactory

pytestmark = pytest.mark.django_db

NEW_AUTOMATION = {
    "key": "closed-won-handoff",
    "name": "Closed-won handoff",
    "business_purpose": "Create onboarding tasks when a deal closes.",
    "workflow_type": "handoff",
    "team": "cs",
    "system": "salesforce",
    "trigger": "Opportunity moves to Closed Won.",
    "rule": "Contract start, products and sponsor are filled.",
    "creates_internal_tasks": True,
    "change_reason": "Documented from the flow",
}


class TestAutomationContract:
    url = "/api/v1/automations/"

    def test_anonymous_is_refused(self, api):
        assert api.get(self.url).status_code == 401
        assert api.post(self.url, NEW_AUTOMATION).status_code == 401

    def test_an_invalid_token_is_refused(self, api):
        response = api.as_token("rg_not-a-token").get(self.url)
        assert response.status_code == 401
        assert response.json()["message"] == "Invalid or revoked token."

    def test_a_person_without_a_role_is_refused(self, api, outsider):
        api.force_login(outsider)
        assert api.get(self.url).status_code == 403

    def test_viewer_and_manager_read_but_cannot_write(self, api, viewer, manager):
        AutomationFactory()
        for person in (viewer, manager):
            api.force_login(person)
            assert api.get(self.url).status_code == 200
            assert api.post(self.url, NEW_AUTOMATION).status_code == 403

    def test_admin_creates_and_the_history_has_the_reason(self, api, admin):
        api.force_login(admin)
        response = api.post(self.url, NEW_AUTOMATION)
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["risk_tier"] == "medium"
        assert body["risk_tier_reasons"] == ["Triggers internal tasks"]
        assert body["status"] == "proposed"
        record = Automation.objects.get(key="closed-won-handoff").history.latest()
        assert (record.history_user, record.history_change_reason) == (admin, "Documented from the flow")

    def test_admin_personal_token_sees_every_system(self, api, admin_token):
        AutomationFactory(system="salesforce")
        AutomationFactory(system="hubspot")
        body = api.as_token(admin_token).get(self.url).json()
        assert {a["system"] for a in body["results"]} == {"salesforce", "hubspot"}

    def test_no_delete_and_no_put(self, api, admin):
        automation = AutomationFactory()
        api.force_login(admin)
        assert api.delete(f"{self.url}{automation.key}/").status_code == 405
        assert api.put(f"{self.url}{automation.key}/", NEW_AUTOMATION).status_code == 405
        assert Automation.objects.filter(pk=automation.pk).exists()


class TestTokenScope:
    def test_a_token_lists_only_its_own_system(self, api, sf_token):
        mine = AutomationFactory(system="salesforce")
        AutomationFactory(system="hubspot")
        body = api.as_token(sf_token).get("/api/v1/automations/").json()
        assert [a["key"] for a in body["results"]] == [mine.key]

    def test_another_systems_automation_is_not_found(self, api, sf_token):
        theirs = AutomationFactory(system="hubspot")
        client = api.as_token(sf_token)
        assert client.get(f"/api/v1/automations/{theirs.key}/").status_code == 404
        response = client.patch(f"/api/v1/automations/{theirs.key}/", {"name": "Mine now", "change_reason": "x"})
        assert response.status_code == 404
        theirs.refresh_from_db()
        assert theirs.name != "Mine now"

    def test_a_token_registers_in_its_own_system_only(self, api, sf_token):
        client = api.as_token(sf_token)
        # Impact flags are for people to set (tests/registry/test_permissions.py).
        found = {k: v for k, v in NEW_AUTOMATION.items() if k != "creates_internal_tasks"}
        response = client.post("/api/v1/automations/", {**found, "system": "hubspot"})
        assert response.status_code == 403
        assert "salesforce" in response.json()["message"]
        without_system = {k: v for k, v in found.items() if k != "system"}
        response = client.post("/api/v1/automations/", without_system)
        assert response.status_code == 201
        assert response.json()["system"] == "salesforce"
        record = Automation.objects.get(key=NEW_AUTOMATION["key"]).history.latest()
        assert record.history_user.username == "integration-salesforce-prod"

    def test_a_token_cannot_move_an_automation_to_another_system(self, api, sf_token):
        mine = AutomationFactory(system="salesforce")
        response = api.as_token(sf_token).patch_current(
            f"/api/v1/automations/{mine.key}/", {"system": "hubspot", "change_reason": "moving"}
        )
        assert response.status_code == 403
        mine.refresh_from_db()
        assert mine.system == "salesforce"

    def test_a_revoked_token_is_refused_at_once(self, api, admin):
        from revops_gov import services
        from revops_gov.models import ApiToken

        raw = personal_token(admin)
        client = api.as_token(raw)
        assert client.get("/api/v1/automations/").status_code == 200  # now cached
        services.api_token_revoke(token=ApiToken.objects.get(user=admin), by=admin)
        assert client.get("/api/v1/automations/").status_code == 401

    def test_integration_tokens_read_but_do_not_write_the_data_dictionary(self, api, sf_token):
        DataFieldFactory()
        client = api.as_token(sf_token)
        assert client.get("/api/v1/data-fields/").status_code == 200
        response = client.post(
            "/api/v1/data-fields/",
            {"object_name": "Lead", "api_name": "X", "label": "X", "definition": "x", "source_of_truth": "salesforce"},
        )
        assert response.status_code == 403


class TestErrors:
    def test_validation_errors_name_the_field(self, api, admin):
        api.force_login(admin)
        body = {**NEW_AUTOMATION, "workflow_type": "telepathy", "rule_owner": "nobody", "data_fields": ["Lead.Nope"]}
        response = api.post("/api/v1/automations/", body)
        assert response.status_code == 400
        fields = response.json()["fields"]
        assert set(fields) >= {"workflow_type", "rule_owner", "data_fields"}
        assert "Lead.Nope" in fields["data_fields"][0]
        assert not Automation.objects.exists()

    def test_tier_below_floor_is_a_field_error(self, api, admin):
        api.force_login(admin)
        body = {**NEW_AUTOMATION, "merges_records": True, "risk_tier_override": "low", "risk_tier_override_reason": "x"}
        response = api.post("/api/v1/automations/", body)
        assert response.status_code == 400
        assert "cannot be lowered" in response.json()["fields"]["risk_tier_override"][0]

    def test_patch_needs_a_change_reason(self, api, admin):
        automation = AutomationFactory()
        api.force_login(admin)
        response = api.patch_current(f"/api/v1/automations/{automation.key}/", {"name": "Renamed"})
        assert response.status_code == 400
        assert "change_reason" in response.json()["fields"]

    def test_patch_refuses_status_and_key(self, api, admin):
        automation = AutomationFactory()
        api.force_login(admin)
        response = api.patch_current(
            f"/api/v1/automations/{automation.key}/", {"status": "retired", "key": "x", "change_reason": "y"}
        )
        assert response.status_code == 400
        assert set(response.json()["fields"]) == {"status", "key"}

    def test_duplicate_key_is_a_field_error(self, api, admin):
        AutomationFactory(key=NEW_AUTOMATION["key"])
        api.force_login(admin)
        response = api.post("/api/v1/automations/", NEW_AUTOMATION)
        assert response.status_code == 400
        assert "key" in response.json()["fields"]

    def test_malformed_json_is_a_clear_400(self, api, admin):
        api.force_login(admin)
        response = api.generic("POST", "/api/v1/automations/", "{not json", content_type="application/json")
        assert response.status_code == 400
        assert "JSON parse error" in response.json()["message"]


def test_patch_applies_and_reports_the_material_change(api, admin):
    automation = AutomationFactory(status="live")
    api.force_login(admin)
    response = api.patch_current(
        f"/api/v1/automations/{automation.key}/", {"rule": "New rule", "change_reason": "Policy changed"}
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2
    assert response.json()["status"] == "in_design"


def test_list_filters_match_the_page(api, admin):
    AutomationFactory(team="sales", uses_ai=True)
    AutomationFactory(team="cs")
    api.force_login(admin)
    body = api.get("/api/v1/automations/", {"team": "sales", "tier": "high"}).json()
    assert body["count"] == 1
    response = api.get("/api/v1/automations/", {"tier": "extreme"})
    assert response.status_code == 400
    assert "tier" in response.json()["fields"]


@pytest.mark.parametrize("rows", [10, 500])
def test_automation_list_query_count_is_constant(api, admin_token, rows, django_assert_num_queries):
    field = DataFieldFactory()
    AutomationFactory.create_batch(rows, data_fields=[field])
    client = api.as_token(admin_token)
    client.get("/api/v1/automations/")  # warm the token cache, as in production
    # count + page + owners joined + fields + tags
    with django_assert_num_queries(4):
        response = client.get("/api/v1/automations/?page_size=500")
    assert response.json()["count"] == rows


def test_data_field_status_change_through_the_api_flags_automations(api, admin):
    field = DataFieldFactory()
    automation = AutomationFactory(data_fields=[field])
    api.force_login(admin)
    response = api.patch_current(
        f"/api/v1/data-fields/{field.pk}/", {"status": "deprecated", "change_reason": "Replaced"}
    )
    assert response.status_code == 200
    assert api.get(f"/api/v1/automations/{automation.key}/").json()["review_due"] is True
    assert DataField.objects.get(pk=field.pk).history.latest().history_change_reason == "Replaced"


def test_change_events_are_recorded_through_the_api(api, admin):
    automation = AutomationFactory()
    api.force_login(admin)
    response = api.post(
        "/api/v1/change-events/",
        {
            "kind": "sla_rules",
            "title": "Response SLA now 15 minutes",
            "occurred_on": "2026-11-20",
            "automations": [automation.key],
        },
    )
    assert response.status_code == 201, response.json()
    assert ChangeEvent.objects.get().automations.get() == automation
    detail = api.get(f"/api/v1/automations/{automation.key}/").json()
    assert detail["review_due"] is True
    assert any("Response SLA now 15 minutes" in reason for reason in detail["review_due_reasons"])


def test_review_cadence_is_edited_through_the_api_and_the_next_due_date_follows(api, admin):
    automation = AutomationFactory(review_cadence=None)
    api.force_login(admin)
    response = api.patch_current(
        f"/api/v1/automations/{automation.key}/", {"review_cadence": 30, "change_reason": "High-volume now"}
    )
    assert response.status_code == 200, response.json()
    detail = api.get(f"/api/v1/automations/{automation.key}/").json()
    assert (detail["review_cadence"], detail["review_cadence_days"]) == (30, 30)
    reviewed = Automation.objects.get(pk=automation.pk).last_reviewed_at
    assert detail["next_review_due_at"].startswith(f"{(reviewed + timedelta(days=30)):%Y-%m-%d}")
    assert detail["went_live_at"] is None
    response = api.patch_current(
        f"/api/v1/automations/{automation.key}/", {"review_cadence": 7, "change_reason": "Weekly"}
    )
    assert response.status_code == 400
    assert "review_cadence" in response.json()["fields"]


class TestChangeEventScope:
    """An integration token sees of the change events only its own system's automations."""

    url = "/api/v1/change-events/"

    @pytest.fixture
    def shared(self, admin):
        from tests.registry.factories import ChangeEventFactory

        self.mine = AutomationFactory(system="salesforce", key="sf-routing")
        self.theirs = AutomationFactory(system="hubspot", key="hs-nurture")
        self.only_theirs = ChangeEventFactory(automations=[self.theirs], title="HubSpot only")
        return ChangeEventFactory(automations=[self.mine, self.theirs], title="Territories redrawn")

    def test_integration_token_lists_change_events_naming_only_its_own_automations(self, api, sf_token, shared):
        body = api.as_token(sf_token).get(self.url).json()
        assert [(e["title"], e["automations"]) for e in body["results"]] == [("Territories redrawn", ["sf-routing"])]

    def test_integration_token_reads_a_change_event_naming_only_its_own_automations(self, api, sf_token, shared):
        client = api.as_token(sf_token)
        assert client.get(f"{self.url}{shared.pk}/").json()["automations"] == ["sf-routing"]
        assert client.get(f"{self.url}{self.only_theirs.pk}/").status_code == 404

    def test_integration_token_cannot_find_change_events_by_another_systems_automation(self, api, sf_token, shared):
        client = api.as_token(sf_token)
        assert client.get(self.url, {"automation": "hs-nurture"}).json()["count"] == 0
        assert client.get(self.url, {"automation": "sf-routing"}).json()["count"] == 1

    def test_integration_token_cannot_record_a_change_event(self, api, sf_token, hs_token, shared):
        for raw, key in ((sf_token, "sf-routing"), (sf_token, "hs-nurture"), (hs_token, "sf-routing")):
            response = api.as_token(raw).post(
                self.url, {"kind": "territories", "title": "x", "occurred_on": "2026-11-20", "automations": [key]}
            )
            assert response.status_code == 403
        assert ChangeEvent.objects.count() == 2

    def test_a_person_sees_every_automation_of_a_change_event(self, api, admin_token, shared):
        body = api.as_token(admin_token).get(f"{self.url}{shared.pk}/").json()
        assert sorted(body["automations"]) == ["hs-nurture", "sf-routing"]
        assert api.get(self.url, {"automation": "hs-nurture"}).json()["count"] == 2
