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


# --- The data field page's panels, the same way (discovery adds the blast radius) -------------
_field_panels: dict[str, AutomationPanel] = {}


def register_datafield_panel(panel: AutomationPanel) -> None:
    """A panel of the data field page: its context is (request, data_field) -> dict."""
    _field_panels[panel.name] = panel


def render_datafield_panels(request, data_field) -> list[dict]:
    return [
        {"name": panel.name, "template": panel.template, "context": panel.context(request, data_field)}
        for panel in sorted(_field_panels.values(), key=lambda panel: (panel.order, panel.name))
    ]


# --- Who else a change of a field touches -----------------------------------------------------
# A change event about fields affects the automations registered as using them, and those each
# provider names (discovery: the blast radius of the fields in the CRM's latest import).
_field_impact: dict[str, Callable] = {}


def register_field_impact(name: str, provider: Callable) -> None:
    """provider(data_fields) -> set of automation ids a change of those fields touches."""
    _field_impact[name] = provider


def field_impact(data_fields) -> set[int]:
    data_fields = list(data_fields)
    return set().union(*(provider(data_fields) for _name, provider in sorted(_field_impact.items())))
