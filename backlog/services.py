"""Every write of the backlog: one transaction each, keyword arguments, history with who and why."""

from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from approvals import services as approvals_services
from registry import services as registry_services
from registry.models import Automation, DataField
from revops_gov.concurrency import StaleWrite, check_fresh
from revops_gov.errors import ApplicationError, Forbidden
from revops_gov.models import User
from revops_gov.roles import can_govern

from .choices import OPEN_STATUSES, Answer, CandidateStatus, Group, ScoringMethod
from .models import CANDIDATE_HISTORY, Candidate, PromotionOverride, ScoringModel
from .rules import (
    DEFAULT_WEIGHTS,
    FACTOR_FIELDS,
    FACTOR_NAMES,
    JUDGMENT_FLAG_FIELDS,
    QUESTION_FIELDS,
    RaisedFlag,
    all_factors_scored,
    compute_score,
    score_expression,
)

REQUEST_FIELDS = (
    "title",
    "workflow_type",
    "pain_point",
    "team",
    "system",
    "trigger",
    "rule",
    "exception_path",
    "notes",
    "owner",
    "maintenance_owner",
    "exception_owner",
    "volume_per_month",
    "time_saved_hours_per_month",
    "sla_improvement_hours",
    "errors_avoided_per_month",
    "risk_reduction_per_year",
)
MATRIX_FIELDS = (
    *QUESTION_FIELDS,
    *(f"{name}_note" for name in QUESTION_FIELDS),
    "data_override_reason",
)
TRIAGE_FIELDS = (*MATRIX_FIELDS, *JUDGMENT_FLAG_FIELDS, "human_assist", *FACTOR_FIELDS)
EDITABLE_FIELDS = (*REQUEST_FIELDS, *TRIAGE_FIELDS)
EXPECTED_VALUE_FIELDS = (
    "time_saved_hours_per_month",
    "sla_improvement_hours",
    "errors_avoided_per_month",
    "risk_reduction_per_year",
)


def _require_reason(reason: str, field: str = "change_reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({field: "Say why; it is kept in the history with your name."})
    return reason


def _check_unknown(fields: dict, allowed: Iterable[str]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set here."))


# --- Scoring model ----------------------------------------------------------------------------
def scoring_model_current() -> ScoringModel | None:
    return ScoringModel.objects.order_by("-version").first()


def scoring_model_revision(model: ScoringModel | None) -> str:
    """The weights a publish is made from (issue 15 §4): the current version ("v0" before the first)."""
    return f"v{model.version}" if model is not None else "v0"


def _scoring_model_for_write(by: User | None) -> ScoringModel:
    """The current version; the guide's default weights become version 1 the first time a
    candidate is scored."""
    current = ScoringModel.objects.select_for_update().order_by("-version").first()
    if current is None:
        current = ScoringModel.objects.create(
            version=1,
            reason="The guide's default weights: every factor raises the score.",
            created_by=by,
            **{f"weight_{name}": weight for name, weight in DEFAULT_WEIGHTS.items()},
        )
    return current


def _check_weights(weights: dict) -> dict[str, Decimal]:
    errors = {}
    clean = {}
    for name in FACTOR_NAMES:
        value = weights.get(name)
        if value is None:
            errors[f"weight_{name}"] = "Give a weight from 0 to 10."
            continue
        try:
            value = Decimal(str(value)).quantize(Decimal("0.01"))
        except ArithmeticError:
            errors[f"weight_{name}"] = "Give a number from 0 to 10."
            continue
        if not Decimal("0") <= value <= Decimal("10"):
            errors[f"weight_{name}"] = "Give a weight from 0 to 10."
        clean[name] = value
    unknown = set(weights) - set(FACTOR_NAMES)
    for name in unknown:
        errors[f"weight_{name}"] = "Not a factor of the model."
    if errors:
        raise ValidationError(errors)
    return clean


@transaction.atomic
def scoring_model_publish(
    *, by: User, reason: str, weights: dict, expected_revision: str | None = None
) -> ScoringModel:
    """A new version of the weights, then every open candidate re-scored with it in one
    set-based UPDATE (no row is loaded into Python). With `expected_revision` (the version the
    editor opened), a version published since is refused: StaleWrite (issue 15 §4)."""
    reason = _require_reason(reason, "reason")
    clean = _check_weights(weights)
    if expected_revision is not None:
        existing = ScoringModel.objects.select_for_update().order_by("-version").first()
        if scoring_model_revision(existing) != expected_revision and existing is not None:
            raise StaleWrite(existing, {f"weight_{name}": value for name, value in clean.items()})
    current = _scoring_model_for_write(by)
    if current.weights == clean and current.method == ScoringMethod.GUIDE:
        raise ApplicationError(
            f"These are already the weights of version {current.version}; nothing to publish.",
            {"version": current.version},
        )
    # A published version always uses the guide's method, whatever the version before used.
    model = ScoringModel.objects.create(
        version=current.version + 1,
        method=ScoringMethod.GUIDE,
        reason=reason,
        created_by=by,
        **{f"weight_{name}": value for name, value in clean.items()},
    )
    model.rescored = candidates_rescore(model=model)
    model.save(update_fields=["rescored"])
    return model


def candidates_rescore(*, model: ScoringModel) -> int:
    """Re-score every open, fully scored candidate with `model`; returns how many.

    One UPDATE … SET score = Σ factor × weight. History is not written per row: the new
    ScoringModel version is the audit record of this change, and each score names it."""
    return (
        Candidate.objects.filter(all_factors_scored(), status__in=OPEN_STATUSES)
        .order_by()
        .update(score=score_expression(model.weights, model.method), scoring_model=model, updated_at=timezone.now())
    )


# --- Candidates -------------------------------------------------------------------------------
def _validate(candidate: Candidate, data_fields: list[DataField] | None) -> None:
    """The matrix's answers must mean something: a "yes" needs what makes it true."""
    errors = {}
    if candidate.rule_clear == Answer.YES and not (candidate.trigger.strip() and candidate.rule.strip()):
        errors["rule_clear"] = "A clear rule can be said in one sentence: write the trigger and the rule first."
    if candidate.exception_known == Answer.YES and candidate.exception_owner_id is None:
        errors["exception_known"] = "Name the exception owner: a known exception path has an owner for edge cases."
    if candidate.value_measurable == Answer.YES and not any(getattr(candidate, f) for f in EXPECTED_VALUE_FIELDS):
        errors["value_measurable"] = (
            "Give at least one measurable value (time saved, SLA improvement, errors avoided or risk reduction)."
        )
    if candidate.data_reliable == Answer.YES and not candidate.data_override_reason.strip():
        fields = data_fields if data_fields is not None else list(candidate.data_fields.all())
        untrusted = [f for f in fields if not f.is_trusted]
        if untrusted:
            names = ", ".join(f"{f.qualified_name} ({f.get_status_display().lower()})" for f in untrusted)
            errors["data_reliable"] = (
                f"Not while it uses {names}: answer partly or no, or give a reason to override in "
                "“why the data counts as reliable”."
            )
    if errors:
        raise ValidationError(errors)


def _rescore_one(candidate: Candidate, by: User | None) -> None:
    if all(candidate.factors.values()):
        model = _scoring_model_for_write(by)
        score = compute_score(candidate.factors, model.weights, method=model.method)
        candidate.score = score.total.quantize(Decimal("0.01"))
        candidate.scoring_model = model
    else:
        candidate.score = None
        candidate.scoring_model = None


def _save(candidate: Candidate, *, by: User | None, reason: str, data_fields: list[DataField] | None) -> None:
    """Save and set the fields as ONE history version ("created" for a new candidate)."""
    creating = candidate.pk is None
    candidate._history_user = by
    candidate._change_reason = reason
    candidate.skip_history_when_saving = True
    try:
        candidate.save()
        if data_fields is not None:
            candidate.data_fields.set(data_fields)
    finally:
        del candidate.skip_history_when_saving
    CANDIDATE_HISTORY.create_historical_record(candidate, "+" if creating else "~")


@transaction.atomic
def candidate_request(
    *, by: User, data_fields: Iterable[DataField] = (), reason: str = "Requested", **fields
) -> Candidate:
    """Anyone with a role may ask for an automation; it starts as new, unscored."""
    _check_unknown(fields, REQUEST_FIELDS)
    candidate = Candidate(requester=by, status=CandidateStatus.NEW, **fields)
    data_fields = list(data_fields)
    candidate.full_clean()
    _validate(candidate, data_fields)
    _save(candidate, by=by, reason=reason or "Requested", data_fields=data_fields)
    return candidate


@transaction.atomic
def candidate_update(
    *,
    candidate: Candidate,
    by: User,
    reason: str,
    data_fields: Iterable[DataField] | None = None,
    expected_revision: str | None = None,
    **changes,
) -> Candidate:
    """Edit, answer the matrix, set flags and score. Nothing changed means nothing written.

    A new candidate becomes triaged once all seven factors are scored. With `expected_revision`
    (what the editor opened), a change made since is refused: StaleWrite (issue 15 §4)."""
    reason = _require_reason(reason)
    _check_unknown(changes, EDITABLE_FIELDS)
    candidate = Candidate.objects.select_for_update().get(pk=candidate.pk)
    if expected_revision is not None:
        data_fields = None if data_fields is None else list(data_fields)
        submitted = {**changes, **({"data_fields": data_fields} if data_fields is not None else {})}
        check_fresh(candidate, expected_revision, submitted)
    if not candidate.is_open:
        raise ApplicationError(
            f"This candidate is {candidate.get_status_display().lower()}; reopen it before changing it.",
            {"status": candidate.status},
        )
    changed = {name for name, value in changes.items() if getattr(candidate, name) != value}
    for name in changed:
        setattr(candidate, name, changes[name])
    new_fields = None
    if data_fields is not None:
        new_fields = list(data_fields)
        if {f.pk for f in new_fields} != set(candidate.data_fields.values_list("pk", flat=True)):
            changed.add("data_fields")
        else:
            new_fields = None
    if not changed:
        return candidate
    candidate.full_clean()
    _validate(candidate, new_fields)
    if changed & set(FACTOR_FIELDS):
        _rescore_one(candidate, by)
        if candidate.status == CandidateStatus.NEW and candidate.score is not None:
            candidate.status = CandidateStatus.TRIAGED
    _save(candidate, by=by, reason=reason, data_fields=new_fields)
    return candidate


def _set_status(candidate: Candidate, *, by: User, status: str, reason: str, allowed_from) -> Candidate:
    reason = _require_reason(reason, "reason")
    candidate = Candidate.objects.select_for_update().get(pk=candidate.pk)
    if candidate.status not in allowed_from:
        raise ApplicationError(
            f"A {candidate.get_status_display().lower()} candidate cannot be {CandidateStatus(status).label.lower()}.",
            {"status": candidate.status},
        )
    candidate.status = status
    candidate.status_reason = reason
    _save(candidate, by=by, reason=f"{CandidateStatus(status).label}: {reason}", data_fields=None)
    return candidate


@transaction.atomic
def candidate_decline(*, candidate: Candidate, by: User, reason: str) -> Candidate:
    return _set_status(candidate, by=by, status=CandidateStatus.DECLINED, reason=reason, allowed_from=OPEN_STATUSES)


@transaction.atomic
def candidate_defer(*, candidate: Candidate, by: User, reason: str) -> Candidate:
    return _set_status(
        candidate,
        by=by,
        status=CandidateStatus.DEFERRED,
        reason=reason,
        allowed_from=(CandidateStatus.NEW, CandidateStatus.TRIAGED),
    )


@transaction.atomic
def candidate_reopen(*, candidate: Candidate, by: User, reason: str) -> Candidate:
    """Back on the board: triaged if it is scored, else new. Its score follows today's weights."""
    reason = _require_reason(reason, "reason")
    current = Candidate.objects.select_for_update().get(pk=candidate.pk)
    if current.status not in (CandidateStatus.DECLINED, CandidateStatus.DEFERRED):
        raise ApplicationError(
            "Only a declined or deferred candidate can be reopened; "
            f"this one is {current.get_status_display().lower()}.",
            {"status": current.status},
        )
    _rescore_one(current, by)
    current.status = CandidateStatus.TRIAGED if current.score is not None else CandidateStatus.NEW
    current.status_reason = reason
    _save(current, by=by, reason=f"Reopened: {reason}", data_fields=None)
    return current


# --- Promotion --------------------------------------------------------------------------------
def promotion_refusals(candidate: Candidate, by: User) -> list[str]:
    """Why this person may not promote this candidate now (empty: they may, though a raised
    defer or avoid flag still needs an override reason: `promotion_flags`)."""
    reasons = []
    if not can_govern(by):
        reasons.append("Only RevOps admins promote candidates.")
    if candidate.status not in (CandidateStatus.NEW, CandidateStatus.TRIAGED):
        reasons.append(f"The candidate is {candidate.get_status_display().lower()}.")
    derivation = candidate.derivation
    if derivation.group != Group.READY:
        reasons.append(f"It is in “{derivation.group.label}”, not “Ready to automate”.")
        reasons += [reason for reason in derivation.reasons if reason not in reasons]
    return reasons


def promotion_flags(candidate: Candidate) -> list[RaisedFlag]:
    """The guide's flags that stop a promotion unless it is overridden with a reason."""
    return candidate.flags


OVERRIDE_REASON_MAX = 500


def _check_override(flags: list[RaisedFlag], override_reason: str) -> str:
    reason = (override_reason or "").strip()
    if flags and not reason:
        names = " and ".join(f"“{f.flag.label.lower()}” ({f.rule})" for f in flags)
        raise ValidationError(
            {
                "override_reason": f"The guide says {names}: promote it only with an override reason, "
                "kept with your name on the candidate."
            }
        )
    if len(reason) > OVERRIDE_REASON_MAX:
        raise ValidationError({"override_reason": f"Say it in at most {OVERRIDE_REASON_MAX} characters."})
    return reason


def _unique_key(title: str) -> str:
    base = slugify(title)[:90].strip("-") or "automation"
    key, n = base, 2
    while Automation.objects.filter(key=key).exists():
        key, n = f"{base}-{n}", n + 1
    return key


@transaction.atomic
def candidate_promote(*, candidate: Candidate, by: User, override_reason: str = "") -> Automation:
    """Create the registry automation (status proposed) from a ready candidate, link both ways
    and open its draft approval packet. Once only: promoting again returns the same automation.

    A candidate flagged defer or avoid (the guide: "defer high-risk workflows when data readiness
    is weak", "avoid low-volume automations unless the risk is material") is promoted only with
    an `override_reason`; the override (who, when, why, which flags) is its own row."""
    candidate = Candidate.objects.select_for_update().prefetch_related("data_fields").get(pk=candidate.pk)
    if candidate.automation_id is not None:
        return candidate.automation
    refusals = promotion_refusals(candidate, by)
    if refusals:
        error = Forbidden if not can_govern(by) else ApplicationError
        raise error("This candidate cannot be promoted: " + " ".join(refusals), {"reasons": refusals})
    flags = promotion_flags(candidate)
    override_reason = _check_override(flags, override_reason)
    note = f"Promoted from backlog candidate #{candidate.pk} “{candidate.title}”"
    automation = registry_services.automation_create(
        by=by,
        reason=note,
        key=_unique_key(candidate.title),
        name=candidate.title[:200],
        business_purpose=candidate.pain_point,
        workflow_type=candidate.workflow_type,
        team=candidate.team,
        system=candidate.system,
        trigger=candidate.trigger,
        rule=candidate.rule,
        exception_path=candidate.exception_path,
        rule_owner=candidate.owner,
        failure_owner=candidate.maintenance_owner,
        exception_owner=candidate.exception_owner,
        data_fields=list(candidate.data_fields.all()),
        status="proposed",
    )
    candidate.automation = automation
    candidate.status = CandidateStatus.PROMOTED
    candidate.promoted_at = timezone.now()
    candidate.promoted_by = by
    history_reason = f"Promoted to the registry as {automation.key}"
    if flags:
        PromotionOverride.objects.create(
            candidate=candidate,
            flags=[f.flag.value for f in flags],
            rules=[f.rule for f in flags],
            reason=override_reason,
            created_by=by,
        )
        history_reason += f", overriding {', '.join(f.flag.label.lower() for f in flags)}: {override_reason}"
    _save(candidate, by=by, reason=history_reason, data_fields=None)
    approvals_services.packet_create_draft(automation=automation, by=by)
    return automation
