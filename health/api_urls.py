"""The health API routes, mounted under /api/v1/ by revops_gov.api_urls."""

from django.urls import path, register_converter

from .api import FindingViewSet, HoldWindowViewSet, RunListIngestView, RunPingView
from .services import PING_KINDS


class PingKindConverter:
    """Exactly start, success or failure (anchored by path(): `startx` is a 404)."""

    regex = "|".join(PING_KINDS)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PingKindConverter, "pingkind")


def register(router) -> None:
    """Register this app's viewsets on the shared /api/v1/ router."""
    router.register("findings", FindingViewSet, basename="finding")
    router.register("hold-windows", HoldWindowViewSet, basename="hold-window")


urlpatterns: list = [
    path("runs/", RunListIngestView.as_view(), name="run-list"),
    path("automations/<slug:key>/runs/<pingkind:kind>", RunPingView.as_view(), name="run-ping"),
]
