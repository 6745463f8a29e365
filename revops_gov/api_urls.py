"""/api/v1/: every app's API routes, one router."""

from rest_framework.routers import SimpleRouter

from registry.api import AutomationViewSet, ChangeEventViewSet, DataFieldViewSet

app_name = "api"

router = SimpleRouter(trailing_slash=True)
router.register("automations", AutomationViewSet, basename="automation")
router.register("data-fields", DataFieldViewSet, basename="datafield")
router.register("change-events", ChangeEventViewSet, basename="changeevent")

urlpatterns = [*router.urls]
