"""Issue 17 acceptance on real exports: the metadata import run on public CRM projects other than
the dreamhouse sample (tests/discovery/real/, origins in its SOURCES.md), as a folder and as a
zip, through the parser, the service and the command. Each finds what the XML/JSON holds (the
expectations below were read off the files by hand), re-imports as all `unchanged`, never crashes
on any single file, and refuses a malformed file by name (and line) with nothing stored."""

import json
import zipfile
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from discovery import services
from discovery.models import MetadataSnapshot, SnapshotAutomation, SnapshotField
from discovery.parsers import MetadataError, parse_metadata
from discovery.parsers.salesforce import file_kind
from registry.models import Automation, DataField

REAL = Path(__file__).resolve().parent / "real"
SALESFORCE_PROJECTS = ["ebikes-lwc", "apex-recipes", "npsp", "flow-scanner", "metadata-format-org", "edge-cases-dx"]
PROJECTS = [*(("salesforce", name) for name in SALESFORCE_PROJECTS), ("hubspot", "hubspot")]

# What each project holds, read off its files. Lists are exact (sorted) unless the key ends in
# "_include" (then those must be among them).
EXPECTED = {
    "ebikes-lwc": {
        "Flow:Create_Slack_Channel_For_Reseller_Order_Collaboration": {
            "kind": "flow",
            "object": "Order__c",
            "events": ["update"],
            "active": True,
            # start filter Status__c; $Record.Account__r.Name in a formula resolved through the
            # Account__c lookup (referenceTo Account); three $Record user fields collected
            "reads": [
                "Account.Name",
                "Order__c.Account_Manager__c",
                "Order__c.Account__c",
                "Order__c.Delivery_Truck_Driver__c",
                "Order__c.Name",
                "Order__c.Quality_Specialist__c",
                "Order__c.Status__c",
            ],
            "writes": [],
            "actions": ["slackCreateChannel:slackCreateChannel", "slackInviteUsersToChannel:slackInviteUsersToChannel"],
        },
    },
    "apex-recipes": {
        "ApexTrigger:AccountTrigger": {
            "kind": "apex_trigger",
            "object": "Account",
            "active": True,
            "events": [
                "before insert",
                "after insert",
                "before update",
                "after update",
                "before delete",
                "after delete",
                "after undelete",
            ],
        },
        "ApexTrigger:OpportunityDiscountTrigger": {
            "object": "Opportunity",
            "events": ["before insert", "before update"],
            "active": True,  # no -meta.xml: a trigger is active unless its status says otherwise
        },
        "ApexTrigger:PlatformEventRecipesTrigger": {
            "object": "Event_Recipes_Demo__e",
            "events": ["after insert"],
            "active": True,
        },
    },
    "npsp": {
        # a licence comment before the header, events over two lines in no particular order;
        # TDTM_RecurringDonation has only its -meta.xml (no body): no automation, no error
        "ApexTrigger:TDTM_Allocation": {
            "object": "Allocation__c",
            "active": True,
            "events": [
                "after delete",
                "after insert",
                "after undelete",
                "after update",
                "before delete",
                "before insert",
                "before update",
            ],
        },
    },
    "flow-scanner": {
        "Flow:Same_Record_Field_Updates": {
            "name": "Test Flow",
            "object": "Account",
            "events": ["before insert"],
            "active": True,
            "writes": ["Account.Active__c"],
            "actions": ["update:Account"],
        },
        "Flow:DML_Statement_In_A_Loop": {
            "object": None,
            "events": [],
            "active": True,
            "actions": ["create:Case", "quickAction:FeedItem.NewTaskFromFeedItem"],
        },
        "Flow:Outdated_API_Version": {"object": None, "events": [], "active": True, "reads": [], "writes": []},
    },
    "metadata-format-org": {
        "WorkflowRule:Opportunity.Amount > 100k & open": {
            "kind": "workflow_rule",
            "name": "Amount > 100k & open",
            "object": "Opportunity",
            "events": ["insert", "update"],
            "active": True,
            "reads": ["Account.Industry", "Opportunity.AccountId", "Opportunity.Amount", "Opportunity.IsClosed"],
            "writes": ["Opportunity.Deal_Temperature__c"],
            "actions": ["FieldUpdate:Set_Temperature_Hot"],
        },
        "WorkflowRule:Opportunity.Closed Won \u2013 notify ERP": {
            "active": True,
            "reads": ["Opportunity.AccountId", "Opportunity.StageName"],
            "writes": ["Account.Type"],  # cross-object field update, targetObject AccountId
            "actions": [
                "Alert:Big_Deal_Won_Alert",
                "FieldUpdate:Mark_Account_Customer",
                "OutboundMessage:Send_Won_To_ERP",
                "Task:Follow_Up_After_Win",
            ],
        },
        "WorkflowRule:Opportunity.Next step stamp": {
            "events": ["insert"],
            "active": False,
            "reads_include": ["Opportunity.NextStep", "Opportunity.OwnerId", "User.FirstName", "Opportunity.StageName"],
            "writes": ["Opportunity.NextStep"],
        },
        "ValidationRule:Opportunity.Discount_Needs_Approval": {
            "active": True,
            "reads": ["Opportunity.Approval_Status__c", "Opportunity.Discount_Percent__c"],
        },
        "ValidationRule:Opportunity.Partner_Must_Be_Partner_Type": {
            "active": False,
            "reads": ["Account.Type", "Opportunity.Partner_Account__c", "Opportunity.StageName"],
        },
        "ValidationRule:Invoice__c.Total_Within_Opportunity_Amount": {
            "reads": ["Invoice__c.Opportunity__c", "Invoice__c.Total__c", "Opportunity.Amount"],
        },
        "Flow:Opportunity_Big_Deal_Process": {
            "kind": "process_builder",
            "object": "Opportunity",
            "events": ["insert", "update"],
            "active": True,  # version 2, the flow definition's activeVersionNumber
            "reads_include": ["Opportunity.Amount", "Opportunity.StageName", "Opportunity.Partner_Account__c"],
            "writes": ["Account.Rating"],
            "actions": ["emailAlert:Opportunity.Big_Deal_Won_Alert", "update:Account"],
        },
        "Flow:Legacy_Lead_Router": {"active": False, "writes": ["Lead.OwnerId"], "actions": ["update:Lead"]},
        "ApexTrigger:InvoiceTrigger": {
            "object": "Invoice__c",
            "events": ["after insert", "after update", "before delete"],
            "active": False,
        },
        "ApprovalProcess:Opportunity.Big_Deal_Approval": {
            "name": "Big Deal Approval",
            "active": True,
            "reads": [
                "Opportunity.Discount_Percent__c",
                "Opportunity.IsClosed",
                "Opportunity.OwnerId",
                "User.ManagerId",
            ],
            "writes": ["Opportunity.Approval_Status__c"],
        },
    },
    "edge-cases-dx": {
        "Flow:Opportunity_After_Update_Related": {
            "object": "Opportunity",
            "events": ["update"],
            "active": True,
            "reads_include": [
                "Opportunity.StageName",  # $Record__Prior and filterFormula
                "Opportunity.Amount",
                "Opportunity.IsWon",
                "Opportunity.AccountId",
                "Account.OwnerId",
                "User.UserRoleId",
                "UserRole.Name",
                "User.Name",
            ],
            "writes": ["Account.Last_Won_Amount__c", "Account.Rating"],  # inputReference $Record.Account
            "actions": ["subflow:Notify_Deal_Team", "update:Account"],
        },
        "Flow:Nightly_Stale_Opportunities": {
            "object": "Opportunity",
            "events": ["scheduled"],
            "reads": ["Opportunity.IsClosed", "Opportunity.LastActivityDate"],
            "writes": ["Opportunity.Deal_Temperature__c"],
        },
        "Flow:Invoice_Event_Listener": {
            "object": "Invoice_Event__e",
            "events": ["platform event"],
            "writes": ["Task.Subject"],
        },
        "Flow:Opportunity_Before_Delete": {
            "events": ["before delete"],
            "active": False,  # Obsolete
            "reads": ["Opportunity.IsWon"],
            "actions": ["error:No_Delete_Won"],
        },
        "Flow:Loop_Contacts_Screen": {
            "active": False,
            # a lookup's filter and queriedFields; a record choice set's filter and display field
            "reads": ["Contact.AccountId", "Contact.Email", "Market__c.Name", "Market__c.State__c"],
        },
        "Flow:Empty_Start_Prefixed": {"object": None, "events": [], "active": False},
        "Flow:Bare_Minimum": {"name": "Bare minimum", "object": None, "active": False},
        "ValidationRule:Opportunity.Close_Date_Not_Past": {
            "reads": ["Account.Type", "Opportunity.AccountId", "Opportunity.CloseDate"],
        },
    },
    "hubspot": {
        "HubSpotFlow:1712345678": {
            "kind": "hubspot_flow",
            "object": "Deal",
            "active": True,
            "events": ["event 4-655002", "re-enrollment"],
            "reads": [
                "Deal.amount",
                "Deal.closedate",
                "Deal.deal_type",
                "Deal.dealstage",
                "Deal.description",
                "Deal.hubspot_owner_id",
                "Deal.pipeline",
            ],
            "writes": [
                "Deal.handoffs_count",
                "Deal.health_score",
                "Ticket.content",
                "Ticket.hs_pipeline_stage",
                "Ticket.subject",
            ],
            "actions_include": ["custom code", "webhook", "branch (static branch)", "create record", "create task"],
        },
        "HubSpotFlow:1700000001": {
            "object": "Ticket",
            "active": False,
            "reads": [
                "Company.tier",
                "Ticket.hs_pipeline_stage",
                "Ticket.hs_ticket_priority",
                "Ticket.hubspot_owner_id",
            ],
            "writes": ["Ticket.hubspot_owner_id"],
        },
        "HubSpotFlow:1700000002": {
            "object": "2-21987654",
            "reads": ["2-21987654.renewal_date"],
            "writes": ["2-21987654.renewal_status"],
        },
        "HubSpotFlow:1700000003": {"object": "Contact", "active": True, "events": [], "actions": []},
        "HubSpotFlow:1700000004": {
            "events": ["manual enrollment"],
            "actions": ["add to static list", "send email 998877"],
        },
    },
}
EXPECTED_COUNTS = {
    "ebikes-lwc": 1,
    "apex-recipes": 3,
    "npsp": 1,
    "flow-scanner": 3,
    "metadata-format-org": 10,
    "edge-cases-dx": 8,
    "hubspot": 5,
}


def check(found: dict, expected: dict) -> None:
    for external_id, want in expected.items():
        assert external_id in found, (external_id, sorted(found))
        got = found[external_id]
        for key, value in want.items():
            if key.endswith("_include"):
                name = key.removesuffix("_include")
                missing = set(value) - set(got[name])
                assert not missing, (external_id, name, missing, got[name])
            else:
                assert got[key] == value, (external_id, key, got[key])


def as_dicts(parsed) -> dict:
    return {a.external_id: vars(a) for a in parsed.automations}


def zip_of(folder: Path, archive: Path, *, prefix: str = "retrieve/") -> Path:
    """The folder as `sf project retrieve start` / a CI step would zip it, with the noise a zip
    made on a Mac carries (__MACOSX resource forks, .DS_Store) and a tool folder."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                relative = path.relative_to(folder).as_posix()
                zf.write(path, prefix + relative)
                zf.writestr(f"__MACOSX/{prefix}{relative.rsplit('/', 1)[0]}/._{path.name}", b"\x00\x05\x16\x07\x00")
        zf.writestr(prefix + ".DS_Store", b"\x00\x00\x00\x01Bud1")
        zf.writestr(prefix + ".sfdx/tools/cache/Stale.flow-meta.xml", b"<Flow><label>cache")
    return archive


def metadata_files(system: str, project: str) -> list[Path]:
    files = sorted(p for p in (REAL / project).rglob("*") if p.is_file())
    if system == "hubspot":
        return [p for p in files if p.suffix == ".json"]
    return [p for p in files if file_kind(p.name)]


# --- parser: no database -----------------------------------------------------------------------


@pytest.mark.parametrize(("system", "project"), PROJECTS)
def test_parser_finds_what_the_real_project_holds(system, project):
    parsed = parse_metadata(REAL / project, system=system)
    found = as_dicts(parsed)
    assert len(found) == EXPECTED_COUNTS[project], sorted(found)
    check(found, EXPECTED[project])
    assert parsed.warnings == []


@pytest.mark.parametrize(("system", "project"), PROJECTS)
def test_a_zip_of_the_project_reads_the_same(system, project, tmp_path):
    folder = parse_metadata(REAL / project, system=system)
    zipped = parse_metadata(zip_of(REAL / project, tmp_path / f"{project}.zip"), system=system)
    assert [(a.external_id, a.definition_hash, a.reads, a.writes) for a in zipped.automations] == [
        (a.external_id, a.definition_hash, a.reads, a.writes) for a in folder.automations
    ]
    assert [f.name for f in zipped.fields] == [f.name for f in folder.fields]


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=f"{p.relative_to(REAL)}")
        for system, project in PROJECTS
        for p in metadata_files(system, project)
    ],
)
def test_every_fixture_file_alone_never_crashes(path):
    system = "hubspot" if path.suffix == ".json" else "salesforce"
    parsed = parse_metadata(path, system=system)  # no exception: a lone file is read or skipped
    assert parsed.files_read == 1


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=f"{p.relative_to(REAL)}")
        for system, project in PROJECTS
        for p in metadata_files(system, project)
        if not p.name.endswith(".trigger")
    ],
)
def test_every_fixture_file_truncated_is_refused_by_name_and_line(path, tmp_path):
    data = path.read_bytes()
    broken = tmp_path / path.relative_to(REAL)
    broken.parent.mkdir(parents=True)
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(MetadataError) as caught:
        parse_metadata(broken, system="hubspot" if path.suffix == ".json" else "salesforce")
    assert caught.value.file == path.name
    assert caught.value.line and caught.value.line >= 1


def test_old_versioned_flow_files_give_one_flow_the_active_version():
    parsed = parse_metadata(REAL / "metadata-format-org", system="salesforce")
    flows = [a for a in parsed.automations if a.external_id.startswith("Flow:Opportunity_Big_Deal")]
    assert [a.external_id for a in flows] == ["Flow:Opportunity_Big_Deal_Process"]
    assert flows[0].details["version"] == 2
    assert "250000" in flows[0].definition and "500000" not in flows[0].definition


def test_retrieve_format_objects_give_custom_fields_in_both_picklist_formats():
    fields = {f.name: f for f in parse_metadata(REAL / "metadata-format-org", system="salesforce").fields}
    assert fields["Opportunity.Deal_Temperature__c"].picklist_values == ["Hot", "Warm", "Cold"]  # <picklist>
    assert fields["Opportunity.Approval_Status__c"].picklist_values == ["Pending", "Approved"]  # <valueSet>
    assert fields["Opportunity.Region__c"].picklist_values == ["(global value set Sales_Regions)"]
    assert fields["Invoice__c.Opportunity__c"].reference_to == ["Opportunity"]
    assert fields["Opportunity.Days_Open__c"].formula.startswith("IF(IsClosed")
    # standard fields listed only for history tracking (no type) are no data dictionary entries
    assert "Opportunity.Amount" not in fields
    # record type picklist values are not fields
    assert not [name for name in fields if name.startswith("Opportunity.Enterprise")]
    dx = {f.name: f for f in parse_metadata(REAL / "edge-cases-dx", system="salesforce").fields}
    assert dx["Opportunity.Old_Style_Picklist__c"].picklist_values == ["Alpha", "Beta"]
    assert dx["Account.Last_Won_Amount__c"].type == "Currency"  # no <fullName>: named by its file
    ebikes = {f.name: f for f in parse_metadata(REAL / "ebikes-lwc", system="salesforce").fields}
    assert ebikes["Order__c.Account__c"].reference_to == ["Account"]
    assert ebikes["Order__c.Status__c"].picklist_values[0] == "Draft"


def test_deeply_nested_xml_is_refused_not_a_traceback(tmp_path):
    flow = tmp_path / "Deep.flow-meta.xml"
    flow.write_bytes(b"<Flow><label>x</label>" + b"<a>" * 50_000 + b"</a>" * 50_000 + b"</Flow>")
    with pytest.raises(MetadataError) as caught:
        parse_metadata(flow, system="salesforce")
    assert caught.value.file == "Deep.flow-meta.xml"
    assert "nested too deeply" in caught.value.message


def test_a_trigger_with_a_windows_1252_byte_is_read_with_a_warning(tmp_path):
    trigger = tmp_path / "Legacy.trigger"
    trigger.write_bytes(b"// caf\xe9\ntrigger Legacy on Lead (before insert) { }\n")
    parsed = parse_metadata(trigger, system="salesforce")
    assert [(a.external_id, a.events) for a in parsed.automations] == [("ApexTrigger:Legacy", ["before insert"])]
    assert "not valid UTF-8" in parsed.warnings[0]


HOSTILE_FLOWS = [
    {"id": "h1", "objectTypeId": "0-1", "actions": {"not": "a list"}},
    {"id": "h2", "objectTypeId": "0-3", "actions": [{"actionTypeId": "0-14", "fields": {"properties": 5}}]},
    {"id": "h3", "enrollmentCriteria": ["not", "a", "dict"], "actions": []},
    {"id": "h4", "enrollmentCriteria": {"type": "EVENT_BASED", "eventFilterBranches": 7}, "actions": []},
    {
        "id": "h5",
        "objectTypeId": "0-1",
        "enrollmentCriteria": {
            "type": "EVENT_BASED",
            "eventFilterBranches": [
                {"eventTypeId": "4-655002", "filters": [{"property": "hs_name", "operation": {"values": {"a": 1}}}]}
            ],
        },
        "actions": [None, 3, "x", {"type": "STATIC_BRANCH", "inputValue": "dealstage", "staticBranches": "x"}],
    },
    {"id": 42, "objectTypeId": 3, "name": None, "isEnabled": "yes", "actions": [{"fields": [1, 2]}]},
]


def test_hubspot_flows_of_unexpected_shapes_never_crash(tmp_path):
    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"results": HOSTILE_FLOWS}))
    parsed = parse_metadata(path, system="hubspot")
    assert sorted(a.external_id for a in parsed.automations) == sorted(f"HubSpotFlow:{f['id']}" for f in HOSTILE_FLOWS)
    assert next(a for a in parsed.automations if a.external_id == "HubSpotFlow:42").active is False


def test_hubspot_number_too_long_to_convert_is_refused_by_name(tmp_path):
    path = tmp_path / "big.json"
    path.write_text('{"id": "1", "actions": [], "revisionId": ' + "9" * 5000 + "}")
    with pytest.raises(MetadataError) as caught:
        parse_metadata(path, system="hubspot")
    assert caught.value.file == "big.json"


# --- the command and the service: the database ----------------------------------------------------


def run(path, system):
    out, err = StringIO(), StringIO()
    call_command("metadata_import", str(path), "--system", system, "--json", stdout=out, stderr=err)
    assert "Traceback" not in err.getvalue()
    return json.loads(out.getvalue())


def stored():
    return (
        MetadataSnapshot.objects.count(),
        SnapshotAutomation.objects.count(),
        SnapshotField.objects.count(),
        Automation.objects.count(),
        DataField.objects.count(),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("system", "project"), PROJECTS)
def test_command_imports_the_real_project_then_its_zip_is_all_unchanged(system, project, tmp_path):
    first = run(REAL / project, system)
    found = {a["external_id"]: a for a in first["automations"]}
    assert len(found) == EXPECTED_COUNTS[project]
    check(found, EXPECTED[project])
    assert {a["change"] for a in first["automations"]} == {"new"}
    before = stored()
    again = run(zip_of(REAL / project, tmp_path / "export.zip"), system)
    assert {a["change"] for a in again["automations"]} == {"unchanged"}
    after = stored()
    assert after[0] == before[0] + 1  # the snapshot, and nothing else new
    assert after[3:] == before[3:]


@pytest.mark.django_db
def test_service_imports_every_salesforce_project_in_one_zip(tmp_path):
    archive = tmp_path / "org.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for project in SALESFORCE_PROJECTS:
            for path in sorted((REAL / project).rglob("*")):
                if path.is_file():
                    zf.write(path, f"{project}/{path.relative_to(REAL / project).as_posix()}")
    result = services.metadata_import(system="salesforce", path=archive, by=None)
    ids = {a["external_id"] for a in result.as_json()["automations"]}
    assert len(ids) == sum(EXPECTED_COUNTS[p] for p in SALESFORCE_PROJECTS)
    for project in SALESFORCE_PROJECTS:
        assert set(EXPECTED[project]) <= ids


@pytest.mark.django_db
def test_a_truncated_real_file_in_a_project_stores_nothing(tmp_path):
    import shutil

    project = shutil.copytree(REAL / "metadata-format-org", tmp_path / "org")
    workflow = project / "workflows" / "Opportunity.workflow"
    workflow.write_bytes(workflow.read_bytes()[:3000])
    before = stored()
    with pytest.raises(CommandError) as caught:
        run(project, "salesforce")
    assert "workflows/Opportunity.workflow" in str(caught.value)
    assert "line" in str(caught.value)
    assert stored() == before


# --- the API: a CI pipeline's upload ------------------------------------------------------------

URL = "/api/v1/metadata-snapshots/"


def upload(client, archive: Path):
    data = BytesIO(archive.read_bytes())
    data.name = archive.name
    return client.post(URL, {"file": data}, format="multipart")


@pytest.mark.django_db
@pytest.mark.parametrize("project", SALESFORCE_PROJECTS)
def test_api_takes_a_zip_of_each_real_salesforce_project(api, sf_token, project, tmp_path):
    client = api.as_token(sf_token)
    response = upload(client, zip_of(REAL / project, tmp_path / f"{project}.zip"))
    assert response.status_code == 201, response.content
    found = {a["external_id"]: a for a in response.json()["automations"]}
    check(found, EXPECTED[project])
    again = upload(client, zip_of(REAL / project, tmp_path / "again.zip"))
    assert {a["change"] for a in again.json()["automations"]} == {"unchanged"}


@pytest.mark.django_db
def test_api_takes_the_hubspot_flows_and_refuses_a_truncated_one_by_name(api, hs_token):
    client = api.as_token(hs_token)
    for path in sorted((REAL / "hubspot").glob("*.json")):
        body = path.read_bytes()
        response = client.generic("POST", URL, body, content_type="application/json")
        assert response.status_code == 201, (path.name, response.content)
        ids = {a["external_id"] for a in response.json()["automations"]}
        assert ids <= set(EXPECTED["hubspot"]) and ids
        before = stored()
        broken = client.generic("POST", URL, body[: len(body) // 2], content_type="application/json")
        assert broken.status_code == 400, broken.content
        assert "line" in broken.content.decode()
        assert stored() == before


FORMULAS = [
    ('AND(ISPICKVAL(StageName, "Closed \\"Won\\""), Amount > 1.5e3)', [["StageName"], ["Amount"]]),
    ("$Setup.Config__c.Enabled__c && BLANKVALUE(Parent__r.Amount__c, 0) > 0", [["Parent__r", "Amount__c"]]),
    ("IF (IsClosed , 1, 0) /* IsWon */", [["IsClosed"]]),
    ("TEXT(Account.Rating) & 'Amount' & $Label.Hello & $ObjectType.Account.Fields.Name", [["Account", "Rating"]]),
    (
        "VLOOKUP($ObjectType.Zip__c.Fields.City__c, $ObjectType.Zip__c.Fields.Name, LEFT(BillingPostalCode,5))"
        " <> BillingCity",
        [["BillingPostalCode"], ["BillingCity"]],
    ),
    ('INCLUDES(Interests__c, "Golf") || REGEX(Phone, "[0-9]{3}")', [["Interests__c"], ["Phone"]]),
    ("NOT(ISNEW()) && PRIORVALUE(OwnerId) <> OwnerId", [["OwnerId"]]),
    ('Amount\u00a0> 5 and  RecordType.DeveloperName = "X"', [["Amount"], ["RecordType", "DeveloperName"]]),
]


@pytest.mark.parametrize(("formula", "references"), FORMULAS)
def test_unusual_formula_syntax_gives_the_field_references(formula, references):
    from discovery.parsers.formula import formula_references

    assert formula_references(formula) == references


def test_the_same_flow_in_two_package_directories_is_one_automation_and_a_warning(tmp_path):
    """coral-cloud ships Create_Booking in both cc-base-app/ and force-app/: one flow, a warning."""
    import shutil

    flow = (
        REAL
        / "ebikes-lwc/force-app/main/default/flows/Create_Slack_Channel_For_Reseller_Order_Collaboration.flow-meta.xml"
    )
    for package in ("cc-base-app", "force-app"):
        target = tmp_path / package / "main/default/flows" / flow.name
        target.parent.mkdir(parents=True)
        shutil.copy(flow, target)
    parsed = parse_metadata(tmp_path, system="salesforce")
    assert [a.external_id for a in parsed.automations] == ["Flow:Create_Slack_Channel_For_Reseller_Order_Collaboration"]
    assert parsed.automations[0].source_file.startswith("cc-base-app/")
    assert len(parsed.warnings) == 1 and "appears twice" in parsed.warnings[0]
