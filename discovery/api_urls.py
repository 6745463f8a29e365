"""The discovery API routes, mounted under /api/v1/ by revops_gov.api_urls."""

from django.urls import path

from .api import SnapshotDetailView, SnapshotListCreateView


def register(router) -> None:
    """No viewsets: plain paths only."""


urlpatterns = [
    path("metadata-snapshots/", SnapshotListCreateView.as_view(), name="metadata-snapshot-list"),
    path("metadata-snapshots/<int:pk>/", SnapshotDetailView.as_view(), name="metadata-snapshot-detail"),
]
