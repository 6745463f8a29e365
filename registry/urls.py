from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("automations/", views.AutomationListView.as_view(), name="automation-list"),
    path("automations/new/", views.AutomationCreateView.as_view(), name="automation-create"),
    path("automations/import/", views.ImportView.as_view(), name="automation-import"),
    path("automations/export.csv", views.AutomationExportView.as_view(), name="automation-export"),
    path("automations/owners/", views.BulkOwnerView.as_view(), name="automation-bulk-owner"),
    path("automations/<slug:key>/", views.AutomationDetailView.as_view(), name="automation-detail"),
    path("automations/<slug:key>/edit/", views.AutomationEditView.as_view(), name="automation-edit"),
    path("automations/<slug:key>/history/", views.AutomationHistoryView.as_view(), name="automation-history"),
    path("automations/<slug:key>/reviewed/", views.AutomationReviewView.as_view(), name="automation-reviewed"),
    path("automations/<slug:key>/holds/", views.HoldPlaceView.as_view(), name="hold-place"),
    path("automations/<slug:key>/holds/<int:pk>/release/", views.HoldReleaseView.as_view(), name="hold-release"),
    path("data-fields/", views.DataFieldListView.as_view(), name="datafield-list"),
    path("data-fields/new/", views.DataFieldCreateView.as_view(), name="datafield-create"),
    path("data-fields/<int:pk>/", views.DataFieldDetailView.as_view(), name="datafield-detail"),
    path("data-fields/<int:pk>/edit/", views.DataFieldEditView.as_view(), name="datafield-edit"),
    path("change-events/", views.ChangeEventListView.as_view(), name="changeevent-list"),
    path("change-events/new/", views.ChangeEventCreateView.as_view(), name="changeevent-create"),
    path("change-events/<int:pk>/", views.ChangeEventDetailView.as_view(), name="changeevent-detail"),
]
