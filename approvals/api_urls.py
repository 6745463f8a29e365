"""The approvals API routes, mounted under /api/v1/ by revops_gov.api_urls."""

from django.urls import path

from . import api


def register(router) -> None:
    """Register this app's viewsets on the shared /api/v1/ router (plain paths below instead)."""


KEY = "automations/<slug:key>/"
urlpatterns: list = [
    path(f"{KEY}permit/", api.PermitApi.as_view(), name="automation-permit"),
    path(f"{KEY}transition/", api.TransitionApi.as_view(), name="automation-transition"),
    path(f"{KEY}adopt/", api.AdoptApi.as_view(), name="automation-adopt"),
    path(f"{KEY}retired-in-crm/", api.RetireInCrmApi.as_view(), name="automation-retire-in-crm"),
    path(f"{KEY}shadow-observations/", api.ShadowObservationsApi.as_view(), name="automation-shadow-observations"),
]
