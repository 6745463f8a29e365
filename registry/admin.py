from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Automation, AutomationReview, ChangeEvent, DataField, Hold, Tag


class ReadOnlyAdmin(SimpleHistoryAdmin):
    """Governance data changes through the product's services (with reasons); the admin shows it."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Automation)
class AutomationAdmin(ReadOnlyAdmin):
    list_display = ("key", "name", "system", "team", "status", "version")
    list_filter = ("system", "team", "status")
    search_fields = ("key", "name")


@admin.register(DataField)
class DataFieldAdmin(ReadOnlyAdmin):
    list_display = ("object_name", "api_name", "status", "source_of_truth")
    list_filter = ("status",)


@admin.register(ChangeEvent)
class ChangeEventAdmin(ReadOnlyAdmin):
    list_display = ("title", "kind", "occurred_on", "recorded_by")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("automation", "source", "opened_at", "released_at")


@admin.register(AutomationReview)
class AutomationReviewAdmin(admin.ModelAdmin):
    """Append-only: recorded by marking an automation reviewed."""

    list_display = ("automation", "reviewed_at", "reviewed_by")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Tag)
