from django.apps import AppConfig


class DiscoveryConfig(AppConfig):
    name = "discovery"
    verbose_name = "Discovery (CRM metadata)"

    def ready(self):
        from registry.extensions import AutomationPanel, register_automation_panel
        from revops_gov.navigation import NavItem, register_nav_item

        from .views import automation_panel_context

        register_nav_item(
            NavItem("Discovery", "discovery:snapshot-list", required="govern", order=70, section="/discovery/")
        )
        register_automation_panel(
            AutomationPanel(
                name="discovery",
                template="discovery/partials/automation_panel.html",
                context=automation_panel_context,
                order=40,
            )
        )
