"""The program dashboard page."""

from django.shortcuts import render
from django.views import View

from revops_gov.roles import RoleRequiredMixin

from . import selectors


class DashboardView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request):
        return render(request, "health/dashboard.html", {"dashboard": selectors.dashboard()})
