"""Email to people, in one shape for every app: a notice (one event worth one email, e.g. a finding
that just opened) or a digest (everything waiting for one person, batched into one email).

Apps decide *whether* to send (idempotency lives with their own records, e.g. a `notified_at`
column set in the transaction of the send, or a unique row); this module only renders and sends. Links are absolute,
built from REVOPS["SITE_URL"].
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string


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


def _send(*, to: str, subject: str, context: dict) -> bool:
    if not to:
        return False
    body = render_to_string("email/message.txt", {**context, "site_url": settings.REVOPS["SITE_URL"]})
    return bool(send_mail(f"[RevOps Governance] {subject}", body, None, [to], fail_silently=False))


def send_notice(*, user, subject: str, lines: Iterable[Line], intro: str = "") -> bool:
    """One email about one thing. Returns False when the person has no address."""
    return _send(
        to=user.email, subject=subject, context={"user": user, "intro": intro, "sections": [Section("", list(lines))]}
    )


def send_digest(*, user, subject: str, sections: Iterable[Section], intro: str = "") -> bool:
    """One email listing everything waiting for one person; empty sections are left out and
    nothing is sent when every section is empty (no digest when nothing waits)."""
    sections = [section for section in sections if section.lines]
    if not sections:
        return False
    return _send(to=user.email, subject=subject, context={"user": user, "intro": intro, "sections": sections})
