"""Panels other apps add to the automation page, without the registry importing them.

Approvals, backlog and health register a panel in their AppConfig.ready(); the automation page
renders every registered panel in order. A panel is a template and a function returning its
context: it must load what it shows in a constant number of queries.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class AutomationPanel:
    name: str
    template: str
    context: Callable  # (request, automation) -> dict
    order: int = 100


_panels: dict[str, AutomationPanel] = {}


def register_automation_panel(panel: AutomationPanel) -> None:
    _panels[panel.name] = panel


def automation_panels() -> list[AutomationPanel]:
    return sorted(_panels.values(), key=lambda panel: (panel.order, panel.name))


def render_panels(request, automation) -> list[dict]:
    return [
        {"name": panel.name, "template": panel.template, "context": panel.context(request, automation)}
        for panel in automation_panels()
    ]
