"""Email to people, in one shape for every app: a notice (one event worth one email, e.g. a finding
that just opened) or a digest (everything waiting for one person, batched into one email).

Neither sends anything itself: each renders the email and writes it as a delivery row in the one
outbox (`revops_gov.outbox`), in the caller's transaction; a worker sends it after the commit and
retries it with backoff. Pass `key` for a message that must go out once ("finding:12:alert:7"):
the same key again queues nothing. Links are absolute, built from REVOPS["SITE_URL"].
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.template.loader import render_to_string

from . import chat
from .outbox import delivery_enqueue


@dataclass(frozen=True)
class Line:
    text: str
    path: str = ""  # a site path ("/automations/lead-routing/"), made absolute in the email

    @property
    def url(self) -> str:
        return absolute_url(self.path) if self.path else ""


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[Line] = field(default_factory=list)


def absolute_url(path: str) -> str:
    return settings.REVOPS["SITE_URL"].rstrip("/") + path


def _queue(
    *,
    user,
    subject: str,
    context: dict,
    kind: str,
    key: str | None,
    about: str,
    about_url: str,
    digest: bool = False,
    buttons=(),
) -> bool:
    """One delivery per channel the person is told on (chat.routes_for: their choice, their team's,
    or email); "digest only" people get no notice, only digests."""
    routes = chat.digest_routes_for(user) if digest else chat.routes_for(user)
    queued = False
    for route in routes:
        if route.channel == chat.EMAIL:
            body = render_to_string("email/message.txt", {**context, "site_url": settings.REVOPS["SITE_URL"]})
            full_subject = f"[RevOps Governance] {subject}"
            payload = {"subject": full_subject, "body": body}
        else:
            full_subject = subject
            lines = [(line.text, line.url) for section in context["sections"] for line in section.lines]
            link = absolute_url(about_url) if about_url else ""
            if route.channel == chat.SLACK:
                payload = chat.slack_message(
                    subject=subject, intro=context.get("intro", ""), lines=lines, buttons=buttons, link=link
                )
            else:
                payload = chat.teams_message(subject=subject, intro=context.get("intro", ""), lines=lines, link=link)
        delivery, created = delivery_enqueue(
            kind=kind,
            channel=route.channel,
            recipient=user,
            address=route.address,
            subject=full_subject,
            payload=payload,
            key=f"{key}:{route.channel}" if key and route.channel != chat.EMAIL else key,
            about=about,
            about_url=about_url,
        )
        queued = queued or (created and bool(route.address))
    return queued


def send_notice(
    *,
    user,
    subject: str,
    lines: Iterable[Line],
    intro: str = "",
    key: str | None = None,
    kind: str = "notice",
    about: str = "",
    about_url: str = "",
    buttons=(),
) -> bool:
    """One email about one thing, queued. Returns False when the person has no address (the
    delivery is stored as failed, visible on the deliveries page) or `key` was already queued."""
    return _queue(
        user=user,
        subject=subject,
        context={"user": user, "intro": intro, "sections": [Section("", list(lines))]},
        kind=kind,
        key=key,
        about=about,
        about_url=about_url,
        buttons=buttons,
    )


def send_digest(
    *,
    user,
    subject: str,
    sections: Iterable[Section],
    intro: str = "",
    key: str | None = None,
    kind: str = "digest",
    about: str = "",
    about_url: str = "",
) -> bool:
    """One email listing everything waiting for one person, queued; empty sections are left out
    and nothing is queued when every section is empty (no digest when nothing waits)."""
    sections = [section for section in sections if section.lines]
    if not sections:
        return False
    return _queue(
        user=user,
        subject=subject,
        context={"user": user, "intro": intro, "sections": sections},
        kind=kind,
        key=key,
        about=about,
        about_url=about_url,
        digest=True,
    )
