"""Validation of one run event as an integration sends it, and the merge of a later report of
the same event into the stored one: hand-written (no serializer per item) because a batch of
1,000 must validate in milliseconds. Each parser returns the value or raises ValueError with a
message naming what is wrong. Pure functions: no database."""

import datetime as dt

from django.utils import timezone

from .choices import OPEN_OUTCOMES, FactKind, RunMode, RunOutcome

MAX_TEXT = 200


def _text(limit=MAX_TEXT):
    def parse(value):
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError("Give text.")
        if limit and len(value) > limit:
            raise ValueError(f"At most {limit} characters.")
        return value

    return parse


def _long_text(value):
    return _text(limit=10_000)(value)


def _datetime(value):
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("Give an ISO 8601 date-time, e.g. 2026-11-25T09:00:00Z.")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"“{value[:40]}” is not an ISO 8601 date-time, e.g. 2026-11-25T09:00:00Z.") from None
    if timezone.is_naive(parsed):
        raise ValueError("Include the time zone (Z or +01:00).")
    return parsed


def _count(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 2_147_483_647:
        raise ValueError("Give a whole number, zero or more.")
    return value


def _flag(value):
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ValueError("Give true or false.")
    return value


def _choice(choices):
    def parse(value):
        if value is None:
            return None
        if value not in choices.values:
            raise ValueError(f"Choose one of: {', '.join(choices.values)}.")
        return value

    return parse


def _fields(value):
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in value):
        raise ValueError("Give a list of field names such as Lead.Segment__c.")
    return value


REQUIRED = ("automation", "event_id", "started_at", "outcome")
PARSERS = {
    "automation": _text(100),
    "event_id": _text(),
    "started_at": _datetime,
    "finished_at": _datetime,
    "outcome": _choice(RunOutcome),
    "mode": _choice(RunMode),
    "trigger_key": _text(),
    "action": _text(),
    "human_outcome": _text(),
    "records_affected": _count,
    "fields_changed": _fields,
    "owner_assigned": _text(),
    "overridden": _flag,
    "override_reason": _long_text,
    "alerts_sent": _count,
    "data_as_of": _datetime,
    "error": _long_text,
    "response_time_seconds": _count,
    "sla_met": _flag,
    "manual_reassignment": _flag,
    "duplicate_found": _flag,
    "handoff_complete": _flag,
    "data_quality_issue": _flag,
    "task_created": _flag,
    "task_completed": _flag,
    "task_completed_at": _datetime,
    "maintenance_minutes": _count,
}
DEFAULTS = {"mode": RunMode.LIVE.value, "overridden": False, "alerts_sent": 0, "manual_reassignment": False}


IDENTITY = ("automation", "event_id")


def parse_item(item, *, required=REQUIRED) -> tuple[dict, dict[str, list[str]]]:
    """(clean values, errors by field), field by field. An item with any error is not stored at
    all. A first report needs every REQUIRED field; a later report of a stored event needs only
    its IDENTITY (the caller decides which it is, health.services.runs_ingest)."""
    if not isinstance(item, dict):
        return {}, {"non_field_errors": ["Each run event is a JSON object."]}
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    for name in set(item) - set(PARSERS):
        errors[name] = ["Unknown field."]
    for name, parse in PARSERS.items():
        value = item.get(name)
        if (value is None or value == "") and name in required:
            errors[name] = ["This field is required."]
            continue
        try:
            value = parse(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        if value is None and name in DEFAULTS:
            value = DEFAULTS[name]
        clean[name] = value
    return clean, errors


def given_fields(item: dict) -> set[str]:
    """The fields a report really states (present and not null): a later report changes only these."""
    return {name for name, value in item.items() if name in PARSERS and value is not None and name not in IDENTITY}


def run_errors(run: dict) -> dict[str, list[str]]:
    """What cannot be true of one run, whatever order its facts arrived in."""
    errors: dict[str, list[str]] = {}
    started, finished = run.get("started_at"), run.get("finished_at")
    if finished and started and finished < started:
        errors["finished_at"] = ["A run cannot finish before it started."]
    if run.get("outcome") == RunOutcome.RUNNING and finished:
        errors["outcome"] = ["A finished run is a success, a failure or skipped, not running."]
    if run.get("override_reason") and not run.get("overridden"):
        errors["override_reason"] = ["An override reason needs overridden: true."]
    completed_at = run.get("task_completed_at")
    if completed_at:
        if run.get("task_completed") is False:
            errors["task_completed"] = ["A task with a completion time was completed: true or leave it out."]
        if started and completed_at < started:
            errors["task_completed_at"] = ["A task cannot be completed before the run that created it started."]
    return errors


# Facts a later report may not change: the start places the run in its month (and, once the table
# is partitioned by month, in its partition); the mode decided how it was compared with a human.
IMMUTABLE = ("started_at", "mode")
# The value a fact has before anyone reported it: a later report of any other value adds it.
EMPTY = {"overridden": False, "manual_reassignment": False, "alerts_sent": 0, "fields_changed": []}


def _is_empty(name: str, value) -> bool:
    if name == "outcome":
        return value in OPEN_OUTCOMES
    return value is None or value == "" or (name in EMPTY and value == EMPTY[name])


def merge_facts(stored: dict, report: dict, given: set[str]) -> tuple[dict[str, tuple], dict[str, list[str]]]:
    """What a later report of a stored run changes: {field: (kind, old, new)} and the errors that
    refuse the whole report (nothing of it is applied). The rules (health/README.md, "Late facts"):

    - a fact equal to the stored one changes nothing (a report sent twice is a duplicate);
    - a fact not known yet (empty, or the outcome of a run still running or timed out) is added;
    - a fact that contradicts the stored one replaces it and is kept as a correction (old → new);
    - an earlier state never replaces a later one: "running" reported after the end is ignored;
    - the start and the mode never change (an error naming the field);
    - a task completion time says the task was completed;
    - the merged run must still make sense (run_errors)."""
    errors: dict[str, list[str]] = {}
    for name in IMMUTABLE:
        if name in given and report[name] != stored[name]:
            shown = stored[name].isoformat() if isinstance(stored[name], dt.datetime) else stored[name]
            errors[name] = [f"This run was reported with {name} {shown}; it never changes (send the same value)."]
    if errors:
        return {}, errors
    changes: dict[str, tuple] = {}
    for name in sorted(given - set(IMMUTABLE)):
        old, new = stored[name], report[name]
        if new == old or (name == "outcome" and new == RunOutcome.RUNNING):
            continue
        kind = FactKind.ADDED if _is_empty(name, old) else FactKind.CORRECTED
        changes[name] = (kind, old, new)
    if "task_completed_at" in changes and "task_completed" not in given and stored["task_completed"] is not True:
        changes["task_completed"] = (FactKind.ADDED if stored["task_completed"] is None else FactKind.CORRECTED,
                                     stored["task_completed"], True)  # fmt: skip
    merged = stored | {name: new for name, (_, _, new) in changes.items()}
    if merged.get("finished_at") and merged["outcome"] in OPEN_OUTCOMES:
        errors["outcome"] = ["Say how the run ended (success, failure or skipped) with its finish time."]
    errors |= {name: messages for name, messages in run_errors(merged).items() if name not in errors}
    if errors:
        return {}, errors
    return changes, {}
