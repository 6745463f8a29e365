"""The parsers read CRM metadata into plain data, with no database: what the dreamhouse sample's
SOURCE.md table says an import must find, the other Salesforce formats, HubSpot v4 flows, and
hostile input refused with the file named."""

import json
import zipfile

import pytest

from discovery.parsers import ArchiveTooLarge, Limits, MetadataError, parse_hubspot, parse_salesforce
from discovery.parsers.formula import formula_references
from tests.discovery.samples import (
    BILLION_LAUGHS,
    DREAMHOUSE,
    HUBSPOT,
    copy_dreamhouse,
    edit_flow_filter,
    write,
    zip_folder,
)

# SOURCE.md "What an import must find: 7 automations" (reads and writes by its rules).
EXPECTED = {
    "Flow:Create_property": {
        "kind": "flow",
        "object": None,
        "events": [],
        "active": True,
        "reads": [
            "ContentDocumentLink.LinkedEntityId",
            "ContentVersion.ContentDocumentId",
            "ContentVersion.Id",
            "ContentVersion.IsLatest",
            "Property__c.Id",
        ],
        "writes": [
            f"Property__c.{name}"
            for name in (
                "Address__c Baths__c Beds__c Broker__c City__c Date_Listed__c Description__c Location__Latitude__s "
                "Location__Longitude__s Name Picture__c Price__c State__c Status__c Tags__c Thumbnail__c Zip__c"
            ).split()
        ],
    },
    "Flow:Duplicate_Email": {
        "kind": "flow",
        "object": "Contact",
        "events": ["insert", "update"],
        "active": True,
        "reads": ["Contact.Email"],
        "writes": [],
    },
    "Flow:Get_Contact_Interest_Summary": {
        "kind": "flow",
        "object": None,
        "events": [],
        "active": True,
        "reads": ["Property_Interest__c.Contact__c", "Property__c.Id"],
        "writes": [],
    },
    "Flow:Tour_Request_Set_Realtor": {
        "kind": "flow",
        "object": "Tour_Request__c",
        "events": ["before insert", "before update"],
        "active": True,
        "reads": ["Broker__c.Realtor_User__c", "Property__c.Broker__c", "Tour_Request__c.Property__c"],
        "writes": ["Tour_Request__c.Realtor_User__c"],
    },
    "ValidationRule:Tour_Request__c.Customer_Required": {
        "kind": "validation_rule",
        "object": "Tour_Request__c",
        "active": True,
        "reads": ["Tour_Request__c.Customer__c"],
        "writes": [],
    },
    "ValidationRule:Tour_Request__c.Submit_Requires_Realtor": {
        "kind": "validation_rule",
        "object": "Tour_Request__c",
        "active": True,
        "reads": ["Tour_Request__c.Realtor_User__c", "Tour_Request__c.Status__c"],
        "writes": [],
    },
    "ApprovalProcess:Tour_Request__c.Tour_Request_Approval": {
        "kind": "approval_process",
        "object": "Tour_Request__c",
        "active": False,
        "reads": ["Tour_Request__c.Realtor_User__c", "Tour_Request__c.Status__c"],
        "writes": ["Tour_Request__c.Status__c"],
    },
}
# SOURCE.md "Custom fields: 39" (a sample of rows; the count is checked in full).
EXPECTED_FIELDS = {
    "Broker__c.Realtor_User__c": ("Lookup", "Realtor"),
    "Property__c.Location__c": ("Location", "Location"),
    "Property__c.Status__c": ("Picklist", "Status"),
    "Property__c.Days_On_Market__c": ("Number", "Days On Market"),
    "Tour_Request__c.Requested_Date_Time__c": ("DateTime", "Requested Date/Time"),
    "Tour_Request__c.Status__c": ("Picklist", "Status"),
}


@pytest.fixture(scope="module")
def dreamhouse():
    return parse_salesforce(DREAMHOUSE)


def by_id(parsed):
    return {automation.external_id: automation for automation in parsed.automations}


def test_dreamhouse_finds_exactly_the_seven_automations_of_its_source_table(dreamhouse):
    assert sorted(by_id(dreamhouse)) == sorted(EXPECTED)


@pytest.mark.parametrize("external_id", sorted(EXPECTED))
def test_dreamhouse_automation_matches_its_source_row(dreamhouse, external_id):
    automation = by_id(dreamhouse)[external_id]
    for key, value in EXPECTED[external_id].items():
        assert getattr(automation, key) == value, key


def test_dreamhouse_actions_name_the_apex_call_and_the_approval_field_updates(dreamhouse):
    automations = by_id(dreamhouse)
    assert "apex:GeocodingService" in automations["Flow:Create_property"].actions
    assert automations["Flow:Duplicate_Email"].actions == ["error:Duplicate_email_error"]
    assert automations["ApprovalProcess:Tour_Request__c.Tour_Request_Approval"].actions == [
        "Alert:Tour_Request_Approved_Customer",
        "FieldUpdate:Set_Status_Approved",
        "FieldUpdate:Set_Status_Pending_Approval",
        "FieldUpdate:Set_Status_Rejected",
    ]


def test_dreamhouse_workflow_without_rules_gives_no_workflow_rule(dreamhouse):
    assert not [a for a in dreamhouse.automations if a.kind == "workflow_rule"]


def test_dreamhouse_fields_are_the_39_custom_fields_with_type_and_label(dreamhouse):
    fields = {f.name: f for f in dreamhouse.fields}
    assert len(fields) == 39
    for name, (field_type, label) in EXPECTED_FIELDS.items():
        assert (fields[name].type, fields[name].label) == (field_type, label)
    assert fields["Tour_Request__c.Status__c"].picklist_values == ["Draft", "Pending Approval", "Approved", "Rejected"]
    assert fields["Tour_Request__c.Property__c"].reference_to == ["Property__c"]
    assert fields["Tour_Request__c.Property__c"].required is True


def test_a_zip_of_the_project_reads_the_same_as_the_folder(dreamhouse, tmp_path):
    archive = zip_folder(DREAMHOUSE, tmp_path / "dreamhouse.zip", prefix="dreamhouse/")
    zipped = parse_salesforce(archive)
    assert [(a.external_id, a.reads, a.writes, a.definition_hash) for a in zipped.automations] == [
        (a.external_id, a.reads, a.writes, a.definition_hash) for a in dreamhouse.automations
    ]
    assert len(zipped.fields) == 39


def test_definition_hash_ignores_canvas_positions_but_not_a_filter(dreamhouse, tmp_path):
    project = copy_dreamhouse(tmp_path / "p")
    flow = project / "force-app/main/default/flows/Tour_Request_Set_Realtor.flow-meta.xml"
    flow.write_bytes(flow.read_bytes().replace(b"<locationX>176</locationX>", b"<locationX>400</locationX>"))
    edit_flow_filter(project)
    edited = by_id(parse_salesforce(project))
    original = by_id(dreamhouse)
    realtor = "Flow:Tour_Request_Set_Realtor"
    assert edited[realtor].definition_hash == original[realtor].definition_hash
    assert edited["Flow:Duplicate_Email"].definition_hash != original["Flow:Duplicate_Email"].definition_hash
    assert edited["Flow:Duplicate_Email"].reads == ["Contact.Email", "Contact.Secondary_Email__c"]


# --- other shapes of Salesforce metadata ------------------------------------------------------

ORDER_FLOW = """<?xml version="1.0" encoding="UTF-8"?>
<Flow xmlns="http://soap.sforce.com/2006/04/metadata">
    <assignments>
        <name>Copy</name>
        <assignmentItems>
            <assignToReference>$Record.Account_Name__c</assignToReference>
            <operator>Assign</operator>
            <value><elementReference>$Record.Account__r.Name</elementReference></value>
        </assignmentItems>
        <assignmentItems>
            <assignToReference>$Record.Owner_Manager__c</assignToReference>
            <operator>Assign</operator>
            <value><elementReference>$Record.Owner.Manager.Email</elementReference></value>
        </assignmentItems>
    </assignments>
    <decisions>
        <name>Changed</name>
        <rules>
            <name>Status_changed</name>
            <conditions>
                <leftValueReference>$Record__Prior.Status__c</leftValueReference>
                <operator>NotEqualTo</operator>
                <rightValue><elementReference>$Record.Status__c</elementReference></rightValue>
            </conditions>
        </rules>
    </decisions>
    <label>Order copy</label>
    <processType>AutoLaunchedFlow</processType>
    <someFutureElement><nested>ignored</nested></someFutureElement>
    <start>
        <object>Order__c</object>
        <recordTriggerType>Update</recordTriggerType>
        <triggerType>RecordAfterSave</triggerType>
        <filters><field>Amount__c</field><operator>GreaterThan</operator><value><numberValue>0</numberValue></value></filters>
        <filterFormula>{!$Record.Region__c} = 'EMEA'</filterFormula>
    </start>
    <status>Draft</status>
</Flow>
"""


def test_relationship_paths_resolve_hop_by_hop_without_field_metadata(tmp_path):
    write(tmp_path, "force-app/main/default/flows/Order_Copy.flow-meta.xml", ORDER_FLOW)
    (flow,) = parse_salesforce(tmp_path).automations
    assert flow.object == "Order__c"
    assert flow.events == ["update"]
    assert flow.active is False  # Draft
    assert flow.reads == [
        "Account.Name",
        "Order__c.Account__c",
        "Order__c.Amount__c",
        "Order__c.OwnerId",
        "Order__c.Region__c",
        "Order__c.Status__c",
        "User.Email",
        "User.ManagerId",
    ]
    assert flow.writes == ["Order__c.Account_Name__c", "Order__c.Owner_Manager__c"]


RETRIEVE_OBJECT = """<?xml version="1.0" encoding="UTF-8"?>
<CustomObject xmlns="http://soap.sforce.com/2006/04/metadata">
    <fields>
        <fullName>Segment__c</fullName>
        <label>Segment</label>
        <type>Picklist</type>
        <valueSet><valueSetDefinition><value><fullName>SMB</fullName></value><value><fullName>Enterprise</fullName></value></valueSetDefinition></valueSet>
    </fields>
    <fields>
        <fullName>Parent_Account__c</fullName>
        <label>Parent</label>
        <type>Lookup</type>
        <referenceTo>Account</referenceTo>
    </fields>
    <validationRules>
        <fullName>Segment_Required</fullName>
        <active>true</active>
        <errorConditionFormula>/* Segment "must" be set */ AND(ISBLANK(TEXT(Segment__c)), Parent_Account__r.Owner.IsActive, $User.Alias != "api")</errorConditionFormula>
        <errorMessage>Set a segment.</errorMessage>
    </validationRules>
</CustomObject>
"""
RETRIEVE_WORKFLOW = """<?xml version="1.0" encoding="UTF-8"?>
<Workflow xmlns="http://soap.sforce.com/2006/04/metadata">
    <fieldUpdates>
        <fullName>Set_Rating</fullName>
        <field>Rating</field>
        <literalValue>Hot</literalValue>
        <operation>Literal</operation>
    </fieldUpdates>
    <rules>
        <fullName>Hot enterprise accounts</fullName>
        <actions><name>Set_Rating</name><type>FieldUpdate</type></actions>
        <actions><name>Notify_owner</name><type>Alert</type></actions>
        <active>true</active>
        <criteriaItems><field>Account.Segment__c</field><operation>equals</operation><value>Enterprise</value></criteriaItems>
        <triggerType>onCreateOrTriggeringUpdate</triggerType>
    </rules>
</Workflow>
"""
PROCESS_BUILDER = """<?xml version="1.0" encoding="UTF-8"?>
<Flow xmlns="http://soap.sforce.com/2006/04/metadata">
    <decisions>
        <name>myDecision</name>
        <rules>
            <name>myRule_1</name>
            <conditions>
                <leftValueReference>myVariable_current.Industry</leftValueReference>
                <operator>EqualTo</operator>
                <rightValue><stringValue>Banking</stringValue></rightValue>
            </conditions>
        </rules>
    </decisions>
    <label>Account banking</label>
    <processMetadataValues><name>ObjectType</name><value><stringValue>Account</stringValue></value></processMetadataValues>
    <processMetadataValues><name>TriggerType</name><value><stringValue>onAllChanges</stringValue></value></processMetadataValues>
    <processType>Workflow</processType>
    <recordUpdates>
        <name>myRule_1_A1</name>
        <filters>
            <field>Id</field><operator>EqualTo</operator>
            <value><elementReference>myVariable_current.Id</elementReference></value>
        </filters>
        <inputAssignments><field>Rating</field><value><stringValue>Warm</stringValue></value></inputAssignments>
        <object>Account</object>
    </recordUpdates>
    <startElementReference>myDecision</startElementReference>
    <status>Active</status>
</Flow>
"""
TRIGGER = """/**
 * trigger Fake on Nothing (before insert) -- in a comment, not the header
 */
trigger AccountTrigger on Account (before insert,
    after   UPDATE) {
    AccountHandler.run(Trigger.new);
}
"""
TRIGGER_META = """<?xml version="1.0" encoding="UTF-8"?>
<ApexTrigger xmlns="http://soap.sforce.com/2006/04/metadata"><apiVersion>60.0</apiVersion><status>Inactive</status></ApexTrigger>
"""


@pytest.fixture
def retrieve_format(tmp_path):
    root = tmp_path / "unpackaged"
    write(root, "package.xml", "<Package/>")
    write(root, "objects/Account.object", RETRIEVE_OBJECT)
    write(root, "workflows/Account.workflow", RETRIEVE_WORKFLOW)
    write(root, "flows/Account_banking.flow", PROCESS_BUILDER)
    write(root, "triggers/AccountTrigger.trigger", TRIGGER)
    write(root, "triggers/AccountTrigger.trigger-meta.xml", TRIGGER_META)
    write(root, "classes/AccountHandler.cls", "public class AccountHandler {}")
    write(root, "labels/CustomLabels.labels", "<not even xml")
    return root


def test_retrieve_format_reads_every_kind(retrieve_format):
    parsed = parse_salesforce(retrieve_format)
    automations = by_id(parsed)
    assert sorted(automations) == [
        "ApexTrigger:AccountTrigger",
        "Flow:Account_banking",
        "ValidationRule:Account.Segment_Required",
        "WorkflowRule:Account.Hot enterprise accounts",
    ]
    trigger = automations["ApexTrigger:AccountTrigger"]
    assert (trigger.object, trigger.events, trigger.active) == ("Account", ["before insert", "after update"], False)
    rule = automations["WorkflowRule:Account.Hot enterprise accounts"]
    assert (rule.events, rule.reads, rule.writes) == (["insert", "update"], ["Account.Segment__c"], ["Account.Rating"])
    assert rule.actions == ["Alert:Notify_owner", "FieldUpdate:Set_Rating"]
    validation = automations["ValidationRule:Account.Segment_Required"]
    assert validation.reads == [
        "Account.OwnerId",
        "Account.Parent_Account__c",
        "Account.Segment__c",
        "User.IsActive",
    ]
    process = automations["Flow:Account_banking"]
    assert (process.kind, process.object, process.events) == ("process_builder", "Account", ["insert", "update"])
    assert process.reads == ["Account.Id", "Account.Industry"]
    assert process.writes == ["Account.Rating"]
    assert [f.name for f in parsed.fields] == ["Account.Parent_Account__c", "Account.Segment__c"]
    assert parsed.fields[1].picklist_values == ["SMB", "Enterprise"]


def test_formula_references_skip_functions_strings_comments_and_globals():
    formula = (
        'IF(ISPICKVAL(StageName, "Closed Won"), Amount * 2, 0) > Account.AnnualRevenue /* Owner */ && $User.Id = X'
    )
    assert formula_references(formula) == [["StageName"], ["Amount"], ["Account", "AnnualRevenue"], ["X"]]


def test_unknown_files_and_elements_are_skipped_not_refused(retrieve_format):
    parsed = parse_salesforce(retrieve_format)  # classes/ and a non-XML labels file are never read
    assert parsed.files_read == 5


# --- hostile and broken input: refused, the file named -----------------------------------------


def test_billion_laughs_is_refused_naming_the_file(tmp_path):
    write(tmp_path, "force-app/main/default/flows/Laughs.flow-meta.xml", BILLION_LAUGHS)
    with pytest.raises(MetadataError) as error:
        parse_salesforce(tmp_path)
    assert error.value.file == "force-app/main/default/flows/Laughs.flow-meta.xml"
    assert "refused" in str(error.value)


def test_external_entity_is_refused(tmp_path):
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Flow><label>&e;</label></Flow>'
    write(tmp_path, "flows/Xxe.flow", xxe)
    with pytest.raises(MetadataError, match="refused"):
        parse_salesforce(tmp_path)


def test_truncated_file_is_an_error_with_file_and_line(tmp_path):
    project = copy_dreamhouse(tmp_path / "p")
    flow = project / "force-app/main/default/flows/Duplicate_Email.flow-meta.xml"
    flow.write_bytes(flow.read_bytes()[:1500])
    with pytest.raises(MetadataError) as error:
        parse_salesforce(project)
    assert error.value.file == "force-app/main/default/flows/Duplicate_Email.flow-meta.xml"
    assert error.value.line is not None
    assert "Duplicate_Email.flow-meta.xml, line" in str(error.value)


def test_zip_with_a_path_leaving_the_folder_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("flows/Ok.flow", ORDER_FLOW)
        zf.writestr("../../etc/cron.d/evil.flow", ORDER_FLOW)
    with pytest.raises(MetadataError) as error:
        parse_salesforce(archive)
    assert error.value.file == "../../etc/cron.d/evil.flow"


@pytest.mark.parametrize("name", ["/etc/passwd.flow", "C:/x.flow", "a/../../b.flow"])
def test_zip_absolute_or_climbing_paths_are_refused(tmp_path, name):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(name, ORDER_FLOW)
    with pytest.raises(MetadataError, match="leaves the archive"):
        parse_salesforce(archive)


def test_zip_bomb_is_refused_by_the_unpacked_size_cap(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for index in range(3):
            zf.writestr(f"flows/F{index}.flow", b"<Flow>" + b" " * 2_000_000 + b"</Flow>")
    assert archive.stat().st_size < 50_000
    with pytest.raises(ArchiveTooLarge, match="unpacks to more than"):
        parse_salesforce(archive, Limits(max_unpacked_bytes=5_000_000))


def test_zip_caps_on_file_count_and_archive_size(tmp_path):
    archive = zip_folder(DREAMHOUSE, tmp_path / "d.zip")
    with pytest.raises(ArchiveTooLarge, match="more than 10 files"):
        parse_salesforce(archive, Limits(max_files=10))
    with pytest.raises(ArchiveTooLarge, match="larger than"):
        parse_salesforce(archive, Limits(max_archive_bytes=1000))


def test_a_member_larger_than_the_file_cap_is_refused(tmp_path):
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("flows/Big.flow", b"<Flow>" + b" " * 100_000 + b"</Flow>")
    with pytest.raises(ArchiveTooLarge, match="flows/Big.flow"):
        parse_salesforce(archive, Limits(max_file_bytes=50_000))


def test_a_corrupt_zip_is_an_error_naming_it(tmp_path):
    archive = zip_folder(DREAMHOUSE, tmp_path / "d.zip")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(MetadataError, match="d.zip"):
        parse_salesforce(archive)


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    outside = write(tmp_path, "outside/secret.flow", ORDER_FLOW)
    project = tmp_path / "project" / "flows"
    project.mkdir(parents=True)
    (project / "Linked.flow").symlink_to(outside)
    with pytest.raises(MetadataError, match="outside the folder"):
        parse_salesforce(tmp_path / "project")


def test_a_trigger_without_a_header_is_an_error(tmp_path):
    write(tmp_path, "triggers/Broken.trigger", "trig Broken on Account {")
    with pytest.raises(MetadataError, match="Broken.trigger"):
        parse_salesforce(tmp_path)


# --- HubSpot --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hubspot():
    return parse_hubspot(HUBSPOT)


def test_hubspot_single_flow_reads_enrollment_properties_and_writes_set_properties(hubspot):
    flow = by_id(hubspot)["HubSpotFlow:585051946"]
    assert (flow.kind, flow.name, flow.object, flow.active) == ("hubspot_flow", "MQL to SQL handoff", "Contact", True)
    assert flow.events == ["enrollment criteria met"]
    assert flow.reads == [
        "Company.industry",  # an association branch names its own object type
        "Contact.hubspotscore",
        "Contact.lifecyclestage",
        "Contact.recent_conversion_event_name",  # copied into another property
    ]
    assert flow.writes == ["Contact.hs_lead_status", "Contact.lifecyclestage"]
    assert flow.actions == [
        "delay",
        "send email 113782603056",
        "set property hs_lead_status",
        "set property lifecyclestage",
    ]


def test_hubspot_list_endpoint_with_event_enrollment_create_record_and_custom_code(hubspot):
    flow = by_id(hubspot)["HubSpotFlow:620391120"]
    assert (flow.object, flow.active) == ("Deal", False)
    assert flow.events == ["event 4-655002", "re-enrollment"]
    assert flow.reads == ["Deal.amount", "Deal.dealstage"]
    assert flow.writes == ["Ticket.hs_pipeline_stage", "Ticket.subject"]
    assert flow.actions == ["branch (list branch)", "create record", "custom code"]
    assert any("not a v4 flow" in warning for warning in hubspot.warnings)


def test_hubspot_hash_ignores_revision_and_timestamps(tmp_path):
    flow = json.loads((HUBSPOT / "flow_lifecycle.json").read_text())
    first = parse_hubspot(write(tmp_path, "a/flow.json", json.dumps(flow))).automations[0]
    flow.update(revisionId="8", updatedAt="2025-01-01T00:00:00Z")
    second = parse_hubspot(write(tmp_path, "b/flow.json", json.dumps(flow))).automations[0]
    flow["actions"][1]["fields"]["value"]["staticValue"] = "opportunity"
    third = parse_hubspot(write(tmp_path, "c/flow.json", json.dumps(flow))).automations[0]
    assert first.definition_hash == second.definition_hash != third.definition_hash


def test_hubspot_truncated_json_is_an_error_with_file_and_line(tmp_path):
    write(tmp_path, "flows.json", (HUBSPOT / "flow_lifecycle.json").read_bytes()[:700])
    with pytest.raises(MetadataError) as error:
        parse_hubspot(tmp_path)
    assert error.value.file == "flows.json"
    assert error.value.line is not None


def test_hubspot_deep_nesting_is_refused_not_a_crash(tmp_path):
    write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    with pytest.raises(MetadataError, match="deep.json"):
        parse_hubspot(tmp_path)


def test_hubspot_minimal_flow_with_missing_keys_parses(tmp_path):
    write(tmp_path, "f.json", json.dumps({"id": 42, "actions": [{"actionTypeId": "0-999"}, "junk"]}))
    (flow,) = parse_hubspot(tmp_path).automations
    assert (flow.external_id, flow.object, flow.active, flow.actions) == (
        "HubSpotFlow:42",
        None,
        False,
        ["action 0-999"],
    )
