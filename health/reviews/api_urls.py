"""The monthly review API routes, mounted under /api/v1/ by revops_gov.api_urls."""


def register(router) -> None:
    """Register this package's viewsets on the shared /api/v1/ router."""
    from .api import HealthReviewRowViewSet, HealthReviewViewSet

    router.register("health-reviews", HealthReviewViewSet, basename="health-review")
    router.register("health-review-rows", HealthReviewRowViewSet, basename="health-review-row")


urlpatterns: list = []
