"""The backlog pages: what each role sees and may do, explained forms, constant queries."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backlog import services
from backlog.models import Candidate, ScoringModel
from backlog.rules import DEFAULT_WEIGHTS
from registry.models import Automation
from revops_gov.concurrency import revision_of
from tests.backlog.factories import READY, CandidateFactory
from tests.factories import UserFactory
from tests.registry.factories import DataFieldFactory

pytestmark = pytest.mark.django_db

REQUEST = {
    "title": "Closed-won handoff task",
    "workflow_type": "handoff",
    "pain_point": "CS learns about new customers a week late.",
    "team": "cs",
    "system": "salesforce",
    "volume_per_month": "300",
    "time_saved_hours_per_month": "25",
    "sla_improvement_hours": "48",
    "errors_avoided_per_month": "10",
    "risk_reduction_per_year": "0",
}


def scored(admin, **extra):
    candidate = CandidateFactory(owner=admin, exception_owner=admin, **extra)
    return services.candidate_update(
        candidate=candidate, by=admin, reason="Scored", **{k: v for k, v in READY.items() if k not in extra}
    )


def test_a_viewer_requests_an_automation(login, viewer):
    client = login(viewer)
    assert client.get(reverse("backlog:candidate-request")).status_code == 200
    response = client.post(reverse("backlog:candidate-request"), REQUEST)
    candidate = Candidate.objects.get()
    assert response.status_code == 302 and response.url == candidate.get_absolute_url()
    assert candidate.requester == viewer and candidate.status == "new"


def test_the_intake_form_names_the_missing_fields(login, viewer):
    response = login(viewer).post(reverse("backlog:candidate-request"), {**REQUEST, "title": "", "team": "nope"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved" in page and "This field is required" in page and "Select a valid choice" in page
    assert not Candidate.objects.exists()


def test_a_viewer_cannot_triage_or_promote(login, viewer, admin):
    candidate = scored(admin)
    client = login(viewer)
    assert client.get(reverse("backlog:candidate-triage", args=[candidate.pk])).status_code == 403
    assert client.post(reverse("backlog:candidate-promote", args=[candidate.pk])).status_code == 403
    page = client.get(candidate.get_absolute_url()).content.decode()
    assert "Only RevOps admins promote candidates." in page


def test_an_admin_triages_and_the_candidate_moves_to_ready(login, admin):
    candidate = CandidateFactory()
    data = {
        **REQUEST,
        "title": candidate.title,
        **READY,
        "owner": admin.pk,
        "exception_owner": admin.pk,
        "change_reason": "Backlog review",
        "revision": revision_of(candidate),
    }
    response = login(admin).post(reverse("backlog:candidate-triage", args=[candidate.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    candidate = Candidate.objects.get()
    assert candidate.status == "triaged" and candidate.derivation.group == "ready"
    board = login(admin).get(reverse("backlog:board")).content.decode()
    ready_column = board.split('id="col-ready"')[1].split('id="col-needs_design"')[0]
    assert candidate.title in ready_column


def test_the_triage_form_explains_a_blocked_yes(login, admin):
    field = DataFieldFactory(object_name="Lead", api_name="Segment__c", status="unstable")
    candidate = CandidateFactory(data_fields=[field])
    data = {**REQUEST, **READY, "data_fields": [field.pk], "exception_owner": admin.pk, "change_reason": "Review"}
    data["revision"] = revision_of(candidate)
    response = login(admin).post(reverse("backlog:candidate-triage", args=[candidate.pk]), data)
    assert response.status_code == 400
    assert "Not while it uses Lead.Segment__c (unstable)" in response.content.decode()


def test_the_detail_shows_the_matrix_the_arithmetic_and_the_missing_pieces(login, admin, viewer):
    field = DataFieldFactory(object_name="Account", api_name="Tier__c", status="unstable")
    candidate = scored(admin, data_fields=[field], data_reliable="partly", exception_known="no")
    page = login(viewer).get(candidate.get_absolute_url()).content.decode()
    assert "Needs process design" in page
    assert "field Account.Tier__c unstable" in page
    assert "exception owner unknown (answered no)" in page
    assert "scoring model v1" in page
    assert "× 3.00" in page and "15.00" in page  # volume 5 × 3 = 15
    assert str(candidate.score) in page
    assert "Scored" in page  # the history


def test_the_detail_shows_flags_with_their_rule(login, admin):
    candidate = scored(admin, factor_volume=1, factor_risk=5, factor_data_readiness=1)
    page = login(admin).get(candidate.get_absolute_url()).content.decode()
    assert "risk ≥ 4 and data readiness ≤ 2" in page
    assert "volume ≤ 2 unless risk reduction" in page


def test_the_board_sorts_by_score_not_by_who_asked_loudest(login, admin):
    loud = scored(admin, title="Loud request", factor_volume=1, time_saved_hours_per_month=400)
    quiet = scored(admin, title="Quiet high-volume request", factor_volume=5)
    tie = scored(admin, title="Same score, more hours saved", factor_volume=5, time_saved_hours_per_month=90)
    page = login(admin).get(reverse("backlog:board")).content.decode()
    assert page.index(tie.title) < page.index(quiet.title) < page.index(loud.title)


def test_board_filters(login, admin):
    mine = scored(admin, title="Marketing source alert", team="marketing")
    other = scored(
        admin, title="Sales SLA escalation", team="sales", factor_volume=1, factor_risk=5, factor_data_readiness=1
    )
    client = login(admin)
    page = client.get(reverse("backlog:board"), {"team": "marketing"}).content.decode()
    assert mine.title in page and other.title not in page
    page = client.get(reverse("backlog:board"), {"flag": "defer"}).content.decode()
    assert other.title in page and mine.title not in page
    page = client.get(reverse("backlog:board"), {"q": "escalation"}).content.decode()
    assert other.title in page and mine.title not in page
    page = client.get(reverse("backlog:board"), {"requester": mine.requester.username}).content.decode()
    assert mine.title in page and other.title not in page


def test_the_board_explains_an_empty_backlog(login, viewer):
    page = login(viewer).get(reverse("backlog:board")).content.decode()
    assert "No candidate here" in page and "Request an automation" in page


def _board_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("backlog:board")).status_code == 200
    return len(queries)


def test_the_board_needs_the_same_queries_for_10_or_500_candidates(login, admin):
    client = login(admin)
    requester = UserFactory()
    fields = [DataFieldFactory(), DataFieldFactory(status="unstable")]

    def add(n, offset):
        built = CandidateFactory.build_batch(n, requester=requester, status="triaged", **READY)
        for i, c in enumerate(built):
            c.title = f"Candidate {offset + i}"
            c.judgment_icp_change = i % 3 == 0
            c.score = i
        made = Candidate.objects.bulk_create(built)
        through = Candidate.data_fields.through
        through.objects.bulk_create([through(candidate_id=c.pk, datafield_id=fields[c.pk % 2].pk) for c in made])

    add(10, 0)
    few = _board_queries(client)
    add(490, 10)
    assert _board_queries(client) == few


def test_the_csv_export_has_score_flags_and_group(login, admin):
    candidate = scored(admin, factor_volume=1)
    response = login(admin).get(reverse("backlog:export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["workflow"] == candidate.title
    assert row["group"] == "ready"
    assert row["score"] == str(candidate.score)
    assert row["scoring_model_version"] == "1"
    assert row["arithmetic"].endswith(f"= {candidate.score}")
    assert row["flags"].startswith("avoid:")


def test_promote_from_the_page_lands_on_the_automation(login, admin):
    candidate = scored(admin)
    client = login(admin)
    response = client.post(reverse("backlog:candidate-promote", args=[candidate.pk]))
    automation = Automation.objects.get()
    assert response.status_code == 302 and response.url == automation.get_absolute_url()
    assert client.post(reverse("backlog:candidate-promote", args=[candidate.pk])).url == automation.get_absolute_url()
    page = client.get(automation.get_absolute_url()).content.decode()
    assert "From the backlog" in page and candidate.title in page


def test_promote_of_a_not_ready_candidate_shows_the_reasons(login, admin):
    candidate = scored(admin, judgment_customer_relationship=True)
    client = login(admin)
    response = client.post(reverse("backlog:candidate-promote", args=[candidate.pk]), follow=True)
    assert "Needs human judgment: customer relationship call" in response.content.decode()
    assert not Automation.objects.exists()


def test_decline_needs_a_reason_and_reopen_brings_it_back(login, admin):
    candidate = scored(admin)
    client = login(admin)
    client.post(reverse("backlog:candidate-decline", args=[candidate.pk]), {"reason": ""})
    assert Candidate.objects.get().status == "triaged"
    client.post(reverse("backlog:candidate-decline", args=[candidate.pk]), {"reason": "Duplicate"})
    assert Candidate.objects.get().status == "declined"
    client.post(reverse("backlog:candidate-reopen", args=[candidate.pk]), {"reason": "Not a duplicate after all"})
    assert Candidate.objects.get().status == "triaged"
    client.post(reverse("backlog:candidate-defer", args=[candidate.pk]), {"reason": "After the migration"})
    assert Candidate.objects.get().status == "deferred"


def test_admins_publish_weights_and_everyone_reads_them(login, admin, viewer):
    scored(admin)
    client = login(admin)
    data = {
        "weight_volume": "4",
        "weight_risk": "1",
        "weight_rule_clarity": "2",
        "weight_data_readiness": "2",
        "weight_exception_clarity": "1.5",
        "weight_user_impact": "2",
        "weight_maintenance_cost": "1",
        "reason": "Volume first this quarter",
        "revision": services.scoring_model_revision(services.scoring_model_current()),
    }
    response = client.post(reverse("backlog:scoring-publish"), data)
    assert response.status_code == 302
    assert ScoringModel.objects.first().version == 2
    assert Candidate.objects.get().scoring_model.version == 2
    bad = client.post(reverse("backlog:scoring-publish"), {**data, "weight_risk": "12", "reason": ""})
    assert bad.status_code == 400
    assert "less than or equal to 10" in bad.content.decode()
    page = login(viewer).get(reverse("backlog:scoring")).content.decode()
    assert "Volume first this quarter" in page and "Publish new weights" not in page


def test_promoting_a_flagged_candidate_from_the_page_needs_an_override_reason(login, admin):
    """Issue 15 §5: the page asks for the reason, refuses without it (naming the field), and shows
    the recorded override after."""
    candidate = scored(admin, factor_volume=1)
    client = login(admin)
    page = client.get(candidate.get_absolute_url()).content.decode()
    assert "Promote despite the flag" in page and 'name="override_reason"' in page
    url = reverse("backlog:candidate-promote", args=[candidate.pk])
    refused = client.post(url, {"override_reason": "  "})
    assert refused.status_code == 400
    assert "promote it only with an override reason" in refused.content.decode()
    assert 'id="id_override_reason"' in refused.content.decode()
    assert client.post(url, {"override_reason": "x" * 501}).status_code == 400
    assert not Automation.objects.exists()

    response = client.post(url, {"override_reason": "Audit finding: the VP needs it logged."})
    assert response.status_code == 302 and response.url == Automation.objects.get().get_absolute_url()
    page = client.get(candidate.get_absolute_url()).content.decode()
    assert "Promoted despite “avoid”" in page
    assert "Audit finding: the VP needs it logged." in page and "Alice Admin" in page


def test_the_page_shows_the_scale_and_the_current_arithmetic_beside_an_old_score(login, admin):
    candidate = scored(admin)
    ScoringModel.objects.filter(pk=candidate.scoring_model_id).update(method="risk_against")
    services.candidate_decline(candidate=candidate, by=admin, reason="Not now")  # closed: keeps its score
    services.scoring_model_publish(by=admin, reason="Risk first", weights={**DEFAULT_WEIGHTS, "risk": 5})
    candidate = Candidate.objects.get(pk=candidate.pk)
    assert candidate.scoring_model.version == 1
    client = login(admin)
    page = client.get(candidate.get_absolute_url()).content.decode()
    assert "counted risk and maintenance cost against" in page
    assert 'data-testid="current-arithmetic"' in page and "Under the current version v2" in page
    assert candidate.score_with(ScoringModel.objects.first()).arithmetic in page
    triage = client.get(reverse("backlog:candidate-triage", args=[CandidateFactory().pk])).content.decode()
    assert "5 = easy to support" in triage
