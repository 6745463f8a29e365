from django.apps import AppConfig


class DiscoveryConfig(AppConfig):
    name = "discovery"
    verbose_name = "Discovery (CRM metadata)"

    def ready(self):
        from registry.extensions import (
            AutomationPanel,
            register_automation_panel,
            register_datafield_panel,
            register_field_impact,
        )
        from revops_gov.navigation import NavItem, register_nav_item

        from .selectors import field_impact_automation_ids
        from .views import automation_panel_context, datafield_panel_context

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
        register_datafield_panel(
            AutomationPanel(
                name="discovery",
                template="discovery/partials/datafield_panel.html",
                context=datafield_panel_context,
                order=40,
            )
        )
        register_field_impact("discovery", field_impact_automation_ids)
