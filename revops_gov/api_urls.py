"""/api/v1/: every app's API routes, one router. Each app's `api_urls` registers its viewsets on the
router and may add plain paths (e.g. actions under an automation's key)."""

from rest_framework.routers import SimpleRouter

import approvals.api_urls
import approvals.decisions.api_urls
import backlog.api_urls
import discovery.api_urls
import health.api_urls
import health.reviews.api_urls
from registry.api import AutomationViewSet, ChangeEventViewSet, DataFieldViewSet

app_name = "api"

router = SimpleRouter(trailing_slash=True)
router.register("automations", AutomationViewSet, basename="automation")
router.register("data-fields", DataFieldViewSet, basename="datafield")
router.register("change-events", ChangeEventViewSet, basename="changeevent")

APPS = (
    backlog.api_urls,
    approvals.api_urls,
    approvals.decisions.api_urls,
    health.api_urls,
    health.reviews.api_urls,
    discovery.api_urls,
)
for app in APPS:
    app.register(router)

urlpatterns = [path for app in APPS for path in app.urlpatterns] + router.urls
