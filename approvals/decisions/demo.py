"""Demo decision queue: what the demo team's live automations propose, some waiting (one overdue),
some already decided with overrides and reasons, so the queue, the history and each automation's
override rate have something real to show. Idempotent: each request has a fixed Idempotency-Key."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from registry.models import Automation
from revops_gov.models import User

from . import services

SF = "https://acme.my.salesforce.com/lightning/r"
# flag that finds the automation, kind, object, id, why, evidence, proposal, due in hours, decision
REQUESTS = (
    (
        "merges_records",
        "duplicate_merge",
        "Account",
        "001A000001Xyz",
        "Same web domain and billing address as Acme Corp (001A000001Abc); both carry open opportunities.",
        {"Domain": "acme.com", "Billing address": "1 Market St, San Francisco", "Open opportunities": "2 and 1"},
        "Merge 001A000001Xyz into 001A000001Abc, keeping Abc's owner and history.",
        30,
        None,
    ),
    (
        "merges_records",
        "duplicate_merge",
        "Account",
        "001A000001Glb",
        "Globex Ltd and Globex Holdings share a DUNS number.",
        {"DUNS": "15-048-3782", "Owners": "Morgan Chen / Sam Taylor"},
        "Merge Globex Holdings into Globex Ltd.",
        -20,
        ("reject", "", "Holdings is the parent company with its own contract; keep both and link them."),
    ),
    (
        "reassigns_strategic_ownership",
        "strategic_lead_route",
        "Lead",
        "00QA000000Lead1",
        "Lead from Initech, a named strategic account; territory rule and named-account owner disagree.",
        {"Account tier": "Strategic", "Territory owner": "Sam Taylor", "Named account owner": "Morgan Chen"},
        "Route to Morgan Chen (named account owner wins over territory).",
        -2,
        None,
    ),
    (
        "reassigns_strategic_ownership",
        "strategic_lead_route",
        "Lead",
        "00QA000000Lead2",
        "Lead from Umbrella Corp (strategic); its named owner left the company last week.",
        {"Account tier": "Strategic", "Named account owner": "(inactive)"},
        "Route to the territory owner, Sam Taylor.",
        -30,
        ("override", "Dana Novak", "Umbrella is covered by the EMEA strategic pod until the territory is redrawn."),
    ),
    (
        "affects_forecast_or_board_metrics",
        "forecast_risk_alert",
        "Opportunity",
        "006A000000Opp1",
        "Commit deal has no next meeting and the close date moved twice; inspect timing before the forecast call.",
        {"Amount": "240,000 USD", "Close date pushes": 2, "Next meeting": "none", "Stage": "Negotiation"},
        "Move from Commit to Best case.",
        20,
        None,
    ),
    (
        "flags_churn_in_exec_reporting",
        "renewal_risk_summary",
        "Account",
        "001A000002Ren",
        "Usage down 38% in 60 days, executive sponsor left, renewal in 75 days.",
        {"Usage change": "-38%", "Open P1 tickets": 3, "Sponsor": "left in October", "Renewal": "in 75 days"},
        "Flag red in the executive churn report and open a save plan.",
        48,
        None,
    ),
    (
        "creates_expansion_pipeline",
        "expansion_signal",
        "Account",
        "001A000003Exp",
        "Seat usage at 96% of the contract for 30 days and a new team signed up.",
        {"Seats used": "480 / 500", "New team": "Data science"},
        "Create an expansion opportunity for 200 seats.",
        40,
        ("create_opportunity", "", ""),
    ),
)

# Where the demo registry has no live automation with the flag, the closest live workflow asks.
FALLBACK_WORKFLOW = {
    "duplicate_merge": "crm_hygiene",
    "strategic_lead_route": "lead_routing",
    "forecast_risk_alert": "forecast_hygiene",
    "renewal_risk_summary": "renewal",
    "expansion_signal": "renewal",
}


def load(*, stdout=None) -> int:
    by = User.objects.filter(username="alex").first()
    if by is None:
        return 0
    created = 0
    now = timezone.now()
    for index, (flag, kind, obj, record_id, why, evidence, proposal, due_hours, decided) in enumerate(REQUESTS):
        automation = (
            Automation.objects.filter(Q(**{flag: True}) | Q(workflow_type=FALLBACK_WORKFLOW[kind]), status="live")
            .exclude(exception_owner=None)
            .order_by(f"-{flag}", "key")
            .select_related("exception_owner")
            .first()
        )
        if automation is None or automation.holds.filter(released_at__isnull=True).exists():
            continue
        request, new = services.decision_request_create(
            by=by,
            automation=automation,
            kind=kind,
            record_object=obj,
            record_id=record_id,
            record_url=f"{SF}/{obj}/{record_id}/view",
            why=why,
            evidence=evidence,
            proposed_action=proposal,
            due_at=now + timedelta(hours=due_hours),
            idempotency_key=f"demo-{index}",
        )
        if not new:
            continue
        created += 1
        if decided:
            option, value, reason = decided
            services.decide(request=request, by=request.assignee, option=option, value=value, reason=reason)
    return created
