"""The backlog API routes, mounted under /api/v1/ by revops_gov.api_urls."""

from .api import CandidateViewSet, ScoringModelViewSet


def register(router) -> None:
    """Register this app's viewsets on the shared /api/v1/ router."""
    router.register("candidates", CandidateViewSet, basename="candidate")
    router.register("scoring-models", ScoringModelViewSet, basename="scoringmodel")


urlpatterns: list = []
