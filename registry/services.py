"""Every write to the registry. Keyword arguments, one transaction each, the actor and the reason
recorded in history (simple-history: `_history_user`, `_change_reason`)."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from simple_history.utils import bulk_create_with_history

from revops_gov.concurrency import check_fresh
from revops_gov.errors import ApplicationError
from revops_gov.models import User

from .choices import APPROVED_STATUSES, TIER_RANK, LifecycleStatus, OwnerRole, RiskTier
from .extensions import field_impact
from .models import (
    AUTOMATION_HISTORY,
    CHANGE_EVENT_HISTORY,
    Automation,
    AutomationReview,
    ChangeEvent,
    DataField,
    Hold,
    LifecycleMove,
    Tag,
)
from .risk import IMPACT_FLAG_FIELDS, tier_floor

DOCUMENTATION_FIELDS = (
    "name",
    "business_purpose",
    "workflow_type",
    "team",
    "system",
    "external_id",
    "trigger",
    "rule",
    "record_changed",
    "output_recipient",
    "expected_user_action",
    "override_method",
    "override_log_location",
    "downstream_effect",
    "exception_path",
    "suppression_rule",
)
OWNER_FIELDS = tuple(role.value for role in OwnerRole)
SCHEDULE_FIELDS = ("schedule_kind", "schedule_interval", "schedule_cron", "schedule_grace")
EDITABLE_FIELDS = (
    *DOCUMENTATION_FIELDS,
    *OWNER_FIELDS,
    *IMPACT_FLAG_FIELDS,
    *SCHEDULE_FIELDS,
    "risk_tier_override",
    "risk_tier_override_reason",
    "maturity_stage",
    "review_cadence",
)
CREATE_ONLY_FIELDS = ("key", "status", "last_reviewed_at")
# Every field a person or an integration gives when documenting an automation, in reading
# order: the CSV columns, the API's input and the forms all follow it.
AUTOMATION_INPUT_FIELDS = (
    "key",
    *DOCUMENTATION_FIELDS,
    *OWNER_FIELDS,
    "data_fields",
    "tags",
    *IMPACT_FLAG_FIELDS,
    "risk_tier_override",
    "risk_tier_override_reason",
    "status",
    "maturity_stage",
    "review_cadence",
    "last_reviewed_at",
    *SCHEDULE_FIELDS,
)
# A change to one of these is material: the version goes up and any approval no longer covers it.
MATERIAL_FIELDS = frozenset({"trigger", "rule", "data_fields", "risk_tier_override", *IMPACT_FLAG_FIELDS})


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"change_reason": "Say why you are making this change; it is kept in the history."})
    return reason


def _check_unknown(fields: dict, allowed: Iterable[str]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"Unknown automation fields: {', '.join(sorted(unknown))}")


def _check_tier_override(automation: Automation, *, explicit: bool) -> None:
    """A tier can be raised by hand, never set below what the impact flags already imply.

    `explicit` is whether the caller asked for this override now; an older override that new
    impact flags have overtaken is simply dropped."""
    if not automation.risk_tier_override:
        automation.risk_tier_override_reason = ""
        return
    floor, reasons = tier_floor(automation.impact_flags)
    wanted = RiskTier(automation.risk_tier_override)
    if TIER_RANK[wanted] < TIER_RANK[floor] and explicit:
        raise ValidationError(
            {
                "risk_tier_override": (
                    f"The tier cannot be lowered below {floor.label.lower()}: the impact flags require it "
                    f"({'; '.join(reasons)}). Change the flags if they are wrong."
                )
            }
        )
    if TIER_RANK[wanted] <= TIER_RANK[floor]:
        # At the floor (or overtaken by new flags) is no raise: keep no override, so the tier
        # shows the flags' reasons.
        automation.risk_tier_override = ""
        automation.risk_tier_override_reason = ""
        return
    if not automation.risk_tier_override_reason.strip():
        raise ValidationError({"risk_tier_override_reason": "Say why the tier is raised above the derived one."})


def _save_with_m2m(obj, *, tracker, by: User | None, reason: str, m2m: dict) -> None:
    """Save an object and its many-to-many sets as ONE history version, "created" for a new
    object (simple-history alone writes a version per many-to-many change, and a new object's
    sets would come after its creation version)."""
    creating = obj.pk is None
    obj._history_user = by
    obj._change_reason = reason
    obj.skip_history_when_saving = True
    try:
        if creating:
            obj.save()
        for name, values in m2m.items():
            if values is not None:
                getattr(obj, name).set(values)
        if not creating:
            obj.save()
    finally:
        del obj.skip_history_when_saving
    tracker.create_historical_record(obj, "+" if creating else "~")


def tag_slugs(names: Iterable[str]) -> list[str]:
    """The tags' names as stored (lowercase slugs), refusing one longer than a tag can be."""
    slugs = sorted({slugify(name) for name in names if slugify(name)})
    limit = Tag._meta.get_field("name").max_length
    too_long = [slug for slug in slugs if len(slug) > limit]
    if too_long:
        raise ValidationError(
            {
                "tags": f"A tag has at most {limit} characters; too long: "
                + ", ".join(f"{slug[:20]}… ({len(slug)} characters)" for slug in too_long)
                + "."
            }
        )
    return slugs


def tags_resolve(names: Iterable[str]) -> list[Tag]:
    """Tag objects for names (normalised to lowercase slugs), created when new."""
    slugs = tag_slugs(names)
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=slugs)}
    missing = [Tag(name=slug) for slug in slugs if slug not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=slugs)}
    return [existing[slug] for slug in slugs]


@transaction.atomic
def automation_create(
    *,
    by: User | None,
    reason: str = "Registered",
    data_fields: Iterable[DataField] = (),
    tags: Iterable[str] = (),
    **fields,
) -> Automation:
    _check_unknown(fields, (*EDITABLE_FIELDS, *CREATE_ONLY_FIELDS))
    status = fields.setdefault("status", LifecycleStatus.PROPOSED)
    if status not in BORN_STATUSES:
        raise ValidationError(
            {
                "status": (
                    f"A new automation is registered as proposed, not {LifecycleStatus(status).label.lower()}: "
                    "it reaches approved, shadow and live only through lifecycle moves, each with its gate."
                )
            }
        )
    automation = Automation(**fields)
    _check_tier_override(automation, explicit=True)
    automation.full_clean()
    _save_with_m2m(
        automation,
        tracker=AUTOMATION_HISTORY,
        by=by,
        reason=reason or "Registered",
        m2m={"data_fields": list(data_fields), "tags": tags_resolve(tags)},
    )
    return automation


@transaction.atomic
def automation_update(
    *,
    automation: Automation,
    by: User | None,
    reason: str,
    data_fields: Iterable[DataField] | None = None,
    tags: Iterable[str] | None = None,
    expected_revision: str | None = None,
    **changes,
) -> Automation:
    """Apply the changes that differ; nothing changed means nothing written (no new version).

    A material change (rule, trigger, fields, impact flags) bumps the version and sends an
    approved, shadow, live or paused automation back to in design: the approval no longer covers it.
    With `expected_revision` (what the editor opened), a change made since is refused: StaleWrite."""
    reason = _require_reason(reason)
    if "status" in changes:
        raise ValidationError({"status": "The lifecycle status changes only through a lifecycle move, with its gate."})
    _check_unknown(changes, EDITABLE_FIELDS)
    automation = Automation.objects.select_for_update().get(pk=automation.pk)
    if expected_revision is not None:
        data_fields = None if data_fields is None else list(data_fields)
        tags = None if tags is None else list(tags)
        submitted = {**changes, "data_fields": data_fields, "tags": tags}
        check_fresh(automation, expected_revision, {k: v for k, v in submitted.items() if v is not None})
    changed = {name for name, value in changes.items() if getattr(automation, name) != value}
    for name in changed:
        setattr(automation, name, changes[name])

    new_fields = new_tags = None
    if data_fields is not None:
        new_fields = list(data_fields)
        if {f.pk for f in new_fields} != set(automation.data_fields.values_list("pk", flat=True)):
            changed.add("data_fields")
    if tags is not None:
        new_tags = tags_resolve(tags)
        if {t.pk for t in new_tags} != set(automation.tags.values_list("pk", flat=True)):
            changed.add("tags")
    if not changed:
        return automation

    if "risk_tier_override" in changed or changed & set(IMPACT_FLAG_FIELDS):
        _check_tier_override(automation, explicit="risk_tier_override" in changed)
    material = sorted(changed & MATERIAL_FIELDS)
    move = None
    if material:
        automation.version += 1
        if automation.status in APPROVED_STATUSES:
            old = LifecycleStatus(automation.status)
            names = ", ".join(str(Automation._meta.get_field(name).verbose_name) for name in material)
            move = _status_change(
                automation, to=LifecycleStatus.IN_DESIGN, by=by, reason=f"material change: {names} — {reason}"
            )
            reason = f"{reason} — material change ({names}): moved from {old.label} back to in design for re-approval"
    automation.full_clean()
    _save_with_m2m(
        automation,
        tracker=AUTOMATION_HISTORY,
        by=by,
        reason=reason,
        m2m={
            "data_fields": new_fields if "data_fields" in changed else None,
            "tags": new_tags if "tags" in changed else None,
        },
    )
    if move is not None:
        move.save()
    return automation


@transaction.atomic
def risk_tier_raise(*, automation: Automation, tier: str, by: User, reason: str) -> Automation:
    """Raise the tier above the one the impact flags imply (or back to it with tier="")."""
    return automation_update(
        automation=automation, by=by, reason=reason, risk_tier_override=tier, risk_tier_override_reason=reason
    )


@transaction.atomic
def automations_assign_owner(
    *, automations: Iterable[Automation], role: OwnerRole, owner: User, by: User, reason: str
) -> int:
    """Name one person in one owner role on many automations; returns how many changed."""
    reason = _require_reason(reason)
    changed = 0
    for automation in automations:
        if getattr(automation, f"{role}_id") != owner.pk:
            automation_update(automation=automation, by=by, reason=reason, **{role.value: owner})
            changed += 1
    return changed


@transaction.atomic
def automation_mark_reviewed(*, automation: Automation, by: User, notes: str) -> Automation:
    """Record a review: who and when; the next one falls due one cadence later."""
    notes = (notes or "").strip()
    if not notes:
        raise ValidationError({"notes": "Write what the review found; it is kept in the history."})
    automation = Automation.objects.select_for_update().get(pk=automation.pk)
    review = AutomationReview(automation=automation, reviewed_by=by, reviewed_at=timezone.now(), notes=notes)
    review.full_clean()
    review.save()
    automation.last_reviewed_at = review.reviewed_at
    automation.last_reviewed_by = by
    automation._history_user = by
    automation._change_reason = f"Reviewed: {notes}"
    automation.save(update_fields=["last_reviewed_at", "last_reviewed_by", "updated_at"])
    return automation


# --- Data dictionary --------------------------------------------------------------------------
DATAFIELD_FIELDS = (
    "object_name",
    "api_name",
    "label",
    "definition",
    "source_of_truth",
    "owner",
    "status",
    "reporting_critical",
)


@transaction.atomic
def datafield_create(*, by: User | None, reason: str = "Added to the data dictionary", **fields) -> DataField:
    _check_unknown(fields, DATAFIELD_FIELDS)
    data_field = DataField(**fields)
    data_field.full_clean()
    data_field._history_user = by
    data_field._change_reason = reason or "Added to the data dictionary"
    data_field.save()
    return data_field


@transaction.atomic
def datafields_create_many(*, by: User | None, reason: str, rows: list[dict]) -> list[DataField]:
    """Many new data-dictionary entries at once (a metadata import's custom fields): each checked
    like one (full_clean, less the uniqueness query the caller has answered for all of them in
    one read), inserted in batches with one history row each. New entries have no automations, so
    no card goes stale."""
    fields = []
    for values in rows:
        _check_unknown(values, DATAFIELD_FIELDS)
        data_field = DataField(**values)
        data_field.full_clean(validate_unique=False, validate_constraints=False)
        fields.append(data_field)
    return bulk_create_with_history(
        fields,
        DataField,
        batch_size=500,
        default_user=by,
        default_change_reason=reason or "Added to the data dictionary",
    )


@transaction.atomic
def automations_discovered_create(*, by: User | None, reason: str, rows: list[dict]) -> list[Automation]:
    """Many automations found running in the CRM at once (a metadata import): born discovered,
    each checked like automation_create does (full_clean, less the uniqueness query: the caller
    picked free keys in one read), inserted in batches with one "created" history row each."""
    automations = []
    for values in rows:
        _check_unknown(values, (*EDITABLE_FIELDS, *CREATE_ONLY_FIELDS))
        automation = Automation(**{**values, "status": LifecycleStatus.DISCOVERED})
        _check_tier_override(automation, explicit=True)
        automation.full_clean(validate_unique=False, validate_constraints=False)
        automations.append(automation)
    return bulk_create_with_history(
        automations, Automation, batch_size=500, default_user=by, default_change_reason=reason
    )


@transaction.atomic
def datafield_update(
    *, data_field: DataField, by: User, reason: str, expected_revision: str | None = None, **changes
) -> DataField:
    """A change of definition or status flags every automation using the field for review.
    With `expected_revision`, a change made since the editor opened it is refused: StaleWrite."""
    reason = _require_reason(reason)
    _check_unknown(changes, DATAFIELD_FIELDS)
    data_field = DataField.objects.select_for_update().get(pk=data_field.pk)
    check_fresh(data_field, expected_revision, changes)
    changed = {name for name, value in changes.items() if getattr(data_field, name) != value}
    if not changed:
        return data_field
    for name in changed:
        setattr(data_field, name, changes[name])
    if changed & {"definition", "status"}:
        data_field.changed_at = timezone.now()
    data_field.full_clean()
    data_field._history_user = by
    data_field._change_reason = reason
    data_field.save()
    return data_field


# --- Change events ----------------------------------------------------------------------------
@transaction.atomic
def change_event_record(
    *,
    by: User,
    kind: str,
    title: str,
    occurred_on,
    automations: Iterable[Automation] = (),
    data_fields: Iterable[DataField] = (),
    description: str = "",
) -> ChangeEvent:
    """Record a business change. It affects the automations named, every automation that uses a
    changed field, and those in the fields' blast radius in the CRM (registry.extensions
    .field_impact: what reads the field, then what reads what those write); each becomes due
    for review."""
    data_fields = list(data_fields)
    affected = {a.pk for a in automations}
    if data_fields:
        affected |= set(Automation.objects.filter(data_fields__in=data_fields).values_list("pk", flat=True))
        # and what reads what the field feeds, in the CRM (registered by discovery: the blast radius)
        affected |= field_impact(data_fields)
    if not affected:
        raise ValidationError(
            {"automations": "Name the automations this change affects, or the data fields it changed."}
        )
    event = ChangeEvent(kind=kind, title=title, description=description, occurred_on=occurred_on, recorded_by=by)
    event.full_clean(exclude=["automations", "data_fields"])
    _save_with_m2m(
        event,
        tracker=CHANGE_EVENT_HISTORY,
        by=by,
        reason="Change event recorded",
        m2m={"automations": affected, "data_fields": data_fields},
    )
    return event


# --- Holds ------------------------------------------------------------------------------------
@transaction.atomic
def hold_place(*, automation: Automation, source: str, reason: str, by: User) -> Hold:
    """Stop an automation until the hold is released. One open hold per source: placing it again
    returns the open one."""
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the automation is held; the permit check shows it."})
    Automation.objects.select_for_update().filter(pk=automation.pk).first()
    existing = Hold.objects.filter(automation=automation, source=source, released_at__isnull=True).first()
    if existing:
        return existing
    hold = Hold(automation=automation, source=source, reason=reason.strip(), opened_by=by)
    hold.full_clean()
    hold._history_user = by
    hold._change_reason = f"Hold placed: {reason.strip()}"
    hold.save()
    return hold


@transaction.atomic
def hold_release(*, hold: Hold, by: User, note: str) -> Hold:
    hold = Hold.objects.select_for_update().get(pk=hold.pk)
    if hold.released_at is not None:
        raise ApplicationError(
            f"This hold was already released on {hold.released_at:%Y-%m-%d %H:%M} by {hold.released_by}.",
            {"released_at": hold.released_at.isoformat()},
        )
    if not (note or "").strip():
        raise ValidationError({"note": "Say why the hold can be released."})
    hold.released_at = timezone.now()
    hold.released_by = by
    hold.release_note = note.strip()
    hold._history_user = by
    hold._change_reason = f"Hold released: {note.strip()}"
    hold.save()
    return hold


def hold_release_source(*, automation: Automation, source: str, by: User, note: str) -> Hold | None:
    """Release the open hold a source placed, if any (used by the layer that placed it)."""
    hold = Hold.objects.filter(automation=automation, source=source, released_at__isnull=True).first()
    return hold_release(hold=hold, by=by, note=note) if hold else None


# --- Lifecycle status -------------------------------------------------------------------------
# The statuses an automation is born with: proposed (a person, an integration, the CSV, a backlog
# promotion) or discovered (read from the CRM). Every later status comes through a move.
BORN_STATUSES = (LifecycleStatus.PROPOSED, LifecycleStatus.DISCOVERED)


def _status_change(automation: Automation, *, to: str, by: User | None, reason: str, gates_checked=()) -> LifecycleMove:
    """The one place the lifecycle status changes: sets it on the (locked) automation and returns
    its LifecycleMove, unsaved, for the caller to save with the automation.

    Going live records when (`went_live_at`: a post-launch review falls due two weeks later,
    registry.review); resuming from paused is the same launch, so it keeps the date."""
    old, new = LifecycleStatus(automation.status), LifecycleStatus(to)
    resumed = old == LifecycleStatus.PAUSED and automation.went_live_at is not None
    if new == LifecycleStatus.LIVE and old != LifecycleStatus.LIVE and not resumed:
        automation.went_live_at = timezone.now()
    automation.status = new
    return LifecycleMove(
        automation=automation,
        from_status=old,
        to_status=new,
        automation_version=automation.version,
        by=by,
        reason=reason,
        gates_checked=list(gates_checked),
    )


@transaction.atomic
def automation_status_set(
    *, automation: Automation, status: str, by: User | None, reason: str, gates_checked=()
) -> Automation:
    """Write the lifecycle status and its LifecycleMove. Only the lifecycle service
    (approvals.services.transition) calls this, after checking its gate, and passes the gate's
    conditions (`gates_checked`); the registry itself knows no gates."""
    reason = _require_reason(reason)
    automation = Automation.objects.select_for_update().get(pk=automation.pk)
    move = _status_change(automation, to=status, by=by, reason=reason, gates_checked=gates_checked)
    automation._history_user = by
    automation._change_reason = f"{move.get_from_status_display()} → {move.get_to_status_display()}: {reason}"
    automation.save(update_fields=["status", "went_live_at", "updated_at"])
    move.save()
    return automation
