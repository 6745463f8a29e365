"""CSV import and export of the registry.

Columns are the registry's fields; owners are named by username or email, data fields by
`Object.APIName`, tags and fields separated by semicolons. A file is imported whole or not at
all: every bad cell is reported with its line number and column, and nothing is written when any
row is bad — including a row the services refuse while writing (the whole file is rolled back).
A check (`dry_run=True`) does everything an import does and rolls it back, so it says exactly
what the import would do. Importing the same file twice changes nothing the second time.

The status column only documents: a new row is registered as proposed (the column may say
`proposed` or nothing), a known row may repeat its status; lifecycle moves are made on the
automation, with their gates.

Exported cells that a spreadsheet would run as a formula are quoted with a leading `'`, which
the import takes off again.
"""

import copy
import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime, parse_duration

from revops_gov.errors import ApplicationError
from revops_gov.models import User

from . import services
from .choices import LifecycleStatus
from .models import Automation, DataField
from .risk import IMPACT_FLAG_FIELDS

OWNER_COLUMNS = services.OWNER_FIELDS
CHOICE_COLUMNS = ("workflow_type", "team", "system", "risk_tier_override", "status", "schedule_kind")
COLUMNS = services.AUTOMATION_INPUT_FIELDS
# Exported for reading, ignored on import: derived or managed elsewhere.
READ_ONLY_COLUMNS = ("risk_tier", "version", "review_due")
REQUIRED_COLUMNS = ("key", "name")
TRUE = {"true", "yes", "y", "1", "x"}
FALSE = {"false", "no", "n", "0", ""}
# A cell starting with one of these is run as a formula by spreadsheets (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class RowError:
    line: int
    column: str
    message: str


@dataclass
class ImportResult:
    rows: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    written: bool = False

    @property
    def bad_lines(self) -> list[int]:
        return sorted({error.line for error in self.errors})


class CsvFileError(ValidationError):
    """The file as a whole cannot be read (encoding, header, size)."""


def _choice(model_field, raw: str):
    by_value = {str(value).lower(): value for value, _ in model_field.flatchoices}
    by_label = {str(label).lower(): value for value, label in model_field.flatchoices}
    key = raw.strip().lower()
    if key in by_value:
        return by_value[key]
    if key in by_label:
        return by_label[key]
    allowed = ", ".join(str(value) for value, _ in model_field.flatchoices if value != "")
    raise ValidationError(f"“{raw}” is not one of: {allowed}.")


class _RowParser:
    """Turns one CSV row into service keyword arguments, collecting an error per bad column."""

    def __init__(self):
        users = list(User.objects.filter(is_active=True))
        self.users = {u.username.lower(): u for u in users}
        self.users_by_email = {}
        for user in users:
            if user.email:
                self.users_by_email.setdefault(user.email.lower(), []).append(user)
        self.fields = {f.qualified_name.lower(): f for f in DataField.objects.all()}

    def user(self, raw: str):
        key = raw.strip().lower()
        if not key:
            return None
        if key in self.users:
            return self.users[key]
        matches = self.users_by_email.get(key, [])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ValidationError(f"Several people have the email {raw.strip()}; use the username.")
        raise ValidationError(f"No active user with username or email “{raw.strip()}”.")

    def data_fields(self, raw: str):
        names = [name.strip() for name in raw.split(";") if name.strip()]
        unknown = [name for name in names if name.lower() not in self.fields]
        if unknown:
            raise ValidationError(
                f"Not in the data dictionary: {', '.join(unknown)} (use Object.APIName, e.g. Lead.Segment__c)."
            )
        return [self.fields[name.lower()] for name in names]

    def parse(self, row: dict[str, str]) -> tuple[dict, dict[str, str]]:
        values, errors = {}, {}
        for column, raw in row.items():
            raw = _unquote((raw or "").strip())
            try:
                values[column] = self.value(column, raw)
            except ValidationError as exc:
                errors[column] = " ".join(exc.messages)
        return values, errors

    def value(self, column: str, raw: str):
        if column in OWNER_COLUMNS:
            return self.user(raw)
        if column == "data_fields":
            return self.data_fields(raw)
        if column == "tags":
            names = [tag.strip() for tag in raw.split(";") if tag.strip()]
            services.tag_slugs(names)  # the service's own limit, reported on this cell
            return names
        if column in IMPACT_FLAG_FIELDS:
            if raw.lower() in TRUE:
                return True
            if raw.lower() in FALSE:
                return False
            raise ValidationError(f"“{raw}” is not yes/no (use true or false).")
        if column in CHOICE_COLUMNS:
            return _choice(Automation._meta.get_field(column), raw) if raw else ""
        if column in ("maturity_stage", "review_cadence"):
            return _choice(Automation._meta.get_field(column), raw) if raw else None
        if column == "last_reviewed_at":
            if not raw:
                return None
            # A well-formed but impossible date or time (2026-13-45, 25:00) raises ValueError.
            try:
                parsed = parse_datetime(raw)
                day = parse_date(raw) if parsed is None else None
            except ValueError:
                parsed = day = None
            if parsed is None:
                if day is None:
                    raise ValidationError(
                        f"“{raw}” is not a date (use YYYY-MM-DD, or YYYY-MM-DD HH:MM with hours 0–23)."
                    )
                parsed = datetime.combine(day, time(12, 0))
            if timezone.is_naive(parsed):
                parsed = timezone.make_aware(parsed)
            if parsed > timezone.now():
                raise ValidationError("The last review cannot be in the future.")
            return parsed
        if column in ("schedule_interval", "schedule_grace"):
            if not raw:
                return None
            try:
                parsed = parse_duration(raw)
            except (ValueError, OverflowError):  # e.g. more days than a timedelta holds
                parsed = None
            if parsed is None:
                raise ValidationError(f"“{raw}” is not a duration (use HH:MM:SS, e.g. 01:00:00 for an hour).")
            return parsed
        return raw


def _quote(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _unquote(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def _normalise_header(header: list[str]) -> list[str]:
    return [name.strip().lower().replace(" ", "_") for name in header]


def read_rows(content: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Decode and split the file; raises CsvFileError for a file that cannot be read at all."""
    from django.conf import settings

    limits = settings.REVOPS
    if len(content) > limits["CSV_IMPORT_MAX_BYTES"]:
        raise CsvFileError(f"The file is larger than {limits['CSV_IMPORT_MAX_BYTES'] // 1024} KB.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFileError("The file is not UTF-8 text; export it from your spreadsheet as CSV (UTF-8).") from exc
    if "\x00" in text:
        raise CsvFileError("The file is not a CSV text file.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration as exc:
        raise CsvFileError("The file is empty.") from exc
    except csv.Error as exc:
        raise CsvFileError(f"Line 1: {exc}.") from exc
    header = _normalise_header(header)
    known = set(COLUMNS) | set(READ_ONLY_COLUMNS)
    unknown = [name for name in header if name not in known]
    if unknown:
        raise CsvFileError(
            f"Line 1: unknown column(s) {', '.join(unknown)}. Export the registry to see the expected columns."
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CsvFileError(f"Line 1: required column(s) missing: {', '.join(missing)}.")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise CsvFileError(f"Line 1: column(s) appear twice: {', '.join(duplicates)}.")
    rows = []
    line = reader.line_num
    try:
        for values in reader:
            start = line + 1
            line = reader.line_num
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                rows.append((start, {"__shape__": f"has {len(values)} values, the header has {len(header)}"}))
                continue
            rows.append((start, {name: value for name, value in zip(header, values, strict=True) if name in COLUMNS}))
    except csv.Error as exc:
        raise CsvFileError(f"Line {reader.line_num}: {exc}.") from exc
    if len(rows) > limits["CSV_IMPORT_MAX_ROWS"]:
        raise CsvFileError(f"The file has {len(rows)} rows; the limit is {limits['CSV_IMPORT_MAX_ROWS']}.")
    return header, rows


@dataclass
class _Planned:
    line: int
    key: str
    existing: Automation | None
    fields: dict
    data_fields: list | None
    tags: list | None


def _plan_row(line, row, parser, existing_by_key, seen_keys, result) -> _Planned | None:
    if "__shape__" in row:
        result.errors.append(RowError(line, "(row)", row["__shape__"]))
        return None
    values, errors = parser.parse(row)
    key = values.pop("key", "")
    if key and key in seen_keys:
        errors["key"] = f"The key {key} already appears on line {seen_keys[key]}."
    elif key:
        seen_keys[key] = line
    data_fields = values.pop("data_fields", None)
    tags = values.pop("tags", None)
    # An empty cell for a field with a default means the default.
    for name in ("maturity_stage", "schedule_kind", "schedule_grace"):
        if values.get(name) in (None, ""):
            values.pop(name, None)

    existing = existing_by_key.get(key)
    status = values.pop("status", None)
    if existing is None and status and status != LifecycleStatus.PROPOSED:
        errors["status"] = (
            f"A new automation is registered as proposed, not {LifecycleStatus(status).label.lower()}; "
            "leave the column empty or say proposed, then move it on the automation, with its gate."
        )
    if existing is not None:
        if status and status != existing.status:
            errors["status"] = (
                f"{key} is {existing.get_status_display().lower()}; "
                "lifecycle moves are made on the automation, not by import."
            )
        reviewed = values.pop("last_reviewed_at", None)
        if reviewed and reviewed != existing.last_reviewed_at:
            errors["last_reviewed_at"] = "Reviews are recorded with “Mark reviewed” on the automation, not by import."
        candidate = copy.copy(existing)
    else:
        candidate = Automation(key=key)
    for name, value in values.items():
        setattr(candidate, name, value)
    try:
        candidate.full_clean(exclude=[name for name in errors if name in COLUMNS], validate_unique=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name if name != "__all__" else "(row)", " ".join(messages))
    for column, message in errors.items():
        result.errors.append(RowError(line, column, message))
    if errors:
        return None
    return _Planned(line, key, existing, values, data_fields, tags)


def import_automations(
    *, content: bytes, by: User, filename: str = "upload.csv", dry_run: bool = False
) -> ImportResult:
    """Check every row, then write the whole file in one transaction — or nothing when any row is
    bad. With `dry_run`, do all of it and roll it back: the result says what importing would do."""
    _, rows = read_rows(content)
    result = ImportResult(rows=len(rows), dry_run=dry_run)
    parser = _RowParser()
    keys = [row.get("key", "").strip() for _, row in rows]
    existing_by_key = {
        a.key: a for a in Automation.objects.filter(key__in=keys).prefetch_related("data_fields", "tags")
    }
    seen_keys: dict[str, int] = {}
    planned = []
    for line, row in rows:
        plan = _plan_row(line, row, parser, existing_by_key, seen_keys, result)
        if plan is not None:
            planned.append(plan)
    if result.errors:
        return result

    reason = f"CSV import of {filename}"
    with transaction.atomic():
        for plan in planned:
            try:
                # A savepoint per row, so one refused row does not hide the next one's errors.
                with transaction.atomic():
                    _write_row(plan, by=by, reason=reason, result=result)
            except ValidationError as exc:
                _service_errors(plan.line, exc, result)
            except ApplicationError as exc:
                result.errors.append(RowError(plan.line, "(row)", exc.message))
        if result.errors or dry_run:
            transaction.set_rollback(True)
    if result.errors:
        result.created, result.updated, result.unchanged = [], [], []
    result.written = not dry_run and not result.errors and bool(result.created or result.updated)
    return result


def _write_row(plan: _Planned, *, by: User, reason: str, result: ImportResult) -> None:
    if plan.existing is None:
        services.automation_create(
            by=by, reason=reason, key=plan.key, data_fields=plan.data_fields or [], tags=plan.tags or [], **plan.fields
        )
        result.created.append(plan.key)
        return
    before = plan.existing.updated_at
    updated = services.automation_update(
        automation=plan.existing, by=by, reason=reason, data_fields=plan.data_fields, tags=plan.tags, **plan.fields
    )
    (result.updated if updated.updated_at != before else result.unchanged).append(plan.key)


def _service_errors(line: int, error: ValidationError, result: ImportResult) -> None:
    if not hasattr(error, "error_dict"):
        result.errors.append(RowError(line, "(row)", " ".join(error.messages)))
        return
    for name, messages in error.message_dict.items():
        column = name if name in COLUMNS else "(row)"
        result.errors.append(RowError(line, column, " ".join(messages)))


def _cell(automation: Automation, column: str) -> str:
    if column in OWNER_COLUMNS:
        user = getattr(automation, column)
        return user.username if user else ""
    if column == "data_fields":
        return "; ".join(f.qualified_name for f in automation.data_fields.all())
    if column == "tags":
        return "; ".join(tag.name for tag in automation.tags.all())
    if column == "risk_tier":
        return automation.risk_tier.value
    if column == "review_due":
        return "true" if getattr(automation, "review_due", False) else "false"
    value = getattr(automation, column)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if column == "last_reviewed_at":
        return timezone.localtime(value).isoformat()
    if column in ("schedule_interval", "schedule_grace"):
        total = int(value.total_seconds())
        return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"
    return str(value)


class _Echo:
    """A file-like object whose write() hands back the line, so rows can be streamed."""

    def write(self, value):
        return value


EXPORT_COLUMNS = (*COLUMNS, *READ_ONLY_COLUMNS)


def export_lines(queryset):
    """Yield the CSV of the automations line by line; the file imports back unchanged."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    for automation in queryset.iterator(chunk_size=500):
        yield writer.writerow([_quote(_cell(automation, column)) for column in EXPORT_COLUMNS])
