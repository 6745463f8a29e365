"""The monthly review on the automation page (registry's automation-panel extension point)."""

from .models import HealthReviewRow


def review_panel_context(request, automation) -> dict:
    """The automation's latest review row, if any: one query."""
    row = (
        HealthReviewRow.objects.filter(automation=automation)
        .select_related("review", "confirmed_by")
        .order_by("-review__month")
        .first()
    )
    return {"automation": automation, "row": row}
