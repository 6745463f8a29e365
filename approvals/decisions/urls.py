"""The decision queue pages."""

from django.urls import path

from . import chat, views

app_name = "decisions"

urlpatterns = [
    path("decisions/", views.QueueView.as_view(), name="queue"),
    path("decisions/team/", views.QueueView.as_view(team=True), name="team"),
    path("decisions/history/", views.HistoryView.as_view(), name="history"),
    path("decisions/deliveries/", views.DeliveryListView.as_view(), name="deliveries"),
    path("decisions/deliveries/<int:pk>/redeliver/", views.RedeliverView.as_view(), name="redeliver"),
    path("decisions/<int:pk>/", views.DetailView.as_view(), name="detail"),
    path("decisions/<int:pk>/decide/", views.DecideView.as_view(), name="decide"),
    path("decisions/<int:pk>/reassign/", views.ReassignView.as_view(), name="reassign"),
    path("decisions/<int:pk>/cancel/", views.CancelView.as_view(), name="cancel"),
    path("integrations/slack/interactivity/", chat.slack_interactivity, name="slack-interactivity"),
]
