"""Every write of the health app: ingesting run events, pings, the retention purge, and the
findings the monitors keep. Keyword arguments, one transaction each, the actor in the history."""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Max, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from approvals import services as approvals_services
from registry.choices import LifecycleStatus
from registry.models import Automation, DataField, Hold
from registry.services import hold_place, hold_release_source
from revops_gov.models import User
from revops_gov.notifications import Line, send_notice
from revops_gov.roles import can_govern
from revops_gov.services import system_user

from . import partitions
from .choices import (
    FAILED_OUTCOMES,
    HOLDING,
    UNRESOLVED,
    FactKind,
    FactSource,
    FindingKind,
    FindingStatus,
    RunMode,
    RunOutcome,
    Severity,
)
from .ingest import IDENTITY, PARSERS, REQUIRED, given_fields, merge_facts, parse_item, run_errors
from .models import Finding, HealthThresholds, MonitorLock, PlannedHoldWindow, RunEvent, RunEventFact

HOLD_SOURCE = "health"


def _config(name):
    return settings.REVOPS[name]


# --- Run events -------------------------------------------------------------------------------
# A new run is accepted only for an automation that may run: shadow, live, or paused (a run that
# started before the pause may still report). Proposed, in-design and approved ones have not
# launched; retired ones must no longer run. Late facts about a run already stored are accepted
# whatever the status since (a task completed after the automation was retired still counts).
RUN_STATUSES = (LifecycleStatus.SHADOW, LifecycleStatus.LIVE, LifecycleStatus.PAUSED)


def run_refusal(status: str, key: str) -> str | None:
    """Why a new run of an automation in this status is refused, or None: the one rule every
    entry point (single, batch, pings) calls."""
    if status in RUN_STATUSES:
        return None
    label = LifecycleStatus(status).label.lower() if status in LifecycleStatus.values else status
    if status == LifecycleStatus.RETIRED:
        why = "it must no longer run: turn it off in the CRM"
    else:
        why = "it has not launched: runs are reported from shadow on"
    return f"{key} is {label}; {why}. Runs are accepted for shadow, live and paused automations."


@dataclass
class IngestResult:
    results: list[dict] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r["status"] == status)

    @property
    def summary(self) -> dict:
        return {s: self.count(s) for s in ("created", "merged", "duplicate", "error")}


# Columns written by the ingest INSERT, in order (the parsed fields minus the automation key).
_COLUMNS = [name for name in PARSERS if name != "automation"] + [
    "automation_id",
    "reporting_critical_changed",
    "staleness_seconds",
    "received_at",
]
_CHUNK = 500  # rows per INSERT: stays under SQLite's bound-parameter limit
_TEXT = ("trigger_key", "action", "human_outcome", "owner_assigned", "override_reason", "error")


_PG_TYPES = {
    "DateTimeField": "timestamptz",
    "CharField": "text",
    "TextField": "text",
    "PositiveIntegerField": "integer",
    "BooleanField": "boolean",
    "JSONField": "text",
    "ForeignKey": "bigint",
}


# The identities of a batch's new runs, claimed: one already claimed (by a stored run, whatever
# its month, or a concurrent batch, which it waits for) is skipped and its report merged instead.
_CLAIM_SQL = (
    f"INSERT INTO {partitions.IDENTITY_TABLE} (automation_id, event_id, started_at) "
    "SELECT automation_id, event_id, started_at FROM u ON CONFLICT (automation_id, event_id) DO NOTHING "
    "RETURNING automation_id, event_id"
)


def _insert_returning_postgresql(rows: list[dict]) -> set[tuple[int, str]]:
    """PostgreSQL: one array parameter per column, unnested into rows server-side (a statement
    with a placeholder per value is slow to build and parse at 1,000 rows)."""
    meta = RunEvent._meta
    types = [
        _PG_TYPES[meta.get_field(n.removesuffix("_id") if n == "automation_id" else n).get_internal_type()]
        for n in _COLUMNS
    ]
    selected = ", ".join(f"u.{n}::jsonb" if n == "fields_changed" else f"u.{n}" for n in _COLUMNS)
    rows_sql = "SELECT * FROM unnest(" + ", ".join(f"%s::{t}[]" for t in types) + f") AS u({', '.join(_COLUMNS)})"
    # The identity lives in its own table (health.partitions): each new run's is claimed there
    # first, in the same statement, and only the runs claimed are stored.
    sql = (
        f"WITH u AS ({rows_sql}), claimed AS ({_CLAIM_SQL}) INSERT INTO {meta.db_table} ({', '.join(_COLUMNS)}) "
        f"SELECT {selected} FROM u JOIN claimed USING (automation_id, event_id) RETURNING automation_id, event_id"
    )
    params = [
        [json.dumps(row[n]) for row in rows] if n == "fields_changed" else [row[n] for row in rows] for n in _COLUMNS
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(r[0], r[1]) for r in cursor.fetchall()}


def _insert_returning(rows: list[dict]) -> set[tuple[int, str]]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING: the (automation_id, event_id) pairs really
    created. A concurrent batch with the same ids waits on the unique index and then skips them,
    so every event is reported created exactly once."""
    if connection.vendor == "postgresql":
        return _insert_returning_postgresql(rows)
    ops = connection.ops
    table = RunEvent._meta.db_table
    placeholders = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
    created = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            params = []
            for row in chunk:
                for name in _COLUMNS:
                    value = row[name]
                    if name == "fields_changed":
                        value = json.dumps(value)
                    elif isinstance(value, datetime):
                        value = ops.adapt_datetimefield_value(value)
                    params.append(value)
            sql = (
                f"INSERT INTO {table} ({', '.join(_COLUMNS)}) VALUES {', '.join([placeholders] * len(chunk))} "
                f"ON CONFLICT (automation_id, event_id) DO NOTHING RETURNING automation_id, event_id"
            )
            cursor.execute(sql, params)
            created.update((row[0], row[1]) for row in cursor.fetchall())
    return created


def _reporting_critical_names() -> set[str]:
    return {
        f"{o}.{a}" for o, a in DataField.objects.filter(reporting_critical=True).values_list("object_name", "api_name")
    }


def _staleness(started_at, data_as_of) -> int | None:
    return max(0, int((started_at - data_as_of).total_seconds())) if data_as_of else None


def _error(index: int, event_id, fields: dict) -> dict:
    return {"index": index, "event_id": event_id, "status": "error", "fields": fields}


def _json_value(value):
    return value.isoformat() if isinstance(value, datetime) else value


@dataclass
class _Pending:
    """One report waiting for the stored run it adds facts to (a later report, or a first one that
    found its event already stored)."""

    index: int
    pair: tuple[int, str]
    clean: dict
    given: set[str]
    refusal: str | None = None  # why it may not create the run, if it turns out to be new
    missing: dict = field(default_factory=dict)  # required fields a first report would need


def _merge_into_stored(
    pending: list[_Pending], result: IngestResult, *, by: User | None, source: str, critical: set[str] | None
) -> list[RunEvent]:
    """Apply each later report, in the order sent, to its stored run (locked, in id order, so two
    concurrent batches never wait on each other in a cycle): its facts added or corrected, each
    kept as a RunEventFact. Returns the runs that changed. Queries: one to lock, one to update per
    changed field set, one for the facts — whatever the number of reports."""
    automation_ids = {p.pair[0] for p in pending}
    event_ids = {p.pair[1] for p in pending}
    stored = {
        (run.automation_id, run.event_id): run
        for run in RunEvent.objects.select_for_update()
        .filter(automation_id__in=automation_ids, event_id__in=event_ids)
        .order_by("id")
    }
    now = timezone.now()
    facts, changed_runs, changed_fields = [], {}, set()
    for p in pending:
        run = stored.get(p.pair)
        if run is None:
            fields = {"automation": [p.refusal]} if p.refusal else p.missing
            result.results[p.index] = _error(p.index, p.pair[1], fields)
            continue
        values = {name: getattr(run, name) for name in PARSERS if name != "automation"}
        changes, errors = merge_facts(values, p.clean, p.given)
        if errors:
            result.results[p.index] = _error(p.index, p.pair[1], errors)
            continue
        if not changes:
            result.results[p.index] = {"index": p.index, "event_id": p.pair[1], "status": "duplicate"}
            continue
        for name, (kind, old, new) in changes.items():
            setattr(run, name, new)
            changed_fields.add(name)
            facts.append(
                RunEventFact(
                    automation_id=run.automation_id,
                    event_id=run.event_id,
                    run_started_at=run.started_at,
                    field=name,
                    kind=kind,
                    old_value=_json_value(old),
                    new_value=_json_value(new),
                    source=source,
                    reported_by=by,
                    recorded_at=now,
                )
            )
        if "fields_changed" in changes:
            critical = _reporting_critical_names() if critical is None else critical
            run.reporting_critical_changed = bool(critical.intersection(run.fields_changed))
            changed_fields.add("reporting_critical_changed")
        if "data_as_of" in changes:
            run.staleness_seconds = _staleness(run.started_at, run.data_as_of)
            changed_fields.add("staleness_seconds")
        changed_runs[run.pk] = run
        result.results[p.index] = {
            "index": p.index,
            "event_id": p.pair[1],
            "status": "merged",
            "merged": sorted(name for name, (kind, _, _) in changes.items() if kind == FactKind.ADDED),
            "corrected": [
                {"field": name, "was": _json_value(old), "now": _json_value(new)}
                for name, (kind, old, new) in sorted(changes.items())
                if kind == FactKind.CORRECTED
            ],
        }
    if changed_runs:
        RunEvent.objects.bulk_update(list(changed_runs.values()), sorted(changed_fields), batch_size=1000)
        RunEventFact.objects.bulk_create(facts, batch_size=1000)
    return list(changed_runs.values())


@transaction.atomic
def runs_ingest(*, items: list, by: User, system: str | None = None) -> IngestResult:
    """Store every valid run event of a batch (bulk, no per-row queries); an invalid item is not
    stored at all and is answered with its fields. A report of an event already stored — in this
    batch, an earlier one or a concurrent one — adds its facts to it ("merged", naming them, with
    every contradiction kept as a correction) or, adding nothing, is answered "duplicate"."""
    result = IngestResult(results=[None] * len(items))
    parsed = []
    keys = set()
    for index, item in enumerate(items):
        clean, errors = parse_item(item, required=IDENTITY)
        if errors:
            event_id = item.get("event_id") if isinstance(item, dict) else None
            # Echoed back only as the text it should be (it is what the caller matches answers by).
            event_id = event_id if isinstance(event_id, str) and len(event_id) <= 200 else None
            result.results[index] = _error(index, event_id, errors)
            continue
        parsed.append((index, clean, given_fields(item)))
        keys.add(clean["automation"])
    automations = Automation.objects.filter(key__in=keys)
    if system:
        automations = automations.filter(system=system)
    by_key = {key: (pk, status) for pk, key, status in automations.values_list("id", "key", "status")}
    critical = _reporting_critical_names() if any(c["fields_changed"] for _, c, _ in parsed) else None
    now = timezone.now()
    rows, first_seen, pending, later = [], set(), [], []
    for index, clean, given in parsed:
        key = clean["automation"]
        if key not in by_key:
            unknown = f"No automation with key {key} that this caller may report on."
            result.results[index] = _error(index, clean["event_id"], {"automation": [unknown]})
            continue
        automation_id, status = by_key[key]
        pair = (automation_id, clean["event_id"])
        missing = {name: ["This field is required."] for name in REQUIRED if name not in given and name not in IDENTITY}
        refusal = run_refusal(status, key)
        if pair in first_seen or missing or refusal:
            # A later report in this batch, a report without what a first one needs, or a run the
            # automation may not have: it can only add facts to a run already stored.
            later.append(_Pending(index, pair, clean, given, refusal=refusal, missing=missing))
            continue
        errors = run_errors(clean)
        if errors:
            result.results[index] = _error(index, clean["event_id"], errors)
            continue
        first_seen.add(pair)
        row = dict(clean)
        row["automation_id"] = automation_id
        row["reporting_critical_changed"] = bool((critical or set()).intersection(clean["fields_changed"]))
        row["staleness_seconds"] = _staleness(clean["started_at"], clean["data_as_of"])
        row["received_at"] = now
        if row["task_completed_at"] and row["task_completed"] is None:
            row["task_completed"] = True
        for text in _TEXT:
            row[text] = row[text] or ""
        rows.append(row)
        pending.append((index, pair, row, given))
    created = _insert_returning(rows) if rows else set()
    shadow: dict[int, list[dict]] = {}
    stored_before = []
    for index, pair, row, given in pending:
        if pair in created:
            result.results[index] = {"index": index, "event_id": row["event_id"], "status": "created"}
            if row["mode"] == RunMode.SHADOW:
                shadow.setdefault(pair[0], []).append(row)
        else:  # stored before (or by a concurrent batch): this report adds facts to it
            stored_before.append(_Pending(index, pair, {**row, "automation": None}, given))
    merging = sorted(stored_before + later, key=lambda p: p.index)
    if merging:
        for run in _merge_into_stored(merging, result, by=by, source=FactSource.API, critical=critical):
            if run.mode == RunMode.SHADOW:
                shadow.setdefault(run.automation_id, []).append(_run_dict(run))
    for automation_id, runs in shadow.items():
        _record_shadow_observations(automation_id, [shadow_observation(run) for run in runs], by=by)
    return result


def _run_dict(run: RunEvent) -> dict:
    return {name: getattr(run, name) for name in ("event_id", "action", "owner_assigned", "human_outcome",
                                                  "finished_at", "started_at")}  # fmt: skip


def shadow_observation(run: dict) -> dict:
    """What one shadow run tells approvals: what the automation would have done next to what the
    human did. Agreement is compared case- and space-insensitively; no human outcome → not agreed."""
    automation_action = (run.get("action") or run.get("owner_assigned") or "").strip()
    human_action = (run.get("human_outcome") or "").strip()
    return {
        "event_id": run["event_id"],
        "automation_action": automation_action,
        "human_action": human_action,
        "agreed": bool(human_action) and automation_action.casefold() == human_action.casefold(),
        "observed_at": run.get("finished_at") or run["started_at"],
    }


def _record_shadow_observations(automation, runs, *, by=None) -> None:
    """Hand shadow runs to approvals' shadow agreement (the live gate reads it).

    `automation` is the automation id; `runs` the observation dicts from shadow_observation(). A
    shadow run without both sides (what the automation would have done, what the human did) is no
    comparison and is left out. Approvals stores an event once, so a late fact that completes a
    comparison is observed then, and one that changes an observed run changes nothing there."""
    observations = [run for run in runs if run["automation_action"] and run["human_action"]]
    if observations:
        approvals_services.shadow_observations_record(
            automation=Automation.objects.get(pk=automation), observations=observations, by=by
        )


PING_KINDS = ("start", "success", "failure")


@dataclass
class PingResult:
    run: RunEvent
    status: str  # created, merged or duplicate
    merged: list[str] = field(default_factory=list)
    corrected: list[dict] = field(default_factory=list)

    @property
    def created(self) -> bool:
        return self.status == "created"


@transaction.atomic
def run_ping(*, automation: Automation, kind: str, by: User, run_id: str = "", body: str = "") -> PingResult:
    """The Healthchecks-style ping: `start` opens a run, `success` / `failure` finish the latest
    open one (or the one named by run_id) — a late fact merged as a batch report would be, so a
    failure reported for a run stored as a success is kept as a correction. An end without a
    start is a run that started and ended now. A start never ended counts as "running too long"
    once past the expected duration, and is timed out past the maximum duration. New runs follow
    run_refusal; ending a stored run is a late fact, accepted whatever the status."""
    if kind not in PING_KINDS:
        raise ValidationError({"kind": f"Choose one of: {', '.join(PING_KINDS)}."})
    if len(run_id) > 200:
        raise ValidationError({"rid": "At most 200 characters."})
    now = timezone.now()
    refusal = run_refusal(automation.status, automation.key)
    if kind == "start":
        if run_id and (run := RunEvent.objects.filter(automation=automation, event_id=run_id).first()):
            return PingResult(run=run, status="duplicate")
        if refusal:
            raise ValidationError({"automation": refusal})
        run = RunEvent.objects.create(
            automation=automation,
            event_id=run_id or f"ping-{uuid.uuid4().hex}",
            started_at=now,
            outcome=RunOutcome.RUNNING,
        )
        return PingResult(run=run, status="created")
    runs = RunEvent.objects.select_for_update().filter(automation=automation)
    # Named: that run, whatever it is now. Not named: the latest still running (a timed-out run is
    # ended only by its name: an anonymous end belongs to the run in progress).
    run = runs.filter(event_id=run_id) if run_id else runs.filter(outcome=RunOutcome.RUNNING).order_by("-started_at")
    run = run.first()
    outcome = RunOutcome.SUCCESS if kind == "success" else RunOutcome.FAILURE
    if run is None:
        if refusal:
            raise ValidationError({"automation": refusal})
        run = RunEvent.objects.create(
            automation=automation,
            event_id=run_id or f"ping-{uuid.uuid4().hex}",
            started_at=now,
            finished_at=now,
            outcome=outcome,
            error=body[:10_000] if kind == "failure" else "",
        )
        return PingResult(run=run, status="created")
    report = {"outcome": outcome}
    if run.finished_at is None:
        report["finished_at"] = max(now, run.started_at)
    if kind == "failure" and body:
        report["error"] = body[:10_000]
    result = IngestResult(results=[None])
    pending = _Pending(0, (automation.pk, run.event_id), report, set(report))
    _merge_into_stored([pending], result, by=by, source=FactSource.PING, critical=set())
    answer = result.results[0]
    if answer["status"] == "error":
        raise ValidationError({name: " ".join(messages) for name, messages in answer["fields"].items()})
    run.refresh_from_db()
    return PingResult(
        run=run, status=answer["status"], merged=answer.get("merged", []), corrected=answer.get("corrected", [])
    )


def runs_time_out(*, now: datetime | None = None) -> int:
    """Mark "timed out" every run still running past its automation's maximum duration (its own
    threshold, else HEALTH_DEFAULTS["max_duration"]): one UPDATE, and each change kept as an
    inferred fact. A finished outcome reported later replaces it (health.ingest.merge_facts).
    Returns how many runs timed out."""
    now = now or timezone.now()
    limit = Coalesce(
        F("automation__health_thresholds__max_duration"),
        Value(_config("HEALTH_DEFAULTS")["max_duration"], output_field=DurationField()),
    )
    with transaction.atomic():
        runs = list(
            RunEvent.objects.select_for_update(of=("self",))
            .filter(outcome=RunOutcome.RUNNING)
            .alias(deadline=ExpressionWrapper(F("started_at") + limit, output_field=DateTimeField()))
            .filter(deadline__lt=now)
            .order_by("id")
            .values_list("id", "automation_id", "event_id", "started_at")
        )
        if not runs:
            return 0
        RunEvent.objects.filter(id__in=[r[0] for r in runs], outcome=RunOutcome.RUNNING).update(
            outcome=RunOutcome.TIMED_OUT
        )
        actor = system_user()
        RunEventFact.objects.bulk_create(
            [
                RunEventFact(
                    automation_id=automation_id,
                    event_id=event_id,
                    run_started_at=started_at,
                    field="outcome",
                    kind=FactKind.INFERRED,
                    old_value=RunOutcome.RUNNING.value,
                    new_value=RunOutcome.TIMED_OUT.value,
                    source=FactSource.MONITOR,
                    reported_by=actor,
                    recorded_at=now,
                )
                for _, automation_id, event_id, started_at in runs
            ],
            batch_size=500,
        )
    return len(runs)


def retention_cutoff(now: datetime) -> datetime:
    """Run events that started before this are past retention (HEALTH_RUN_RETENTION_DAYS)."""
    return now - timedelta(days=_config("HEALTH_RUN_RETENTION_DAYS"))


def runs_purge(*, now: datetime | None = None) -> int:
    """Remove raw run events past the retention period, and their late facts (which carry the
    run's start). Findings and reviews keep their own evidence. Returns how many run events went.

    PostgreSQL (health_runevent partitioned by month): whole months are dropped once their last
    instant is past retention — no row is deleted, nothing is left to vacuum — so a run is kept
    at least HEALTH_RUN_RETENTION_DAYS and less than a month longer. The identities of the runs
    of those months are forgotten first, in batches; rows past retention that sat in the DEFAULT
    partition are deleted. SQLite (one plain table): the rows past retention are deleted, a batch per
    transaction so the table is never locked for long."""
    now = now or timezone.now()
    cutoff = retention_cutoff(now)
    batch = _config("HEALTH_PURGE_BATCH")
    deleted = 0
    if partitions.partitioned():
        past = [p for p in partitions.partitions() if p.month is not None and p.end <= cutoff]
        if past:
            # The identities first (narrow rows, a batch per transaction), then the months at once.
            while partitions.identities_forget(before=past[-1].end, batch=batch) == batch:
                pass
            with transaction.atomic():
                for partition in past:
                    deleted += partitions.partition_drop(partition)
        with transaction.atomic():
            deleted += partitions.default_purge(before=cutoff)
    models = ((RunEventFact, "run_started_at"),) if partitions.partitioned() else (
        (RunEvent, "started_at"), (RunEventFact, "run_started_at"))  # fmt: skip
    for model, started in models:
        while True:
            with transaction.atomic():
                old = model.objects.filter(**{f"{started}__lt": cutoff}).order_by()
                ids = list(old.values_list("id", flat=True)[:batch])
                if not ids:
                    break
                count = model.objects.filter(id__in=ids).delete()[0]
                deleted += count if model is RunEvent else 0
    return deleted


def runs_partitions_prepare(*, now: datetime | None = None) -> list[str]:
    """PostgreSQL: create the partitions of health_runevent for this month and the next
    HEALTH_PARTITIONS_AHEAD months, and split out of the DEFAULT partition every month within
    retention that received rows there (a run reported before its month was created, or from
    long ago); rows past retention stay there for the purge. Safe to run twice or on two workers
    (a lock on the table serialises them). Returns the partitions created. SQLite: nothing."""
    if not partitions.partitioned():
        return []
    now = now or timezone.now()
    this_month = partitions.month_start(now.astimezone(UTC))
    wanted = [this_month]
    for _ in range(_config("HEALTH_PARTITIONS_AHEAD")):
        wanted.append(partitions.next_month(wanted[-1]))
    created = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Two preparers never create the same month; inserts and reads go on meanwhile.
            cursor.execute(f"LOCK TABLE {partitions.TABLE} IN SHARE UPDATE EXCLUSIVE MODE")
        have = {p.month for p in partitions.partitions() if p.month}
        kept_from = partitions.month_start(retention_cutoff(now).astimezone(UTC))
        stray = [m for m in partitions.months_in_default() if kept_from <= m <= wanted[-1]]
        for month in sorted(set(wanted) | set(stray)):
            if month not in have:
                partitions.partition_create(month)
                created.append(partitions.partition_name(month))
    return created


# --- Thresholds -------------------------------------------------------------------------------
THRESHOLD_FIELDS = tuple(
    f.name for f in HealthThresholds._meta.get_fields() if f.concrete and f.name not in ("id", "automation")
)


@transaction.atomic
def thresholds_set(*, automation: Automation, by: User, reason: str, **values) -> HealthThresholds:
    """Set this automation's own monitor thresholds (None: back to the default)."""
    unknown = set(values) - set(THRESHOLD_FIELDS)
    if unknown:
        raise TypeError(f"Unknown threshold: {', '.join(sorted(unknown))}")
    if not (reason or "").strip():
        raise ValidationError({"change_reason": "Say why the thresholds change; it is kept in the history."})
    thresholds, _ = HealthThresholds.objects.select_for_update().get_or_create(automation=automation)
    for name, value in values.items():
        setattr(thresholds, name, value)
    thresholds.full_clean()
    thresholds._history_user = by
    thresholds._change_reason = reason
    thresholds.save()
    return thresholds


# --- Findings ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Hit:
    """A monitor firing for one automation: what it found, in words and numbers."""

    automation_id: int
    kind: str
    reason: str
    evidence: dict
    severity: str = ""
    links: tuple = ()


SEVERITY = {
    FindingKind.DID_NOT_RUN: Severity.MEDIUM,
    FindingKind.RAN_TWICE: Severity.HIGH,
    FindingKind.RUNNING_TOO_LONG: Severity.MEDIUM,
    FindingKind.TIMED_OUT: Severity.MEDIUM,
    FindingKind.STALE_DATA: Severity.MEDIUM,
    FindingKind.WRONG_OWNER: Severity.MEDIUM,
    FindingKind.TOO_MANY_ALERTS: Severity.LOW,
    FindingKind.BROKE_AFTER_CHANGE: Severity.HIGH,
    FindingKind.REPORTING_SIDE_EFFECTS: Severity.HIGH,
    FindingKind.FAILURE_RATE_UP: Severity.HIGH,
    FindingKind.CRM_CHANGED: Severity.MEDIUM,  # high for a high-tier automation (the monitor says)
    FindingKind.CRM_ACTIVE_WHILE_PAUSED: Severity.HIGH,
    FindingKind.CRM_INACTIVE_WHILE_LIVE: Severity.MEDIUM,
    FindingKind.CRM_COLLISION: Severity.HIGH,
}
EXPECTED_ACTION = {
    FindingKind.DID_NOT_RUN: ("Check the trigger and the CRM's scheduler; run it by hand if records are waiting.", 1),
    FindingKind.RAN_TWICE: (
        "Find why it fired twice (double trigger, retry, overlapping schedule) and undo duplicate changes.",
        1,
    ),
    FindingKind.RUNNING_TOO_LONG: ("Look at the stuck run in the CRM; stop it or raise the expected duration.", 1),
    FindingKind.TIMED_OUT: (
        "Find out how the timed-out runs ended in the CRM and report their end (a late fact), or fix what hangs.",
        2,
    ),
    FindingKind.STALE_DATA: (
        "Fix the upstream sync so it runs on current data, or pause it until the data is fresh.",
        2,
    ),
    FindingKind.WRONG_OWNER: (
        "Review the routing rule against recent overrides: users may be revealing a bad rule.",
        7,
    ),
    FindingKind.TOO_MANY_ALERTS: ("Tighten the rule or batch the alerts into a digest so people keep reading them.", 7),
    FindingKind.BROKE_AFTER_CHANGE: (
        "Update the automation for the change named here, test it, then let the hold go.",
        2,
    ),
    FindingKind.REPORTING_SIDE_EFFECTS: (
        "Check the changed records against reporting; confirm the reporting impact or roll back.",
        2,
    ),
    FindingKind.FAILURE_RATE_UP: ("Read the recent errors and fix the cause before users work around it.", 3),
    FindingKind.CRM_CHANGED: (
        "Review the change made in the CRM (the diff is the evidence): re-approve it through a new packet, "
        "or restore the approved definition.",
        3,
    ),
    FindingKind.CRM_ACTIVE_WHILE_PAUSED: (
        "Deactivate it in the CRM, or resume it here through its lifecycle if it should run.",
        1,
    ),
    FindingKind.CRM_INACTIVE_WHILE_LIVE: (
        "Find out who turned it off in the CRM; pause or retire it here, or reactivate it there.",
        2,
    ),
    FindingKind.CRM_COLLISION: (
        "Decide which automation owns the field on this event; change or sequence the other.",
        3,
    ),
}


def _holds_kind(kind: str, severity: str) -> bool:
    return severity == Severity.HIGH and kind in _config("HEALTH_HOLD_KINDS")


def _lock():
    lock, _ = MonitorLock.objects.get_or_create(name="monitors")
    MonitorLock.objects.select_for_update().filter(pk=lock.pk).first()


@transaction.atomic
def findings_sync(
    *, hits: list[Hit], checked: dict[str, set[int]], owners: dict[int, int | None], now: datetime
) -> dict:
    """Make the findings match what the monitors saw, in bulk: a hit opens the finding of its kind
    or updates the one already unresolved; an unresolved finding whose monitor checked the
    automation and no longer fires resolves itself with a note. Holds follow high findings.

    `checked` maps each kind to the automations its monitor looked at (others are left alone).
    Runs under a row lock, so two passes at once open nothing twice."""
    _lock()
    actor = system_user()
    existing = {(f.automation_id, f.kind): f for f in Finding.objects.filter(status__in=UNRESOLVED)}
    to_create, to_update, to_resolve, seen = [], [], [], []
    hit_keys = set()
    for hit in hits:
        key = (hit.automation_id, hit.kind)
        hit_keys.add(key)
        severity = hit.severity or SEVERITY[FindingKind(hit.kind)]
        action, due_days = EXPECTED_ACTION[FindingKind(hit.kind)]
        finding = existing.get(key)
        if finding is None:
            to_create.append(
                Finding(
                    automation_id=hit.automation_id,
                    kind=hit.kind,
                    severity=severity,
                    status=FindingStatus.OPEN,
                    reason=hit.reason,
                    evidence=hit.evidence,
                    owner_id=owners.get(hit.automation_id),
                    expected_action=action,
                    due_at=now + timedelta(days=due_days),
                    links=list(hit.links),
                    opened_at=now,
                    last_seen_at=now,
                )
            )
            continue
        seen.append(finding.pk)
        before = (finding.reason, finding.evidence, finding.severity, finding.links, finding.status)
        finding.reason, finding.evidence, finding.severity = hit.reason, hit.evidence, severity
        finding.links = list(hit.links)
        if finding.status == FindingStatus.SUPPRESSED and finding.suppressed_until and finding.suppressed_until <= now:
            finding.status = FindingStatus.OPEN
        if (finding.reason, finding.evidence, finding.severity, finding.links, finding.status) != before:
            to_update.append(finding)
    to_flag = []
    for key, finding in existing.items():
        automation_id, kind = key
        if key in hit_keys:
            if finding.no_recent_evidence:
                finding.no_recent_evidence = False
                to_flag.append(finding)
            continue
        if automation_id not in checked.get(kind, ()):
            continue
        if finding.is_incident:
            # Evidence leaving the window never closes an incident: it says so and waits for its fix
            # to be verified (issue 16 §1).
            if not finding.no_recent_evidence:
                finding.no_recent_evidence = True
                to_flag.append(finding)
            continue
        finding.status = FindingStatus.RESOLVED
        finding.resolved_at = now
        finding.resolution_note = (
            f"Resolved by itself: the “{finding.get_kind_display()}” monitor no longer fires "
            f"(checked {now:%Y-%m-%d %H:%M} UTC)."
        )
        to_resolve.append(finding)
    if to_create:
        for finding in to_create:
            finding.holds_automation = _holds_kind(finding.kind, finding.severity)
        bulk_create_with_history(
            to_create, Finding, default_user=actor, default_change_reason="Opened by its monitor", default_date=now
        )
    if seen:
        # A confirmation is a timestamp, not a change worth a history version.
        Finding.objects.filter(pk__in=seen).update(last_seen_at=now)
    if to_update:
        for finding in to_update:
            finding.holds_automation = finding.holds_automation or _holds_kind(finding.kind, finding.severity)
        bulk_update_with_history(
            to_update,
            Finding,
            ["reason", "evidence", "severity", "links", "status", "holds_automation"],
            batch_size=200,
            default_user=actor,
            default_change_reason="Confirmed again by its monitor",
            default_date=now,
        )
    if to_flag:
        Finding.objects.filter(pk__in=[f.pk for f in to_flag if f.no_recent_evidence]).update(no_recent_evidence=True)
        Finding.objects.filter(pk__in=[f.pk for f in to_flag if not f.no_recent_evidence]).update(
            no_recent_evidence=False
        )
    if to_resolve:
        bulk_update_with_history(
            to_resolve,
            Finding,
            ["status", "resolved_at", "resolution_note"],
            batch_size=200,
            default_user=actor,
            default_change_reason="Condition cleared",
            default_date=now,
        )
    verified, reopened = _fixed_verify(actor=actor, now=now)
    holds_sync(actor=actor, verified=verified)
    return {
        "opened": len(to_create),
        "confirmed": len(seen),
        "updated": len(to_update),
        "resolved": len(to_resolve),
        "verified": len(verified),
        "reopened": reopened,
    }


def verify_clean_runs(kind: str) -> int:
    """How many clean runs after the fix verify a finding of this kind (per monitor, configurable)."""
    config = _config("HEALTH_VERIFY_CLEAN_RUNS")
    return int(config.get(kind, config.get("default", 3)))


def _fixed_verify(*, actor: User, now: datetime) -> tuple[dict[int, str], int]:
    """The fixed findings: a failed run after the fix reopens one; enough clean runs after it (the
    monitor's setting) verify it. Two queries whatever the number of fixed findings. Returns the
    verified findings' automations with the note, and how many reopened."""
    fixed = list(
        Finding.objects.select_for_update(of=("self",))
        .select_related("automation", "owner", "fixed_by")
        .filter(status=FindingStatus.FIXED)
    )
    if not fixed:
        return {}, 0
    since = min(f.fixed_at or now for f in fixed)
    runs: dict[int, list[tuple[datetime, str]]] = {}
    for automation_id, started_at, outcome in (
        RunEvent.objects.filter(
            automation_id__in={f.automation_id for f in fixed},
            started_at__gte=since,
            outcome__in=(RunOutcome.SUCCESS, *FAILED_OUTCOMES),
        )
        .order_by()
        .values_list("automation_id", "started_at", "outcome")
    ):
        runs.setdefault(automation_id, []).append((started_at, outcome))
    verified, reopened = {}, 0
    for finding in fixed:
        own = runs.get(finding.automation_id, ())
        after = [outcome for started_at, outcome in own if started_at >= finding.fixed_at]
        needed = verify_clean_runs(finding.kind)
        failures = sum(1 for outcome in after if outcome in FAILED_OUTCOMES)
        clean = len(after) - failures
        if failures:
            finding.status = FindingStatus.OPEN
            finding._change_reason = f"Reopened: {failures} run(s) failed after the fix ({finding.fix_note})"
            reopened += 1
        elif clean >= needed:
            finding.status = FindingStatus.VERIFIED
            finding.verified_at = now
            finding.resolved_at = now
            finding.resolution_note = f"verified: {clean} clean runs after the fix ({finding.fix_note})"
            finding._change_reason = finding.resolution_note
            verified[finding.automation_id] = finding.resolution_note
        else:
            continue
        finding._history_user = actor
        finding.save()
        _incident_notice(finding, reopened=finding.status == FindingStatus.OPEN)
    return verified, reopened


def _incident_notice(finding: Finding, *, reopened: bool) -> None:
    """Tell the owner (and whoever said it was fixed) that the fix held or did not, once per fix."""
    from .alerts import finding_recipients

    people, _ = finding_recipients(finding)
    people = {p.pk: p for p in [*people, finding.fixed_by] if p is not None}
    what = "reopened" if reopened else "verified"
    headline = "Fix did not hold" if reopened else "Fix verified"
    subject = f"{headline}: {finding.get_kind_display()} on {finding.automation.name}"
    intro = (
        "A run failed after the fix: the finding is open again and its hold stays."
        if reopened
        else "Clean runs after the fix verified it; the hold it placed is lifted."
    )
    for person in people.values():
        send_notice(
            user=person,
            subject=subject,
            intro=intro,
            lines=[Line(f"Fixed: {finding.fix_note}"), Line("Open the finding", finding.get_absolute_url())],
            key=f"health.finding:{finding.pk}:{what}:{finding.fixed_at.isoformat()}:user:{person.pk}",
            kind=f"finding_{what}",
            about=f"health.finding:{finding.pk}",
            about_url=finding.get_absolute_url(),
        )


def holds_sync(*, actor: User, verified: dict[int, str] | None = None, note: str = "") -> None:
    """A high finding of a holding kind holds its automation, and keeps holding it until it is
    verified or an admin releases its hold with a reason (issue 16 §1): a suppression, a pause, a
    change of severity or evidence leaving the window never releases it. Queries: two, plus one
    service call per hold that changes."""
    verified = verified or {}
    holding = {}
    for finding in Finding.objects.filter(
        status__in=HOLDING, holds_automation=True, hold_released_at__isnull=True
    ).select_related("automation"):
        holding.setdefault(finding.automation_id, (finding.automation, []))[1].append(finding)
    held = {
        h.automation_id: h
        for h in Hold.objects.filter(source=HOLD_SOURCE, released_at__isnull=True).select_related("automation")
    }
    placing = [aid for aid in holding if aid not in held]
    if placing:
        # An admin who released the hold on the automation page released it for the incidents
        # open then: it is not placed again for them (a new incident places a new one).
        released = dict(
            Hold.objects.filter(automation_id__in=placing, source=HOLD_SOURCE, released_at__isnull=False)
            .exclude(released_by=system_user())  # the monitor's own releases (verification)
            .values("automation_id")
            .annotate(last=Max("released_at"))
            .values_list("automation_id", "last")
        )
        for aid in placing:
            last = released.get(aid)
            if last is None:
                continue
            automation, findings = holding[aid]
            done = [f for f in findings if f.opened_at <= last]
            if done:
                Finding.objects.filter(pk__in=[f.pk for f in done]).update(hold_released_at=last)
            if len(done) == len(findings):
                del holding[aid]
            else:
                holding[aid] = (automation, [f for f in findings if f.opened_at > last])
    for automation_id, (automation, findings) in holding.items():
        if automation_id not in held:
            reason = "; ".join(f"{f.get_kind_display()}: {f.reason}" for f in findings)
            hold_place(
                automation=automation,
                source=HOLD_SOURCE,
                reason=f"Health incident — {reason} Released only when the incident is verified "
                "(clean runs after the owner's fix), or by an admin with a reason.",
                by=actor,
            )
    for automation_id, hold in held.items():
        if automation_id not in holding:
            hold_release_source(
                automation=hold.automation,
                source=HOLD_SOURCE,
                by=actor,
                note=verified.get(automation_id)
                or note
                or "The health incidents that held it are verified or released by an admin.",
            )


def _is_admin(user: User) -> bool:
    return bool(user and (user.is_superuser or can_govern(user)))


@transaction.atomic
def finding_fix(*, finding: Finding, by: User, note: str) -> Finding:
    """The failure owner (or an admin) says what was fixed: the finding waits for clean runs,
    which verify it (the monitor pass); its hold stays until then."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say what was fixed; the finding and its verification show it."})
    finding = Finding.objects.select_for_update().select_related("automation").get(pk=finding.pk)
    if not (_is_admin(by) or (by.pk and by.pk in (finding.automation.failure_owner_id, finding.owner_id))):
        raise PermissionDenied("Only the failure owner or an admin can say a finding is fixed.")
    if finding.status not in (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED, FindingStatus.SUPPRESSED):
        raise ValidationError(
            {"status": f"Only an open finding can be fixed; this one is {finding.get_status_display().lower()}."}
        )
    finding.status = FindingStatus.FIXED
    finding.fixed_at = timezone.now()
    finding.fixed_by = by
    finding.fix_note = note
    finding._history_user = by
    finding._change_reason = f"Fixed: {note}"
    finding.save()
    return finding


@transaction.atomic
def finding_hold_release(*, finding: Finding, by: User, reason: str) -> Finding:
    """An admin releases the hold an incident placed, with a reason, before it is verified. The
    finding stays as it is; the hold lifts when no other finding holds the automation."""
    reason = (reason or "").strip()
    if not _is_admin(by):
        raise PermissionDenied("Only an admin can release a health hold before the incident is verified.")
    if not reason:
        raise ValidationError({"reason": "Say why the hold is released before verification; the hold keeps it."})
    finding = Finding.objects.select_for_update().get(pk=finding.pk)
    if not finding.holds_automation or finding.hold_released_at:
        raise ValidationError({"status": "This finding holds nothing."})
    finding.hold_released_at = timezone.now()
    finding.hold_released_by = by
    finding.hold_release_reason = reason
    finding._history_user = by
    finding._change_reason = f"Hold released by an admin: {reason}"
    finding.save()
    holds_sync(actor=by, note=f"Released by an admin before verification: {reason}")
    return finding


@transaction.atomic
def finding_close(*, finding: Finding, by: User, note: str = "") -> Finding:
    """Close a verified incident (the owner or an admin)."""
    finding = Finding.objects.select_for_update().select_related("automation").get(pk=finding.pk)
    if not (_is_admin(by) or (by.pk and by.pk in (finding.automation.failure_owner_id, finding.owner_id))):
        raise PermissionDenied("Only the failure owner or an admin can close a finding.")
    if finding.status != FindingStatus.VERIFIED:
        raise ValidationError({"status": "Only a verified finding can be closed."})
    finding.status = FindingStatus.RESOLVED
    finding._history_user = by
    finding._change_reason = f"Closed{': ' + note.strip() if note.strip() else ''}"
    finding.save()
    return finding


@transaction.atomic
def finding_acknowledge(*, finding: Finding, by: User, note: str = "") -> Finding:
    """The owner has seen it and is on it: it stays open (and keeps any hold) but is marked seen."""
    finding = Finding.objects.select_for_update().get(pk=finding.pk)
    if finding.status != FindingStatus.OPEN:
        raise ValidationError(
            {"status": f"Only an open finding can be acknowledged; this one is {finding.get_status_display().lower()}."}
        )
    finding.status = FindingStatus.ACKNOWLEDGED
    finding.acknowledged_at = timezone.now()
    finding.acknowledged_by = by
    finding._history_user = by
    finding._change_reason = f"Acknowledged{': ' + note.strip() if note.strip() else ''}"
    finding.save()
    return finding


def suppress_max_days(automation: Automation) -> int:
    return int(_config("HEALTH_SUPPRESS_MAX_DAYS")[automation.risk_tier])


@transaction.atomic
def finding_suppress(*, finding: Finding, by: User, until: datetime, reason: str) -> Finding:
    """Silence a finding's alerts until a time, with a reason (issue 16 §1): only its failure
    owner or an admin, for at most its automation's tier limit (HEALTH_SUPPRESS_MAX_DAYS);
    extending a suppression needs an admin. A suppression never releases a hold; the finding
    reopens afterwards if its monitor still fires."""
    reason = (reason or "").strip()
    now = timezone.now()
    finding = Finding.objects.select_for_update().select_related("automation").get(pk=finding.pk)
    admin = _is_admin(by)
    if not (admin or (by.pk and by.pk == finding.automation.failure_owner_id)):
        raise PermissionDenied("Only the failure owner or an admin can suppress a finding.")
    errors = {}
    if not reason:
        errors["reason"] = "Say why it is suppressed; the finding shows it."
    limit = suppress_max_days(finding.automation)
    if until is None or until <= now:
        errors["until"] = "Give a time in the future."
    elif until > now + timedelta(days=limit):
        errors["until"] = (
            f"At most {limit} days for a {finding.automation.risk_tier} tier automation "
            f"(until {now + timedelta(days=limit):%Y-%m-%d %H:%M})."
        )
    if errors:
        raise ValidationError(errors)
    if not finding.is_unresolved or finding.status == FindingStatus.FIXED:
        raise ValidationError({"status": "Only an open finding can be suppressed."})
    extending = finding.status == FindingStatus.SUPPRESSED and bool(
        finding.suppressed_until and finding.suppressed_until > now
    )
    if extending and not admin:
        raise PermissionDenied("Extending a suppression needs an admin.")
    finding.status = FindingStatus.SUPPRESSED
    finding.suppressed_until = until
    finding.suppression_reason = reason
    finding.suppressed_by = by
    finding._history_user = by
    finding._change_reason = f"{'Extended' if extending else 'Suppressed'} until {until:%Y-%m-%d %H:%M}: {reason}"
    finding.save()
    return finding


# --- Planned hold windows (issue 16 §1) -------------------------------------------------------
def hold_window_may_manage(user: User, automation: Automation) -> bool:
    """Who may plan or cancel a hold window: the automation's failure owner, its system owner,
    or an admin."""
    return _is_admin(user) or bool(user.pk and user.pk in (automation.failure_owner_id, automation.system_owner_id))


def hold_window_max_days() -> int:
    return int(_config("HEALTH_HOLD_WINDOW_MAX_DAYS"))


@transaction.atomic
def hold_window_plan(
    *, automation: Automation, by: User, starts_at: datetime, ends_at: datetime, reason: str
) -> PlannedHoldWindow:
    """Plan a time when the automation is not expected to run: the did-not-run monitor stays
    quiet inside it. It ends after it starts, not in the past, within the longest allowed."""
    if not hold_window_may_manage(by, automation):
        raise PermissionDenied("Only the failure owner, the system owner or an admin can plan a hold window.")
    reason = (reason or "").strip()
    now, limit = timezone.now(), hold_window_max_days()
    errors = {}
    if not reason:
        errors["reason"] = "Say why the automation will not run then; the window and its automation show it."
    if starts_at is None:
        errors["starts_at"] = "Give the time the window starts."
    if ends_at is None:
        errors["ends_at"] = "Give the time the window ends."
    elif ends_at <= now:
        errors["ends_at"] = "The window must end in the future."
    elif starts_at is not None and ends_at <= starts_at:
        errors["ends_at"] = "The window must end after it starts."
    elif starts_at is not None and ends_at - starts_at > timedelta(days=limit):
        errors["ends_at"] = (
            f"A hold window lasts at most {limit} days (until {starts_at + timedelta(days=limit):%Y-%m-%d %H:%M})."
        )
    if automation.status == LifecycleStatus.RETIRED:
        errors["automation"] = "A retired automation never runs; it needs no hold window."
    if errors:
        raise ValidationError(errors)
    window = PlannedHoldWindow(
        automation=automation, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by=by
    )
    window.full_clean()
    window._history_user = by
    window._change_reason = f"Planned: {reason}"
    window.save()
    return window


@transaction.atomic
def hold_window_cancel(*, window: PlannedHoldWindow, by: User, reason: str) -> PlannedHoldWindow:
    """Cancel a window not yet ended (the row stays, with who and why): the monitor watches the
    automation again from now on."""
    window = PlannedHoldWindow.objects.select_for_update().select_related("automation").get(pk=window.pk)
    if not hold_window_may_manage(by, window.automation):
        raise PermissionDenied("Only the failure owner, the system owner or an admin can cancel a hold window.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the window is cancelled."})
    if window.cancelled_at or window.ends_at <= timezone.now():
        raise ValidationError({"status": f"This window is {window.state_label}: there is nothing to cancel."})
    window.cancelled_at, window.cancelled_by, window.cancel_reason = timezone.now(), by, reason
    window._history_user = by
    window._change_reason = f"Cancelled: {reason}"
    window.save()
    return window
