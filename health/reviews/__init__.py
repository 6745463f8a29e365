"""The monthly automation health review (the guide's "Automation health review"): per active
automation the month's runs, failure, override and ignored-alert rates, value against admin
maintenance time, the review questions answered from data, and a recommendation (keep, adjust,
pause, retire) with its reasons, which a RevOps admin confirms — part of the health app, in its
own package."""


def apps_ready() -> None:
    """Called from HealthConfig.ready(): the tasks, the navigation entry, the automation panel."""
    from registry.extensions import AutomationPanel, register_automation_panel
    from revops_gov.navigation import NavItem, register_nav_item

    from . import tasks  # noqa: F401 - Celery finds `<app>.tasks` only; this package's tasks register here
    from .panels import review_panel_context

    register_nav_item(NavItem("Reviews", "reviews:list", order=65, section="/reviews/"))
    register_automation_panel(
        AutomationPanel("health-review", "reviews/partials/automation_panel.html", review_panel_context, order=56)
    )
