from django.apps import AppConfig


class RevopsGovConfig(AppConfig):
    """The project package doubles as the app holding the cross-app pieces: users and their
    roles, integrations and their API tokens."""

    name = "revops_gov"
    verbose_name = "RevOps Governance"

    def ready(self):
        from .navigation import NavItem, register_nav_item

        register_nav_item(
            NavItem("Integrations", "integration-list", required="govern", order=90, section="/integrations/")
        )
        register_nav_item(NavItem("Deliveries", "delivery-list", required="govern", order=91, section="/deliveries/"))
