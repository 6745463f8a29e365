"""Validation of one run event as an integration sends it: hand-written (no serializer per item)
because a batch of 1,000 must validate in milliseconds. Each parser returns the value or raises
ValueError with a message naming what is wrong."""

import datetime as dt

from django.utils import timezone

from .choices import RunMode, RunOutcome

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
    "maintenance_minutes": _count,
}
DEFAULTS = {"mode": RunMode.LIVE.value, "overridden": False, "alerts_sent": 0, "manual_reassignment": False}


def parse_item(item) -> tuple[dict, dict[str, list[str]]]:
    """(clean values, errors by field). An item with any error is not stored at all."""
    if not isinstance(item, dict):
        return {}, {"non_field_errors": ["Each run event is a JSON object."]}
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    for name in set(item) - set(PARSERS):
        errors[name] = ["Unknown field."]
    for name, parse in PARSERS.items():
        value = item.get(name)
        if (value is None or value == "") and name in REQUIRED:
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
    if not errors:
        if clean["finished_at"] and clean["finished_at"] < clean["started_at"]:
            errors["finished_at"] = ["A run cannot finish before it started."]
        if clean["outcome"] == RunOutcome.RUNNING and clean["finished_at"]:
            errors["outcome"] = ["A finished run is a success, a failure or skipped, not running."]
        if clean["override_reason"] and not clean["overridden"]:
            errors["override_reason"] = ["An override reason needs overridden: true."]
    return clean, errors
