"""The automation page's "Human decisions" panel: override rate and the reasons people gave."""

from . import selectors


def override_panel_context(request, automation) -> dict:
    stats = selectors.override_stats(automation=automation)
    return {"stats": stats, "automation": automation}
