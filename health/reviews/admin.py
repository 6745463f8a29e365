"""Read-only admin views of the monthly review: writes go through health.reviews.services."""

from django.contrib import admin

from registry.admin import ReadOnlyAdmin

from .models import HealthReview, HealthReviewRow


@admin.register(HealthReview)
class HealthReviewAdmin(ReadOnlyAdmin):
    list_display = ("month", "created_at", "computed_at", "computed_by", "computations")


@admin.register(HealthReviewRow)
class HealthReviewRowAdmin(ReadOnlyAdmin):
    list_display = ("review", "automation", "runs", "failures", "recommendation", "decision", "confirmed_by")
    list_filter = ("recommendation", "decision", "noisy")
    search_fields = ("automation__key", "automation__name")
