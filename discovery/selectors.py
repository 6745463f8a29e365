"""Reads of what imports found, for the pages, the API, the command and other apps (a health
monitor, the approval packet): snapshots, their diff, collisions and blast radius.

Collisions and blast radius are computed from any objects with external_id, object, events,
active, reads and writes (parsed automations or stored versions), so the import can use them
before anything is stored."""

from __future__ import annotations

import difflib
from collections import defaultdict, deque
from dataclasses import dataclass, field

from django.db.models import Max, Q, QuerySet

from registry.choices import APPROVED_STATUSES, LifecycleStatus
from registry.models import Automation, DataField, LifecycleMove

from .models import (
    Change,
    Finding,
    FindingKind,
    MetadataSnapshot,
    SnapshotAutomation,
    SnapshotField,
    SnapshotStatus,
)

# The external id forms an import produces: a live registry record with one of these that the
# CRM does not hold is "missing in the CRM" (other ids are not discovery's to judge).
KNOWN_PREFIXES = ("Flow:", "ApexTrigger:", "WorkflowRule:", "ValidationRule:", "ApprovalProcess:", "HubSpotFlow:")


def snapshots(*, system: str | None = None) -> QuerySet[MetadataSnapshot]:
    queryset = MetadataSnapshot.objects.select_related("created_by")
    return queryset.filter(system=system) if system else queryset


def latest_snapshot(*, system: str, before: MetadataSnapshot | None = None) -> MetadataSnapshot | None:
    queryset = MetadataSnapshot.objects.filter(system=system, status=SnapshotStatus.DONE)
    if before is not None:
        queryset = queryset.filter(pk__lt=before.pk)
    return queryset.order_by("-pk").first()


def previous_snapshot(snapshot: MetadataSnapshot) -> MetadataSnapshot | None:
    return latest_snapshot(system=snapshot.system, before=snapshot)


def automations_in(snapshot: MetadataSnapshot | None) -> QuerySet[SnapshotAutomation]:
    if snapshot is None:
        return SnapshotAutomation.objects.none()
    return SnapshotAutomation.objects.in_snapshot(snapshot)


def fields_in(snapshot: MetadataSnapshot | None) -> QuerySet[SnapshotField]:
    if snapshot is None:
        return SnapshotField.objects.none()
    return SnapshotField.objects.in_snapshot(snapshot)


def registry_keys(*, system: str, external_ids) -> dict[str, str]:
    """Registry automation key by CRM external id (the link is (system, external_id))."""
    rows = Automation.objects.filter(system=system, external_id__in=list(external_ids)).values_list(
        "external_id", "key"
    )
    return dict(rows)


# --- diff ------------------------------------------------------------------------------------


@dataclass
class DiffRow:
    external_id: str
    change: str
    before: SnapshotAutomation | None
    after: SnapshotAutomation | None

    @property
    def current(self) -> SnapshotAutomation:
        return self.after or self.before

    @property
    def definition_diff(self) -> str:
        return definition_diff(
            self.before.definition if self.before else "", self.after.definition if self.after else ""
        )


def definition_diff(before: str, after: str, *, context: int = 2) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "after", n=context, lineterm="")
    return "\n".join(lines)


def compare(before, after, key: str) -> list[tuple[str, str, object, object]]:
    """(key, change, before row, after row) for two collections of versions, by key."""
    old = {getattr(row, key): row for row in before}
    new = {getattr(row, key): row for row in after}
    rows = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a is None:
            change = Change.NEW
        elif b is None:
            change = Change.REMOVED
        elif a.content_hash == b.content_hash:
            change = Change.UNCHANGED
        else:
            change = Change.CHANGED
        rows.append((name, change, a, b))
    return rows


def snapshot_diff(older: MetadataSnapshot | None, newer: MetadataSnapshot) -> list[DiffRow]:
    """Every automation of either snapshot with what happened to it between them (two queries)."""
    return [
        DiffRow(external_id, change, before, after)
        for external_id, change, before, after in compare(automations_in(older), automations_in(newer), "external_id")
    ]


def field_diff(older: MetadataSnapshot | None, newer: MetadataSnapshot) -> list[tuple[str, str, object, object]]:
    return compare(fields_in(older), fields_in(newer), "name")


# --- collisions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Collision:
    object: str
    event: str
    first: str  # external ids
    second: str
    fields: tuple[str, ...]
    reason: str  # "both write" or "writes what the other reads"

    @property
    def message(self) -> str:
        if self.reason == "both write":
            return f"{self.first} and {self.second} both write {', '.join(self.fields)} on {self.object} {self.event}."
        return (
            f"{self.first} writes {', '.join(self.fields)}, which {self.second} reads, on {self.object} {self.event}."
        )


def collisions(automations) -> list[Collision]:
    """Per object and event, the active automations that act: two writing the same field, or one
    writing a field another reads (its filter or condition)."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for automation in automations:
        if automation.active and automation.object:
            for event in automation.events:
                groups[(automation.object, event)].append(automation)
    found: list[Collision] = []
    for (obj, event), members in sorted(groups.items()):
        writers: dict[str, list[str]] = defaultdict(list)
        readers: dict[str, list[str]] = defaultdict(list)
        for automation in members:
            for name in automation.writes:
                writers[name].append(automation.external_id)
            for name in automation.reads:
                readers[name].append(automation.external_id)
        both: dict[tuple[str, str], set[str]] = defaultdict(set)
        feeds: dict[tuple[str, str], set[str]] = defaultdict(set)
        for name, ids in writers.items():
            unique = sorted(set(ids))
            for index, first in enumerate(unique):
                for second in unique[index + 1 :]:
                    both[(first, second)].add(name)
            for writer in unique:
                for reader in sorted(set(readers.get(name, ()))):
                    if reader != writer:
                        feeds[(writer, reader)].add(name)
        found += [Collision(obj, event, a, b, tuple(sorted(f)), "both write") for (a, b), f in sorted(both.items())]
        found += [
            Collision(obj, event, a, b, tuple(sorted(f)), "writes what the other reads")
            for (a, b), f in sorted(feeds.items())
        ]
    return found


# --- blast radius ----------------------------------------------------------------------------


@dataclass
class BlastRadius:
    automations: list[tuple[str, int, tuple[str, ...]]] = field(default_factory=list)  # id, hops, via fields
    fields: list[str] = field(default_factory=list)
    reporting_critical: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (
            f"This change touches {len(self.automations)} other automation{'s' if len(self.automations) != 1 else ''} "
            f"and {len(self.reporting_critical)} reporting-critical field"
            f"{'s' if len(self.reporting_critical) != 1 else ''}."
        )


def blast_radius(automations, *, start_automation: str | None = None, start_field: str | None = None) -> BlastRadius:
    """What reads what it writes, transitively: from an automation (its writes) or from a field
    (the automations reading it, then onwards)."""
    automations = list(automations)
    by_id = {a.external_id: a for a in automations}
    readers: dict[str, set[str]] = defaultdict(set)
    for automation in automations:
        for name in automation.reads:
            readers[name.lower()].add(automation.external_id)
    touched: set[str] = set()
    reached: dict[str, tuple[int, tuple[str, ...]]] = {}
    queue: deque[tuple[str, int]] = deque()
    if start_automation and start_automation in by_id:
        queue.append((start_automation, 0))
        reached[start_automation] = (0, ())
    elif start_field:
        touched.add(start_field)
        for reader in sorted(readers.get(start_field.lower(), ())):
            reached[reader] = (1, (start_field,))
            queue.append((reader, 1))
    while queue:
        current, hops = queue.popleft()
        for name in by_id[current].writes:
            touched.add(name)
            for reader in sorted(readers.get(name.lower(), ())):
                if reader not in reached:
                    reached[reader] = (hops + 1, (name,))
                    queue.append((reader, hops + 1))
    reached.pop(start_automation, None)
    result = BlastRadius(
        automations=sorted(((k, hops, via) for k, (hops, via) in reached.items()), key=lambda r: (r[1], r[0])),
        fields=sorted(touched),
    )
    result.reporting_critical = reporting_critical_among(result.fields)
    return result


def reporting_critical_among(names) -> list[str]:
    pairs = [name.split(".", 1) for name in names if "." in name]
    if not pairs:
        return []
    wanted = {(obj.lower(), api.lower()) for obj, api in pairs}
    objects = {obj for obj, _ in pairs}
    critical = DataField.objects.filter(reporting_critical=True, object_name__in=objects).values_list(
        "object_name", "api_name"
    )
    return sorted(f"{obj}.{api}" for obj, api in critical if (obj.lower(), api.lower()) in wanted)


def blast_radius_for(automation: Automation) -> BlastRadius | None:
    """The blast radius of a registry automation in its system's latest snapshot (None when the
    CRM has not been imported or does not hold it). For the automation page and the packet."""
    if not automation.external_id:
        return None
    snapshot = latest_snapshot(system=automation.system)
    if snapshot is None:
        return None
    rows = list(automations_in(snapshot))
    if not any(row.external_id == automation.external_id for row in rows):
        return None
    return blast_radius(rows, start_automation=automation.external_id)


def blast_radius_for_field(data_field: DataField, *, system: str) -> BlastRadius | None:
    snapshot = latest_snapshot(system=system)
    if snapshot is None:
        return None
    return blast_radius(automations_in(snapshot), start_field=data_field.qualified_name)


def field_blast_radius(data_field: DataField) -> tuple[MetadataSnapshot, BlastRadius] | None:
    """The field's blast radius in the latest import of its source-of-truth system, else of the
    first imported system where something reads it (the data field page)."""
    snapshots = sorted(latest_snapshots(), key=lambda s: s.system != data_field.source_of_truth)
    for snapshot in snapshots:
        radius = blast_radius(automations_in(snapshot), start_field=data_field.qualified_name)
        if radius.automations or snapshot.system == data_field.source_of_truth:
            return snapshot, radius
    return None


def field_impact_automation_ids(data_fields) -> set[int]:
    """The registry automations a change of these fields touches in the CRM: the blast radius of
    each field in every system's latest import, as registry ids (registry.extensions.field_impact,
    so a change event about a field flags exactly these besides those registered as using it)."""
    names = [f.qualified_name for f in data_fields]
    ids: set[int] = set()
    for snapshot in latest_snapshots() if names else []:
        rows = list(automations_in(snapshot))
        reached = {eid for name in names for eid, _hops, _via in blast_radius(rows, start_field=name).automations}
        if reached:
            ids |= set(
                Automation.objects.filter(system=snapshot.system, external_id__in=reached).values_list("pk", flat=True)
            )
    return ids


def crm_state(automation: Automation) -> dict | None:
    """What the CRM says of a linked automation: its latest version, the snapshot where it last
    changed, the fields it really reads and writes against those registered."""
    if not automation.external_id:
        return None
    snapshot = latest_snapshot(system=automation.system)
    if snapshot is None:
        return None
    version = automations_in(snapshot).filter(external_id=automation.external_id).first()
    if version is None:
        return {"snapshot": snapshot, "version": None}
    registered = {field.qualified_name.lower() for field in automation.data_fields.all()}
    used = sorted(set(version.reads) | set(version.writes))
    reads = {name.lower() for name in version.reads}
    writes = {name.lower() for name in version.writes}
    names = {name.lower(): name for name in used}
    for data_field in automation.data_fields.all():
        names.setdefault(data_field.qualified_name.lower(), data_field.qualified_name)
    comparison = [
        {
            "name": names[low],
            "registered": low in registered,
            "reads": low in reads,
            "writes": low in writes,
            "differs": (low in registered) != (low in reads or low in writes),
        }
        for low in sorted(names)
    ]
    return {
        "comparison": comparison,
        "snapshot": snapshot,
        "version": version,
        "changed_in": version.first_snapshot_id,
        "not_registered": [name for name in used if name.lower() not in registered],
        "registered_not_used": sorted(
            f.qualified_name
            for f in automation.data_fields.all()
            if f.qualified_name.lower() not in {u.lower() for u in used}
        ),
    }


def field_changes_since_previous(*, system: str) -> list[tuple[str, str, object, object]]:
    """Fields deleted or changed type in the system's latest import (for the health monitor
    "broke after a field change", which learns of it without a change event)."""
    snapshot = latest_snapshot(system=system)
    if snapshot is None:
        return []
    rows = field_diff(previous_snapshot(snapshot), snapshot)
    return [
        row for row in rows if row[1] == Change.REMOVED or (row[1] == Change.CHANGED and row[2].type != row[3].type)
    ]


def findings(*, snapshot: MetadataSnapshot | None = None, automation: Automation | None = None) -> QuerySet[Finding]:
    queryset = Finding.objects.select_related("automation", "recipient", "snapshot")
    if snapshot is not None:
        queryset = queryset.filter(snapshot=snapshot)
    if automation is not None:
        queryset = queryset.filter(automation=automation)
    return queryset


def undocumented_count(*, system: str | None = None) -> int:
    """Registry records that entered as discovered and nobody adopted yet (against the standard)."""
    queryset = Automation.objects.filter(status="discovered")
    return (queryset.filter(system=system) if system else queryset).count()


def link_suggestions(version: SnapshotAutomation, *, limit: int = 5) -> list[tuple[Automation, float]]:
    """Registry automations of the same system with no CRM link yet, most alike first (name, and
    the object named in their trigger or record changed)."""
    candidates = Automation.objects.filter(system=version.system).exclude(
        external_id__in=SnapshotAutomation.objects.filter(system=version.system).values("external_id")
    )
    scored = []
    for candidate in candidates.only("key", "name", "trigger", "record_changed", "external_id")[:500]:
        score = difflib.SequenceMatcher(None, candidate.name.lower(), version.name.lower()).ratio()
        if version.object and version.object.lower() in f"{candidate.trigger} {candidate.record_changed}".lower():
            score += 0.5
        scored.append((candidate, round(score, 2)))
    return sorted(scored, key=lambda item: -item[1])[:limit]


# --- drift: what the CRM runs against what the registry approved ------------------------------
# One function per rule; the import reports them on its snapshot (discovery's own Finding rows)
# and the health monitor "CRM drift" (health.monitors) raises its findings and holds from them.


@dataclass(frozen=True)
class Drift:
    kind: str  # discovery.models.FindingKind
    external_id: str
    automation: Automation
    message: str
    evidence: str  # the definition diff, or the facts compared
    snapshot: MetadataSnapshot

    @property
    def high_tier(self) -> bool:
        return self.automation.risk_tier_rank == 3


def approved_at(automation_ids) -> dict[int, object]:
    """When each automation last moved to approved (its packet's approval; registry LifecycleMove)."""
    rows = (
        LifecycleMove.objects.filter(automation_id__in=list(automation_ids), to_status=LifecycleStatus.APPROVED)
        .order_by()
        .values("automation_id")
        .annotate(last=Max("created_at"))
        .values_list("automation_id", "last")
    )
    return dict(rows)


def approved_version(versions: list[SnapshotAutomation], approved) -> SnapshotAutomation:
    """The CRM version its approval covered: the one current in the last snapshot taken before
    the approval, else (approved before any import, or no approval recorded) the first one seen."""
    before = [v for v in versions if approved is not None and v.first_snapshot.created_at <= approved]
    return before[-1] if before else versions[0]


def drift(snapshot: MetadataSnapshot) -> list[Drift]:
    """Every drift between the registry and the CRM as the snapshot shows it: changed since
    approval, active while paused or retired, live but inactive or missing, and collisions with a
    high-tier automation. A query per rule; the evidence of each is in the row."""
    current = {v.external_id: v for v in automations_in(snapshot)}
    records = list(
        Automation.objects.filter(system=snapshot.system)
        .filter(Q(external_id__in=list(current)) | Q(status=LifecycleStatus.LIVE))
        .exclude(external_id="")
        .select_related("system_owner")
    )
    found = [
        *definition_changed_since_approval(snapshot, current, records),
        *status_disagreements(snapshot, current, records),
        *high_tier_collisions(snapshot, current, records),
    ]
    return sorted(found, key=lambda d: (d.external_id, d.kind))


def definition_changed_since_approval(snapshot, current, records) -> list[Drift]:
    approved = [r for r in records if r.status in APPROVED_STATUSES and r.external_id in current]
    if not approved:
        return []
    history: dict[str, list[SnapshotAutomation]] = defaultdict(list)
    for version in (
        SnapshotAutomation.objects.filter(
            system=snapshot.system,
            external_id__in=[r.external_id for r in approved],
            first_snapshot_id__lte=snapshot.pk,
        )
        .select_related("first_snapshot")
        .order_by("first_snapshot_id")
    ):
        history[version.external_id].append(version)
    when = approved_at(r.pk for r in approved)
    found = []
    for record in approved:
        now = current[record.external_id]
        base = approved_version(history[record.external_id], when.get(record.pk))
        if base.content_hash == now.content_hash:
            continue
        high = record.risk_tier_rank == 3
        found.append(
            Drift(
                FindingKind.DEFINITION_CHANGED,
                record.external_id,
                record,
                f"{record.external_id} changed in the CRM since it was approved ({record.get_status_display()}): "
                f"snapshot #{base.first_snapshot_id} → #{now.first_snapshot_id}; "
                + ("high tier: held until re-approved." if high else "review due."),
                definition_diff(base.definition, now.definition),
                snapshot,
            )
        )
    return found


def status_disagreements(snapshot, current, records) -> list[Drift]:
    found = []
    for record in records:
        crm = current.get(record.external_id)
        if crm is not None and crm.active and record.status in (LifecycleStatus.PAUSED, LifecycleStatus.RETIRED):
            found.append(
                Drift(
                    FindingKind.ACTIVE_WHILE_PAUSED,
                    record.external_id,
                    record,
                    f"{record.external_id} is active in the CRM while the registry says "
                    f"{record.get_status_display().lower()}.",
                    f"registry status: {record.status}\nCRM (snapshot #{snapshot.pk}): active",
                    snapshot,
                )
            )
        if record.status == LifecycleStatus.LIVE and (crm is None or not crm.active):
            if crm is None and not record.external_id.startswith(KNOWN_PREFIXES):
                continue
            state = "missing" if crm is None else "inactive"
            found.append(
                Drift(
                    FindingKind.INACTIVE_WHILE_LIVE,
                    record.external_id,
                    record,
                    f"The registry says {record.external_id} is live, but the CRM has it {state}.",
                    f"registry status: live\nCRM (snapshot #{snapshot.pk}): {state}",
                    snapshot,
                )
            )
    return found


def high_tier_collisions(snapshot, current, records) -> list[Drift]:
    by_id = {r.external_id: r for r in records if r.external_id in current}
    found = []
    for collision in collisions(current.values()):
        for external_id in (collision.first, collision.second):
            record = by_id.get(external_id)
            if record is not None and record.risk_tier_rank == 3:
                other = collision.second if external_id == collision.first else collision.first
                found.append(
                    Drift(
                        FindingKind.COLLISION,
                        external_id,
                        record,
                        collision.message,
                        f"{collision.object} {collision.event}: {', '.join(collision.fields)} "
                        f"({collision.reason}; with {other})",
                        snapshot,
                    )
                )
    return found


@dataclass(frozen=True)
class FieldBreak:
    external_id: str
    changes: tuple[str, ...]  # "Obj.Field: deleted", "Obj.Field: type Text → Number"
    snapshot: MetadataSnapshot


def field_breaks(snapshot: MetadataSnapshot, *, previous: MetadataSnapshot | None = None) -> list[FieldBreak]:
    """The automations of the snapshot reading or writing a field deleted or changed in type
    since the previous snapshot of the system (the rule "a field it uses broke")."""
    previous = previous if previous is not None else previous_snapshot(snapshot)
    if previous is None:
        return []
    broken = {}
    for name, change, before, after in field_diff(previous, snapshot):
        if change == Change.REMOVED:
            broken[name.lower()] = f"{name}: deleted"
        elif change == Change.CHANGED and before.type != after.type:
            broken[name.lower()] = f"{name}: type {before.type} → {after.type}"
    if not broken:
        return []
    found = []
    for version in automations_in(snapshot):
        hits = sorted({broken[n.lower()] for n in (*version.reads, *version.writes) if n.lower() in broken})
        if hits:
            found.append(FieldBreak(version.external_id, tuple(hits), snapshot))
    return found


def latest_snapshots() -> list[MetadataSnapshot]:
    """Each system's latest finished import."""
    ids = (
        MetadataSnapshot.objects.filter(status=SnapshotStatus.DONE)
        .order_by()
        .values("system")
        .annotate(last=Max("pk"))
        .values_list("last", flat=True)
    )
    return list(MetadataSnapshot.objects.filter(pk__in=list(ids)).order_by("system"))


def current_drift() -> list[Drift]:
    """Drift in every system's latest import (for the health monitor)."""
    return [d for snapshot in latest_snapshots() for d in drift(snapshot)]


def recent_field_breaks(*, since) -> list[tuple[int, object, str, str]]:
    """(registry automation id, when, label, link) for each linked automation a field change
    broke in a system's latest import taken since `since`: the "broke after a field change"
    monitor learns of these without a change event."""
    out = []
    for snapshot in latest_snapshots():
        if snapshot.created_at < since:
            continue
        breaks = field_breaks(snapshot)
        ids = dict(
            Automation.objects.filter(
                system=snapshot.system, external_id__in=[b.external_id for b in breaks]
            ).values_list("external_id", "pk")
        )
        for item in breaks:
            if item.external_id in ids:
                out.append(
                    (
                        ids[item.external_id],
                        snapshot.created_at,
                        f"field change in the CRM ({'; '.join(item.changes)}, snapshot #{snapshot.pk})",
                        snapshot.get_absolute_url(),
                    )
                )
    return out
