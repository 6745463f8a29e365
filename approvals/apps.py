from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"

    def ready(self):
        from registry.extensions import AutomationPanel, register_automation_panel
        from revops_gov.navigation import NavItem, register_nav_item

        from .selectors import waiting_count
        from .views import lifecycle_panel

        register_automation_panel(
            AutomationPanel("lifecycle", "approvals/partials/lifecycle_panel.html", lifecycle_panel, order=10)
        )
        register_nav_item(
            NavItem(
                "Approvals",
                "approvals:waiting",
                required="decide",
                order=40,
                section="/approvals/waiting/",
                badge=waiting_count,
            )
        )

        from .decisions import apps_ready

        apps_ready()
