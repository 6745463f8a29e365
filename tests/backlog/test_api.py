"""/api/v1/candidates/ and /api/v1/scoring-models/: roles, scoping, arithmetic, idempotent promotion."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backlog import services
from backlog.models import Candidate, ScoringModel
from registry.models import Automation
from tests.backlog.factories import READY, CandidateFactory
from tests.factories import UserFactory, personal_token
from tests.registry.factories import DataFieldFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/candidates/"
REQUEST = {
    "title": "Renewal date reminders",
    "workflow_type": "renewal",
    "pain_point": "Renewals start 30 days out instead of 120.",
    "team": "cs",
    "system": "hubspot",
    "volume_per_month": 80,
    "time_saved_hours_per_month": "12.5",
    "data_fields": ["Lead.Renewal_Date__c"],
}


def scored(admin, **extra):
    candidate = CandidateFactory(owner=admin, exception_owner=admin, **extra)
    return services.candidate_update(
        candidate=candidate, by=admin, reason="Scored", **{k: v for k, v in READY.items() if k not in extra}
    )


def test_a_viewer_requests_through_the_api(api, viewer):
    DataFieldFactory(object_name="Lead", api_name="Renewal_Date__c")
    api.force_login(viewer)
    response = api.post(LIST, REQUEST, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["requester"] == viewer.username and body["status"] == "new"
    assert body["group"] == "needs_design" and "rule clear: not answered" in body["missing"]
    assert body["data_fields"][0]["name"] == "Lead.Renewal_Date__c"


def test_bad_input_is_a_400_naming_the_field(api, viewer):
    api.force_login(viewer)
    response = api.post(LIST, {**REQUEST, "data_fields": ["Nope.Missing"], "team": "pirates"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"data_fields", "team"}


def test_the_api_shows_the_score_arithmetic_and_flags(api, admin):
    candidate = scored(admin, factor_volume=1)
    api.force_login(admin)
    body = api.get(f"{LIST}{candidate.pk}/").json()
    arithmetic = body["arithmetic"]
    assert arithmetic["scoring_model_version"] == 1 and arithmetic["method"] == "guide"
    volume = arithmetic["contributions"][0]
    assert volume == {"factor": "volume", "label": "Volume", "value": 1, "weight": "3.00", "contribution": "3.00"}
    risk = arithmetic["contributions"][1]
    assert risk["weight"] == "3.00" and risk["contribution"] == "6.00"  # issue 15 §5: risk raises the score
    assert sum(Decimal(c["contribution"]) for c in arithmetic["contributions"]) == Decimal(body["score"])
    assert arithmetic["total"] == body["score"]
    assert [f["flag"] for f in body["flags"]] == ["avoid"]
    assert body["group"] == "ready" and body["group_reasons"] == ["All four matrix answers are yes"]


def test_patch_needs_a_change_reason_and_admins(api, admin, manager):
    candidate = CandidateFactory()
    api.force_login(manager)
    assert (
        api.patch_current(f"{LIST}{candidate.pk}/", {"notes": "x", "change_reason": "y"}, format="json").status_code
        == 403
    )
    api.force_login(admin)
    response = api.patch_current(f"{LIST}{candidate.pk}/", {"factor_volume": 4}, format="json")
    assert response.status_code == 400 and "change_reason" in response.json()["fields"]
    response = api.patch_current(
        f"{LIST}{candidate.pk}/", {"factor_volume": 9, "status": "promoted", "change_reason": "x"}, format="json"
    )
    assert response.status_code == 400 and "status" in response.json()["fields"]
    response = api.patch_current(
        f"{LIST}{candidate.pk}/", {"factor_volume": 4, "change_reason": "Volume checked"}, format="json"
    )
    assert response.status_code == 200 and response.json()["factor_volume"] == 4
    assert Candidate.objects.get().history.latest().history_change_reason == "Volume checked"


def test_a_blocked_yes_is_a_400_naming_the_field(api, admin):
    field = DataFieldFactory(object_name="Account", api_name="Tier__c", status="deprecated")
    candidate = CandidateFactory(data_fields=[field])
    api.force_login(admin)
    response = api.patch_current(
        f"{LIST}{candidate.pk}/", {"data_reliable": "yes", "change_reason": "x"}, format="json"
    )
    assert response.status_code == 400
    assert "Account.Tier__c (deprecated)" in response.json()["fields"]["data_reliable"][0]


def test_list_filters(api, admin):
    a = scored(admin, team="marketing", system="hubspot")
    b = scored(admin, team="sales", judgment_strategy=True)
    c = CandidateFactory(status="declined")
    api.force_login(admin)
    ids = lambda params: [row["id"] for row in api.get(LIST, params).json()["results"]]  # noqa: E731
    assert set(ids({})) == {a.pk, b.pk, c.pk}
    assert ids({"team": "marketing"}) == [a.pk]
    assert ids({"group": "keep_human"}) == [b.pk]
    assert ids({"status": "declined"}) == [c.pk]
    assert ids({"system": "hubspot"}) == [a.pk]
    assert api.get(LIST, {"flag": "sometimes"}).status_code == 400


def test_an_integration_sees_only_its_own_system(api, admin, sf_token):
    mine = CandidateFactory(system="salesforce")
    theirs = CandidateFactory(system="hubspot")
    api.as_token(sf_token)
    assert [row["id"] for row in api.get(LIST).json()["results"]] == [mine.pk]
    assert api.get(f"{LIST}{theirs.pk}/").status_code == 404
    assert api.post(LIST, REQUEST, format="json").status_code == 403
    assert api.post(f"{LIST}{mine.pk}/promote/").status_code == 403


def test_promote_is_idempotent(api, admin):
    candidate = scored(admin, title="Lead routing EMEA")
    api.as_token(personal_token(admin))
    first = api.post(f"{LIST}{candidate.pk}/promote/")
    assert first.status_code == 201
    assert first.json()["automation"] == "lead-routing-emea"
    again = api.post(f"{LIST}{candidate.pk}/promote/")
    assert again.status_code == 200 and again.json() == first.json()
    assert Automation.objects.count() == 1
    assert Automation.objects.get().status == "proposed"
    assert api.get(f"{LIST}{candidate.pk}/").json()["automation"] == "lead-routing-emea"


def test_promote_of_a_not_ready_candidate_is_refused_with_the_reasons(api, admin):
    candidate = scored(admin, rule_clear="partly")
    api.force_login(admin)
    response = api.post(f"{LIST}{candidate.pk}/promote/")
    assert response.status_code == 400
    assert "Missing: rule not agreed (answered partly)" in response.json()["extra"]["reasons"]


def test_promote_by_a_manager_is_forbidden(api, admin, manager):
    candidate = scored(admin)
    api.force_login(manager)
    assert api.post(f"{LIST}{candidate.pk}/promote/").status_code == 403
    assert not Automation.objects.exists()


WEIGHTS = {
    "weight_volume": "4.00",
    "weight_risk": "1.00",
    "weight_rule_clarity": "2.00",
    "weight_data_readiness": "2.00",
    "weight_exception_clarity": "1.00",
    "weight_user_impact": "2.00",
    "weight_maintenance_cost": "0.50",
}


def test_admins_publish_a_scoring_model_and_open_candidates_are_rescored(api, admin, viewer):
    candidate = scored(admin)
    api.force_login(viewer)
    assert api.post("/api/v1/scoring-models/", {**WEIGHTS, "reason": "x"}, format="json").status_code == 403
    api.force_login(admin)
    response = api.post("/api/v1/scoring-models/", {**WEIGHTS, "reason": "Volume first"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["version"] == 2 and response.json()["rescored"] == 1
    assert api.get(f"{LIST}{candidate.pk}/").json()["arithmetic"]["scoring_model_version"] == 2
    assert [m["version"] for m in api.get("/api/v1/scoring-models/").json()["results"]] == [2, 1]
    bad = api.post("/api/v1/scoring-models/", {**WEIGHTS, "weight_risk": "-1", "reason": "x"}, format="json")
    assert bad.status_code == 400 and "weight_risk" in bad.json()["fields"]
    assert ScoringModel.objects.count() == 2


def _list_queries(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api.get(LIST, {"page_size": 500}).status_code == 200
    return len(queries)


def test_the_list_needs_the_same_queries_for_10_or_500_candidates(api, admin):
    api.force_login(admin)
    requester = UserFactory()
    field = DataFieldFactory()
    services.scoring_model_publish(
        by=admin,
        reason="v2",
        weights={
            "volume": 1,
            "risk": 1,
            "rule_clarity": 1,
            "data_readiness": 1,
            "exception_clarity": 1,
            "user_impact": 1,
            "maintenance_cost": 1,
        },
    )
    model = ScoringModel.objects.first()

    def add(n):
        built = CandidateFactory.build_batch(
            n, requester=requester, owner=admin, scoring_model=model, score=10, **READY
        )
        made = Candidate.objects.bulk_create(built)
        through = Candidate.data_fields.through
        through.objects.bulk_create([through(candidate_id=c.pk, datafield_id=field.pk) for c in made])

    add(10)
    few = _list_queries(api)
    add(490)
    assert _list_queries(api) == few


def test_promoting_a_flagged_candidate_needs_an_override_reason_which_the_api_shows(api, admin):
    """Issue 15 §5: the same check as the service, with an admin token."""
    candidate = scored(admin, factor_risk=5, factor_data_readiness=1)
    api.as_token(personal_token(admin))
    refused = api.post(f"{LIST}{candidate.pk}/promote/", {}, format="json")
    assert refused.status_code == 400
    assert "“defer”" in refused.json()["fields"]["override_reason"][0]
    too_long = api.post(f"{LIST}{candidate.pk}/promote/", {"override_reason": "x" * 501}, format="json")
    assert too_long.status_code == 400 and "override_reason" in too_long.json()["fields"]
    not_text = api.post(f"{LIST}{candidate.pk}/promote/", {"override_reason": {"a": 1}}, format="json")
    assert not_text.status_code == 400 and "override_reason" in not_text.json()["fields"]
    assert not Automation.objects.exists()
    assert api.get(f"{LIST}{candidate.pk}/").json()["promotion_override"] is None

    response = api.post(
        f"{LIST}{candidate.pk}/promote/", {"override_reason": "The data fix ships with it."}, format="json"
    )
    assert response.status_code == 201, response.json()
    override = api.get(f"{LIST}{candidate.pk}/").json()["promotion_override"]
    assert override["flags"] == ["defer"] and override["rules"] == ["risk ≥ 4 and data readiness ≤ 2"]
    assert override["reason"] == "The data fix ships with it." and override["by"] == admin.username
    assert override["at"]


def test_an_unflagged_candidate_promotes_through_the_api_without_a_reason(api, admin_token, admin):
    candidate = scored(admin)
    api.as_token(admin_token)
    assert api.post(f"{LIST}{candidate.pk}/promote/").status_code == 201
    assert api.get(f"{LIST}{candidate.pk}/").json()["promotion_override"] is None


def test_scoring_models_name_their_method(api, admin):
    api.force_login(admin)
    assert [m["method"] for m in api.get("/api/v1/scoring-models/").json()["results"]] == ["guide"]
