"""The metadata import (issue 17) next to its floor, in one run: a generated Salesforce DX
project of 2,000 record-triggered flows and 20,000 custom fields (20 objects) zipped into a temp
dir, imported through `discovery.services.metadata_import` (parse from the streamed zip, store
the snapshot, enter the undocumented flows as discovered, the data dictionary) against reading the
same zip members with lxml alone (`etree.fromstring` on each). Goal: the import runs at ≥ 25 % of
the lxml floor's speed. Memory: tracemalloc's peak during the import of the full org and of a
quarter of it (the zip is streamed member by member; what grows is the parsed result, not the
archive)."""

import datetime
import os
import platform
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

from bench.common import setup

FLOWS = int(os.environ.get("BENCH_DISCOVERY_FLOWS", "2000"))
FIELDS = int(os.environ.get("BENCH_DISCOVERY_FIELDS", "20000"))
OBJECTS = 20
NS = "http://soap.sforce.com/2006/04/metadata"
GOAL = 0.25


def flow_xml(i: int, obj: str, per_object: int) -> str:
    a, b = i % per_object, (i * 7 + 3) % per_object
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Flow xmlns="{NS}">
    <apiVersion>60.0</apiVersion>
    <label>Bench flow {i}</label>
    <processType>AutoLaunchedFlow</processType>
    <status>Active</status>
    <start>
        <locationX>50</locationX>
        <locationY>0</locationY>
        <object>{obj}</object>
        <recordTriggerType>Update</recordTriggerType>
        <triggerType>RecordAfterSave</triggerType>
        <filterLogic>and</filterLogic>
        <filters>
            <field>Field_{a}__c</field>
            <operator>IsChanged</operator>
            <value><booleanValue>true</booleanValue></value>
        </filters>
        <connector><targetReference>Update_It</targetReference></connector>
    </start>
    <recordUpdates>
        <name>Update_It</name>
        <label>Update it</label>
        <locationX>176</locationX>
        <locationY>335</locationY>
        <inputAssignments>
            <field>Field_{b}__c</field>
            <value><stringValue>bench {i}</stringValue></value>
        </inputAssignments>
        <inputReference>$Record</inputReference>
    </recordUpdates>
</Flow>
"""


def field_xml(j: int) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<CustomField xmlns="{NS}">
    <fullName>Field_{j}__c</fullName>
    <description>Bench field {j}.</description>
    <label>Field {j}</label>
    <length>80</length>
    <required>false</required>
    <type>Text</type>
</CustomField>
"""


def generate(folder: Path, *, flows: int, fields: int) -> Path:
    """A DX project zip, written member by member."""
    per_object = fields // OBJECTS
    archive = folder / f"org-{flows}-{fields}.zip"
    base = "force-app/main/default"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sfdx-project.json", '{"packageDirectories": [{"path": "force-app", "default": true}]}')
        for k in range(OBJECTS):
            obj = f"Bench_{k}__c"
            zf.writestr(
                f"{base}/objects/{obj}/{obj}.object-meta.xml",
                f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<CustomObject xmlns="{NS}"><label>Bench {k}</label></CustomObject>\n',
            )
            for j in range(per_object):
                zf.writestr(f"{base}/objects/{obj}/fields/Field_{j}__c.field-meta.xml", field_xml(j))
        for i in range(flows):
            flow = flow_xml(i, f"Bench_{i % OBJECTS}__c", per_object)
            zf.writestr(f"{base}/flows/Bench_Flow_{i}.flow-meta.xml", flow)
    return archive


def lxml_floor(archive: Path) -> float:
    from lxml import etree

    start = time.perf_counter()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.filename.endswith(".xml"):
                etree.fromstring(zf.read(info))
    return time.perf_counter() - start


def reset() -> None:
    from discovery.models import DataFieldSource, Finding, MetadataSnapshot, SnapshotAutomation, SnapshotField
    from registry.models import Automation, DataField

    Finding.objects.all().delete()
    SnapshotAutomation.objects.all().delete()
    SnapshotField.objects.all().delete()
    DataFieldSource.objects.all().delete()
    MetadataSnapshot.objects.all().delete()
    Automation.history.filter(external_id__startswith="Flow:Bench_Flow_").delete()
    Automation.objects.filter(external_id__startswith="Flow:Bench_Flow_").delete()
    DataField.objects.filter(object_name__startswith="Bench_").delete()


def timed_import(archive: Path, *, trace: bool = False) -> tuple[float, int]:
    """(seconds, tracemalloc peak bytes or 0). Time and memory come from separate runs: tracing
    every allocation slows the import several-fold."""
    from discovery import services

    reset()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    result = services.metadata_import(system="salesforce", path=archive, by=None)
    elapsed = time.perf_counter() - start
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert result.automations
    return elapsed, peak


def main() -> str:
    setup()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        full = generate(folder, flows=FLOWS, fields=FIELDS)
        quarter = generate(folder, flows=FLOWS // 4, fields=FIELDS // 4)
        floor = min(lxml_floor(full) for _ in range(3))
        floor_quarter = lxml_floor(quarter)
        _t, peak_q = timed_import(quarter, trace=True)
        _t, peak = timed_import(full, trace=True)
        elapsed_q, _m = timed_import(quarter)
        elapsed, _m = timed_import(full)
        from discovery import services

        start = time.perf_counter()
        again = services.metadata_import(system="salesforce", path=full, by=None)
        reimport = time.perf_counter() - start
        assert {a["change"] for a in again.automations} == {"unchanged"}
        size = full.stat().st_size
    ratio = floor / elapsed
    verdict = "pass" if ratio >= GOAL else "FAIL"
    mb = 1024 * 1024
    return "\n".join(
        [
            f"## Discovery: metadata import ({datetime.date.today().isoformat()}, {platform.node()})",
            "",
            f"Generated DX org: {FLOWS} flows, {FIELDS} fields, {OBJECTS} objects, zip {size / mb:.1f} MB.",
            "",
            "| measure | time | floor (lxml alone, same files) | ratio (floor / import) | goal |",
            "|---|---|---|---|---|",
            f"| first import | {elapsed:.2f} s | {floor:.2f} s | {ratio:.0%} | ≥ {GOAL:.0%}: **{verdict}** |",
            f"| re-import, all unchanged | {reimport:.2f} s | {floor:.2f} s | {floor / reimport:.0%} | — |",
            f"| first import, a quarter of the org | {elapsed_q:.2f} s | {floor_quarter:.2f} s | "
            f"{floor_quarter / elapsed_q:.0%} | — |",
            "",
            f"Peak Python memory (tracemalloc) during the import: {peak / mb:.0f} MB for the full org, "
            f"{peak_q / mb:.0f} MB for a quarter ({peak / max(peak_q, 1):.1f}× for 4× the files; the zip is "
            "streamed, what grows is the parsed result and the rows written).",
        ]
    )


if __name__ == "__main__":
    print(main())
