"""Rate limits on the doors an attacker knocks on: logging in (per username and per address) and
creating API tokens (per person). Counters live in the shared cache (the file cache embedded,
Redis in production), so every web process counts the same attempts.

Rates come from REVOPS["RATE_LIMITS"] ("10/10m" = ten attempts per ten minutes). A caller over the
limit gets a 429 that says when to try again: a page for people, JSON under /api/.
"""

import functools
import ipaddress
import logging

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

logger = logging.getLogger(__name__)


def _username(group, request) -> str:
    return request.POST.get("username", "").strip().lower()[:150]


KEYS = {
    "login-username": _username,
    "login-ip": "ip",
    "token-create": "user",
}


def over_limit(request, *, group: str) -> int | None:
    """Count this attempt against `group`; the seconds until the window ends when it is one too
    many, else None. A cache that cannot count lets the attempt through (and logs it): Redis being
    down must not lock everyone out."""
    usage = get_usage(
        request, group=group, key=KEYS[group], rate=settings.REVOPS["RATE_LIMITS"][group], method="POST", increment=True
    )
    if usage is None or not usage["should_limit"]:
        return None
    logger.warning("rate limit %s reached (%s attempts)", group, usage["count"])
    return max(usage["time_left"], 1)


def login_over_limit(request) -> int | None:
    """Both log-in counters move on every attempt: one address guessing many names, or many
    addresses guessing one name, each hit a limit."""
    for group in ("login-ip", "login-username"):
        retry_after = over_limit(request, group=group)
        if retry_after:
            return retry_after
    return None


def limit_logins(view):
    """Wrap a log-in view (the Django admin's) with the same limits as ours."""

    @functools.wraps(view)
    def limited(request, *args, **kwargs):
        if request.method == "POST":
            retry_after = login_over_limit(request)
            if retry_after:
                return too_many_requests(request, retry_after=retry_after, what="log-in attempts")
        return view(request, *args, **kwargs)

    return limited


def too_many_requests(request, *, retry_after: int, what: str):
    message = f"Too many {what}. Wait {retry_after} seconds and try again."
    if request.path.startswith("/api/"):
        response = JsonResponse({"message": message, "fields": {}, "extra": {"retry_after": retry_after}}, status=429)
    else:
        response = render(request, "errors/429.html", {"message": message, "retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


def client_ip(request) -> str:
    """The caller's address: behind the TLS proxy, the last X-Forwarded-For entry (the one the
    proxy itself appended, which a client cannot forge); otherwise the socket's address."""
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"
