"""No lost updates (issue 15 §4): an edit made from a revision that is no longer current is
refused with who changed it, when, and the diff; nothing is overwritten."""

import pytest
from rest_framework.test import APIClient

from registry.models import Automation, DataField
from revops_gov import concurrency
from revops_gov.concurrency import revision_of
from revops_gov.roles import Role
from tests.factories import UserFactory, integration_token, personal_token
from tests.registry.factories import AutomationFactory, DataFieldFactory

pytestmark = pytest.mark.django_db


def _client(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def two_admins(admin):
    other = UserFactory(username="blair", first_name="Blair", last_name="Quinn", role=Role.ADMIN)
    return admin, other


# --- the If-Match header -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "tags"),
    [
        (None, None),
        ("", None),
        ('"3.7"', ["3.7"]),
        ('W/"3.7"', ["3.7"]),
        ('"1.2", W/"3.7"', ["1.2", "3.7"]),
        ("*", ["*"]),
    ],
)
def test_if_match_accepts_strong_weak_and_lists(header, tags):
    assert concurrency.parse_if_match(header) == tags


# --- automations through the API -----------------------------------------------------------
URL = "/api/v1/automations/{}/"


@pytest.mark.parametrize("who", ["personal", "integration"])
def test_patch_without_if_match_is_428_for_tokens_that_write(who, admin):
    automation = AutomationFactory(system="salesforce", name="Before")
    raw = personal_token(admin) if who == "personal" else integration_token(name="sf", system="salesforce")
    response = _client(raw).patch(URL.format(automation.key), {"name": "After", "change_reason": "x"}, format="json")
    assert response.status_code == 428, response.json()
    assert "If-Match" in response.json()["message"]
    automation.refresh_from_db()
    assert automation.name == "Before"


def test_get_gives_an_etag_and_a_fresh_if_match_writes_and_gives_a_new_one(admin):
    automation = AutomationFactory(system="salesforce", name="Before")
    client = _client(personal_token(admin))
    etag = client.get(URL.format(automation.key)).headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert client.get(URL.format(automation.key)).headers["ETag"] == etag  # the cached card keeps it
    response = client.patch(
        URL.format(automation.key), {"name": "After", "change_reason": "x"}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200, response.json()
    assert response.headers["ETag"] not in ("", etag)
    assert client.get(URL.format(automation.key)).headers["ETag"] == response.headers["ETag"]
    automation.refresh_from_db()
    assert automation.name == "After"


def test_a_weak_if_match_is_accepted(admin):
    automation = AutomationFactory(system="salesforce")
    client = _client(personal_token(admin))
    etag = client.get(URL.format(automation.key)).headers["ETag"]
    response = client.patch(
        URL.format(automation.key), {"name": "Weakly", "change_reason": "x"}, format="json", HTTP_IF_MATCH=f"W/{etag}"
    )
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize("second", ["personal", "integration"])
def test_a_stale_if_match_is_412_with_who_when_and_the_diff_and_nothing_is_written(two_admins, second):
    first_admin, other = two_admins
    automation = AutomationFactory(system="salesforce", name="Original", trigger="A lead is created")
    first = _client(personal_token(other))
    raw = personal_token(first_admin) if second == "personal" else integration_token(name="sf", system="salesforce")
    late = _client(raw)
    url = URL.format(automation.key)
    first_etag, late_etag = first.get(url).headers["ETag"], late.get(url).headers["ETag"]
    assert first_etag == late_etag
    ok = first.patch(url, {"name": "Blair's name", "change_reason": "rename"}, format="json", HTTP_IF_MATCH=first_etag)
    assert ok.status_code == 200
    before = automation.history.count()

    response = late.patch(
        url,
        {"name": "Late name", "trigger": "Late trigger", "change_reason": "x"},
        format="json",
        HTTP_IF_MATCH=late_etag,
    )
    assert response.status_code == 412, response.json()
    body = response.json()
    assert body["changed_by"] == "Blair Quinn"
    assert body["changed_at"]
    assert body["diff"] == {"name": ["Blair's name", "Late name"], "trigger": ["A lead is created", "Late trigger"]}
    assert "Changed by Blair Quinn" in body["message"]
    assert body["current_etag"] == ok.headers["ETag"]
    automation.refresh_from_db()
    assert (automation.name, automation.trigger) == ("Blair's name", "A lead is created")
    assert automation.history.count() == before
    # Read again, then write: accepted.
    again = late.patch(
        url, {"name": "Late name", "change_reason": "x"}, format="json", HTTP_IF_MATCH=late.get(url).headers["ETag"]
    )
    assert again.status_code == 200, again.json()
    assert Automation.objects.get(pk=automation.pk).name == "Late name"


def test_a_review_mark_also_makes_an_etag_stale(admin):
    from registry import services

    automation = AutomationFactory(system="salesforce")
    client = _client(personal_token(admin))
    etag = client.get(URL.format(automation.key)).headers["ETag"]
    services.automation_mark_reviewed(automation=automation, by=admin, notes="Checked")
    response = client.patch(
        URL.format(automation.key), {"name": "X", "change_reason": "x"}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 412


# --- data fields through the API -----------------------------------------------------------
def test_data_field_patch_needs_a_current_if_match(two_admins):
    first_admin, other = two_admins
    field = DataFieldFactory(definition="Original")
    url = f"/api/v1/data-fields/{field.pk}/"
    first, late = _client(personal_token(other)), _client(personal_token(first_admin))
    assert late.patch(url, {"definition": "No header", "change_reason": "x"}, format="json").status_code == 428
    etag = late.get(url).headers["ETag"]
    ok = first.patch(
        url,
        {"definition": "Blair's", "change_reason": "x"},
        format="json",
        HTTP_IF_MATCH=first.get(url).headers["ETag"],
    )
    assert ok.status_code == 200, ok.json()
    assert ok.headers["ETag"] != etag
    response = late.patch(url, {"definition": "Late", "change_reason": "x"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412, response.json()
    assert response.json()["diff"] == {"definition": ["Blair's", "Late"]}
    assert response.json()["changed_by"] == "Blair Quinn"
    assert DataField.objects.get(pk=field.pk).definition == "Blair's"


# --- web forms: two real sessions ----------------------------------------------------------
@pytest.fixture
def sessions(two_admins):
    from django.test import Client

    first_admin, other = two_admins
    blair, alice = Client(), Client()
    blair.force_login(other)
    alice.force_login(first_admin)
    return blair, alice


def _both_open(sessions, url, name="form"):
    from tests.forms import opened_form

    blair, alice = sessions
    return opened_form(blair, url, name), opened_form(alice, url, name)


def _stale_page(response):
    assert response.status_code == 409, response.status_code
    page = response.content.decode()
    assert "Changed by Blair Quinn at" in page
    assert "since you opened it" in page
    return page


def test_two_sessions_editing_an_automation_the_second_is_refused_and_the_first_kept(sessions):
    from django.urls import reverse

    automation = AutomationFactory(name="Original", business_purpose="Route leads")
    url = reverse("registry:automation-edit", args=[automation.key])
    blair_form, alice_form = _both_open(sessions, url)
    assert blair_form["revision"] == alice_form["revision"] != ""
    blair, alice = sessions
    saved = blair.post(url, {**blair_form, "name": "Blair's name", "change_reason": "Rename"})
    assert saved.status_code == 302
    before = automation.history.count()

    response = alice.post(url, {**alice_form, "business_purpose": "Alice's purpose", "change_reason": "Purpose"})
    page = _stale_page(response)
    diff = {row["field"]: (row["theirs"], row["yours"]) for row in response.context["stale"]["diff"]}
    assert diff == {"name": ("Blair's name", "Original"), "business_purpose": ("Route leads", "Alice's purpose")}
    assert "Blair&#x27;s name" in page and "Original" in page  # theirs and yours, for the field that differs
    assert "Alice&#x27;s purpose" in page
    automation.refresh_from_db()
    assert (automation.name, automation.business_purpose) == ("Blair's name", "Route leads")
    assert automation.history.count() == before
    # The re-rendered form carries the current revision: saving again now is a deliberate choice.
    assert response.context["form"].data["revision"] == revision_of(automation)


def test_two_sessions_editing_a_data_field(sessions):
    from django.urls import reverse

    field = DataFieldFactory(definition="Original")
    url = reverse("registry:datafield-edit", args=[field.pk])
    blair_form, alice_form = _both_open(sessions, url)
    blair, alice = sessions
    assert blair.post(url, {**blair_form, "definition": "Blair's", "change_reason": "x"}).status_code == 302
    page = _stale_page(alice.post(url, {**alice_form, "label": "Alice's label", "change_reason": "y"}))
    assert "Alice&#x27;s label" in page
    field.refresh_from_db()
    assert (field.definition, field.label) == ("Blair's", DataFieldFactory._meta.model.objects.get(pk=field.pk).label)
    assert field.label != "Alice's label"


def test_a_form_posted_without_its_revision_is_refused(sessions, admin):
    from django.urls import reverse

    automation = AutomationFactory(name="Original")
    _, alice = sessions
    from tests.forms import opened_form

    data = opened_form(alice, reverse("registry:automation-edit", args=[automation.key]))
    data.pop("revision")
    response = alice.post(
        reverse("registry:automation-edit", args=[automation.key]), {**data, "name": "X", "change_reason": "x"}
    )
    assert response.status_code == 409
    automation.refresh_from_db()
    assert automation.name == "Original"


def test_two_sessions_editing_a_packet(sessions, admin):
    from django.urls import reverse

    from approvals import services as approvals_services
    from approvals.models import ApprovalPacket

    automation = AutomationFactory(status="proposed")
    approvals_services.packet_create_draft(automation=automation, by=admin)
    url = reverse("approvals:packet-edit", args=[automation.key])
    blair_form, alice_form = _both_open(sessions, url)
    blair, alice = sessions
    assert blair.post(url, {**blair_form, "rule": "Blair's rule"}).status_code == 302
    response = alice.post(url, {**alice_form, "rollback_steps": "Alice's rollback"})
    page = _stale_page(response)
    assert "Alice&#x27;s rollback" in page and "Blair&#x27;s rule" in page
    packet = ApprovalPacket.objects.get(automation=automation)
    assert packet.rule == "Blair's rule"
    assert packet.rollback_steps != "Alice's rollback"


def test_two_sessions_writing_the_first_packet(sessions):
    from django.urls import reverse

    from approvals.models import ApprovalPacket

    automation = AutomationFactory(status="proposed")
    url = reverse("approvals:packet-edit", args=[automation.key])
    blair_form, alice_form = _both_open(sessions, url)
    assert blair_form["revision"] == "none"
    blair, alice = sessions
    assert blair.post(url, {**blair_form, "rule": "Blair's rule"}).status_code == 302
    _stale_page(alice.post(url, {**alice_form, "rule": "Alice's rule"}))
    assert ApprovalPacket.objects.get(automation=automation).rule == "Blair's rule"


def test_two_sessions_triaging_a_candidate(sessions):
    from django.urls import reverse

    from backlog.models import Candidate
    from tests.backlog.factories import CandidateFactory

    candidate = CandidateFactory(title="Original title", pain_point="Leads wait")
    url = reverse("backlog:candidate-triage", args=[candidate.pk])
    blair_form, alice_form = _both_open(sessions, url)
    blair, alice = sessions
    saved = blair.post(url, {**blair_form, "title": "Blair's title", "change_reason": "x"})
    assert saved.status_code == 302, saved.content.decode()[:3000]
    response = alice.post(url, {**alice_form, "pain_point": "Alice's problem", "change_reason": "y"})
    page = _stale_page(response)
    assert "Alice&#x27;s problem" in page and "Blair&#x27;s title" in page
    candidate = Candidate.objects.get(pk=candidate.pk)
    assert (candidate.title, candidate.pain_point) == ("Blair's title", "Leads wait")


def test_two_sessions_publishing_scoring_weights(sessions, admin):
    from django.urls import reverse

    from backlog import services as backlog_services
    from backlog.models import ScoringModel
    from backlog.rules import DEFAULT_WEIGHTS

    backlog_services.scoring_model_publish(
        by=admin, reason="Start", weights={**DEFAULT_WEIGHTS, "volume": DEFAULT_WEIGHTS["volume"] + 1}
    )
    url = reverse("backlog:scoring")
    blair_form, alice_form = _both_open(sessions, url)
    assert blair_form["revision"] == "v2"
    blair, alice = sessions
    publish = reverse("backlog:scoring-publish")
    assert blair.post(publish, {**blair_form, "weight_volume": "9", "reason": "Volume"}).status_code == 302
    response = alice.post(publish, {**alice_form, "weight_risk": "7", "reason": "Risk"})
    page = _stale_page(response)
    assert "since you opened it" in page
    diff = {row["field"]: (row["theirs"], row["yours"]) for row in response.context["stale"]["diff"]}
    assert diff["weight_volume"][0] == "9" and diff["weight_risk"][1] == "7"
    current = ScoringModel.objects.order_by("-version").first()
    assert (current.version, current.weights["volume"]) == (3, 9)


# --- candidates and scoring models through the API -----------------------------------------
def test_candidate_patch_needs_a_current_if_match(two_admins):
    from backlog.models import Candidate
    from tests.backlog.factories import CandidateFactory

    first_admin, other = two_admins
    candidate = CandidateFactory(notes="Original")
    url = f"/api/v1/candidates/{candidate.pk}/"
    first, late = _client(personal_token(other)), _client(personal_token(first_admin))
    assert late.patch(url, {"notes": "No header", "change_reason": "x"}, format="json").status_code == 428
    etag = late.get(url).headers["ETag"]
    ok = first.patch(url, {"notes": "Blair's", "change_reason": "x"}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200, ok.json()
    assert ok.headers["ETag"] != etag
    response = late.patch(url, {"notes": "Late", "change_reason": "x"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 412, response.json()
    assert response.json()["diff"] == {"notes": ["Blair's", "Late"]}
    assert Candidate.objects.get(pk=candidate.pk).notes == "Blair's"


def test_scoring_model_publish_with_a_stale_if_match_is_412(two_admins):
    from backlog.models import ScoringModel
    from backlog.rules import DEFAULT_WEIGHTS

    first_admin, other = two_admins
    body = {f"weight_{name}": str(value) for name, value in DEFAULT_WEIGHTS.items()}
    first, late = _client(personal_token(other)), _client(personal_token(first_admin))
    etag = late.get("/api/v1/scoring-models/").headers["ETag"]
    ok = first.post(
        "/api/v1/scoring-models/", {**body, "weight_volume": "9", "reason": "x"}, format="json", HTTP_IF_MATCH=etag
    )
    assert ok.status_code == 201, ok.json()
    response = late.post(
        "/api/v1/scoring-models/", {**body, "weight_risk": "7", "reason": "y"}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 412, response.json()
    assert response.json()["changed_by"] == "Blair Quinn"
    assert ScoringModel.objects.order_by("-version").first().weights["risk"] == DEFAULT_WEIGHTS["risk"]
