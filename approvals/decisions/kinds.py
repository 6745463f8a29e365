"""The kinds of decision the queue holds and the options a person has for each (the guide's
"Human-in-the-loop design" table). One place: services, forms, the API schema and the pages read it."""

from dataclasses import dataclass

from django.db import models


class DecisionKind(models.TextChoices):
    DUPLICATE_MERGE = "duplicate_merge", "Duplicate merge"
    STRATEGIC_LEAD_ROUTE = "strategic_lead_route", "Strategic lead route"
    FORECAST_RISK_ALERT = "forecast_risk_alert", "Forecast risk alert"
    RENEWAL_RISK_SUMMARY = "renewal_risk_summary", "Renewal risk summary"
    EXPANSION_SIGNAL = "expansion_signal", "Expansion signal"


class DecisionStatus(models.TextChoices):
    OPEN = "open", "Open"
    DECIDED = "decided", "Decided"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    # What the person must give with it: the label of the required value ("New owner"), if any.
    value_label: str = ""
    # An override or a dismissal: the person goes against what the automation proposed. It always
    # keeps its reason, and counts toward the automation's override rate.
    overrides: bool = False
    # The CRM acts on it (the proposal, or a variant the person chose): refused while the
    # automation's permit is not live. Rejections, dismissals and hand-offs act on nothing.
    acts: bool = True
    # A hand-off, not an outcome: the request stays open and waits for someone else — the
    # assignee's manager ("manager") or the person named as the value ("value").
    hands_off_to: str = ""

    @property
    def closes(self) -> bool:
        return not self.hands_off_to

    @property
    def needs_value(self) -> bool:
        return bool(self.value_label)

    @property
    def needs_reason(self) -> bool:
        return self.overrides


OPTIONS: dict[str, tuple[Option, ...]] = {
    DecisionKind.DUPLICATE_MERGE: (
        Option("approve_merge", "Approve merge"),
        Option("reject", "Reject", overrides=True, acts=False),
        Option("request_review", "Request review", value_label="Reviewer (username)", acts=False, hands_off_to="value"),
    ),
    DecisionKind.STRATEGIC_LEAD_ROUTE: (
        Option("accept_owner", "Accept owner"),
        Option("override", "Override", value_label="New owner", overrides=True),
        Option("escalate", "Escalate", acts=False, hands_off_to="manager"),
    ),
    DecisionKind.FORECAST_RISK_ALERT: (
        Option("confirm_risk", "Confirm risk"),
        Option("update_category", "Update category", value_label="New forecast category"),
        Option("dismiss", "Dismiss with reason", overrides=True, acts=False),
    ),
    DecisionKind.RENEWAL_RISK_SUMMARY: (
        Option("assign_save_owner", "Assign save owner", value_label="Save owner"),
        Option("update_risk", "Update risk", value_label="New risk value"),
        Option("mark_no_action", "Mark no action", overrides=True, acts=False),
    ),
    DecisionKind.EXPANSION_SIGNAL: (
        Option("create_opportunity", "Create opportunity"),
        Option("assign_follow_up", "Assign follow-up", value_label="Follow-up owner"),
        Option("reject_signal", "Reject signal", overrides=True, acts=False),
    ),
}

OVERRIDE_OPTIONS = frozenset(option.value for options in OPTIONS.values() for option in options if option.overrides)


def options_for(kind: str) -> tuple[Option, ...]:
    return OPTIONS[DecisionKind(kind)]


def option_for(kind: str, value: str) -> Option | None:
    return next((option for option in options_for(kind) if option.value == value), None)
