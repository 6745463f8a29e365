"""The approvals pages."""

from django.urls import path

from . import views

app_name = "approvals"

urlpatterns: list = [
    path("approvals/waiting/", views.WaitingView.as_view(), name="waiting"),
    path("automations/<slug:key>/move/", views.TransitionView.as_view(), name="transition"),
    path("automations/<slug:key>/adopt/", views.AdoptView.as_view(), name="adopt"),
    path("automations/<slug:key>/retired-in-crm/", views.RetireInCrmView.as_view(), name="retire-in-crm"),
    path("automations/<slug:key>/packet/", views.PacketEditView.as_view(), name="packet-edit"),
    path("automations/<slug:key>/packets/<int:number>/", views.PacketDetailView.as_view(), name="packet-detail"),
    path("automations/<slug:key>/packets/<int:number>/submit/", views.PacketSubmitView.as_view(), name="packet-submit"),
    path("automations/<slug:key>/packets/<int:number>/review/", views.PacketReviewView.as_view(), name="packet-review"),
    path("automations/<slug:key>/readiness/", views.ReadinessView.as_view(), name="readiness"),
    path("automations/<slug:key>/readiness/tick/", views.TickView.as_view(), name="readiness-tick"),
    path("automations/<slug:key>/readiness/tests/", views.TestCaseView.as_view(), name="testcase-save"),
    path("automations/<slug:key>/readiness/tests/<int:case>/", views.TestCaseView.as_view(), name="testcase-edit"),
    path("automations/<slug:key>/readiness/tests/<int:case>/run/", views.TestRunView.as_view(), name="testcase-run"),
]
