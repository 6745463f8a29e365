from django.contrib import admin

from registry.admin import ReadOnlyAdmin

from .models import Finding, HealthThresholds, PlannedHoldWindow, RunEvent


@admin.register(RunEvent)
class RunEventAdmin(admin.ModelAdmin):
    list_display = ("automation", "event_id", "started_at", "outcome", "mode")
    list_filter = ("outcome", "mode")
    search_fields = ("event_id", "automation__key")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ("automation", "kind", "severity", "status", "owner", "due_at")
    list_filter = ("kind", "severity", "status")


@admin.register(HealthThresholds)
class HealthThresholdsAdmin(ReadOnlyAdmin):
    list_display = ("automation", "expected_duration", "allowed_staleness", "alert_budget_day")


@admin.register(PlannedHoldWindow)
class PlannedHoldWindowAdmin(ReadOnlyAdmin):
    list_display = ("automation", "starts_at", "ends_at", "created_by", "cancelled_at")


# The monthly review's admin lives with it (health/reviews/).
from .reviews import admin as reviews_admin  # noqa: E402, F401
