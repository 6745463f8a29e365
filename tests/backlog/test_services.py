"""The backlog's writes: intake, triage, scoring-model versions and re-scoring, promotion."""

import importlib
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError

from approvals.choices import PacketState
from approvals.models import ApprovalPacket
from backlog import services
from backlog.models import Candidate, PromotionOverride, ScoringModel
from backlog.rules import DEFAULT_WEIGHTS, FACTOR_NAMES, compute_score
from registry.models import Automation
from revops_gov.errors import ApplicationError, Forbidden
from tests.backlog.factories import READY, CandidateFactory
from tests.registry.factories import DataFieldFactory

pytestmark = pytest.mark.django_db

REQUEST = {
    "title": "Route strategic inbound leads",
    "workflow_type": "lead_routing",
    "pain_point": "Strategic leads wait half a day for an owner.",
    "team": "sales",
    "system": "salesforce",
}


def triage(candidate, by, **extra):
    return services.candidate_update(
        candidate=candidate,
        by=by,
        reason="Scored at the backlog review",
        owner=by,
        exception_owner=by,
        **{**READY, **extra},
    )


def test_anyone_with_a_role_requests_and_it_starts_new_and_unscored(viewer):
    candidate = services.candidate_request(by=viewer, **REQUEST)
    assert candidate.status == "new" and candidate.requester == viewer
    assert candidate.score is None
    record = candidate.history.latest()
    assert record.history_type == "+" and record.history_user == viewer


def test_scoring_all_factors_triages_and_names_the_model_version(viewer, admin):
    candidate = services.candidate_request(by=viewer, **REQUEST)
    candidate = triage(candidate, admin, time_saved_hours_per_month=Decimal("30"))
    assert candidate.status == "triaged"
    assert candidate.scoring_model.version == 1
    assert candidate.score == compute_score(candidate.factors, DEFAULT_WEIGHTS).total
    assert candidate.history.latest().history_user == admin
    assert candidate.history.latest().history_change_reason == "Scored at the backlog review"


def test_an_edit_needs_a_reason(admin):
    candidate = CandidateFactory()
    with pytest.raises(ValidationError) as error:
        services.candidate_update(candidate=candidate, by=admin, reason=" ", notes="x")
    assert "change_reason" in error.value.message_dict


def test_an_untrusted_field_blocks_data_reliable_yes(admin):
    field = DataFieldFactory(object_name="Lead", api_name="Segment__c", status="unstable")
    candidate = CandidateFactory(data_fields=[field])
    with pytest.raises(ValidationError) as error:
        triage(candidate, admin)
    assert "Lead.Segment__c (unstable)" in error.value.message_dict["data_reliable"][0]
    assert Candidate.objects.get(pk=candidate.pk).data_reliable == ""


def test_an_untrusted_field_allows_yes_with_an_explicit_override(admin):
    field = DataFieldFactory(status="deprecated")
    candidate = triage(CandidateFactory(data_fields=[field]), admin, data_override_reason="Only read as a hint.")
    assert candidate.derivation.group == "ready"


def test_a_field_that_becomes_unstable_later_moves_the_candidate_out_of_ready(admin):
    field = DataFieldFactory(object_name="Account", api_name="Tier__c")
    candidate = triage(CandidateFactory(data_fields=[field]), admin)
    assert candidate.derivation.group == "ready"
    field.status = "unstable"
    field.save()
    assert Candidate.objects.get(pk=candidate.pk).derivation.missing == ["field Account.Tier__c unstable"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"trigger": "", "rule": ""}, "rule_clear"),
        ({"time_saved_hours_per_month": 0}, "value_measurable"),
    ],
)
def test_a_yes_needs_what_makes_it_true(admin, changes, field):
    candidate = CandidateFactory(time_saved_hours_per_month=0)
    with pytest.raises(ValidationError) as error:
        triage(candidate, admin, **changes)
    assert field in error.value.message_dict


def test_exception_known_yes_needs_an_exception_owner(admin):
    with pytest.raises(ValidationError) as error:
        services.candidate_update(candidate=CandidateFactory(), by=admin, reason="r", exception_known="yes")
    assert "exception_known" in error.value.message_dict


def test_a_factor_out_of_range_is_refused_naming_it(admin):
    with pytest.raises(ValidationError) as error:
        services.candidate_update(candidate=CandidateFactory(), by=admin, reason="r", factor_volume=6)
    assert "factor_volume" in error.value.message_dict


# --- Scoring model -----------------------------------------------------------------------------
NEW_WEIGHTS = {**DEFAULT_WEIGHTS, "volume": Decimal("5"), "risk": Decimal("0.5")}


def test_a_weight_change_makes_a_new_version_and_rescores_open_candidates(admin):
    open_one = triage(CandidateFactory(), admin)
    deferred = triage(CandidateFactory(), admin)
    services.candidate_defer(candidate=deferred, by=admin, reason="After the CRM migration")
    declined = triage(CandidateFactory(), admin)
    services.candidate_decline(candidate=declined, by=admin, reason="Duplicate request")
    unscored = CandidateFactory()
    old_score = Candidate.objects.get(pk=declined.pk).score

    with time_machine.travel("2026-11-25 10:00Z"):
        model = services.scoring_model_publish(by=admin, reason="Volume matters most this quarter", weights=NEW_WEIGHTS)

    assert model.version == 2 and model.created_by == admin and model.reason == "Volume matters most this quarter"
    assert model.rescored == 2
    assert list(ScoringModel.objects.values_list("version", flat=True)) == [2, 1]
    for candidate in (open_one, deferred):
        candidate = Candidate.objects.get(pk=candidate.pk)
        assert candidate.scoring_model == model
        assert candidate.score == compute_score(candidate.factors, NEW_WEIGHTS).total
        assert candidate.score_breakdown.version == 2
    declined = Candidate.objects.get(pk=declined.pk)
    assert declined.scoring_model.version == 1 and declined.score == old_score
    assert Candidate.objects.get(pk=unscored.pk).score is None


def test_publishing_needs_a_reason_and_weights_in_range(admin):
    with pytest.raises(ValidationError) as error:
        services.scoring_model_publish(by=admin, reason="", weights=NEW_WEIGHTS)
    assert "reason" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.scoring_model_publish(by=admin, reason="x", weights={**NEW_WEIGHTS, "risk": Decimal("11")})
    assert "weight_risk" in error.value.message_dict


def test_publishing_the_same_weights_is_refused(admin):
    services.scoring_model_publish(by=admin, reason="First", weights=NEW_WEIGHTS)
    with pytest.raises(ApplicationError):
        services.scoring_model_publish(by=admin, reason="Again", weights=NEW_WEIGHTS)
    assert ScoringModel.objects.count() == 2


def test_the_old_version_still_explains_the_scores_it_produced(admin):
    candidate = triage(CandidateFactory(), admin)
    services.candidate_decline(candidate=candidate, by=admin, reason="Not now")
    services.scoring_model_publish(by=admin, reason="New", weights=NEW_WEIGHTS)
    breakdown = Candidate.objects.get(pk=candidate.pk).score_breakdown
    assert breakdown.version == 1
    assert breakdown.total == Candidate.objects.get(pk=candidate.pk).score
    assert [c.weight for c in breakdown.contributions][0] == DEFAULT_WEIGHTS["volume"]
    assert set(FACTOR_NAMES) == {c.factor.name for c in breakdown.contributions}


# --- Decline, defer, reopen --------------------------------------------------------------------
def test_decline_defer_and_reopen_need_a_reason_and_are_in_the_history(admin):
    candidate = triage(CandidateFactory(), admin)
    with pytest.raises(ValidationError):
        services.candidate_defer(candidate=candidate, by=admin, reason="")
    services.candidate_defer(candidate=candidate, by=admin, reason="Wait for the territory redesign")
    assert Candidate.objects.get(pk=candidate.pk).status == "deferred"
    reopened = services.candidate_reopen(candidate=candidate, by=admin, reason="Territories are final")
    assert reopened.status == "triaged"
    assert reopened.history.latest().history_change_reason == "Reopened: Territories are final"
    services.candidate_decline(candidate=candidate, by=admin, reason="Replaced by the CRM's native rule")
    assert Candidate.objects.get(pk=candidate.pk).status == "declined"


def test_only_declined_or_deferred_candidates_reopen(admin):
    with pytest.raises(ApplicationError):
        services.candidate_reopen(candidate=CandidateFactory(), by=admin, reason="x")


def test_a_closed_candidate_cannot_be_edited(admin):
    candidate = CandidateFactory(status="declined")
    with pytest.raises(ApplicationError):
        services.candidate_update(candidate=candidate, by=admin, reason="x", notes="y")


# --- Promotion -----------------------------------------------------------------------------------
def test_promotion_creates_a_proposed_automation_with_the_fields_carried_over(admin, viewer):
    field = DataFieldFactory()
    candidate = services.candidate_request(by=viewer, data_fields=[field], **REQUEST)
    candidate = triage(candidate, admin, maintenance_owner=admin, time_saved_hours_per_month=12)
    automation = services.candidate_promote(candidate=candidate, by=admin)

    assert automation.status == "proposed"
    assert automation.key == "route-strategic-inbound-leads"
    assert automation.name == REQUEST["title"]
    assert automation.business_purpose == REQUEST["pain_point"]
    assert (automation.trigger, automation.rule) == (READY["trigger"], READY["rule"])
    assert automation.rule_owner == admin and automation.failure_owner == admin and automation.exception_owner == admin
    assert list(automation.data_fields.all()) == [field]
    assert automation.backlog_candidate.pk == candidate.pk
    assert automation.history.latest().history_user == admin
    candidate = Candidate.objects.get(pk=candidate.pk)
    assert candidate.status == "promoted" and candidate.automation == automation and candidate.promoted_by == admin


def test_promotion_happens_once(admin):
    candidate = triage(CandidateFactory(), admin)
    first = services.candidate_promote(candidate=candidate, by=admin)
    again = services.candidate_promote(candidate=candidate, by=admin)
    assert first == again
    assert Automation.objects.count() == 1


def test_promotion_is_refused_for_a_candidate_that_is_not_ready_with_the_reasons(admin):
    candidate = triage(CandidateFactory(), admin, exception_known="partly")
    with pytest.raises(ApplicationError) as error:
        services.candidate_promote(candidate=candidate, by=admin)
    assert "Missing: exception owner unknown (answered partly)" in error.value.extra["reasons"]
    assert not Automation.objects.exists()


def test_promotion_is_refused_for_keep_human_work(admin):
    candidate = triage(CandidateFactory(), admin, judgment_discount_exception=True)
    with pytest.raises(ApplicationError) as error:
        services.candidate_promote(candidate=candidate, by=admin)
    assert "Needs human judgment: discount exception" in error.value.extra["reasons"]


def test_promotion_is_refused_for_non_admins(admin, manager):
    candidate = triage(CandidateFactory(), admin)
    with pytest.raises(Forbidden) as error:
        services.candidate_promote(candidate=candidate, by=manager)
    assert "Only RevOps admins promote candidates." in error.value.extra["reasons"]


def test_promotion_picks_a_free_key(admin):
    first = services.candidate_promote(candidate=triage(CandidateFactory(title="Lead routing"), admin), by=admin)
    second = services.candidate_promote(candidate=triage(CandidateFactory(title="Lead routing"), admin), by=admin)
    assert (first.key, second.key) == ("lead-routing", "lead-routing-2")


def test_promotion_opens_one_draft_approval_packet(admin):
    candidate = triage(CandidateFactory(title="Renewal tasks"), admin)
    automation = services.candidate_promote(candidate=candidate, by=admin)
    services.candidate_promote(candidate=candidate, by=admin)
    packets = list(ApprovalPacket.objects.filter(automation=automation))
    assert [(packet.state, packet.number, packet.created_by) for packet in packets] == [(PacketState.DRAFT, 1, admin)]


# --- Defer / avoid stop a promotion unless overridden (issue 15 §5) -----------------------------
DEFERRED = {"factor_risk": 5, "factor_data_readiness": 2}  # high risk, weak data
AVOIDED = {"factor_volume": 1}  # low volume, no material risk reduction


@pytest.mark.parametrize(("factors", "flag"), [(DEFERRED, "defer"), (AVOIDED, "avoid")])
def test_promoting_a_flagged_candidate_without_an_override_reason_is_refused(admin, factors, flag):
    candidate = triage(CandidateFactory(), admin, **factors)
    assert [f.flag.value for f in candidate.flags] == [flag]
    for reason in ("", "   "):
        with pytest.raises(ValidationError) as error:
            services.candidate_promote(candidate=candidate, by=admin, override_reason=reason)
        assert f"“{flag}”" in error.value.message_dict["override_reason"][0]
    assert not Automation.objects.exists()
    assert Candidate.objects.get(pk=candidate.pk).status == "triaged"
    assert not PromotionOverride.objects.exists()


def test_promoting_a_flagged_candidate_with_a_reason_records_the_override(admin):
    candidate = triage(CandidateFactory(), admin, **DEFERRED, **AVOIDED)
    with time_machine.travel("2026-12-08 09:30Z", tick=False):
        automation = services.candidate_promote(
            candidate=candidate, by=admin, override_reason="  Finance asked for it before the audit.  "
        )
    override = PromotionOverride.objects.get()
    assert override.candidate_id == candidate.pk and override.created_by == admin
    assert override.flags == ["defer", "avoid"]
    assert override.rules[0] == "risk ≥ 4 and data readiness ≤ 2"
    assert override.reason == "Finance asked for it before the audit."
    assert override.created_at.isoformat() == "2026-12-08T09:30:00+00:00"
    candidate = Candidate.objects.get(pk=candidate.pk)
    assert candidate.automation == automation and candidate.override == override
    assert candidate.history.latest().history_change_reason.endswith(
        "overriding defer, avoid: Finance asked for it before the audit."
    )


def test_an_override_reason_over_500_characters_is_refused_naming_the_field(admin):
    candidate = triage(CandidateFactory(), admin, **AVOIDED)
    with pytest.raises(ValidationError) as error:
        services.candidate_promote(candidate=candidate, by=admin, override_reason="x" * 501)
    assert "override_reason" in error.value.message_dict


def test_an_unflagged_candidate_needs_no_override_and_records_none(admin):
    candidate = triage(CandidateFactory(), admin)
    assert candidate.flags == []
    services.candidate_promote(candidate=candidate, by=admin, override_reason="not needed")
    assert not PromotionOverride.objects.exists()
    assert Candidate.objects.get(pk=candidate.pk).override is None


def test_a_not_ready_candidate_is_refused_even_with_an_override_reason(admin):
    candidate = triage(CandidateFactory(), admin, rule_clear="partly", **AVOIDED)
    with pytest.raises(ApplicationError):
        services.candidate_promote(candidate=candidate, by=admin, override_reason="Because")
    assert not PromotionOverride.objects.exists()


# --- The guide's scoring model version (issue 15 §5) -----------------------------------------
def test_the_guides_version_exists_after_migrate_and_new_scores_use_it(admin):
    current = services.scoring_model_current()
    assert current.method == "guide" and "Issue 15 §5" in current.reason
    assert current.weights == DEFAULT_WEIGHTS
    candidate = triage(CandidateFactory(), admin)
    assert candidate.scoring_model == current
    assert candidate.score == compute_score(candidate.factors, DEFAULT_WEIGHTS).total
    assert all(c.weight > 0 for c in candidate.score_breakdown.contributions)


def test_old_scores_stay_under_their_version_when_the_guides_version_is_published(admin):
    """The data migration on a database scored before issue 15 §5: the old version and its
    scores stay, the new version is next, and the old arithmetic still explains the old score."""
    publish = importlib.import_module("backlog.migrations.0003_publish_the_guides_scoring_model").publish
    Candidate.objects.update(scoring_model=None)
    ScoringModel.objects.all().delete()
    old_weights = {**DEFAULT_WEIGHTS, "risk": Decimal("1"), "rule_clarity": Decimal("2")}
    old = ScoringModel.objects.create(
        version=1, method="risk_against", reason="Before", **{f"weight_{n}": w for n, w in old_weights.items()}
    )
    factors = {f"factor_{n}": v for n, v in zip(FACTOR_NAMES, (5, 4, 5, 4, 4, 4, 2), strict=True)}
    old_score = compute_score(
        {n.removeprefix("factor_"): v for n, v in factors.items()}, old_weights, method="risk_against"
    ).total
    scored_before = CandidateFactory(ready=True, **factors, score=old_score, scoring_model=old)

    publish(django_apps, None)
    publish(django_apps, None)  # once only

    assert list(ScoringModel.objects.values_list("version", "method")) == [(2, "guide"), (1, "risk_against")]
    kept = Candidate.objects.get(pk=scored_before.pk)
    assert kept.scoring_model == old and kept.score == old_score
    breakdown = kept.score_breakdown
    assert breakdown.version == 1 and breakdown.total == old_score == Decimal("41")
    assert [c.weight for c in breakdown.contributions][1] == Decimal("-1")
    assert kept.score_with(services.scoring_model_current()).total == Decimal("66")

    rescored = triage(CandidateFactory(), admin)
    assert rescored.scoring_model.version == 2 and rescored.score_breakdown.method == "guide"
