"""The monthly review pages."""

from django.urls import path

from . import views

app_name = "reviews"

urlpatterns = [
    path("reviews/", views.ReviewListView.as_view(), name="list"),
    path("reviews/<int:year>-<int:month>/", views.ReviewDetailView.as_view(), name="detail"),
    path("reviews/<int:year>-<int:month>/export.csv", views.ReviewExportView.as_view(), name="export"),
    path("reviews/<int:year>-<int:month>/recompute/", views.ReviewRecomputeView.as_view(), name="recompute"),
    path("reviews/rows/<int:pk>/", views.RowDetailView.as_view(), name="row"),
    path("reviews/rows/<int:pk>/confirm/", views.RowConfirmView.as_view(), name="row-confirm"),
    path("reviews/automations/<slug:key>/", views.TrendView.as_view(), name="trend"),
]
