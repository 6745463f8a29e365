"""Paths and builders of test inputs shared by the discovery tests (no database)."""

import shutil
import zipfile
from pathlib import Path

DREAMHOUSE = Path(__file__).resolve().parents[3] / "shared" / "samples" / "salesforce" / "dreamhouse"
if not DREAMHOUSE.exists():  # a worktree elsewhere: the samples live beside the main checkout
    DREAMHOUSE = Path("/work/shared/samples/salesforce/dreamhouse")
HUBSPOT = Path(__file__).resolve().parent / "fixtures" / "hubspot"

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Flow xmlns="http://soap.sforce.com/2006/04/metadata"><label>&lol4;</label><status>Active</status></Flow>
"""

# The edit the acceptance names: one filter of a flow changed (Duplicate_Email's lookup filter).
FILTER_BEFORE = b"<field>Email</field>"
FILTER_AFTER = b"<field>Secondary_Email__c</field>"


def copy_dreamhouse(target: Path) -> Path:
    shutil.copytree(DREAMHOUSE, target)
    return target


def edit_flow_filter(project: Path) -> Path:
    flow = project / "force-app/main/default/flows/Duplicate_Email.flow-meta.xml"
    data = flow.read_bytes()
    assert FILTER_BEFORE in data
    flow.write_bytes(data.replace(FILTER_BEFORE, FILTER_AFTER, 1))
    return flow


def zip_folder(folder: Path, archive: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return archive


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path
