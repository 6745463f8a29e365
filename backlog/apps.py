from django.apps import AppConfig


class BacklogConfig(AppConfig):
    name = "backlog"
    verbose_name = "Automation backlog"

    def ready(self):
        from registry.extensions import AutomationPanel, register_automation_panel
        from revops_gov.navigation import NavItem, register_nav_item

        from .panels import promoted_from

        register_nav_item(NavItem("Backlog", "backlog:board", order=40, section="/backlog/"))
        register_automation_panel(
            AutomationPanel("backlog", "backlog/partials/automation_panel.html", promoted_from, order=50)
        )
