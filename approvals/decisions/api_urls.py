"""The decision queue API routes, mounted under /api/v1/ by revops_gov.api_urls."""


def register(router) -> None:
    """Register this app's viewsets on the shared /api/v1/ router."""
    from .api import DecisionRequestViewSet

    router.register("decisions", DecisionRequestViewSet, basename="decision")


urlpatterns: list = []
