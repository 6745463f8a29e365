"""Salesforce metadata: a DX project (source format), a folder in metadata retrieve format, or a
.zip of either. Reads flows (and Process Builder processes), workflow rules, validation rules,
approval processes, Apex trigger headers and custom fields. Unknown files and elements are
skipped; a file that cannot be read or parsed raises MetadataError naming it."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from .base import (
    CrmAutomation,
    CrmField,
    Limits,
    MetadataError,
    ParsedMetadata,
    Source,
    SourceFile,
    flatten,
    is_true,
    parse_xml,
    text,
    unique_sorted,
)
from .formula import formula_references, merge_fields

# kind of file by its name's ending (source format first, then retrieve format)
SUFFIXES = (
    (".field-meta.xml", "field"),
    (".object-meta.xml", "object"),
    (".object", "object"),
    (".flowDefinition-meta.xml", "flowdefinition"),
    (".flowDefinition", "flowdefinition"),
    (".workflow-meta.xml", "workflow"),
    (".workflow", "workflow"),
    (".trigger-meta.xml", "triggermeta"),
    (".flow-meta.xml", "flow"),
    (".flow", "flow"),
    (".validationRule-meta.xml", "validationrule"),
    (".approvalProcess-meta.xml", "approval"),
    (".approvalProcess", "approval"),
    (".trigger", "trigger"),
)
# What other files need is read first: fields (relationship targets), flow definitions (old
# activation), workflows (field updates for approvals), trigger status.
PHASES = {
    "field": 0,
    "object": 0,
    "flowdefinition": 1,
    "workflow": 1,
    "triggermeta": 1,
    "flow": 2,
    "validationrule": 2,
    "approval": 2,
    "trigger": 2,
}
PROCESS_BUILDER_TYPES = frozenset({"Workflow", "CustomEvent", "InvocableProcess"})

STANDARD_OBJECTS = frozenset(
    """Account Asset Campaign CampaignMember Case Contact ContentDocument ContentDocumentLink ContentVersion
    Contract Entitlement Event Group Individual Lead Opportunity OpportunityLineItem Order OrderItem
    Pricebook2 PricebookEntry Product2 Quote QuoteLineItem RecordType ServiceContract Task User UserRole
    WorkOrder Profile Organization""".split()
)
# standard relationship name -> (its id field, the object it points to; None = the same object)
STANDARD_RELATIONSHIPS = {
    "owner": ("OwnerId", "User"),
    "createdby": ("CreatedById", "User"),
    "lastmodifiedby": ("LastModifiedById", "User"),
    "parent": ("ParentId", None),
    "masterrecord": ("MasterRecordId", None),
    "manager": ("ManagerId", "User"),
    "reportsto": ("ReportsToId", "Contact"),
    "recordtype": ("RecordTypeId", "RecordType"),
    "pricebook2": ("Pricebook2Id", "Pricebook2"),
    "product2": ("Product2Id", "Product2"),
    "userrole": ("UserRoleId", "UserRole"),
    "profile": ("ProfileId", "Profile"),
    "convertedaccount": ("ConvertedAccountId", "Account"),
    "convertedcontact": ("ConvertedContactId", "Contact"),
    "convertedopportunity": ("ConvertedOpportunityId", "Opportunity"),
}

RECORD_VARIABLE = re.compile(r"\$Record(?:__Prior)?((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
PB_RECORD_VARIABLE = re.compile(r"\bmyVariable_(?:current|old)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
TRIGGER_HEADER = re.compile(
    r"\btrigger\s+([A-Za-z_][A-Za-z0-9_]*)\s+on\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)", re.I | re.S
)
# Before API 44 a retrieve wrote one file per flow version: flows/<ApiName>-<version>.flow (an
# API name cannot hold "-", so the suffix is always the version).
FLOW_VERSION = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)-(?P<version>[0-9]+)$")
APEX_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
TRIGGER_EVENTS = frozenset(
    {
        "before insert",
        "before update",
        "before delete",
        "after insert",
        "after update",
        "after delete",
        "after undelete",
    }
)


def file_kind(path: str) -> str | None:
    name = PurePosixPath(path).name
    for suffix, kind in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return kind
    return None


def strip_suffix(name: str) -> str:
    for suffix, _kind in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def flow_name_version(path: str) -> tuple[str, int | None]:
    """A flow file's API name, and its version when the file name carries one (old retrieves)."""
    name = strip_suffix(PurePosixPath(path).name)
    match = FLOW_VERSION.match(name)
    if match:
        return match["name"], int(match["version"])
    return name, None


def object_from_path(path: str, folder: str) -> str | None:
    """The object a decomposed file belongs to: objects/<Object>/<folder>/<file>."""
    parts = PurePosixPath(path).parts
    if len(parts) >= 3 and parts[-2] == folder:
        return parts[-3]
    return None


# --- the schema: fields known from the metadata, relationship paths ---------------------------


class Schema:
    def __init__(self):
        self.fields: dict[tuple[str, str], CrmField] = {}

    def add(self, crm_field: CrmField) -> None:
        self.fields[(crm_field.object.lower(), crm_field.api_name.lower())] = crm_field

    def field_name(self, obj: str, name: str) -> str:
        known = self.fields.get((obj.lower(), name.lower()))
        return f"{obj}.{known.api_name if known else name}"

    def hop(self, obj: str, relationship: str) -> tuple[str, str]:
        """(the lookup field read on obj, the object it points to) for one relationship name."""
        if relationship.lower().endswith("__r"):
            lookup = relationship[:-3] + "__c"
            known = self.fields.get((obj.lower(), lookup.lower()))
            if known is not None:
                target = known.reference_to[0] if known.reference_to else guess_target(relationship)
                return f"{obj}.{known.api_name}", target
            return f"{obj}.{lookup}", guess_target(relationship)
        known_standard = STANDARD_RELATIONSHIPS.get(relationship.lower())
        if known_standard is not None:
            id_field, target = known_standard
            return f"{obj}.{id_field}", target or obj
        known = self.fields.get((obj.lower(), f"{relationship}id".lower()))
        if known is not None and known.reference_to:
            return f"{obj}.{known.api_name}", known.reference_to[0]
        return f"{obj}.{relationship}Id", relationship

    def record_path(self, obj: str | None, parts: list[str]) -> tuple[list[str], str | None]:
        """A dotted path of relationships only (`$Record.Account`, `Owner.Manager`): the lookup
        fields read on the way, and the object reached."""
        if not obj:
            return [], None
        reads: list[str] = []
        current = obj
        for relationship in parts:
            lookup, current = self.hop(current, relationship)
            reads.append(lookup)
        return reads, current

    def lookup_relationship(self, obj: str, name: str) -> str:
        """The relationship name for what metadata gives as a lookup field or a relationship
        (`AccountId` -> `Account`, `Partner__c` -> `Partner__r`, `Account` stays)."""
        if name.lower().endswith("__c"):
            return name[:-3] + "__r"
        if name.lower().endswith("id") and len(name) > 2 and (obj.lower(), name.lower()) not in self.fields:
            return name[:-2]
        return name

    def resolve(self, obj: str | None, parts: list[str]) -> tuple[list[str], str | None]:
        """A dotted path from obj: the lookup fields read on the way, and the final Object.Field."""
        if not obj or not parts:
            return [], None
        reads: list[str] = []
        current = obj
        for relationship in parts[:-1]:
            lookup, current = self.hop(current, relationship)
            reads.append(lookup)
        return reads, self.field_name(current, parts[-1])


def guess_target(relationship: str) -> str:
    """Where a custom relationship points when its field is not in the metadata: Account__r on
    Order__c is a lookup to the standard Account; Broker__r to the custom Broker__c."""
    base = relationship[:-3]
    bare = base.split("__")[-1] if "__" in base else base
    if bare in STANDARD_OBJECTS:
        return bare
    return base + "__c"


# --- parsing ---------------------------------------------------------------------------------


@dataclass
class _Context:
    schema: Schema = field(default_factory=Schema)
    flow_active_versions: dict[str, int] = field(default_factory=dict)
    field_updates: dict[str, dict[str, Element]] = field(default_factory=lambda: defaultdict(dict))
    trigger_status: dict[str, str] = field(default_factory=dict)
    result: ParsedMetadata = field(default_factory=ParsedMetadata)
    seen_ids: set[str] = field(default_factory=set)
    pending: list = field(default_factory=list)


def parse_salesforce(path: str | Path, limits: Limits | None = None) -> ParsedMetadata:
    """Everything found under path (folder or .zip). Raises MetadataError on bad input."""
    limits = limits or Limits()
    path = Path(path)
    if not path.exists():
        raise MetadataError(str(path), "no such file or folder")
    context = _Context()
    with Source(path, limits) as source:
        files = [(file_kind(f.path), f) for f in source.files()]
        if path.is_file() and files and files[0][0] is None and len(files) == 1:
            raise MetadataError(path.name, "not Salesforce metadata: give a project folder, a .zip or a metadata file")
        wanted = sorted(
            ((kind, f) for kind, f in files if kind is not None), key=lambda item: (PHASES[item[0]], item[1].path)
        )
        flows_chosen, skipped = False, set()
        for kind, source_file in wanted:
            if PHASES[kind] >= 2 and not flows_chosen:
                # every flow definition is read by now: choose one file per versioned flow
                skipped = _superseded_flow_versions(context, wanted)
                flows_chosen = True
            if kind == "flow" and flows_chosen and source_file.path in skipped:
                continue
            data = source_file.read()
            context.result.files_read += 1
            _read_file(context, kind, source_file, data)
        for handler, args in context.pending:
            handler(context, *args)
    context.result.automations.sort(key=lambda a: a.external_id)
    context.result.fields.sort(key=lambda f: f.name)
    return context.result


def _read_file(context: _Context, kind: str, source_file: SourceFile, data: bytes) -> None:
    """One file through its handler. Bad input (MetadataError) stops the import; a construct the
    handler cannot follow in well-formed XML is skipped with a warning, never a traceback."""
    try:
        HANDLERS[kind](context, source_file, data)
    except MetadataError:
        raise
    except RecursionError as exc:
        raise MetadataError(source_file.path, "refused: the XML is nested too deeply") from exc
    except Exception as exc:  # noqa: BLE001 - an unforeseen shape in a real export is skipped, not fatal
        context.result.warnings.append(
            f"{source_file.path}: not understood as {kind} metadata ({type(exc).__name__}: {exc}); skipped"
        )


def _superseded_flow_versions(context: _Context, wanted) -> set[str]:
    """The files of old-style versioned flows (Name-1.flow, Name-2.flow) that are not the one to
    read: the active version named by the flow definition, else the highest version."""
    versions: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for kind, source_file in wanted:
        if kind == "flow":
            name, version = flow_name_version(source_file.path)
            if version is not None:
                versions[name].append((version, source_file.path))
    skipped: set[str] = set()
    for name, files in versions.items():
        active = context.flow_active_versions.get(name, 0)
        chosen = next((path for version, path in files if version == active), None) or max(files)[1]
        skipped.update(path for _version, path in files if path != chosen)
    return skipped


def _add_automation(context: _Context, automation: CrmAutomation) -> None:
    if automation.external_id in context.seen_ids:
        context.result.warnings.append(
            f"{automation.source_file}: {automation.external_id} appears twice; the first one is kept"
        )
        return
    context.seen_ids.add(automation.external_id)
    context.result.automations.append(automation)


# fields and objects


def _custom_field(element: Element, obj: str, file: str) -> CrmField | None:
    api_name = text(element, "fullName")
    if not api_name:
        return None
    if "." in api_name:  # some tools write Object.Field
        api_name = api_name.rsplit(".", 1)[1]
    values = [text(v, "fullName") for v in element.iterfind("valueSet/valueSetDefinition/value")]
    values += [text(v, "fullName") for v in element.iterfind("picklist/picklistValues")]
    global_set = text(element, "valueSet/valueSetName")
    return CrmField(
        name=f"{obj}.{api_name}",
        object=obj,
        api_name=api_name,
        type=text(element, "type"),
        label=text(element, "label"),
        description=text(element, "description"),
        required=is_true(text(element, "required")),
        picklist_values=[v for v in values if v] or ([f"(global value set {global_set})"] if global_set else []),
        reference_to=[r.text.strip() for r in element.findall("referenceTo") if r.text and r.text.strip()],
        formula=text(element, "formula"),
        source_file=file,
    )


def _handle_field(context: _Context, source_file: SourceFile, data: bytes) -> None:
    root = parse_xml(data, source_file.path)
    obj = object_from_path(source_file.path, "fields")
    if obj is None:
        context.result.warnings.append(f"{source_file.path}: a field file outside objects/<Object>/fields/; skipped")
        return
    if not text(root, "fullName"):
        fullname = Element("fullName")
        fullname.text = strip_suffix(PurePosixPath(source_file.path).name)
        root.append(fullname)
    crm_field = _custom_field(root, obj, source_file.path)
    if crm_field is not None:
        _add_field(context, crm_field)


def _add_field(context: _Context, crm_field: CrmField) -> None:
    """Known for resolving names; reported only when the metadata defines it. A standard field is
    often listed with nothing but its name (history tracking): no type, no label, nothing to
    compare a data dictionary entry with."""
    context.schema.add(crm_field)
    if crm_field.type or crm_field.api_name.endswith("__c"):
        context.result.fields.append(crm_field)


def _handle_object(context: _Context, source_file: SourceFile, data: bytes) -> None:
    root = parse_xml(data, source_file.path)
    obj = strip_suffix(PurePosixPath(source_file.path).name)
    for element in root.findall("fields"):
        crm_field = _custom_field(element, obj, source_file.path)
        if crm_field is not None:
            _add_field(context, crm_field)
    # Retrieve format keeps validation rules inside the object: read once every field is known.
    for element in root.findall("validationRules"):
        context.pending.append((_validation_rule, (element, obj, text(element, "fullName"), source_file.path)))


def _handle_flowdefinition(context: _Context, source_file: SourceFile, data: bytes) -> None:
    root = parse_xml(data, source_file.path)
    name = strip_suffix(PurePosixPath(source_file.path).name)
    version = text(root, "activeVersionNumber")
    context.flow_active_versions[name] = int(version) if version.isdigit() else 0


def _handle_workflow(context: _Context, source_file: SourceFile, data: bytes) -> None:
    root = parse_xml(data, source_file.path)
    obj = strip_suffix(PurePosixPath(source_file.path).name)
    updates = context.field_updates[obj]
    for element in root.findall("fieldUpdates"):
        updates[text(element, "fullName")] = element
    for rule in root.findall("rules"):
        _workflow_rule(context, rule, obj, source_file.path)


def _handle_triggermeta(context: _Context, source_file: SourceFile, data: bytes) -> None:
    root = parse_xml(data, source_file.path)
    name = strip_suffix(PurePosixPath(source_file.path).name)
    context.trigger_status[name] = text(root, "status", "Active")


# automations


def _field_update_effect(context: _Context, obj: str, name: str) -> tuple[list[str], list[str]]:
    """(reads, writes) of a field update named in a rule or an approval process."""
    element = context.field_updates.get(obj, {}).get(name)
    if element is None:
        return [], []
    reads: list[str] = []
    target_obj = obj
    target_relationship = text(element, "targetObject")
    if target_relationship and target_relationship.lower() != obj.lower():
        # a cross-object update names the parent by its lookup field (AccountId, Parent__c)
        relationship = context.schema.lookup_relationship(obj, target_relationship)
        lookup, target_obj = context.schema.hop(obj, relationship)
        reads.append(lookup)
    written = text(element, "field")
    writes = [context.schema.field_name(target_obj, written)] if written else []
    reads += _formula_reads(context.schema, obj, text(element, "formula"))
    return reads, writes


def _formula_reads(schema: Schema, obj: str, formula: str) -> list[str]:
    reads: list[str] = []
    for parts in formula_references(formula):
        lookups, final = schema.resolve(obj, parts)
        reads += lookups
        if final:
            reads.append(final)
    return reads


def _criteria_reads(schema: Schema, obj: str, criteria: Element | None) -> list[str]:
    if criteria is None:
        return []
    reads: list[str] = []
    for item in criteria.findall("criteriaItems"):
        path = text(item, "field")
        if not path:
            continue
        parts = path.split(".")
        if len(parts) > 1 and parts[0].lower() == obj.lower():
            lookups, final = schema.resolve(obj, parts[1:])
        elif len(parts) > 1:
            # a parent's field (Account.Industry on an Opportunity rule) is reached through the
            # record's lookup to it; User.* is the running user, no field of the record
            lookups, final = schema.resolve(parts[0], parts[1:])
            if parts[0] in STANDARD_OBJECTS and parts[0] != "User":
                lookups = [schema.hop(obj, parts[0])[0], *lookups]
        else:
            lookups, final = schema.resolve(obj, parts)
        reads += lookups
        if final:
            reads.append(final)
    reads += _formula_reads(schema, obj, text(criteria, "formula"))
    return reads


WORKFLOW_EVENTS = {
    "onCreateOnly": ["insert"],
    "onCreateOrTriggeringUpdate": ["insert", "update"],
    "onAllChanges": ["insert", "update"],
}


def _workflow_rule(context: _Context, rule: Element, obj: str, file: str) -> None:
    # The metadata API percent-encodes a rule's name ("Amount %3E 100k" is "Amount > 100k").
    name = unquote(text(rule, "fullName"))
    if not name:
        return
    reads = _criteria_reads(context.schema, obj, rule)
    writes: list[str] = []
    actions: list[str] = []
    for action in [*rule.findall("actions"), *rule.findall("workflowTimeTriggers/actions")]:
        action_name, action_type = text(action, "name"), text(action, "type")
        actions.append(f"{action_type or 'Action'}:{action_name}")
        if action_type == "FieldUpdate":
            update_reads, update_writes = _field_update_effect(context, obj, action_name)
            reads += update_reads
            writes += update_writes
    definition = flatten(rule)
    for action in rule.findall("actions"):
        if text(action, "type") == "FieldUpdate" and (update := context.field_updates[obj].get(text(action, "name"))):
            definition += [f"fieldUpdate.{line}" for line in flatten(update)]
    _add_automation(
        context,
        CrmAutomation(
            external_id=f"WorkflowRule:{obj}.{name}",
            kind="workflow_rule",
            name=name,
            object=obj,
            events=WORKFLOW_EVENTS.get(text(rule, "triggerType"), ["insert", "update"]),
            active=is_true(text(rule, "active")),
            reads=unique_sorted(reads),
            writes=unique_sorted(writes),
            actions=unique_sorted(actions),
            definition="\n".join(definition),
            source_file=file,
            details={"triggerType": text(rule, "triggerType")},
        ),
    )


def _validation_rule(context: _Context, rule: Element, obj: str, name: str, file: str) -> None:
    if not name:
        return
    formula = text(rule, "errorConditionFormula")
    _add_automation(
        context,
        CrmAutomation(
            external_id=f"ValidationRule:{obj}.{name}",
            kind="validation_rule",
            name=name,
            object=obj,
            events=["insert", "update"],
            active=is_true(text(rule, "active")),
            reads=unique_sorted(_formula_reads(context.schema, obj, formula)),
            writes=[],
            actions=[f"error:{text(rule, 'errorDisplayField') or 'page'}"],
            definition="\n".join(flatten(rule)),
            source_file=file,
            details={"formula": formula},
        ),
    )


def _handle_validationrule(context: _Context, source_file: SourceFile, data: bytes) -> None:
    root = parse_xml(data, source_file.path)
    obj = object_from_path(source_file.path, "validationRules")
    if obj is None:
        context.result.warnings.append(f"{source_file.path}: a validation rule outside objects/<Object>/; skipped")
        return
    name = text(root, "fullName") or strip_suffix(PurePosixPath(source_file.path).name)
    _validation_rule(context, root, obj, name, source_file.path)


APPROVAL_ACTION_GROUPS = (
    "initialSubmissionActions",
    "finalApprovalActions",
    "finalRejectionActions",
    "recallActions",
    "approvalStep/approvalActions",
    "approvalStep/rejectionActions",
)


def _handle_approval(context: _Context, source_file: SourceFile, data: bytes) -> None:
    root = parse_xml(data, source_file.path)
    full = strip_suffix(PurePosixPath(source_file.path).name)
    obj, _, name = full.partition(".")
    if not name:
        fullname = text(root, "fullName")
        obj, _, name = fullname.partition(".") if "." in fullname else (obj, "", full)
    schema = context.schema
    reads = _criteria_reads(schema, obj, root.find("entryCriteria"))
    for step in root.findall("approvalStep"):
        reads += _criteria_reads(schema, obj, step.find("entryCriteria"))
        for approver in step.findall("assignedApprover/approver"):
            if text(approver, "type") == "relatedUserField" and text(approver, "name"):
                # a user lookup field (Realtor_User__c), maybe reached through others (Owner.Manager)
                *path, last = text(approver, "name").split(".")
                lookups, target = schema.record_path(obj, path)
                reads += lookups
                if target:
                    user_field = schema.hop(target, last)[0] if _is_relationship(last) else None
                    reads.append(user_field or schema.field_name(target, last))
    writes: list[str] = []
    actions: list[str] = []
    definition = flatten(root)
    for group in APPROVAL_ACTION_GROUPS:
        for action in root.findall(f"{group}/action"):
            action_name, action_type = text(action, "name"), text(action, "type")
            actions.append(f"{action_type or 'Action'}:{action_name}")
            if action_type == "FieldUpdate":
                update_reads, update_writes = _field_update_effect(context, obj, action_name)
                reads += update_reads
                writes += update_writes
                if update := context.field_updates.get(obj, {}).get(action_name):
                    definition += [f"fieldUpdate.{line}" for line in flatten(update)]
    _add_automation(
        context,
        CrmAutomation(
            external_id=f"ApprovalProcess:{obj}.{name}",
            kind="approval_process",
            name=text(root, "label") or name,
            object=obj,
            events=["submit for approval"],
            active=is_true(text(root, "active")),
            reads=unique_sorted(reads),
            writes=unique_sorted(writes),
            actions=unique_sorted(actions),
            definition="\n".join(sorted(set(definition))),
            source_file=source_file.path,
            details={"steps": [text(step, "name") for step in root.findall("approvalStep")]},
        ),
    )


def _handle_trigger(context: _Context, source_file: SourceFile, data: bytes) -> None:
    try:
        body = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Only the header is read; a stray Windows-1252 byte in a comment is no reason to refuse.
        body = data.decode("utf-8-sig", errors="replace")
        context.result.warnings.append(f"{source_file.path}: not valid UTF-8; read with replacement characters")
    header = TRIGGER_HEADER.search(APEX_COMMENT.sub(" ", body))
    if header is None:
        raise MetadataError(source_file.path, "no trigger header (trigger <Name> on <Object> (<events>)) was found")
    file_name = strip_suffix(PurePosixPath(source_file.path).name)
    name, obj, raw_events = header.group(1), header.group(2), header.group(3)
    events = []
    for event in raw_events.split(","):
        normalized = " ".join(event.lower().split())
        if normalized:
            events.append(normalized)
    unknown = [event for event in events if event not in TRIGGER_EVENTS]
    if unknown:
        context.result.warnings.append(f"{source_file.path}: unfamiliar trigger events {', '.join(unknown)}")
    status = context.trigger_status.get(file_name, context.trigger_status.get(name, "Active"))
    normalized_body = "\n".join(line.rstrip() for line in body.strip().splitlines())
    _add_automation(
        context,
        CrmAutomation(
            external_id=f"ApexTrigger:{name}",
            kind="apex_trigger",
            name=name,
            object=obj,
            events=events,
            active=status.lower() == "active",
            reads=[],
            writes=[],
            actions=["apex"],
            definition=f"status = {status}\n{normalized_body}",
            source_file=source_file.path,
        ),
    )


# flows


FLOW_RECORD_EVENTS = {
    ("RecordBeforeSave", "Create"): ["before insert"],
    ("RecordBeforeSave", "Update"): ["before update"],
    ("RecordBeforeSave", "CreateAndUpdate"): ["before insert", "before update"],
    ("RecordAfterSave", "Create"): ["insert"],
    ("RecordAfterSave", "Update"): ["update"],
    ("RecordAfterSave", "CreateAndUpdate"): ["insert", "update"],
    ("RecordAfterSave", "Delete"): ["delete"],
    ("RecordBeforeDelete", "Delete"): ["before delete"],
    ("RecordBeforeDelete", ""): ["before delete"],
}
FLOW_OTHER_EVENTS = {"Scheduled": ["scheduled"], "PlatformEvent": ["platform event"]}
PB_EVENTS = {"onCreateOnly": ["insert"], "onAllChanges": ["insert", "update"]}


def _process_metadata(root: Element) -> dict[str, str]:
    values = {}
    for item in root.findall("processMetadataValues"):
        value = item.find("value")
        values[text(item, "name")] = text(value, "stringValue") if value is not None else ""
    return values


def _handle_flow(context: _Context, source_file: SourceFile, data: bytes) -> None:
    root = parse_xml(data, source_file.path)
    api_name, version = flow_name_version(source_file.path)
    schema = context.schema
    process_type = text(root, "processType", "Flow")
    start = root.find("start")
    trigger_type = text(start, "triggerType")
    record_trigger_type = text(start, "recordTriggerType")
    obj = text(start, "object") or None
    is_process_builder = process_type in PROCESS_BUILDER_TYPES
    process_metadata = _process_metadata(root)
    if is_process_builder:
        obj = obj or process_metadata.get("ObjectType") or None
        events = PB_EVENTS.get(process_metadata.get("TriggerType", ""), ["insert", "update"] if obj else [])
    elif trigger_type in ("RecordBeforeSave", "RecordAfterSave", "RecordBeforeDelete"):
        events = FLOW_RECORD_EVENTS.get((trigger_type, record_trigger_type), [])
    else:
        events = FLOW_OTHER_EVENTS.get(trigger_type, [])

    # Which object each record element, sObject variable and loop works on.
    variables: dict[str, str] = {}
    for variable in root.findall("variables"):
        if text(variable, "objectType"):
            variables[text(variable, "name").lower()] = text(variable, "objectType")
    record_elements: dict[str, str] = {}  # lookups and creates: their name -> object
    for tag in ("recordLookups", "recordCreates"):
        for element in root.findall(tag):
            element_obj = _element_object(element, variables, obj, schema)
            if element_obj:
                record_elements[text(element, "name").lower()] = element_obj
                if text(element, "outputReference"):
                    variables.setdefault(text(element, "outputReference").lower(), element_obj)

    reads: list[str] = []
    writes: list[str] = []
    actions: list[str] = []

    def record_path(parts: list[str], *, write: bool, record: bool = False) -> None:
        if record or (not write and _is_relationship(parts[-1])):
            # the path names a related record ($Record.Account), not one of its fields
            lookups, _target = schema.record_path(obj, parts)
            reads.extend(lookups)
            return
        lookups, final = schema.resolve(obj, parts)
        reads.extend(lookups)
        if final:
            (writes if write else reads).append(final)

    # start filters
    for start_filter in start.findall("filters") if start is not None else []:
        if text(start_filter, "field") and obj:
            reads.append(schema.field_name(obj, text(start_filter, "field")))
    # every $Record reference (assignments to it are writes)
    patterns = (RECORD_VARIABLE, PB_RECORD_VARIABLE) if is_process_builder else (RECORD_VARIABLE,)
    for element in root.iter():
        value = element.text
        if not value or ("$Record" not in value and "myVariable_" not in value):
            continue
        for pattern in patterns:
            for found in pattern.finditer(value):
                record_path(
                    found.group(1)[1:].split("."),
                    write=element.tag == "assignToReference",
                    record=element.tag == "inputReference",
                )
    # filters of lookups, updates and deletes, on their object
    # (a screen's record choice set queries its object like a lookup does)
    for tag in ("recordLookups", "recordUpdates", "recordDeletes", "dynamicChoiceSets"):
        for element in root.findall(tag):
            element_obj = _element_object(element, variables, obj, schema)
            if not element_obj:
                continue
            for element_filter in element.findall("filters"):
                if text(element_filter, "field"):
                    reads.append(schema.field_name(element_obj, text(element_filter, "field")))
            queried = [q.text.strip() for q in element.findall("queriedFields") if q.text and q.text.strip()]
            if tag == "dynamicChoiceSets":
                queried += [text(element, "displayField"), text(element, "valueField"), text(element, "sortField")]
            reads += [schema.field_name(element_obj, name) for name in queried if name and name != "Id"]
    # writes of creates and updates
    sobject_assignments: dict[str, list[str]] = defaultdict(list)
    for assignment in root.iterfind("assignments/assignmentItems"):
        target = text(assignment, "assignToReference")
        if "." in target and not target.startswith("$"):
            variable, _, rest = target.partition(".")
            sobject_assignments[variable.lower()].append(rest)
    for tag, verb in (("recordCreates", "create"), ("recordUpdates", "update"), ("recordDeletes", "delete")):
        for element in root.findall(tag):
            element_obj = _element_object(element, variables, obj, schema)
            actions.append(f"{verb}:{element_obj or text(element, 'inputReference') or '?'}")
            if verb == "delete" or not element_obj:
                continue
            for assignment in element.findall("inputAssignments"):
                if text(assignment, "field"):
                    writes.append(schema.field_name(element_obj, text(assignment, "field")))
            reference = text(element, "inputReference")
            if reference and not reference.startswith("$"):
                for rest in sobject_assignments.get(reference.lower(), []):
                    lookups, final = schema.resolve(element_obj, rest.split("."))
                    writes.append(final)
    # {!element.Field} in formulas, element being a record lookup or create
    for formula in root.iterfind("formulas/expression"):
        for reference in merge_fields(formula.text or ""):
            head, _, rest = reference.partition(".")
            element_obj = record_elements.get(head.lower())
            if element_obj and rest:
                lookups, final = schema.resolve(element_obj, rest.split("."))
                reads.extend([*lookups, final])
    # actions and other elements
    for call in root.findall("actionCalls"):
        actions.append(f"{text(call, 'actionType') or 'action'}:{text(call, 'actionName') or text(call, 'name')}")
    for call in root.findall("apexPluginCalls"):
        actions.append(f"apex:{text(call, 'apexClass') or text(call, 'name')}")
    for subflow in root.findall("subflows"):
        actions.append(f"subflow:{text(subflow, 'flowName')}")
    for error in root.findall("customErrors"):
        actions.append(f"error:{text(error, 'name')}")

    status = text(root, "status")
    active_version = context.flow_active_versions.get(api_name, 0)
    if status:
        active = status == "Active"
    elif version is not None:
        active = version == active_version
    else:
        active = active_version > 0
    details = {
        "processType": process_type,
        "status": status,
        "triggerType": trigger_type,
        "recordTriggerType": record_trigger_type,
        "label": text(root, "label"),
        "version": version,
        "decisions": len(root.findall("decisions")),
        "screen_components": unique_sorted(e.text.strip() for e in root.iterfind("screens/fields/extensionName")),
    }
    if start is not None and start.find("schedule") is not None:
        schedule = start.find("schedule")
        details["schedule"] = {child.tag: (child.text or "").strip() for child in schedule}
    if start is not None:
        details["scheduledPaths"] = [text(p, "name") for p in start.findall("scheduledPaths")]
    _add_automation(
        context,
        CrmAutomation(
            external_id=f"Flow:{api_name}",
            kind="process_builder" if is_process_builder else "flow",
            name=text(root, "label") or api_name,
            object=obj,
            events=events,
            active=active,
            reads=unique_sorted(reads),
            writes=unique_sorted(writes),
            actions=unique_sorted(actions),
            definition="\n".join(flatten(root)),
            source_file=source_file.path,
            details=details,
        ),
    )


def _element_object(
    element: Element, variables: dict[str, str], record_object: str | None, schema: Schema
) -> str | None:
    """The object a record element works on: its <object>, or that of its input variable
    ($Record, or a record related to it such as $Record.Account)."""
    if text(element, "object"):
        return text(element, "object")
    reference = text(element, "inputReference")
    if not reference:
        return None
    if reference.startswith("$Record"):
        parts = [part for part in reference.split(".")[1:] if part]
        return schema.record_path(record_object, parts)[1] if parts else record_object
    return variables.get(reference.lower())


def _is_relationship(name: str) -> bool:
    """A path's last part that names a related record rather than a field."""
    return name.lower().endswith("__r") or name.lower() in STANDARD_RELATIONSHIPS or name in STANDARD_OBJECTS


HANDLERS = {
    "field": _handle_field,
    "object": _handle_object,
    "flowdefinition": _handle_flowdefinition,
    "workflow": _handle_workflow,
    "triggermeta": _handle_triggermeta,
    "flow": _handle_flow,
    "validationrule": _handle_validationrule,
    "approval": _handle_approval,
    "trigger": _handle_trigger,
}
