"""Plain data every parser returns, the one error they raise, and the guarded readers of untrusted
input (a folder, or a .zip streamed member by member; XML with entities and DTDs refused).

Nothing here touches Django: parsers are pure functions from files to these dataclasses."""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as _defused_fromstring


class MetadataError(Exception):
    """Bad input: the file it is about (relative to what was imported), the line when known."""

    def __init__(self, file: str, message: str, line: int | None = None):
        self.file = file
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        return f"{where}: {self.message}" if where else self.message


class ArchiveTooLarge(MetadataError):
    """Over a size cap (the API answers 413)."""


@dataclass(frozen=True)
class Limits:
    """Caps on what one import may read (zip bombs, runaway folders)."""

    max_archive_bytes: int = 200 * 1024 * 1024
    max_files: int = 100_000
    max_unpacked_bytes: int = 1024 * 1024 * 1024
    max_file_bytes: int = 25 * 1024 * 1024


@dataclass
class CrmAutomation:
    external_id: str
    kind: str
    name: str
    object: str | None
    events: list[str]
    active: bool
    reads: list[str]
    writes: list[str]
    actions: list[str]
    definition: str  # normalized definition, one "path = value" line each (what the diff shows)
    source_file: str = ""
    details: dict = field(default_factory=dict)

    @property
    def definition_hash(self) -> str:
        return content_hash(self.definition)


@dataclass
class CrmField:
    name: str  # Object.Field
    object: str
    api_name: str
    type: str
    label: str
    description: str = ""
    required: bool = False
    picklist_values: list[str] = field(default_factory=list)
    reference_to: list[str] = field(default_factory=list)
    formula: str = ""
    source_file: str = ""

    @property
    def definition(self) -> str:
        lines = [
            f"type = {self.type}",
            f"label = {self.label}",
            f"description = {self.description}",
            f"required = {self.required}",
            f"referenceTo = {', '.join(self.reference_to)}",
            f"formula = {self.formula}",
            *(f"picklist value = {value}" for value in self.picklist_values),
        ]
        return "\n".join(lines)

    @property
    def definition_hash(self) -> str:
        return content_hash(self.definition)


@dataclass
class ParsedMetadata:
    automations: list[CrmAutomation] = field(default_factory=list)
    fields: list[CrmField] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files_read: int = 0


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def unique_sorted(values) -> list[str]:
    return sorted({value for value in values if value})


# --- XML ------------------------------------------------------------------------------------


def parse_xml(data: bytes, file: str) -> Element:
    """The root element, namespaces stripped from every tag. Entity declarations, external
    entities and DTDs are refused (a billion-laughs file never expands)."""
    try:
        root = _defused_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise MetadataError(file, f"refused: the XML declares a DTD or entities ({type(exc).__name__})") from exc
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise MetadataError(file, f"not well-formed XML ({exc.msg if hasattr(exc, 'msg') else exc})", line) from exc
    except (ValueError, RecursionError) as exc:
        raise MetadataError(file, f"unreadable XML ({exc})") from exc
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str) and tag[:1] == "{":
            element.tag = tag.rsplit("}", 1)[1]
    return root


def text(element: Element | None, tag: str, default: str = "") -> str:
    if element is None:
        return default
    child = element.find(tag)
    if child is None or child.text is None:
        return default
    return child.text.strip()


def is_true(value: str) -> bool:
    return value.strip().lower() == "true"


LAYOUT_TAGS = frozenset({"locationX", "locationY"})


def flatten(element: Element, prefix: str = "") -> list[str]:
    """The element as sorted "path = value" lines: a stable, diff-friendly normal form. Layout
    (canvas positions) is left out; a repeated child is keyed by its <name> or <fullName>."""
    lines: list[str] = []
    counts: dict[str, int] = {}
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if not tag or tag in LAYOUT_TAGS:
            continue
        key = text(child, "name") or text(child, "fullName")
        if key:
            label = f"{tag}[{key}]"
        else:
            index = counts.get(tag, 0)
            counts[tag] = index + 1
            label = f"{tag}[{index}]" if len(child) else tag
        path = f"{prefix}.{label}" if prefix else label
        if len(child):
            lines.extend(flatten(child, path))
        else:
            value = " ".join((child.text or "").split())
            lines.append(f"{path} = {value}")
    return lines if prefix else sorted(lines)


# --- sources: a folder or a zip ----------------------------------------------------------------


@dataclass
class SourceFile:
    path: str  # relative, with forward slashes
    _reader: object

    def read(self) -> bytes:
        return self._reader()


class Source:
    """The files of one import, read lazily one at a time."""

    def __init__(self, root: Path, limits: Limits):
        self.root = root
        self.limits = limits
        self._zip: zipfile.ZipFile | None = None
        self._unpacked = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._zip is not None:
            self._zip.close()

    def files(self) -> list[SourceFile]:
        if self.root.is_dir():
            return self._folder_files()
        if zipfile.is_zipfile(self.root):
            return self._zip_files()
        if self.root.suffix.lower() == ".zip" or self._starts_like_zip():
            raise MetadataError(self.root.name, "not a readable zip archive (truncated or corrupt)")
        return [SourceFile(self.root.name, lambda: self._read_plain(self.root, self.root.name))]

    def _starts_like_zip(self) -> bool:
        try:
            with self.root.open("rb") as handle:
                return handle.read(2) == b"PK"
        except OSError:
            return False

    # folder
    def _folder_files(self) -> list[SourceFile]:
        root = self.root.resolve()
        found: list[SourceFile] = []
        for directory, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in NOISE_FOLDERS)
            for filename in sorted(filenames):
                if is_noise(filename):
                    continue
                full = Path(directory) / filename
                relative = full.relative_to(root).as_posix()
                if full.is_symlink():
                    target = full.resolve()
                    if not target.is_relative_to(root):
                        raise MetadataError(relative, "refused: a link to a file outside the folder")
                found.append(
                    SourceFile(relative, lambda full=full, relative=relative: self._read_plain(full, relative))
                )
                if len(found) > self.limits.max_files:
                    raise ArchiveTooLarge("", f"more than {self.limits.max_files} files")
        return found

    def _read_plain(self, full: Path, relative: str) -> bytes:
        try:
            size = full.stat().st_size
            if size > self.limits.max_file_bytes:
                raise ArchiveTooLarge(relative, f"larger than {self.limits.max_file_bytes} bytes")
            self._count(size, relative)
            return full.read_bytes()
        except OSError as exc:
            raise MetadataError(relative, f"cannot be read ({exc.strerror or exc})") from exc

    def _count(self, size: int, relative: str) -> None:
        self._unpacked += size
        if self._unpacked > self.limits.max_unpacked_bytes:
            raise ArchiveTooLarge(relative, f"the files add up to more than {self.limits.max_unpacked_bytes} bytes")

    # zip
    def _zip_files(self) -> list[SourceFile]:
        name = self.root.name
        if self.root.stat().st_size > self.limits.max_archive_bytes:
            raise ArchiveTooLarge(name, f"the archive is larger than {self.limits.max_archive_bytes} bytes")
        try:
            self._zip = zipfile.ZipFile(self.root)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise MetadataError(name, f"not a readable zip archive ({exc})") from exc
        members = [info for info in infos if not info.is_dir()]
        if len(members) > self.limits.max_files:
            raise ArchiveTooLarge(name, f"the archive holds more than {self.limits.max_files} files")
        declared = 0
        found: list[SourceFile] = []
        for info in members:
            relative = safe_member_name(info.filename)
            if relative is None:
                raise MetadataError(info.filename, "refused: the path leaves the archive's folder")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise MetadataError(info.filename, "refused: a symbolic link inside the archive")
            if any(part.startswith(".") or part in NOISE_FOLDERS for part in relative.split("/")[:-1]) or is_noise(
                relative.rsplit("/", 1)[-1]
            ):
                continue  # tool folders (.sfdx, node_modules) and macOS resource forks (__MACOSX, ._x)
            declared += info.file_size
            if declared > self.limits.max_unpacked_bytes:
                raise ArchiveTooLarge(name, f"the archive unpacks to more than {self.limits.max_unpacked_bytes} bytes")
            found.append(SourceFile(relative, lambda info=info, relative=relative: self._read_member(info, relative)))
        return sorted(found, key=lambda f: f.path)

    def _read_member(self, info: zipfile.ZipInfo, relative: str) -> bytes:
        cap = min(info.file_size, self.limits.max_file_bytes)
        if info.file_size > self.limits.max_file_bytes:
            raise ArchiveTooLarge(relative, f"larger than {self.limits.max_file_bytes} bytes unpacked")
        # zipfile raises NotImplementedError for a compression method it does not support (e.g.
        # deflate64): a file we cannot read, named to the user like a corrupt one.
        try:
            with self._zip.open(info) as handle:
                data = handle.read(cap + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise MetadataError(relative, f"cannot be unpacked ({exc})") from exc
        if len(data) > cap:
            # More bytes than the header declared: a forged size.
            raise ArchiveTooLarge(relative, "unpacks to more than its declared size")
        self._count(len(data), relative)
        return data


NOISE_FOLDERS = frozenset({"node_modules", "__MACOSX"})


def is_noise(filename: str) -> bool:
    """A file no CRM wrote: macOS resource forks ("._Foo.flow-meta.xml" holds binary, not XML)."""
    return filename.startswith("._") or filename == ".DS_Store"


def safe_member_name(name: str) -> str | None:
    """A zip member's path, or None when it is absolute or climbs out with '..'."""
    if "\x00" in name:
        return None
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return None
    parts = PurePosixPath(normalized).parts
    if any(part == ".." for part in parts):
        return None
    cleaned = [part for part in parts if part not in ("", ".")]
    return "/".join(cleaned) if cleaned else None
