"""Deciding from Slack: a new decision request is announced to its assignee on their channel
(Slack: the options as buttons), and a button pressed in Slack decides through the same
`services.decide()` — the same checks, the same 409 on a second decision, the same refusals — as
the web page and the API.

The interactivity endpoint verifies Slack's signature (the signing secret, the timestamp within
five minutes, a constant-time compare: slack-sdk's SignatureVerifier), maps the Slack member to a
product user (a linked Slack member ID, or the verified email Slack gives for the member), and
answers an unlinked or unauthorised member ephemerally, deciding nothing. Every press is logged
as a ChatAction (who, what, the outcome) — the decision's source.
"""

import json
import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from revops_gov import chat
from revops_gov.errors import Conflict, Forbidden
from revops_gov.models import User
from revops_gov.notifications import absolute_url

from . import services
from .models import ChatAction, DecisionRequest
from .notify import ACTION_PREFIX, announce, buttons_for

__all__ = ["announce", "buttons_for", "slack_interactivity"]

log = logging.getLogger(__name__)


def _ephemeral(text: str) -> JsonResponse:
    return JsonResponse({"response_type": "ephemeral", "replace_original": False, "text": text})


def _slack_user(member_id: str) -> User | None:
    """The product user behind a Slack member: linked by member ID, else by the email Slack
    has verified for the member (users.info), once linked for next time."""
    user = User.objects.filter(slack_user_id=member_id, is_active=True).first()
    if user is not None or not settings.REVOPS["SLACK_BOT_TOKEN"]:
        return user
    try:
        info = chat.slack_client().users_info(user=member_id)
    except SlackApiError:
        return None
    profile = (info.get("user") or {}).get("profile") or {}
    email = profile.get("email")
    if not email or (info.get("user") or {}).get("is_email_confirmed") is False:
        return None
    candidates = list(User.objects.filter(email__iexact=email, is_active=True, slack_user_id="")[:2])
    if len(candidates) != 1:
        return None
    User.objects.filter(pk=candidates[0].pk).update(slack_user_id=member_id)
    candidates[0].slack_user_id = member_id
    return candidates[0]


def _log(**fields) -> None:
    ChatAction.objects.create(source="slack", **fields)


@csrf_exempt
@require_POST
def slack_interactivity(request):
    secret = settings.REVOPS["SLACK_SIGNING_SECRET"]
    if not secret:
        return HttpResponse("Slack is not configured here.", status=404, content_type="text/plain")
    verifier = SignatureVerifier(signing_secret=secret)
    if not verifier.is_valid_request(request.body, dict(request.headers)):
        return HttpResponse("Invalid Slack signature or timestamp.", status=401, content_type="text/plain")
    try:
        payload = json.loads(request.POST.get("payload", ""))
        action = payload["actions"][0]
        member_id = payload["user"]["id"]
        request_id = int(action["value"])
        option = action["action_id"].removeprefix(ACTION_PREFIX)
    except (ValueError, KeyError, IndexError, TypeError):
        return HttpResponse("Not a decision button press.", status=400, content_type="text/plain")
    response_url = payload.get("response_url", "")

    user = _slack_user(member_id)
    decision_request = DecisionRequest.objects.select_related("automation", "assignee").filter(pk=request_id).first()
    if decision_request is None:
        return _ephemeral("This decision request no longer exists.")
    if user is None:
        _log(request=decision_request, member_id=member_id, option=option, outcome="refused", detail="unlinked")
        return _ephemeral(
            "Your Slack account is not linked to a RevOps Governance user: add your Slack member ID on your "
            f"notifications page ({absolute_url('/account/notifications/')}). Nothing was decided."
        )
    try:
        with transaction.atomic():
            outcome = services.decide(request=decision_request, by=user, option=option)
            detail = f"handed to {outcome.to}" if isinstance(outcome, services.Handoff) else ""
            _log(
                request=decision_request,
                member_id=member_id,
                user=user,
                option=option,
                outcome="decided",
                detail=detail,
            )
    except (Forbidden, Conflict) as exc:
        # A refusal (who may decide, the permit) is "refused"; only a second decision is a conflict.
        refused = isinstance(exc, Forbidden | services.PermitRefused)
        _log(
            request=decision_request,
            member_id=member_id,
            user=user,
            option=option,
            outcome="refused" if refused else "conflict",
            detail=exc.message[:500],
        )
        return _ephemeral(f"{exc.message} Nothing was decided.")
    except ValidationError as exc:
        text = " ".join(m for messages in exc.message_dict.values() for m in messages)
        _log(
            request=decision_request,
            member_id=member_id,
            user=user,
            option=option,
            outcome="refused",
            detail=text[:500],
        )
        return _ephemeral(f"{text} Open the page to decide: {absolute_url(decision_request.get_absolute_url())}")
    if isinstance(outcome, services.Handoff):
        decided = f"{outcome.option_label} by {user} from Slack: it now waits for {outcome.to}, who is notified."
        subject = f"{outcome.option_label}: {decision_request.get_kind_display()} on {decision_request.record_id}"
    else:
        decided = (
            f"Decided by {user} from Slack: {outcome.option_label}. {decision_request.automation.name} is being told."
        )
        subject = f"Decided: {decision_request.get_kind_display()} on {decision_request.record_id}"
    if response_url:
        message = chat.slack_message(
            subject=subject,
            intro=decided,
            lines=[],
            link=absolute_url(decision_request.get_absolute_url()),
        )
        try:
            chat.respond(response_url, {"replace_original": True, **message})
        except Exception:  # noqa: BLE001 - the decision stands; only the Slack message stays as it was
            log.warning("Could not update the Slack message for decision request %s", request_id, exc_info=True)
    return HttpResponse(status=200)
