"""The decision services: kinds and their options, refusals, decide-once, who may decide,
reassign/cancel audited, the outbox written with the outcome, idempotent beat work."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from approvals.decisions import services
from approvals.decisions.kinds import OPTIONS, DecisionKind
from approvals.decisions.models import Decision, DecisionRequest, DigestSent, OutboxEvent
from registry.services import hold_place
from revops_gov import outbox
from revops_gov.errors import ApplicationError, Conflict, Forbidden
from revops_gov.models import Delivery
from tests.approvals.decisions.factories import DecisionRequestFactory, LiveAutomationFactory
from tests.factories import UserFactory
from tests.processes import free_port

pytestmark = pytest.mark.django_db

CREATE = {
    "record_object": "Account",
    "record_id": "001A000001Xyz",
    "why": "Same domain and billing address as Acme Corp.",
    "proposed_action": "Merge into 001A000001Abc.",
    "evidence": {"Domain": "acme.com", "Open opportunities": 2},
}


def _create(automation, by, **kwargs):
    return services.decision_request_create(
        by=by, automation=automation, kind="duplicate_merge", **{**CREATE, **kwargs}
    )


def test_a_request_defaults_to_the_exception_owner_and_the_kind_due_time(admin, settings):
    automation = LiveAutomationFactory(merges_records=True)
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        request, created = _create(automation, admin)
    assert created
    assert request.assignee == automation.exception_owner
    assert request.due_at == now + timedelta(hours=settings.REVOPS["DECISION_DUE_HOURS"]["duplicate_merge"])
    assert request.evidence == [{"label": "Domain", "value": "acme.com"}, {"label": "Open opportunities", "value": 2}]
    assert request.history.latest().history_user == admin


@pytest.mark.parametrize("field", ["why", "proposed_action"])
def test_a_request_that_does_not_explain_itself_is_refused(admin, field):
    with pytest.raises(ValidationError) as error:
        _create(LiveAutomationFactory(), admin, **{field: "  "})
    assert field in error.value.message_dict
    assert not DecisionRequest.objects.exists()


@pytest.mark.parametrize("status", ["proposed", "in_design", "approved", "shadow", "paused", "retired"])
def test_an_automation_that_may_not_run_live_may_not_queue_decisions(admin, status):
    with pytest.raises(ApplicationError) as error:
        _create(LiveAutomationFactory(status=status), admin)
    assert error.value.extra["reasons"]
    assert error.value.extra["field"] == "automation"


def test_a_hold_refuses_with_its_reason(admin):
    automation = LiveAutomationFactory()
    hold_place(automation=automation, source="manual", reason="Routing broke after the territory change", by=admin)
    with pytest.raises(ApplicationError) as error:
        _create(automation, admin)
    assert "Routing broke after the territory change" in " ".join(error.value.extra["reasons"])


def test_the_same_idempotency_key_returns_the_same_request(admin):
    automation = LiveAutomationFactory()
    first, created = _create(automation, admin, idempotency_key="sf-evt-1")
    again, created_again = _create(automation, admin, idempotency_key="sf-evt-1")
    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert DecisionRequest.objects.count() == 1


def test_without_an_exception_owner_an_assignee_is_needed(admin):
    automation = LiveAutomationFactory(exception_owner=None)
    with pytest.raises(ValidationError) as error:
        _create(automation, admin)
    assert "assignee" in error.value.message_dict


ALL_OPTIONS = [(kind, option) for kind, options in OPTIONS.items() for option in options]
CLOSING = [(kind, option) for kind, option in ALL_OPTIONS if option.closes]


@pytest.mark.parametrize(("kind", "option"), CLOSING, ids=[f"{k}-{o.value}" for k, o in CLOSING])
def test_each_option_of_each_kind_decides_and_records_who_what_why(kind, option):
    request = DecisionRequestFactory(kind=kind)
    by = request.assignee
    value = "jsmith" if option.needs_value else ""
    decision = services.decide(request=request, by=by, option=option.value, value=value, reason="Knows the account")
    request.refresh_from_db()
    assert request.status == "decided"
    assert (decision.option, decision.decided_by, decision.overrides) == (option.value, by, option.overrides)
    assert decision.value == value
    assert decision.reason == "Knows the account"
    assert request.history.latest().history_change_reason == f"Decided: {option.label}"


NEEDS_VALUE = [(k, o) for k, o in ALL_OPTIONS if o.needs_value]
NEEDS_REASON = [(k, o) for k, o in ALL_OPTIONS if o.needs_reason]


@pytest.mark.parametrize(("kind", "option"), NEEDS_VALUE, ids=[o.value for _, o in NEEDS_VALUE])
def test_an_option_needing_a_value_refuses_without_one(kind, option):
    request = DecisionRequestFactory(kind=kind)
    with pytest.raises(ValidationError) as error:
        services.decide(request=request, by=request.assignee, option=option.value, value=" ", reason="because")
    assert "value" in error.value.message_dict
    assert not Decision.objects.exists()


@pytest.mark.parametrize(("kind", "option"), NEEDS_REASON, ids=[o.value for _, o in NEEDS_REASON])
def test_an_override_or_dismissal_refuses_without_a_reason(kind, option):
    request = DecisionRequestFactory(kind=kind)
    with pytest.raises(ValidationError) as error:
        value = "x" if option.needs_value else ""
        services.decide(request=request, by=request.assignee, option=option.value, value=value, reason="")
    assert "reason" in error.value.message_dict


def test_every_kind_has_its_three_options_from_the_guide():
    assert {kind: [o.label for o in OPTIONS[kind]] for kind in DecisionKind} == {
        "duplicate_merge": ["Approve merge", "Reject", "Request review"],
        "strategic_lead_route": ["Accept owner", "Override", "Escalate"],
        "forecast_risk_alert": ["Confirm risk", "Update category", "Dismiss with reason"],
        "renewal_risk_summary": ["Assign save owner", "Update risk", "Mark no action"],
        "expansion_signal": ["Create opportunity", "Assign follow-up", "Reject signal"],
    }


def test_an_unknown_option_is_refused_naming_the_field():
    request = DecisionRequestFactory()
    with pytest.raises(ValidationError) as error:
        services.decide(request=request, by=request.assignee, option="approve_merge")
    assert "option" in error.value.message_dict


def test_a_second_decision_is_a_conflict_naming_who_decided_what(manager):
    request = DecisionRequestFactory()
    services.decide(request=request, by=request.assignee, option="accept_owner")
    with pytest.raises(Conflict) as error:
        services.decide(request=request, by=request.assignee, option="escalate")
    assert str(request.assignee) in error.value.message
    assert "Accept owner" in error.value.message
    assert error.value.extra["option"] == "accept_owner"
    assert Decision.objects.count() == 1


def test_the_assignees_manager_and_an_admin_may_decide_nobody_else(admin, manager):
    boss = UserFactory(role="manager")
    assignee = UserFactory(manager=boss, role="manager")
    for person, allowed in ((UserFactory(), False), (manager, False), (boss, True)):
        request = DecisionRequestFactory(assignee=assignee)
        if allowed:
            services.decide(request=request, by=person, option="accept_owner")
        else:
            with pytest.raises(Forbidden):
                services.decide(request=request, by=person, option="accept_owner")
    services.decide(request=DecisionRequestFactory(assignee=assignee), by=admin, option="accept_owner")


def test_reassign_and_cancel_are_audited_with_who_and_why(admin):
    request = DecisionRequestFactory()
    other = UserFactory(role="manager")
    services.reassign(request=request, by=admin, assignee=other, reason="On leave this week")
    record = request.history.latest()
    assert record.history_user == admin
    assert "On leave this week" in record.history_change_reason
    with pytest.raises(ValidationError):
        services.cancel(request=request, by=admin, reason="")
    services.cancel(request=request, by=admin, reason="Lead was deleted in the CRM")
    request.refresh_from_db()
    assert request.status == "cancelled"
    assert request.history.latest().history_change_reason == "Cancelled: Lead was deleted in the CRM"
    with pytest.raises(Conflict):
        services.decide(request=request, by=admin, option="accept_owner")


def test_the_outbox_row_is_written_in_the_decisions_transaction(admin, sf_integration):
    request = DecisionRequestFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.decide(request=request, by=request.assignee, option="accept_owner")
        assert OutboxEvent.objects.count() == 1
        raise RuntimeError("the transaction rolls back")
    assert not OutboxEvent.objects.exists()
    assert not Decision.objects.exists()
    services.decide(request=request, by=request.assignee, option="override", value="jsmith", reason="Pod owner")
    (event,) = OutboxEvent.objects.all()
    assert event.payload["event_id"] == str(event.event_id)
    assert event.payload["decision"]["option"] == "override"
    assert event.payload["decision"]["value"] == "jsmith"
    assert event.payload["request"]["record"]["id"] == request.record_id


def test_no_outbox_for_a_system_without_a_webhook(admin, sf_integration):
    request = DecisionRequestFactory(automation=LiveAutomationFactory(system="hubspot"))
    services.decide(request=request, by=request.assignee, option="accept_owner")
    assert not OutboxEvent.objects.exists()


def test_escalation_runs_once_per_overdue_request(settings):
    boss = UserFactory(email="boss@example.com")
    overdue = DecisionRequestFactory(assignee=UserFactory(manager=boss), due_at=timezone.now() - timedelta(hours=1))
    DecisionRequestFactory(assignee=overdue.assignee)  # not due yet
    with django_capture_on_commit():
        assert services.escalate_overdue() == 1
        assert services.escalate_overdue() == 0
    overdue.refresh_from_db()
    assert overdue.escalated_to == boss
    assert len(mail.outbox) == 1
    assert "1 overdue decision(s) escalated to you" in mail.outbox[0].subject


def test_an_escalation_the_mail_server_refuses_is_retried_by_the_outbox_not_lost(settings):
    """The escalation is recorded with its email queued in the outbox; the mail server being down
    leaves the delivery pending with its error, and the outbox's retry sends it once."""
    boss = UserFactory(email="boss@example.com")
    overdue = DecisionRequestFactory(assignee=UserFactory(manager=boss), due_at=timezone.now() - timedelta(hours=1))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    assert services.escalate_overdue() == 1
    overdue.refresh_from_db()
    assert overdue.escalated_to == boss
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.sent_at is None and "refused" in delivery.last_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.escalate_overdue() == 0
    assert outbox.deliver_due(now=timezone.now() + timedelta(hours=2)) == {"sent": 1}
    assert outbox.deliver_due(now=timezone.now() + timedelta(hours=4)) == {}
    assert [m.to for m in mail.outbox] == [["boss@example.com"]]


def test_expiry_tells_the_crm_once(sf_integration):
    request = DecisionRequestFactory(
        due_at=timezone.now() - timedelta(days=8), expires_at=timezone.now() - timedelta(days=1)
    )
    assert services.expire_due() == 1
    assert services.expire_due() == 0
    request.refresh_from_db()
    assert request.status == "expired"
    (event,) = OutboxEvent.objects.all()
    assert event.event_type == "decision.expired"
    assert event.payload["decision"] is None


def test_one_digest_per_person_per_day_and_none_when_nothing_waits(settings):
    settings.REVOPS = {**settings.REVOPS, "DECISION_DIGEST_HOUR": 7}
    morgan = UserFactory(email="morgan@example.com")
    idle = UserFactory(email="idle@example.com")  # noqa: F841 - nothing waits for this person
    DecisionRequestFactory(assignee=morgan)
    DecisionRequestFactory(assignee=morgan, kind="duplicate_merge")
    morning = timezone.now().replace(hour=8, minute=0)
    with time_machine.travel(morning, tick=False):
        assert services.digests_send() == 1
        assert services.digests_send() == 0
    assert [m.to for m in mail.outbox] == [["morgan@example.com"]]
    assert "2 decision(s) wait for you" in mail.outbox[0].subject
    assert DigestSent.objects.count() == 1


def test_no_digest_before_the_digest_hour(settings):
    settings.REVOPS = {**settings.REVOPS, "DECISION_DIGEST_HOUR": 7}
    DecisionRequestFactory()
    with time_machine.travel(timezone.now().replace(hour=5), tick=False):
        assert services.digests_send() == 0
    assert mail.outbox == []


class django_capture_on_commit:
    """Run on_commit callbacks at the end of the block (the test's transaction never commits)."""

    def __enter__(self):
        from django.db import connection

        self.connection = connection
        self.start = len(connection.run_on_commit)

    def __exit__(self, *exc):
        callbacks = self.connection.run_on_commit[self.start :]
        self.connection.run_on_commit[self.start :] = []
        for _, callback, _ in callbacks:
            callback()


def test_evidence_with_a_null_character_is_refused_naming_the_field(admin):
    # PostgreSQL cannot store \u0000 in JSON: refused as bad input, never a 500.
    with pytest.raises(ValidationError) as error:
        _create(LiveAutomationFactory(), admin, evidence={"Domain": "acme\x00.com"})
    assert "evidence" in error.value.message_dict


# --- issue 15 §3: the permit, values, hand-offs -----------------------------------------------
def _merge(**kwargs):
    return DecisionRequestFactory(kind="duplicate_merge", **kwargs)


def _stop(automation, how, by):
    if how == "held":
        hold_place(automation=automation, source="manual", reason="Merges broke the account hierarchy", by=by)
        return "Merges broke the account hierarchy"
    automation.__class__.objects.filter(pk=automation.pk).update(status=how)
    return {"paused": "Paused", "retired": "Retired", "in_design": "In design"}[how]


@pytest.mark.parametrize("how", ["paused", "held", "retired", "in_design"])
def test_approving_for_an_automation_whose_permit_is_not_live_is_refused_with_the_reason(admin, how):
    request = _merge()
    reason = _stop(request.automation, how, admin)
    with pytest.raises(Conflict) as error:
        services.decide(request=request, by=request.assignee, option="approve_merge")
    assert reason in error.value.message and "Approve merge" in error.value.message
    assert any(reason in r for r in error.value.extra["reasons"])
    assert error.value.extra["mode"] == "blocked"
    assert not Decision.objects.exists()
    request.refresh_from_db()
    assert request.status == "open"


@pytest.mark.parametrize("how", ["paused", "held", "retired"])
def test_reject_and_request_review_stay_possible_when_the_permit_is_not_live(admin, how):
    rejected, reviewed = _merge(), _merge()
    _stop(rejected.automation, how, admin)
    _stop(reviewed.automation, how, admin)
    decision = services.decide(request=rejected, by=rejected.assignee, option="reject", reason="Different companies")
    assert decision.option == "reject"
    reviewer = UserFactory(role="manager")
    handoff = services.decide(request=reviewed, by=reviewed.assignee, option="request_review", value=reviewer.username)
    assert handoff.to == reviewer


def test_other_acting_options_are_refused_too_and_dismissals_are_not(admin):
    held = DecisionRequestFactory(kind="forecast_risk_alert")
    _stop(held.automation, "held", admin)
    for option, value in (("confirm_risk", ""), ("update_category", "Best case")):
        with pytest.raises(Conflict):
            services.decide(request=held, by=held.assignee, option=option, value=value)
    services.decide(request=held, by=held.assignee, option="dismiss", reason="Meeting booked")


NO_VALUE = [(k, o) for k, o in ALL_OPTIONS if not o.needs_value]


@pytest.mark.parametrize(("kind", "option"), NO_VALUE, ids=[o.value for _, o in NO_VALUE])
def test_an_option_that_takes_no_value_refuses_one_naming_value(kind, option):
    request = DecisionRequestFactory(kind=kind)
    with pytest.raises(ValidationError) as error:
        services.decide(request=request, by=request.assignee, option=option.value, value="jsmith", reason="because")
    assert "value" in error.value.message_dict
    assert "takes no value" in " ".join(error.value.message_dict["value"])
    assert not Decision.objects.exists()


def _notices_to(user, request):
    return Delivery.objects.filter(recipient=user, about=f"decisions.request:{request.pk}")


def test_escalate_keeps_the_request_open_and_reassigns_it_to_the_manager_who_is_notified():
    boss = UserFactory(role="manager", email="boss@example.com")
    assignee = UserFactory(role="manager", manager=boss)
    request = DecisionRequestFactory(assignee=assignee)
    handoff = services.decide(request=request, by=assignee, option="escalate", reason="Too big for me")
    request.refresh_from_db()
    assert isinstance(handoff, services.Handoff) and handoff.to == boss
    assert (request.status, request.assignee, request.escalated_to) == ("open", boss, boss)
    assert request.closed_at is None and not Decision.objects.exists()
    record = request.history.latest()
    assert record.history_user == assignee
    assert record.history_change_reason == f"Escalate by {assignee}: from {assignee} to {boss}: Too big for me"
    (notice,) = _notices_to(boss, request)
    assert notice.kind == "decision_request" and "Decide:" in notice.subject
    assert [m.to for m in mail.outbox] == [["boss@example.com"]]
    assert "chose “Escalate”" in mail.outbox[0].body and "Too big for me" in mail.outbox[0].body
    # The request now waits for the manager, who decides it; the former assignee no longer may.
    with pytest.raises(Forbidden):
        services.decide(request=request, by=assignee, option="accept_owner")
    services.decide(request=request, by=boss, option="accept_owner")
    request.refresh_from_db()
    assert request.status == "decided" and request.decision.decided_by == boss


def test_escalate_without_a_manager_who_may_decide_is_refused():
    request = DecisionRequestFactory(assignee=UserFactory(role="manager"))
    with pytest.raises(ValidationError) as error:
        services.decide(request=request, by=request.assignee, option="escalate")
    assert "no manager to escalate to" in " ".join(error.value.message_dict["option"])
    viewer_boss = UserFactory(role="viewer")
    request = DecisionRequestFactory(assignee=UserFactory(role="manager", manager=viewer_boss))
    with pytest.raises(ValidationError) as error:
        services.decide(request=request, by=request.assignee, option="escalate")
    assert "decide capability" in " ".join(error.value.message_dict["option"])
    request.refresh_from_db()
    assert request.status == "open" and request.assignee != viewer_boss


def test_request_review_keeps_the_request_open_and_reassigns_it_to_the_named_reviewer_who_is_notified():
    reviewer = UserFactory(username="rita", role="manager", email="rita@example.com")
    request = _merge()
    before = request.assignee
    handoff = services.decide(request=request, by=before, option="request_review", value="rita")
    request.refresh_from_db()
    assert handoff.to == reviewer
    assert (request.status, request.assignee, request.escalated_at) == ("open", reviewer, None)
    assert request.history.latest().history_change_reason == f"Request review by {before}: from {before} to {reviewer}"
    assert _notices_to(reviewer, request).count() == 1
    assert ["rita@example.com"] in [m.to for m in mail.outbox]
    services.decide(request=request, by=reviewer, option="reject", reason="Two subsidiaries, not duplicates")
    request.refresh_from_db()
    assert request.decision.decided_by == reviewer


def test_request_review_needs_a_reviewer_who_may_decide():
    UserFactory(username="victor", role="viewer")
    request = _merge()
    for value, says in (("", "needs a value"), ("nobody", "No active person"), ("victor", "decide capability")):
        with pytest.raises(ValidationError) as error:
            services.decide(request=request, by=request.assignee, option="request_review", value=value)
        assert says in " ".join(error.value.message_dict["value"])
    request.refresh_from_db()
    assert request.status == "open"
