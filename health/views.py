"""The health pages: the findings list, one finding (acknowledge, suppress), and the panel on
the automation page."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from revops_gov.roles import RoleRequiredMixin, can_decide

from . import reminders, selectors, services
from .choices import UNRESOLVED
from .forms import AcknowledgeForm, FindingFilterForm, SuppressForm
from .models import Finding

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


class FindingListView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request):
        form = FindingFilterForm(request.GET or None)
        queryset = selectors.finding_queryset()
        data = form.cleaned_data if form.is_valid() else {}
        queryset = (
            queryset.filter(status=data["status"]) if data.get("status") else queryset.filter(status__in=UNRESOLVED)
        )
        for name in ("kind", "severity"):
            if data.get(name):
                queryset = queryset.filter(**{name: data[name]})
        if data.get("owner"):
            queryset = queryset.filter(owner__username=data["owner"])
        page = Paginator(queryset.order_by("due_at", "-id"), 50).get_page(request.GET.get("page"))
        params = request.GET.copy()
        params.pop("page", None)
        return render(request, "health/finding_list.html", {"form": form, "page": page, "query": params.urlencode()})


class FindingDetailView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, pk):
        finding = get_object_or_404(selectors.finding_queryset(), pk=pk)
        return render(
            request,
            "health/finding_detail.html",
            {
                "finding": finding,
                "can_decide": can_decide(request.user),
                "acknowledge_form": AcknowledgeForm(),
                "suppress_form": SuppressForm(),
            },
        )


class FindingAcknowledgeView(RoleRequiredMixin, View):
    required = "decide"

    def post(self, request, pk):
        finding = get_object_or_404(Finding, pk=pk)
        form = AcknowledgeForm(request.POST)
        if form.is_valid():
            try:
                services.finding_acknowledge(finding=finding, by=request.user, note=form.cleaned_data["note"])
                messages.success(request, "Acknowledged: the owner is on it. Alerts stay quiet; a hold stays.")
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
        return redirect(finding)


class FindingSuppressView(RoleRequiredMixin, View):
    required = "decide"

    def post(self, request, pk):
        finding = get_object_or_404(Finding.objects.select_related("automation", "owner"), pk=pk)
        form = SuppressForm(request.POST)
        if form.is_valid():
            try:
                services.finding_suppress(finding=finding, by=request.user, **form.cleaned_data)
                messages.success(request, f"Suppressed until {form.cleaned_data['until']:%Y-%m-%d %H:%M}.")
                return redirect(finding)
            except ValidationError as exc:
                form.add_service_error(exc)
        return render(
            request,
            "health/finding_detail.html",
            {"finding": finding, "can_decide": True, "acknowledge_form": AcknowledgeForm(), "suppress_form": form},
            status=400,
        )


def automation_panel_context(request, automation) -> dict:
    """The health panel on the automation page: three queries."""
    findings = list(selectors.open_findings().filter(automation=automation).order_by("-opened_at"))
    findings.sort(key=lambda f: SEVERITY_ORDER.get(f.severity, 3))
    return {"automation": automation, "summary": selectors.automation_run_summary(automation), "findings": findings}


def review_reminders_panel_context(request, automation) -> dict:
    """Review reminders on the automation page: who was reminded and when, who it went to after
    the grace period, and whether a review has closed the cycle since. One query."""
    rows = reminders.review_reminders_for(automation=automation)
    return {
        "automation": automation,
        "reminders": [{"reminder": r, "open": r.is_current(automation)} for r in rows],
        "grace_days": settings.REVOPS["HEALTH_REVIEW_ESCALATE_AFTER"].days,
    }
