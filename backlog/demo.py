"""Demo backlog: requests from the field, scored by RevOps, one in each group (see load_demo).

Idempotent: a candidate whose workflow title exists is left alone."""

from decimal import Decimal

from registry.models import DataField
from revops_gov.models import User

from . import services
from .models import Candidate

YES4 = {"rule_clear": "yes", "data_reliable": "yes", "exception_known": "yes", "value_measurable": "yes"}


def f(volume, risk, clarity, data, exceptions, impact, maintenance) -> dict:
    """The seven factors, 1–5, each as the guide's table reads it (issue 15 §5): a higher score
    raises the priority; maintenance 5 means the rule is easy to support after launch."""
    values = (volume, risk, clarity, data, exceptions, impact, maintenance)
    names = ("volume", "risk", "rule_clarity", "data_readiness", "exception_clarity", "user_impact", "maintenance_cost")
    return {f"factor_{name}": value for name, value in zip(names, values, strict=True)}


# (requester, request fields, data fields, triage fields or None, then: "decline" reason)
CANDIDATES = (
    (
        "maria",
        {
            "title": "Auto-route inbound leads from strategic accounts",
            "workflow_type": "lead_routing",
            "pain_point": "Inbound leads from named strategic accounts sit in the general queue for hours; "
            "the account owner hears about them from the customer.",
            "team": "sales",
            "system": "salesforce",
            "trigger": "A lead is created whose email domain matches a strategic account.",
            "rule": "Assign to the account owner; if the owner is out, to the strategic desk queue.",
            "volume_per_month": 420,
            "time_saved_hours_per_month": Decimal("35"),
            "sla_improvement_hours": Decimal("6"),
            "risk_reduction_per_year": Decimal("250000"),
        },
        ["Lead.Country", "Account.Tier__c", "Account.Named_Account__c"],
        {
            "rule_clear": "yes",
            "rule_clear_note": "Sales leadership agreed the rule in the October ops review.",
            "data_reliable": "partly",
            "data_reliable_note": "Account tiers are being recalculated for the new fiscal year.",
            "exception_known": "no",
            "exception_known_note": "Nobody owns domains shared by two strategic accounts.",
            "value_measurable": "yes",
            "value_measurable_note": "Speed to lead for strategic accounts, measured weekly.",
            **f(4, 3, 4, 2, 2, 5, 4),
        },
    ),
    (
        "sam",
        {
            "title": "SLA escalation for untouched MQLs",
            "workflow_type": "sla_management",
            "pain_point": "A quarter of MQLs get no first touch within the 4-hour SLA "
            "and nobody notices until month end.",
            "team": "marketing",
            "system": "salesforce",
            "trigger": "An MQL has no logged activity 4 business hours after assignment.",
            "rule": "Remind the owner at 4 hours, escalate to their manager at 8 hours.",
            "exception_path": "Leads with an invalid email go to marketing ops to fix the record.",
            "volume_per_month": 2600,
            "time_saved_hours_per_month": Decimal("60"),
            "sla_improvement_hours": Decimal("10"),
            "errors_avoided_per_month": 120,
        },
        ["Lead.Segment__c", "Lead.LeadSource"],
        {**YES4, **f(5, 2, 5, 4, 4, 4, 5)},
    ),
    (
        "casey",
        {
            "title": "Closed-won handoff task creation",
            "workflow_type": "handoff",
            "pain_point": "Customer success learns about new customers days after signature, without context.",
            "team": "cs",
            "system": "salesforce",
            "trigger": "An opportunity moves to Closed Won.",
            "rule": "Create the onboarding task for the CSM with the required handoff fields checked.",
            "exception_path": "Deals without a CSM assigned go to the CS operations lead.",
            "volume_per_month": 180,
            "time_saved_hours_per_month": Decimal("20"),
            "sla_improvement_hours": Decimal("72"),
        },
        ["Opportunity.StageName"],
        {**YES4, **f(3, 2, 5, 4, 4, 5, 4)},
    ),
    (
        "morgan",
        {
            "title": "Slack alert to the VP for every stage change",
            "workflow_type": "reporting",
            "pain_point": "The VP wants to see every stage change as it happens.",
            "team": "sales",
            "system": "salesforce",
            "trigger": "An opportunity's stage changes.",
            "rule": "Post the change to the VP's Slack channel.",
            "exception_path": "None needed: informational only.",
            "volume_per_month": 30,
            "time_saved_hours_per_month": Decimal("1"),
        },
        ["Opportunity.StageName"],
        {**YES4, **f(1, 1, 5, 4, 4, 1, 3)},
    ),
    (
        "priya",
        {
            "title": "Approve discount exceptions automatically under 25 %",
            "workflow_type": "other",
            "pain_point": "Deal desk is a bottleneck at quarter end.",
            "team": "finance",
            "system": "salesforce",
            "volume_per_month": 90,
            "time_saved_hours_per_month": Decimal("15"),
        },
        [],
        {
            "judgment_discount_exception": True,
            "judgment_complex_deal": True,
            "human_assist": "Summarise the deal, the customer's history and the precedent discounts for the deal desk.",
            "rule_clear": "partly",
            "rule_clear_note": "No written discount policy beyond 15 %.",
            **f(3, 5, 2, 3, 2, 3, 3),
        },
    ),
    (
        "dana",
        {
            "title": "Email at-risk customers automatically when health drops",
            "workflow_type": "renewal",
            "pain_point": "Save plays start too late for at-risk renewals.",
            "team": "cs",
            "system": "gainsight",
            "volume_per_month": 60,
            "risk_reduction_per_year": Decimal("400000"),
        },
        ["Account.Health_Score__c"],
        {
            "judgment_sensitive_communication": True,
            "judgment_customer_relationship": True,
            "human_assist": "Alert the CSM with the health drop and a suggested talk track "
            "instead of emailing the customer.",
            **f(2, 5, 3, 2, 2, 4, 3),
        },
    ),
    (
        "sam",
        {
            "title": "Duplicate lead alerts for the SDR team",
            "workflow_type": "crm_hygiene",
            "pain_point": "SDRs call the same person twice from duplicate leads.",
            "team": "sales",
            "system": "hubspot",
            "volume_per_month": 700,
            "time_saved_hours_per_month": Decimal("12"),
        },
        [],
        None,
    ),
)


def load(*, stdout=None) -> int:
    if not User.objects.filter(username="alex").exists():
        return 0
    people = {u.username: u for u in User.objects.all()}
    by = people["alex"]
    fields = {field.qualified_name: field for field in DataField.objects.all()}
    existing = set(Candidate.objects.values_list("title", flat=True))
    created = 0
    for requester, request, field_names, triage in CANDIDATES:
        if request["title"] in existing or requester not in people:
            continue
        candidate = services.candidate_request(
            by=people[requester], data_fields=[fields[n] for n in field_names if n in fields], **request
        )
        if triage:
            owners = {"owner": by, "maintenance_owner": people.get("jordan", by)}
            if triage.get("exception_known") == "yes":
                owners["exception_owner"] = people.get("jordan", by)
            data = dict(triage)
            if data.get("data_reliable") == "yes" and any(not fields[n].is_trusted for n in field_names if n in fields):
                data["data_reliable"] = "partly"
            services.candidate_update(
                candidate=candidate, by=by, reason="Scored at the weekly backlog review", **owners, **data
            )
        created += 1
    return created
