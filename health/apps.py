from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = "Health"

    def ready(self):
        from registry.extensions import AutomationPanel, register_automation_panel
        from revops_gov.navigation import NavItem, register_nav_item

        from . import receivers  # noqa: F401 - connects the outbox's delivery_sent
        from .views import automation_panel_context, review_reminders_panel_context

        register_nav_item(NavItem("Dashboard", "dashboard:dashboard", order=1, section="/dashboard/"))
        register_nav_item(NavItem("Findings", "health:finding-list", order=60, section="/findings/"))
        register_automation_panel(
            AutomationPanel(
                name="health",
                template="health/partials/automation_panel.html",
                context=automation_panel_context,
                order=50,
            )
        )
        register_automation_panel(
            AutomationPanel(
                name="review-reminders",
                template="health/partials/review_reminders_panel.html",
                context=review_reminders_panel_context,
                order=55,
            )
        )

        from .reviews import apps_ready

        apps_ready()
