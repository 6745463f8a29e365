"""The History tab: each version of a governed object with who, when, why and a field-by-field diff."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import models

HISTORY_TYPES = {"+": "Created", "~": "Changed", "-": "Deleted"}
SKIPPED_FIELDS = {"updated_at", "created_at", "version"}


@dataclass
class Change:
    field: str
    label: str
    old: str
    new: str


@dataclass
class Version:
    date: datetime
    user: object
    reason: str
    kind: str
    changes: list[Change] = field(default_factory=list)


def _display(model_field, value, objects: dict) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(model_field, models.ManyToManyField):
        target = model_field.m2m_reverse_field_name()
        names = sorted(str(objects.get((model_field.related_model, row[target]), row[target])) for row in value)
        return ", ".join(names) if names else "—"
    if isinstance(model_field, models.ForeignKey):
        return str(objects.get((model_field.related_model, value), f"#{value}"))
    if isinstance(model_field, models.BooleanField):
        return "Yes" if value else "No"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def history_versions(obj, *, limit: int = 100) -> list[Version]:
    """Newest first. Related objects named in diffs are loaded with one query per model."""
    records = list(obj.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1])
    model = type(obj)
    pairs = []
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        delta = record.diff_against(previous) if previous is not None and record.history_type == "~" else None
        pairs.append((record, delta))

    # Collect the related ids every diff mentions, then load them per model in one go.
    wanted: dict[type, set] = {}
    for _, delta in pairs:
        for change in delta.changes if delta else ():
            model_field = model._meta.get_field(change.field)
            if isinstance(model_field, models.ManyToManyField):
                target = model_field.m2m_reverse_field_name()
                ids = {row[target] for row in (change.old or []) + (change.new or [])}
            elif isinstance(model_field, models.ForeignKey):
                ids = {change.old, change.new} - {None}
            else:
                continue
            wanted.setdefault(model_field.related_model, set()).update(ids)
    objects = {
        (related, instance.pk): instance
        for related, ids in wanted.items()
        for instance in related._default_manager.filter(pk__in=ids)
    }

    versions = []
    for record, delta in pairs:
        version = Version(
            date=record.history_date,
            user=record.history_user,
            reason=record.history_change_reason or "",
            kind=HISTORY_TYPES.get(record.history_type, record.history_type),
        )
        for change in delta.changes if delta else ():
            if change.field in SKIPPED_FIELDS:
                continue
            model_field = model._meta.get_field(change.field)
            version.changes.append(
                Change(
                    field=change.field,
                    label=str(model_field.verbose_name).capitalize(),
                    old=_display(model_field, change.old, objects),
                    new=_display(model_field, change.new, objects),
                )
            )
        versions.append(version)
    return versions
