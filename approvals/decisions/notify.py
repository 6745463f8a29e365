"""Telling a person a decision request waits for them: by email or on their chat channel (Slack:
the options that need nothing typed as buttons). Imports no service, so the services call it at
the top level and `chat` (which decides through the services) reuses it."""

from revops_gov import chat
from revops_gov.notifications import Line, send_notice

from .kinds import options_for
from .models import DecisionRequest

ACTION_PREFIX = "decide:"


def buttons_for(request: DecisionRequest) -> list[chat.Button]:
    """The options that need nothing typed (a value or a reason) are buttons; the others open the page."""
    return [
        chat.Button(
            label=option.label,
            action_id=f"{ACTION_PREFIX}{option.value}",
            value=str(request.pk),
            style="primary" if index == 0 else None,
        )
        for index, option in enumerate(options_for(request.kind))
        if not option.needs_value and not option.needs_reason
    ]


def announce(request: DecisionRequest, *, note: str = "", key: str = "") -> None:
    """Tell the assignee a request waits (on commit, through the outbox). Once per request and
    assignee unless `key` says otherwise (a hand-off names its own); `note` comes first (who handed
    it over and why)."""
    assignee = request.assignee
    intro = f"{request.automation.name} asks: {request.why}"
    send_notice(
        user=assignee,
        subject=f"Decide: {request.get_kind_display()} on {request.record_object} {request.record_id}",
        intro=f"{note} {intro}" if note else intro,
        lines=[Line(f"Proposed: {request.proposed_action}", request.get_absolute_url())]
        + [Line(f"{item['label']}: {item['value']}") for item in request.evidence[:8]],
        key=key or f"decision:{request.pk}:announce:{assignee.pk}",
        kind="decision_request",
        about=f"decisions.request:{request.pk}",
        about_url=request.get_absolute_url(),
        buttons=buttons_for(request),
    )
