"""The health pages."""

from django.urls import path

from . import views

app_name = "health"

urlpatterns: list = [
    path("findings/", views.FindingListView.as_view(), name="finding-list"),
    path("findings/<int:pk>/", views.FindingDetailView.as_view(), name="finding-detail"),
    path("findings/<int:pk>/acknowledge", views.FindingAcknowledgeView.as_view(), name="finding-acknowledge"),
    path("findings/<int:pk>/suppress", views.FindingSuppressView.as_view(), name="finding-suppress"),
    path("findings/<int:pk>/fix", views.FindingFixView.as_view(), name="finding-fix"),
    path("findings/<int:pk>/close", views.FindingCloseView.as_view(), name="finding-close"),
    path("findings/<int:pk>/release-hold", views.FindingHoldReleaseView.as_view(), name="finding-hold-release"),
    path("suppressions/", views.SuppressionListView.as_view(), name="suppression-list"),
    path("hold-windows/", views.HoldWindowListView.as_view(), name="hold-window-list"),
    path("hold-windows/<int:pk>/cancel", views.HoldWindowCancelView.as_view(), name="hold-window-cancel"),
    path(
        "automations/<slug:key>/hold-windows/",
        views.AutomationHoldWindowsView.as_view(),
        name="automation-hold-windows",
    ),
    path("automations/<slug:key>/hold-windows/plan", views.HoldWindowPlanView.as_view(), name="hold-window-plan"),
    path("automations/<slug:key>/runs/", views.AutomationRunsView.as_view(), name="automation-runs"),
    path("automations/<slug:key>/runs.csv", views.AutomationRunsExportView.as_view(), name="automation-runs-export"),
]
