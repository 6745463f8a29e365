from django import template
from django.utils.html import format_html

from registry.choices import LifecycleStatus, RiskTier

register = template.Library()

TIER_CLASSES = {RiskTier.LOW: "text-bg-success", RiskTier.MEDIUM: "text-bg-warning", RiskTier.HIGH: "text-bg-danger"}
STATUS_CLASSES = {
    LifecycleStatus.PROPOSED: "text-bg-light border",
    LifecycleStatus.IN_DESIGN: "text-bg-info",
    LifecycleStatus.APPROVED: "text-bg-primary",
    LifecycleStatus.SHADOW: "text-bg-secondary",
    LifecycleStatus.LIVE: "text-bg-success",
    LifecycleStatus.PAUSED: "text-bg-warning",
    LifecycleStatus.RETIRED: "text-bg-dark",
    LifecycleStatus.DISCOVERED: "text-bg-danger",  # running in the CRM, never approved
}


@register.simple_tag
def tier_badge(automation):
    tier = automation.risk_tier
    return format_html('<span class="badge {}">{} risk</span>', TIER_CLASSES[tier], tier.label)


@register.simple_tag
def tier_value_badge(value):
    tier = RiskTier(value)
    return format_html('<span class="badge {}">{}</span>', TIER_CLASSES[tier], tier.label)


@register.simple_tag
def status_badge(automation):
    status = LifecycleStatus(automation.status)
    return format_html('<span class="badge {}">{}</span>', STATUS_CLASSES[status], status.label)


@register.simple_tag
def sort_link(label, field, ordering, sort_query):
    """A column header that sorts by `field`, toggling direction; shows the current direction."""
    if ordering == field:
        target, arrow, state = f"-{field}", " ▲", "ascending"
    elif ordering == f"-{field}":
        target, arrow, state = field, " ▼", "descending"
    else:
        target, arrow, state = field, "", None
    query = f"{sort_query}&" if sort_query else ""
    if state:
        return format_html(
            '<a class="sort-link" href="?{}ordering={}" aria-label="{}, sorted {}">{}{}</a>',
            query,
            target,
            label,
            state,
            label,
            arrow,
        )
    return format_html('<a class="sort-link" href="?{}ordering={}">{}</a>', query, target, label)


@register.filter
def person(user):
    return user.display_name if user else "—"
