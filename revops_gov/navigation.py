"""The top navigation. Each app registers its entries in AppConfig.ready(); an entry shows only to
roles that hold its capability, optionally with a count badge (e.g. "waiting for me")."""

from collections.abc import Callable
from dataclasses import dataclass

from django.urls import reverse

from .roles import can_decide, can_govern, can_read


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    required: str = "read"
    order: int = 100
    section: str = ""  # URL prefix that marks the entry active
    badge: Callable | None = None  # (request) -> int


_items: dict[str, NavItem] = {}

CHECKS = {"read": can_read, "decide": can_decide, "govern": can_govern}


def register_nav_item(item: NavItem) -> None:
    _items[item.url_name] = item


def nav_for(request) -> list[dict]:
    user = request.user
    entries = []
    for item in sorted(_items.values(), key=lambda item: (item.order, item.label)):
        if not CHECKS[item.required](user):
            continue
        url = reverse(item.url_name)
        section = item.section or url
        entries.append(
            {
                "label": item.label,
                "url": url,
                "active": request.path.startswith(section),
                "badge": item.badge(request) if item.badge else None,
            }
        )
    return entries
