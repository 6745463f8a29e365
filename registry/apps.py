from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Automation registry"

    def ready(self):
        from revops_gov.navigation import NavItem, register_nav_item

        from . import signals  # noqa: F401 - connects the card cache invalidation

        register_nav_item(NavItem("Automations", "registry:automation-list", order=10, section="/automations/"))
        register_nav_item(NavItem("Data dictionary", "registry:datafield-list", order=20, section="/data-fields/"))
        register_nav_item(NavItem("Change events", "registry:changeevent-list", order=30, section="/change-events/"))
