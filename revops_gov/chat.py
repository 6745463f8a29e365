"""Messages where people already work: Slack (Block Kit, built with slack-sdk's models, sent with
the bot token's `chat.postMessage`) and Microsoft Teams (an Adaptive Card posted to a Workflows
webhook). Both are channels of the one outbox (`revops_gov.outbox`): rows, retries, the
deliveries page.

Who gets what where: a person's own choice (`User.notify_by`), else their team's
(`TeamChannel`), else email. "Digest only" sends nothing at once; the digests still come.

Text from the CRM (record names, reasons) is escaped: in Slack it goes into plain_text objects or
mrkdwn with &, <, > escaped, so `<!channel>` or `<@U123>` can neither break the message nor ping
anyone; in Teams, Markdown and `<at>` mentions are escaped the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from .models import TeamChannel

EMAIL, SLACK, TEAMS, DIGEST = "email", "slack", "teams", "digest"


class RetryAfter(Exception):
    """The chat service said "too many requests": try again after `seconds`."""

    def __init__(self, seconds: float, message: str):
        super().__init__(message)
        self.seconds = seconds


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str
    style: str | None = None  # "primary" | "danger"


@dataclass(frozen=True)
class Route:
    channel: str
    address: str  # Slack: a member or channel ID; Teams: the workflow URL; email: the address


def _conf(name):
    return settings.REVOPS[name]


def routes_for(user) -> list[Route]:
    """Where a notice to this person goes now (empty for "digest only")."""
    choice = user.notify_by
    team = TeamChannel.objects.filter(team=user.team).first() if user.team else None
    if not choice and team is not None:
        choice = team.notify_by
    if choice == DIGEST:
        return []
    if choice == SLACK:
        target = user.slack_user_id or (team.slack_channel if team else "")
        if target and _conf("SLACK_BOT_TOKEN"):
            return [Route(SLACK, target)]
    if choice == TEAMS:
        target = user.teams_webhook_url or (team.teams_webhook_url if team else "")
        if target:
            return [Route(TEAMS, target)]
    return [Route(EMAIL, user.email)]


def digest_routes_for(user) -> list[Route]:
    """A digest goes to the person's chat channel if they chose one, else by email."""
    routes = routes_for(user)
    return routes or [Route(EMAIL, user.email)]


# --- Escaping --------------------------------------------------------------------------------
def slack_escape(text: str) -> str:
    """For mrkdwn: the three characters Slack asks to escape, so no <!here>, <@U…> or link forms."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_TEAMS_MARKDOWN = re.compile(r"([\\*_~`\[\]()#>+\-!|])")


def teams_escape(text: str) -> str:
    """For an Adaptive Card TextBlock: HTML-ish characters (`<at>` mentions) and Markdown."""
    text = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _TEAMS_MARKDOWN.sub(r"\\\1", text)


# --- Messages --------------------------------------------------------------------------------
def slack_message(*, subject: str, intro: str, lines: list[tuple[str, str]], buttons=(), link: str = "") -> dict:
    """Block Kit: a header, the intro, each line (text, link), the buttons, a link to the page."""
    blocks = [HeaderBlock(text=PlainTextObject(text=subject[:150], emoji=False))]
    if intro:
        blocks.append(SectionBlock(text=PlainTextObject(text=intro[:3000], emoji=False)))
    for text, url in lines[:20]:
        body = f"<{url}|{slack_escape(text)[:2900]}>" if url else slack_escape(text)[:3000]
        blocks.append(SectionBlock(text=MarkdownTextObject(text=body, verbatim=True)))
    if buttons:
        blocks.append(
            ActionsBlock(
                block_id="decision",
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text=b.label[:75], emoji=False),
                        action_id=b.action_id,
                        value=b.value,
                        style=b.style,
                    )
                    for b in buttons
                ],
            )
        )
    if link:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"<{link}|Open in RevOps Governance>")]))
    # The fallback text (notifications, screen readers) is read as mrkdwn: escaped too.
    return {"text": slack_escape(subject)[:300], "blocks": [block.to_dict() for block in blocks]}


def teams_message(*, subject: str, intro: str, lines: list[tuple[str, str]], link: str = "") -> dict:
    """An Adaptive Card (1.4) in the message envelope Teams workflows accept."""
    body = [{"type": "TextBlock", "text": teams_escape(subject), "weight": "Bolder", "size": "Medium", "wrap": True}]
    if intro:
        body.append({"type": "TextBlock", "text": teams_escape(intro), "wrap": True})
    for text, url in lines[:20]:
        item = f"[{teams_escape(text)}]({url})" if url else teams_escape(text)
        body.append({"type": "TextBlock", "text": item, "wrap": True, "spacing": "Small"})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in RevOps Governance", "url": link}] if link else [],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


# --- Sending (the outbox's senders) ----------------------------------------------------------
def slack_client() -> WebClient:
    return WebClient(
        token=_conf("SLACK_BOT_TOKEN"), base_url=_conf("SLACK_API_URL"), timeout=int(_conf("CHAT_TIMEOUT_SECONDS"))
    )


def send_slack(delivery) -> dict:
    """chat.postMessage to a member (a direct message) or a channel; returns Slack's answer, whose
    `channel` and `ts` let the message be updated later."""
    try:
        response = slack_client().chat_postMessage(channel=delivery.address, **delivery.payload)
    except SlackApiError as exc:
        if exc.response.status_code == 429:
            seconds = float(exc.response.headers.get("Retry-After", 30))
            raise RetryAfter(seconds, f"Slack: rate limited, retry after {seconds:g} s") from exc
        raise OSError(f"Slack: {exc.response.status_code} {exc.response.get('error', '')}") from exc
    return {"channel": response.get("channel"), "ts": response.get("ts")}


def send_teams(delivery) -> dict:
    response = httpx.post(delivery.address, json=delivery.payload, timeout=_conf("CHAT_TIMEOUT_SECONDS"))
    if response.status_code == 429:
        seconds = float(response.headers.get("Retry-After", 30))
        raise RetryAfter(seconds, f"Teams: rate limited, retry after {seconds:g} s")
    if not 200 <= response.status_code < 300:
        raise OSError(f"Teams: HTTP {response.status_code} {response.text[:200]}")
    return {}


def respond(response_url: str, message: dict) -> None:
    """Slack's response_url: replace the message the button was on (or answer ephemerally)."""
    httpx.post(response_url, json=message, timeout=_conf("CHAT_TIMEOUT_SECONDS")).raise_for_status()
