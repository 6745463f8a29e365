from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import oidc, views
from .ratelimits import limit_logins

admin.site.site_header = "RevOps Governance administration"
admin.site.site_title = "RevOps Governance"
# The admin's own log-in form is a second door: the same rate limits guard it.
admin.site.login = limit_logins(admin.site.login)

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", oidc.LogoutView.as_view(), name="logout"),
    path("oidc/authenticate/", oidc.SignInView.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", oidc.CallbackView.as_view(), name="oidc_authentication_callback"),
    path("login/refused/", oidc.refused, name="oidc-refused"),
    path("account/access-log/", views.AccessLogView.as_view(), name="access-log"),
    path("account/notifications/", views.NotificationSettingsView.as_view(), name="account-notifications"),
    path("account/teams/", views.TeamChannelsView.as_view(), name="team-channels"),
    path("account/tokens/", views.TokenListView.as_view(), name="account-tokens"),
    path("account/tokens/<int:pk>/revoke/", views.TokenRevokeView.as_view(), name="account-token-revoke"),
    path("integrations/", views.IntegrationListView.as_view(), name="integration-list"),
    path(
        "integrations/tokens/<int:pk>/revoke/",
        views.IntegrationTokenRevokeView.as_view(),
        name="integration-token-revoke",
    ),
    path("deliveries/", views.DeliveryListView.as_view(), name="delivery-list"),
    path("deliveries/<int:pk>/resend/", views.DeliveryResendView.as_view(), name="delivery-resend"),
    path("", include("registry.urls")),
    path("", include("backlog.urls")),
    path("", include("approvals.urls")),
    path("", include("approvals.decisions.urls")),
    path("", include("health.urls")),
    path("", include("health.dashboard.urls")),
    path("", include("health.reviews.urls")),
    path("", include("discovery.urls")),
    path("api/v1/", include("revops_gov.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("admin/", admin.site.urls),
]

handler400 = "revops_gov.views.bad_request"
handler403 = "revops_gov.views.permission_denied"
handler404 = "revops_gov.views.not_found"
handler500 = "revops_gov.views.server_error"
