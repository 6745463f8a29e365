"""The program dashboard page."""

from django.shortcuts import render
from django.views import View

from revops_gov.roles import RoleRequiredMixin

from .. import charts
from ..reviews import selectors as review_selectors
from ..views import findings_trend_context
from . import selectors


class DashboardView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request):
        reviews = list(review_selectors.review_list()[:12])
        trends = {
            "findings": findings_trend_context(),
            "recommendations": charts.recommendations_per_month(reviews) if reviews else "",
        }
        return render(
            request, "health/dashboard.html", {"dashboard": selectors.dashboard(user=request.user), "trends": trends}
        )
