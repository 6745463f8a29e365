"""The human-in-the-loop decision queue: DecisionRequests a person decides once, with the outcome
sent back to the CRM (webhook outbox) — part of the approvals app, in its own package."""


def apps_ready() -> None:
    """Called from ApprovalsConfig.ready(): the tasks, the navigation entry, the automation panel."""
    from registry.extensions import AutomationPanel, register_automation_panel
    from revops_gov.navigation import NavItem, register_nav_item

    from . import tasks  # noqa: F401 - Celery finds `<app>.tasks` only; this package's tasks register here
    from .panels import override_panel_context
    from .selectors import waiting_count

    register_nav_item(
        NavItem(
            "Decisions",
            "decisions:queue",
            order=40,
            section="/decisions/",
            badge=lambda request: waiting_count(user=request.user),
        )
    )
    register_automation_panel(
        AutomationPanel("decisions", "decisions/panels/overrides.html", override_panel_context, order=50)
    )
