from django.urls import path

from . import views

app_name = "discovery"

urlpatterns = [
    path("discovery/", views.SnapshotListView.as_view(), name="snapshot-list"),
    path("discovery/snapshots/<int:pk>/", views.SnapshotDetailView.as_view(), name="snapshot-detail"),
    path("discovery/snapshots/<int:pk>/link/", views.LinkView.as_view(), name="link"),
]
