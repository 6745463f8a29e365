"""The backlog pages."""

from django.urls import path

from . import views

app_name = "backlog"

urlpatterns = [
    path("backlog/", views.BoardView.as_view(), name="board"),
    path("backlog/export.csv", views.ExportView.as_view(), name="export"),
    path("backlog/new/", views.RequestView.as_view(), name="candidate-request"),
    path("backlog/scoring/", views.ScoringView.as_view(), name="scoring"),
    path("backlog/scoring/publish/", views.ScoringPublishView.as_view(), name="scoring-publish"),
    path("backlog/<int:pk>/", views.DetailView.as_view(), name="candidate-detail"),
    path("backlog/<int:pk>/triage/", views.TriageView.as_view(), name="candidate-triage"),
    path("backlog/<int:pk>/promote/", views.PromoteView.as_view(), name="candidate-promote"),
    path("backlog/<int:pk>/decline/", views.StatusView.as_view(action="decline"), name="candidate-decline"),
    path("backlog/<int:pk>/defer/", views.StatusView.as_view(action="defer"), name="candidate-defer"),
    path("backlog/<int:pk>/reopen/", views.StatusView.as_view(action="reopen"), name="candidate-reopen"),
]
