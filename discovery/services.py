"""Every write of discovery: one import is one transaction (nothing stored on bad input), and
linking a CRM automation to a registry record. Registry records are written through
registry.services only."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from registry import services as registry_services
from registry.choices import Team, WorkflowType
from registry.models import Automation, DataField
from revops_gov.choices import System
from revops_gov.models import User
from revops_gov.notifications import Line, send_notice

from . import selectors
from .models import (
    Change,
    DataFieldSource,
    Finding,
    FindingKind,
    MetadataSnapshot,
    SnapshotAutomation,
    SnapshotField,
    SnapshotStatus,
)
from .parsers import CrmAutomation, CrmField, Limits, MetadataError, ParsedMetadata, parse_metadata

CHUNK = 2000
logger = logging.getLogger(__name__)


def limits() -> Limits:
    config = settings.REVOPS
    return Limits(
        max_archive_bytes=config["DISCOVERY_MAX_ARCHIVE_BYTES"],
        max_files=config["DISCOVERY_MAX_FILES"],
        max_unpacked_bytes=config["DISCOVERY_MAX_UNPACKED_BYTES"],
        max_file_bytes=config["DISCOVERY_MAX_FILE_BYTES"],
    )


def check_system(system: str) -> str:
    if system not in System.values:
        raise MetadataError("", f"unknown system “{system}”; one of {', '.join(System.values)}")
    return system


def version_hash(automation: CrmAutomation) -> str:
    """The content hash of an automation's normalized definition and what was derived from it."""
    summary = json.dumps(
        {
            "definition": automation.definition,
            "kind": automation.kind,
            "name": automation.name,
            "object": automation.object,
            "events": automation.events,
            "active": automation.active,
            "reads": automation.reads,
            "writes": automation.writes,
            "actions": automation.actions,
        },
        sort_keys=True,
    )
    return hashlib.sha256(summary.encode()).hexdigest()


@dataclass
class FindingDraft:
    kind: str
    external_id: str
    message: str
    evidence: str = ""
    automation: Automation | None = None
    recipient: User | None = None


@dataclass
class ImportResult:
    snapshot: MetadataSnapshot | None
    system: str
    automations: list[dict] = field(default_factory=list)
    fields: list[dict] = field(default_factory=list)
    findings: list[FindingDraft] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "snapshot": self.snapshot.pk if self.snapshot else None,
            "system": self.system,
            "automations": self.automations,
            "fields": self.fields,
            "findings": [
                {"kind": draft.kind, "automation": draft.external_id, "message": draft.message}
                for draft in self.findings
            ],
        }


def automation_json(row, *, change: str, registry_key: str | None) -> dict:
    return {
        "external_id": row.external_id,
        "kind": row.kind,
        "name": row.name,
        "object": row.object or None,
        "events": list(row.events),
        "active": row.active,
        "reads": list(row.reads),
        "writes": list(row.writes),
        "actions": list(row.actions),
        "registry_key": registry_key,
        "change": change,
    }


# --- the import ------------------------------------------------------------------------------


def metadata_import(
    *,
    system: str,
    path: str | Path,
    by: User | None,
    source_name: str = "",
    dry_run: bool = False,
    snapshot: MetadataSnapshot | None = None,
    progress=None,
) -> ImportResult:
    """Read the metadata at path and store it as a snapshot of the system, linking, adding
    undocumented automations as discovered and raising findings. Raises MetadataError on bad
    input, before anything is written. `dry_run` reports the same without storing anything."""
    check_system(system)
    parsed = parse_metadata(path, system=system, limits=limits())
    if progress:
        progress(50)
    if dry_run:
        return _dry_run(system=system, parsed=parsed)
    return _store(
        system=system,
        parsed=parsed,
        by=by,
        source_name=source_name or Path(path).name,
        snapshot=snapshot,
        progress=progress,
    )


def _dry_run(*, system: str, parsed: ParsedMetadata) -> ImportResult:
    previous = selectors.latest_snapshot(system=system)
    old = {row.external_id: row for row in selectors.automations_in(previous)}
    keys = selectors.registry_keys(system=system, external_ids=[a.external_id for a in parsed.automations])
    result = ImportResult(snapshot=None, system=system, warnings=parsed.warnings)
    current = {a.external_id for a in parsed.automations}
    for automation in parsed.automations:
        before = old.get(automation.external_id)
        change = (
            Change.NEW
            if before is None
            else (Change.UNCHANGED if before.content_hash == version_hash(automation) else Change.CHANGED)
        )
        result.automations.append(
            automation_json(automation, change=change, registry_key=keys.get(automation.external_id))
        )
    for external_id, row in sorted(old.items()):
        if external_id not in current:
            result.automations.append(automation_json(row, change=Change.REMOVED, registry_key=keys.get(external_id)))
    result.fields = [{"name": f.name, "type": f.type, "label": f.label} for f in parsed.fields]
    for automation in parsed.automations:
        if automation.active and automation.external_id not in keys:
            result.findings.append(_undocumented_draft(automation.external_id, None, None))
    return result


@transaction.atomic
def _store(
    *,
    system: str,
    parsed: ParsedMetadata,
    by: User | None,
    source_name: str,
    snapshot: MetadataSnapshot | None,
    progress,
) -> ImportResult:
    # One import of a system at a time: the previous snapshot is read under a lock.
    previous = (
        MetadataSnapshot.objects.select_for_update()
        .filter(system=system, status=SnapshotStatus.DONE)
        .exclude(pk=getattr(snapshot, "pk", None))
        .order_by("-pk")
        .first()
    )
    by = by or _actor()  # a command or task with no person behind it
    if snapshot is None:
        snapshot = MetadataSnapshot.objects.create(
            system=system, source_name=source_name[:255], created_by=by, status=SnapshotStatus.RUNNING, progress=50
        )
    result = ImportResult(snapshot=snapshot, system=system, warnings=parsed.warnings)

    # Automations: a version row only for what is new or changed.
    old = {row.external_id: row for row in selectors.automations_in(previous)}
    changes: dict[str, str] = {}
    extend: list[int] = []
    created: list[SnapshotAutomation] = []
    for automation in parsed.automations:
        content_hash = version_hash(automation)
        before = old.get(automation.external_id)
        if before is not None and before.content_hash == content_hash:
            changes[automation.external_id] = Change.UNCHANGED
            extend.append(before.pk)
            continue
        changes[automation.external_id] = Change.NEW if before is None else Change.CHANGED
        created.append(
            SnapshotAutomation(
                system=system,
                external_id=automation.external_id[:300],
                content_hash=content_hash,
                kind=automation.kind,
                name=automation.name[:300],
                object=(automation.object or "")[:120],
                events=automation.events,
                active=automation.active,
                reads=automation.reads,
                writes=automation.writes,
                actions=automation.actions,
                definition=automation.definition,
                details=automation.details,
                source_file=automation.source_file[:500],
                first_snapshot=snapshot,
                last_snapshot=snapshot,
            )
        )
    _extend(SnapshotAutomation, extend, snapshot)
    SnapshotAutomation.objects.bulk_create(created, batch_size=500)
    removed = {external_id: row for external_id, row in old.items() if external_id not in changes}

    # Fields likewise.
    old_fields = {row.name: row for row in selectors.fields_in(previous)}
    field_extend: list[int] = []
    field_created: list[SnapshotField] = []
    for crm_field in parsed.fields:
        before = old_fields.get(crm_field.name)
        if before is not None and before.content_hash == crm_field.definition_hash:
            field_extend.append(before.pk)
            continue
        field_created.append(_field_version(system, crm_field, snapshot))
    _extend(SnapshotField, field_extend, snapshot)
    SnapshotField.objects.bulk_create(field_created, batch_size=500)
    if progress:
        progress(75)

    # The registry: link by (system, external_id); add the undocumented as discovered.
    linked = {
        a.external_id: a
        for a in Automation.objects.filter(system=system, external_id__in=[*changes, *removed]).select_related(
            "system_owner"
        )
    }
    owner = _system_owner(system)
    undocumented = [a for a in parsed.automations if a.active and a.external_id not in linked]
    for record in _discovered_create(undocumented, system=system, snapshot=snapshot, by=by, owner=owner):
        linked[record.external_id] = record
        result.findings.append(_undocumented_draft(record.external_id, record, owner))

    # Drift, broken fields and collisions: the rules live in discovery.selectors; the import
    # reports each once on the snapshot where it first shows, and the health monitor "CRM drift"
    # raises findings and holds from the same functions (so none of them lives here).
    result.findings += _report_once(
        system=system,
        drafts=[
            *(
                FindingDraft(d.kind, d.external_id, d.message, d.evidence, d.automation, d.automation.system_owner)
                for d in selectors.drift(snapshot)
            ),
            *_field_drafts(selectors.field_breaks(snapshot, previous=previous), linked),
        ],
    )
    _data_dictionary_sync(system=system, fields=parsed.fields, snapshot=snapshot, by=by)

    Finding.objects.bulk_create(
        [
            Finding(
                snapshot=snapshot,
                kind=draft.kind,
                external_id=draft.external_id[:300],
                automation=draft.automation,
                message=draft.message,
                evidence=draft.evidence,
                recipient=draft.recipient,
            )
            for draft in result.findings
        ]
    )
    snapshot.status = SnapshotStatus.DONE
    snapshot.progress = 100
    snapshot.automation_count = len(parsed.automations)
    snapshot.field_count = len(parsed.fields)
    snapshot.upload_path = ""
    snapshot.save(update_fields=["status", "progress", "automation_count", "field_count", "upload_path"])

    keys = {external_id: record.key for external_id, record in linked.items()}
    for automation in parsed.automations:
        result.automations.append(
            automation_json(
                automation, change=changes[automation.external_id], registry_key=keys.get(automation.external_id)
            )
        )
    for external_id, row in sorted(removed.items()):
        result.automations.append(automation_json(row, change=Change.REMOVED, registry_key=keys.get(external_id)))
    result.fields = [{"name": f.name, "type": f.type, "label": f.label} for f in parsed.fields]
    transaction.on_commit(lambda: _notify(result.findings, snapshot))
    return result


def _extend(model, pks: list[int], snapshot: MetadataSnapshot) -> None:
    for start in range(0, len(pks), CHUNK):
        model.objects.filter(pk__in=pks[start : start + CHUNK]).update(last_snapshot=snapshot)


def _field_version(system: str, crm_field: CrmField, snapshot: MetadataSnapshot) -> SnapshotField:
    return SnapshotField(
        system=system,
        name=crm_field.name[:250],
        object_name=crm_field.object[:120],
        api_name=crm_field.api_name[:120],
        content_hash=crm_field.definition_hash,
        type=crm_field.type[:60],
        label=crm_field.label[:255],
        description=crm_field.description,
        required=crm_field.required,
        picklist_values=crm_field.picklist_values,
        reference_to=crm_field.reference_to,
        first_snapshot=snapshot,
        last_snapshot=snapshot,
    )


def _system_owner(system: str) -> User | None:
    """Who owns the system: the person named system owner on most of its registry automations."""
    from django.db.models import Count

    row = (
        Automation.objects.filter(system=system, system_owner__isnull=False)
        .values("system_owner")
        .annotate(n=Count("pk"))
        .order_by("-n", "system_owner")
        .first()
    )
    return User.objects.filter(pk=row["system_owner"]).first() if row else None


# --- undocumented automations ------------------------------------------------------------------


UNDOCUMENTED_PURPOSE = "Found running in the CRM by a metadata import; nobody has documented why it exists yet."


def discovered_keys(external_ids: list[str], system: str) -> dict[str, str]:
    """A free registry key for each external id (one read of the keys already taken)."""
    bases = {}
    for external_id in external_ids:
        base = re.sub(r"[^a-z0-9]+", "-", f"{system} {external_id}".lower()).strip("-") or system
        if len(base) > 90:
            base = base[:80].strip("-") + "-" + hashlib.sha1(external_id.encode()).hexdigest()[:8]
        bases[external_id] = base
    wanted = set(bases.values())
    taken = set(Automation.objects.filter(key__in=wanted).values_list("key", flat=True))
    for base in {b for b in wanted if b in taken}:
        taken |= set(Automation.objects.filter(key__startswith=f"{base}-").values_list("key", flat=True))
    keys = {}
    for external_id, base in bases.items():
        key, n = base, 2
        while key in taken:
            key, n = f"{base}-{n}", n + 1
        taken.add(key)
        keys[external_id] = key
    return keys


def _trigger_text(automation: CrmAutomation) -> str:
    if automation.object and automation.events:
        return f"{automation.kind.replace('_', ' ')} on {automation.object}: {', '.join(automation.events)}"
    if automation.object:
        return f"{automation.kind.replace('_', ' ')} on {automation.object}"
    return f"{automation.kind.replace('_', ' ')} (not record-triggered)"


def _discovered_create(
    automations: list[CrmAutomation], *, system: str, snapshot: MetadataSnapshot, by: User | None, owner: User | None
) -> list[Automation]:
    """The active CRM automations with no registry record enter it as discovered, in one batch."""
    if not automations:
        return []
    keys = discovered_keys([a.external_id for a in automations], system)
    rows = [
        {
            "key": keys[automation.external_id],
            "name": automation.name[:200],
            "business_purpose": UNDOCUMENTED_PURPOSE,
            "workflow_type": WorkflowType.OTHER,
            "team": Team.REVOPS,
            "system": system,
            "external_id": automation.external_id[:200],
            "trigger": _trigger_text(automation),
            "rule": f"Not documented. In the CRM it reads {', '.join(automation.reads) or 'no fields found'}.",
            "record_changed": f"Writes {', '.join(automation.writes) or 'nothing found'}.",
            "system_owner": owner,
        }
        for automation in automations
    ]
    return registry_services.automations_discovered_create(
        by=by,
        reason=f"Discovered running in the CRM by metadata import (snapshot {snapshot.pk}); never approved",
        rows=rows,
    )


def _undocumented_draft(external_id: str, record: Automation | None, owner: User | None) -> FindingDraft:
    return FindingDraft(
        kind=FindingKind.UNDOCUMENTED,
        external_id=external_id,
        automation=record,
        recipient=owner,
        message=f"{external_id} is running in the CRM without a registry record or approval"
        + (f"; it entered the registry as discovered ({record.key})." if record else "."),
    )


# --- drift -------------------------------------------------------------------------------------


def _field_drafts(breaks, linked) -> list[FindingDraft]:
    drafts = []
    for item in breaks:
        record = linked.get(item.external_id)
        drafts.append(
            FindingDraft(
                kind=FindingKind.FIELD_CHANGED,
                external_id=item.external_id,
                automation=record,
                recipient=record.system_owner if record else None,
                evidence="\n".join(item.changes),
                message=f"{item.external_id} uses a field deleted or changed in type: {'; '.join(item.changes)}.",
            )
        )
    return drafts


def _report_once(*, system: str, drafts: list[FindingDraft]) -> list[FindingDraft]:
    """The drafts no earlier snapshot of the system reported already (a re-import adds no rows)."""
    seen = set(
        Finding.objects.filter(snapshot__system=system, kind__in={d.kind for d in drafts}).values_list(
            "kind", "external_id", "message"
        )
    )
    return [d for d in drafts if (d.kind, d.external_id[:300], d.message) not in seen]


def _actor() -> User:
    from revops_gov.services import system_user

    return system_user()


# --- data dictionary -------------------------------------------------------------------------


def _crm_definition(crm_field: CrmField, system: str) -> str:
    parts = [crm_field.description or f"{crm_field.label or crm_field.api_name} (from the {system} metadata)."]
    parts.append(f"Type: {crm_field.type or 'unknown'}" + (" (required)" if crm_field.required else "") + ".")
    if crm_field.reference_to:
        parts.append(f"Looks up {', '.join(crm_field.reference_to)}.")
    if crm_field.picklist_values:
        parts.append(f"Values: {', '.join(crm_field.picklist_values)}.")
    return " ".join(parts)


def _data_dictionary_sync(*, system: str, fields: list[CrmField], snapshot: MetadataSnapshot, by: User | None) -> None:
    """Custom fields become data-dictionary entries (source: the metadata). An entry the metadata
    wrote and nobody edited since follows the CRM; one people edited keeps their words, and the
    CRM's version is kept beside it to show the difference."""
    custom = [f for f in fields if "__" in f.api_name]
    if not custom:
        return
    existing = {
        (d.object_name.lower(), d.api_name.lower()): d
        for d in DataField.objects.filter(object_name__in={f.object for f in custom}).select_related("metadata_source")
    }
    to_create, seen = [], []
    for crm_field in custom:
        label = (crm_field.label or crm_field.api_name)[:200]
        definition = _crm_definition(crm_field, system)
        current = existing.get((crm_field.object.lower(), crm_field.api_name.lower()))
        if current is None:
            to_create.append((crm_field, label, definition))
            continue
        source = getattr(current, "metadata_source", None)
        if source is None:
            DataFieldSource.objects.create(
                data_field=current, system=system, crm_label=label, crm_definition=definition, snapshot=snapshot
            )
            continue
        untouched = current.label == source.label and current.definition == source.definition
        untouched_changed = untouched and (current.label, current.definition) != (label, definition)
        if untouched_changed:
            registry_services.datafield_update(
                data_field=current,
                by=by or _actor(),
                reason=f"Follows the CRM metadata (snapshot {snapshot.pk})",
                label=label,
                definition=definition,
            )
            source.label, source.definition = label, definition
        if (source.crm_label, source.crm_definition) == (label, definition) and not untouched_changed:
            seen.append(source.pk)  # as the CRM had it: only the snapshot moves on, in bulk below
            continue
        source.crm_label, source.crm_definition, source.snapshot = label, definition, snapshot
        source.save()
    _extend_sources(seen, snapshot)
    created = registry_services.datafields_create_many(
        by=by,
        reason=f"From the CRM metadata (snapshot {snapshot.pk})",
        rows=[
            {
                "object_name": crm_field.object[:80],
                "api_name": crm_field.api_name[:120],
                "label": label,
                "definition": definition,
                "source_of_truth": system,
            }
            for crm_field, label, definition in to_create
        ],
    )
    DataFieldSource.objects.bulk_create(
        [
            DataFieldSource(
                data_field=data_field,
                system=system,
                label=label,
                definition=definition,
                crm_label=label,
                crm_definition=definition,
                snapshot=snapshot,
            )
            for data_field, (_crm_field, label, definition) in zip(created, to_create, strict=True)
        ],
        batch_size=500,
    )


def _extend_sources(pks: list[int], snapshot: MetadataSnapshot) -> None:
    for start in range(0, len(pks), CHUNK):
        DataFieldSource.objects.filter(pk__in=pks[start : start + CHUNK]).update(snapshot=snapshot)


def _notify(drafts: list[FindingDraft], snapshot: MetadataSnapshot) -> None:
    by_person: dict[int, list[FindingDraft]] = {}
    for draft in drafts:
        if draft.recipient is not None:
            by_person.setdefault(draft.recipient.pk, []).append(draft)
    for items in by_person.values():
        try:
            send_notice(
                user=items[0].recipient,
                subject=f"CRM metadata import: {len(items)} finding{'s' if len(items) != 1 else ''}",
                intro=f"Metadata snapshot {snapshot.pk} of {snapshot.get_system_display()} found:",
                lines=[Line(draft.message, snapshot.get_absolute_url()) for draft in items],
            )
        except Exception:  # noqa: BLE001 - the import is stored; a mail server being down must not undo it
            logger.exception(
                "Could not send the findings of snapshot %s to user %s", snapshot.pk, items[0].recipient.pk
            )


# --- linking --------------------------------------------------------------------------------


def automation_link(*, automation: Automation, external_id: str, by: User) -> Automation:
    """Link a registry automation to a CRM automation (the link is its external id)."""
    if Automation.objects.filter(system=automation.system, external_id=external_id).exclude(pk=automation.pk).exists():
        from django.core.exceptions import ValidationError

        raise ValidationError({"external_id": f"Another registry automation is already linked to {external_id}."})
    return registry_services.automation_update(
        automation=automation, by=by, reason=f"Linked to {external_id} in the CRM (discovery)", external_id=external_id
    )


# --- uploads (API and page) ---------------------------------------------------------------------


def upload_folder() -> Path:
    folder = Path(settings.VAR_DIR) / "discovery-uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_save(*, chunks, filename: str) -> Path:
    """Write an upload to its own folder in var/ chunk by chunk (never whole in memory), under
    the archive cap; the name is reduced to a safe base name, its ending kept."""
    import tempfile

    from .parsers import ArchiveTooLarge

    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename or "upload").name).lstrip(".") or "upload"
    folder = Path(tempfile.mkdtemp(dir=upload_folder()))
    target = folder / base
    cap = settings.REVOPS["DISCOVERY_MAX_ARCHIVE_BYTES"]
    written = 0
    with target.open("wb") as handle:
        for chunk in chunks:
            written += len(chunk)
            if written > cap:
                handle.close()
                upload_discard(target)
                raise ArchiveTooLarge(base, f"the upload is larger than {cap} bytes")
            handle.write(chunk)
    return target


def upload_discard(path: Path | str) -> None:
    import shutil

    path = Path(path)
    if path.parent.parent == upload_folder():
        shutil.rmtree(path.parent, ignore_errors=True)


def import_queue(*, system: str, path: Path, by: User, source_name: str) -> MetadataSnapshot:
    """A large upload: a queued snapshot the worker imports (discovery.tasks), progress on the page."""
    from .tasks import metadata_import_run

    check_system(system)
    snapshot = MetadataSnapshot.objects.create(
        system=system,
        source_name=source_name[:255],
        created_by=by,
        status=SnapshotStatus.QUEUED,
        progress=0,
        upload_path=str(path),
    )
    transaction.on_commit(lambda: metadata_import_run.delay(snapshot.pk))
    return snapshot


def queued_import_run(*, snapshot_id: int) -> MetadataSnapshot | None:
    """Import a queued snapshot. A second run of the same task finds it done and does nothing; bad
    input marks it failed with the error (nothing else stored)."""
    claimed = MetadataSnapshot.objects.filter(pk=snapshot_id, status=SnapshotStatus.QUEUED).update(
        status=SnapshotStatus.RUNNING, progress=5
    )
    snapshot = MetadataSnapshot.objects.filter(pk=snapshot_id).first()
    if not claimed or snapshot is None:
        return snapshot

    def progress(percent: int) -> None:
        MetadataSnapshot.objects.filter(pk=snapshot_id).update(progress=percent)

    try:
        metadata_import(
            system=snapshot.system,
            path=snapshot.upload_path,
            by=snapshot.created_by,
            source_name=snapshot.source_name,
            snapshot=snapshot,
            progress=progress,
        )
    except MetadataError as exc:
        MetadataSnapshot.objects.filter(pk=snapshot_id).update(
            status=SnapshotStatus.FAILED, error=str(exc), progress=100, upload_path=""
        )
    finally:
        upload_discard(snapshot.upload_path)
    snapshot.refresh_from_db()
    return snapshot
