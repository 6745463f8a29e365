"""Reads of what imports found, for the pages, the API, the command and other apps (a health
monitor, the approval packet): snapshots, their diff, collisions and blast radius.

Collisions and blast radius are computed from any objects with external_id, object, events,
active, reads and writes (parsed automations or stored versions), so the import can use them
before anything is stored."""

from __future__ import annotations

import difflib
from collections import defaultdict, deque
from dataclasses import dataclass, field

from django.db.models import QuerySet

from registry.models import Automation, DataField

from .models import Change, Finding, MetadataSnapshot, SnapshotAutomation, SnapshotField, SnapshotStatus


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
