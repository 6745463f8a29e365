"""CSV files for the import's tests (service and page)."""

import csv
import io

HEADER = (
    "key,name,business_purpose,workflow_type,team,system,trigger,rule,"
    "rule_owner,failure_owner,data_fields,merges_records,status,last_reviewed_at\n"
)


def row(key, **overrides):
    values = {
        "key": key,
        "name": f"Automation {key}",
        "business_purpose": "Keep the CRM clean",
        "workflow_type": "CRM hygiene",
        "team": "revops",
        "system": "salesforce",
        "trigger": "Nightly",
        "rule": "Same domain and address",
        "rule_owner": "alice",
        "failure_owner": "alice@example.com",
        "data_fields": "Lead.Segment__c",
        "merges_records": "false",
        "status": "proposed",
        "last_reviewed_at": "2026-10-01",
    }
    values.update(overrides)
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values.values())
    return buffer.getvalue()


def csv_file(*rows: dict) -> bytes:
    """A file whose header is every column any of the rows names, after the usual ones."""
    base = dict(zip(HEADER.strip().split(","), next(csv.reader([row("x")])), strict=True))
    columns = list(base) + [name for r in rows for name in r if name not in base]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(columns)), restval="")
    writer.writeheader()
    for values in rows:
        writer.writerow({**base, **values})
    return buffer.getvalue().encode()


# The cells that answered HTTP 500 (issue 15) and the other bad cells: each a row error.
BAD_CELLS = {
    "tier below the floor": (
        {"merges_records": "yes", "risk_tier_override": "low", "risk_tier_override_reason": "Felt safe"},
        "risk_tier_override",
    ),
    "tier raise without a reason": ({"risk_tier_override": "high"}, "risk_tier_override_reason"),
    "unknown tier": ({"risk_tier_override": "extreme", "risk_tier_override_reason": "x"}, "risk_tier_override"),
    "unknown owner": ({"rule_owner": "nobody"}, "rule_owner"),
    "unknown enum": ({"team": "legal"}, "team"),
    "not yes/no": ({"merges_records": "perhaps"}, "merges_records"),
    "date 2026-13-45": ({"last_reviewed_at": "2026-13-45"}, "last_reviewed_at"),
    "hour 25": ({"last_reviewed_at": "2026-10-01T25:00:00"}, "last_reviewed_at"),
    "huge duration": ({"schedule_kind": "interval", "schedule_interval": "999999999 00:00:00"}, "schedule_interval"),
    "duration past timedelta": ({"schedule_grace": "9999999999 00:00:00"}, "schedule_grace"),
    "tag over 50 characters": ({"tags": "inbound; " + "t" * 51}, "tags"),
    "cadence longer than the tier allows": ({"merges_records": "yes", "review_cadence": "180"}, "review_cadence"),
    "a new row not proposed": ({"status": "live"}, "status"),
}
