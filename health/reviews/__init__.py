"""The monthly automation health review (the guide's "Automation health review"): per active
automation the month's runs, failure, override and ignored-alert rates, value against admin
maintenance time, the review questions answered from data, and a recommendation (keep, adjust,
pause, retire) with its reasons, which a RevOps admin confirms — part of the health app, in its
own package."""


def apps_ready() -> None:
    """Called from HealthConfig.ready(): the tasks and the navigation entry."""
    from revops_gov.navigation import NavItem, register_nav_item

    from . import tasks  # noqa: F401 - Celery finds `<app>.tasks` only; this package's tasks register here

    register_nav_item(NavItem("Reviews", "reviews:list", order=65, section="/reviews/"))
