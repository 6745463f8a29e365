"""HubSpot Automation API v4 flows: one flow object (`GET /automation/v4/flows/{id}`), the list
endpoint's `{"results": [...]}`, or a JSON array of flows; a file, a folder of .json files, or a
.zip of them. Reads object type, enabled, enrollment criteria properties (reads), set-property
and create-record actions (writes), and the other actions by type. Unknown keys are skipped."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from .base import CrmAutomation, Limits, MetadataError, ParsedMetadata, Source, unique_sorted

OBJECT_TYPES = {
    "0-1": "Contact",
    "0-2": "Company",
    "0-3": "Deal",
    "0-4": "Engagement",
    "0-5": "Ticket",
    "0-7": "Product",
    "0-8": "LineItem",
    "0-11": "Conversation",
    "0-14": "Quote",
    "0-18": "Communication",
    "0-27": "Task",
    "0-46": "Note",
    "0-47": "Meeting",
    "0-48": "Call",
    "0-49": "Email",
    "0-53": "Invoice",
    "0-136": "Lead",
    "0-162": "Service",
    "0-410": "Course",
    "0-420": "Listing",
    "0-421": "Appointment",
}
ACTION_TYPES = {
    "0-1": "delay",
    "0-3": "create task",
    "0-4": "send email",
    "0-5": "set property",
    "0-8": "send internal email",
    "0-9": "send in-app notification",
    "0-11": "rotate owner",
    "0-14": "create record",
    "0-35": "delay until date",
    "0-29": "delay until event",
    "0-61": "increase or decrease property",
    "0-63809083": "add to static list",
    "0-63863438": "remove from static list",
}
# Changes HubSpot makes on every save that are no change of what the flow does.
VOLATILE_KEYS = frozenset({"revisionId", "updatedAt", "createdAt", "nextAvailableActionId", "dataSources"})
MAX_DEPTH = 200
EVENT = "event"  # marker: properties under an event branch belong to the event, not the record


def object_name(object_type_id) -> str:
    key = str(object_type_id or "")
    return OBJECT_TYPES.get(key, key or "")


def parse_hubspot(path: str | Path, limits: Limits | None = None) -> ParsedMetadata:
    limits = limits or Limits()
    path = Path(path)
    if not path.exists():
        raise MetadataError(str(path), "no such file or folder")
    result = ParsedMetadata()
    seen: set[str] = set()
    with Source(path, limits) as source:
        for source_file in source.files():
            if not source_file.path.lower().endswith(".json"):
                continue
            data = source_file.read()
            result.files_read += 1
            for flow in _flows_in(_load(data, source_file.path), source_file.path, result):
                try:
                    automation = flow_automation(flow, source_file.path)
                except RecursionError:
                    result.warnings.append(f"{source_file.path}: flow {flow.get('id')} is nested too deeply; skipped")
                    continue
                except Exception as exc:  # noqa: BLE001 - an unforeseen shape is skipped, not fatal
                    result.warnings.append(
                        f"{source_file.path}: flow {flow.get('id')} not understood "
                        f"({type(exc).__name__}: {exc}); skipped"
                    )
                    continue
                if automation.external_id in seen:
                    result.warnings.append(f"{source_file.path}: {automation.external_id} appears twice; first kept")
                    continue
                seen.add(automation.external_id)
                result.automations.append(automation)
    result.automations.sort(key=lambda a: a.external_id)
    return result


def _load(data: bytes, file: str):
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise MetadataError(file, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise MetadataError(file, f"not valid JSON ({exc.msg}, column {exc.colno})", exc.lineno) from exc
    except RecursionError as exc:
        raise MetadataError(file, "refused: the JSON is nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer longer than Python converts
        raise MetadataError(file, f"not valid JSON ({exc})") from exc


def _is_flow(item) -> bool:
    return (
        isinstance(item, dict)
        and item.get("id") not in (None, "")
        and ("actions" in item or "enrollmentCriteria" in item or "flowType" in item or "objectTypeId" in item)
    )


def _flows_in(document, file: str, result: ParsedMetadata) -> list[dict]:
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        items = document["results"]
    elif isinstance(document, list):
        items = document
    else:
        items = [document]
    if isinstance(document, dict) and "results" not in document and not _is_flow(document):
        raise MetadataError(
            file,
            'not a HubSpot v4 flow (an object with "id" and "actions", "enrollmentCriteria", "flowType" or '
            '"objectTypeId"), nor the flows list {"results": [...]}',
        )
    flows = []
    for index, item in enumerate(items):
        if _is_flow(item):
            flows.append(item)
        else:
            result.warnings.append(f"{file}: item {index} is not a v4 flow (no id and actions); skipped")
    return flows


def _walk(node, depth: int = 0):
    """Every dict inside node (iteratively bounded: hostile nesting is cut off, not followed)."""
    stack = [(node, depth)]
    while stack:
        current, level = stack.pop()
        if level > MAX_DEPTH:
            continue
        if isinstance(current, dict):
            yield current
            stack.extend((value, level + 1) for value in current.values() if isinstance(value, dict | list))
        elif isinstance(current, list):
            stack.extend((value, level + 1) for value in current if isinstance(value, dict | list))


def _filter_properties(branch, default_object: str) -> list[str]:
    """Object.property for every property filter under a filter branch; an association or event
    branch names its own object type."""
    found: list[str] = []
    stack = [(branch, default_object, 0)]
    while stack:
        node, obj, level = stack.pop()
        if level > MAX_DEPTH:
            continue
        if isinstance(node, list):
            stack.extend((item, obj, level + 1) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        here = obj
        if node.get("objectTypeId"):
            here = object_name(node["objectTypeId"])
        elif node.get("eventTypeId"):
            here = EVENT
        prop = node.get("property")
        if isinstance(prop, str) and prop:
            if here is not EVENT:
                found.append(f"{here}.{prop}")
            elif prop == "hs_name" and isinstance(node.get("operation"), dict):
                # "property value changed" events name the record's properties they watch
                operation = node["operation"]
                watched = operation.get("values") if isinstance(operation.get("values"), list) else []
                watched = [operation.get("value"), *watched]
                found += [f"{default_object}.{name}" for name in watched if isinstance(name, str) and name]
        for key, value in node.items():
            if isinstance(value, dict | list) and key != "operation":
                stack.append((value, here, level + 1))
    return found


def _canonical(node, depth: int = 0):
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, dict):
        return {key: _canonical(value, depth + 1) for key, value in node.items() if key not in VOLATILE_KEYS}
    if isinstance(node, list):
        return [_canonical(value, depth + 1) for value in node]
    return node


def _lines(node, prefix: str = "") -> list[str]:
    lines: list[str] = []
    if isinstance(node, dict):
        for key in sorted(node):
            lines += _lines(node[key], f"{prefix}.{key}" if prefix else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            lines += _lines(value, f"{prefix}[{index}]")
    else:
        lines.append(f"{prefix} = {json.dumps(node, ensure_ascii=False)}")
    return lines


def _as_list(value) -> list:
    """A value the schema says is a list; anything else (a hostile or odd export) is no items."""
    return value if isinstance(value, list) else []


def _as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _action_label(action: dict) -> str:
    fields = _as_dict(action.get("fields"))
    type_id = str(action.get("actionTypeId") or "")
    action_type = action.get("type")
    # Custom code and webhook actions carry their settings at the action's top level in v4
    # (sourceCode, runtime, secretNames; webhookUrl, method); older shapes put them in fields.
    code_keys = ("source_code", "sourceCode", "runtime")
    if action_type == "CUSTOM_CODE" or any(key in fields or key in action for key in code_keys):
        label = "custom code"
    elif (
        action_type == "WEBHOOK"
        or "webhookUrl" in fields
        or "webhookUrl" in action
        or ("url" in fields and "method" in fields)
    ):
        label = "webhook"
    elif action.get("type") in ("LIST_BRANCH", "STATIC_BRANCH", "AB_TEST_BRANCH"):
        return f"branch ({str(action['type']).lower().replace('_', ' ')})"
    else:
        label = ACTION_TYPES.get(type_id, f"action {type_id}" if type_id else "action")
    if label in ("set property", "increase or decrease property") and fields.get("property_name"):
        label = f"{label} {fields['property_name']}"
    elif label == "send email" and fields.get("content_id"):
        label = f"send email {fields['content_id']}"
    return label


def flow_automation(flow: dict, file: str) -> CrmAutomation:
    flow_id = str(flow["id"])
    obj = object_name(flow.get("objectTypeId"))
    criteria = _as_dict(flow.get("enrollmentCriteria"))
    reads = _filter_properties(criteria, obj)
    if isinstance(flow.get("goalFilterBranch"), dict):
        reads += _filter_properties(flow["goalFilterBranch"], obj)
    writes: list[str] = []
    actions: list[str] = []
    for action in _as_list(flow.get("actions")):
        if not isinstance(action, dict):
            continue
        actions.append(_action_label(action))
        fields = _as_dict(action.get("fields"))
        target_obj = obj
        if fields.get("object_type_id") or fields.get("objectTypeId"):
            target_obj = object_name(fields.get("object_type_id") or fields.get("objectTypeId"))
        if isinstance(fields.get("property_name"), str) and fields["property_name"]:
            writes.append(f"{target_obj}.{fields['property_name']}")
        for assignment in _as_list(fields.get("properties")):
            if isinstance(assignment, dict) and isinstance(assignment.get("targetProperty"), str):
                writes.append(f"{target_obj}.{assignment['targetProperty']}")
        if str(action.get("actionTypeId") or "") == "0-11":  # rotate owner sets the owner property
            owner = fields.get("target_property")
            writes.append(f"{obj}.{owner if isinstance(owner, str) and owner else 'hubspot_owner_id'}")
        # branch conditions read properties
        for branch_key in ("listBranches", "staticBranches", "defaultBranch"):
            if branch_key in action:
                reads += _filter_properties(action[branch_key], obj)
        # values copied from the record: in fields, a static branch's inputValue, custom code's
        # inputFields (never the connections, which only point at the next action)
        for node in _walk({k: v for k, v in action.items() if k not in ("connection", "listBranches")}):
            if node.get("type") == "OBJECT_PROPERTY" and isinstance(node.get("propertyName"), str):
                reads.append(f"{obj}.{node['propertyName']}")
    enrollment_type = str(criteria.get("type") or "")
    if enrollment_type == "EVENT_BASED":
        events = [
            f"event {branch.get('eventTypeId')}"
            for branch in _as_list(criteria.get("eventFilterBranches"))
            if isinstance(branch, dict) and branch.get("eventTypeId")
        ] or ["event"]
    elif enrollment_type == "MANUAL":
        events = ["manual enrollment"]
    elif enrollment_type:
        events = ["enrollment criteria met"]
    else:
        events = []
    if criteria.get("shouldReEnroll"):
        events.append("re-enrollment")
    definition = "\n".join(_lines(_canonical(flow)))
    return CrmAutomation(
        external_id=f"HubSpotFlow:{flow_id}",
        kind="hubspot_flow",
        name=str(flow.get("name") or f"Flow {flow_id}"),
        object=obj or None,
        events=unique_sorted(events),
        active=flow.get("isEnabled") is True,
        reads=unique_sorted(reads),
        writes=unique_sorted(writes),
        actions=unique_sorted(actions),
        definition=definition,
        source_file=PurePosixPath(file).as_posix(),
        details={"flowType": flow.get("flowType"), "type": flow.get("type"), "enrollmentType": enrollment_type},
    )
