"""The health API routes, mounted under /api/v1/ by revops_gov.api_urls."""

from django.urls import path, re_path

from .api import FindingViewSet, RunListIngestView, RunPingView


def register(router) -> None:
    """Register this app's viewsets on the shared /api/v1/ router."""
    router.register("findings", FindingViewSet, basename="finding")


urlpatterns: list = [
    path("runs/", RunListIngestView.as_view(), name="run-list"),
    re_path(
        r"^automations/(?P<key>[a-z0-9_-]+)/runs/(?P<kind>start|success|failure)$",
        RunPingView.as_view(),
        name="run-ping",
    ),
]
