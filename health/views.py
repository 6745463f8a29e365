"""The health pages: the findings list, one finding (acknowledge, suppress), and the panel on
the automation page."""

import csv
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from registry.models import Automation
from revops_gov.roles import RoleRequiredMixin, can_decide, can_govern

from . import alerts, charts, reminders, selectors, services
from .choices import UNRESOLVED
from .forms import (
    AcknowledgeForm,
    FindingFilterForm,
    FixForm,
    HoldReleaseForm,
    HoldWindowCancelForm,
    HoldWindowForm,
    RunFilterForm,
    SuppressForm,
)
from .models import Finding, PlannedHoldWindow

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
        return render(
            request,
            "health/finding_list.html",
            {"form": form, "page": page, "query": params.urlencode(), "trend": findings_trend_context()},
        )


def findings_trend_context() -> dict:
    """Findings opened and resolved per week, as sparklines: two queries."""
    return charts.findings_trend(*selectors.findings_per_week())


def finding_context(request, finding, **forms) -> dict:
    """What the finding page shows: who is told and why, the hold and how it lifts, the actions
    this person may take (issue 16 §1)."""
    user = request.user
    automation = finding.automation
    is_admin = can_govern(user)
    is_owner = user.pk in (automation.failure_owner_id, finding.owner_id)
    recipients, why = alerts.finding_recipients(finding)
    hold = automation.holds.filter(source=services.HOLD_SOURCE, released_at__isnull=True).first()
    return {
        "finding": finding,
        "can_decide": can_decide(user),
        "recipients": recipients,
        "recipients_why": why,
        "hold": hold if finding.holds_automation and not finding.hold_released_at else None,
        "verify_runs": services.verify_clean_runs(finding.kind),
        "suppress_max_days": services.suppress_max_days(automation),
        "can_fix": (is_admin or is_owner) and finding.status in ("open", "acknowledged", "suppressed"),
        "can_close": (is_admin or is_owner) and finding.status == "verified",
        "can_suppress": (is_admin or user.pk == automation.failure_owner_id)
        and finding.status in ("open", "acknowledged", "suppressed"),
        "can_release_hold": is_admin and finding.holds_automation and not finding.hold_released_at,
        "acknowledge_form": forms.get("acknowledge_form") or AcknowledgeForm(),
        "suppress_form": forms.get("suppress_form") or SuppressForm(),
        "fix_form": forms.get("fix_form") or FixForm(),
        "release_form": forms.get("release_form") or HoldReleaseForm(),
    }


class FindingDetailView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, pk):
        finding = get_object_or_404(selectors.finding_queryset(), pk=pk)
        return render(request, "health/finding_detail.html", finding_context(request, finding))


class _FindingActionView(RoleRequiredMixin, View):
    """A form posted about one finding, written by one service; refusals are shown on the page.
    Each subclass names its form and defines `act(finding, data)`: it calls the service and returns
    the message to show."""

    required = "decide"
    form_class = None
    form_name = ""

    def post(self, request, pk):
        finding = get_object_or_404(selectors.finding_queryset(), pk=pk)
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                messages.success(request, self.act(finding, form.cleaned_data))
                return redirect(finding)
            except PermissionDenied as exc:
                messages.error(request, str(exc))  # the form may not be on the page for them
            except ValidationError as exc:
                form.add_service_error(exc)
        context = finding_context(request, finding, **{self.form_name: form})
        return render(request, "health/finding_detail.html", context, status=400)


class FindingFixView(_FindingActionView):
    form_class, form_name = FixForm, "fix_form"

    def act(self, finding, data):
        services.finding_fix(finding=finding, by=self.request.user, note=data["note"])
        return "Marked fixed: clean runs will verify it and lift its hold."


class FindingHoldReleaseView(_FindingActionView):
    required = "govern"
    form_class, form_name = HoldReleaseForm, "release_form"

    def act(self, finding, data):
        services.finding_hold_release(finding=finding, by=self.request.user, reason=data["reason"])
        return "Hold released before verification; the reason is kept on the hold."


class FindingCloseView(_FindingActionView):
    form_class, form_name = AcknowledgeForm, "acknowledge_form"

    def act(self, finding, data):
        services.finding_close(finding=finding, by=self.request.user, note=data["note"])
        return "Closed."


class SuppressionListView(RoleRequiredMixin, View):
    """Every suppressed finding: who silenced it, until when, why (issue 16 §1)."""

    required = "read"

    def get(self, request):
        findings = (
            selectors.finding_queryset()
            .filter(status="suppressed")
            .select_related("suppressed_by")
            .order_by("suppressed_until", "pk")
        )
        return render(request, "health/suppression_list.html", {"findings": findings})


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


class FindingSuppressView(_FindingActionView):
    form_class, form_name = SuppressForm, "suppress_form"

    def act(self, finding, data):
        services.finding_suppress(finding=finding, by=self.request.user, **data)
        return f"Suppressed until {data['until']:%Y-%m-%d %H:%M}. Alerts are silenced; a hold stays."


class AutomationRunsView(RoleRequiredMixin, View):
    """One automation's run events: filters, keyset pages (newest first), late facts, a chart of runs
    per day by outcome with the failure rate over it. The same queries whatever the number of runs."""

    required = "read"

    def get(self, request, key):
        automation = get_object_or_404(Automation, key=key)
        form = RunFilterForm(request.GET or None)
        valid = form.is_valid()
        data = form.cleaned_data if valid else {}
        since, until = form.bounds() if valid else (None, None)
        filters = {"outcome": data.get("outcome", ""), "event_id": data.get("event_id", "")}
        runs = selectors.runs_filtered(automation, since=since, until=until, **filters)
        rows, newer, older = selectors.runs_page(
            runs,
            after=selectors.Cursor.parse(request.GET.get("after")),
            before=selectors.Cursor.parse(request.GET.get("before")),
        )
        facts = selectors.late_facts_of(automation, [run.event_id for run in rows])
        last = data.get("until") or timezone.localdate()
        first = data.get("since") or last - timedelta(days=selectors.CHART_DAYS - 1)
        days, counts = selectors.runs_per_day(selectors.runs_filtered(automation, **filters), first=first, last=last)
        params = request.GET.copy()
        for name in ("after", "before"):
            params.pop(name, None)
        return render(
            request,
            "health/automation_runs.html",
            {
                "automation": automation,
                "form": form,
                "runs": [{"run": run, "facts": facts.get(run.event_id, [])} for run in rows],
                "newer": newer,
                "older": older,
                "paged": bool(request.GET.get("after") or request.GET.get("before")),
                "query": params.urlencode(),
                "chart": charts.runs_per_day(days, counts, title=f"{days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}"),
                "chart_small": charts.runs_per_day(days, counts, title="", width=420, height=320),
                "chart_range": (days[0], days[-1]),
                "chart_total": sum(sum(day.values()) for day in counts.values()),
            },
        )


class AutomationRunsExportView(RoleRequiredMixin, View):
    """The filtered runs as CSV, streamed (millions of rows never sit in memory), formulas quoted."""

    required = "read"
    HEADER = (
        "event_id", "started_at", "finished_at", "outcome", "mode", "trigger_key", "records_affected",
        "owner_assigned", "overridden", "override_reason", "alerts_sent", "task_created", "task_completed",
        "task_completed_at", "sla_met", "manual_reassignment", "error", "received_at",
    )  # fmt: skip

    def get(self, request, key):
        automation = get_object_or_404(Automation, key=key)
        form = RunFilterForm(request.GET or None)
        if request.GET and not form.is_valid():
            problems = "; ".join(
                f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()
            )
            return HttpResponseBadRequest(f"Fix the filters: {problems}", content_type="text/plain; charset=utf-8")
        data = form.cleaned_data if request.GET else {}
        since, until = form.bounds() if request.GET else (None, None)
        runs = selectors.runs_filtered(
            automation, outcome=data.get("outcome", ""), since=since, until=until, event_id=data.get("event_id", "")
        ).order_by("-started_at", "-id")
        response = StreamingHttpResponse(self._lines(runs), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="runs-{automation.key}.csv"'
        return response

    def _lines(self, runs):
        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())
        yield writer.writerow(self.HEADER)
        for run in runs.iterator(chunk_size=2000):
            yield writer.writerow([csv_cell(_csv_value(getattr(run, name))) for name in self.HEADER])


def csv_cell(value) -> str:
    """Spreadsheets run a cell that starts with = + - @ as a formula: quote it."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def automation_panel_context(request, automation) -> dict:
    """The health panel on the automation page: three queries."""
    findings = list(selectors.open_findings().filter(automation=automation).order_by("-opened_at"))
    findings.sort(key=lambda f: SEVERITY_ORDER.get(f.severity, 3))
    return {
        "automation": automation,
        "summary": selectors.automation_run_summary(automation),
        "findings": findings,
        "hold_windows": list(selectors.hold_windows_current(automation=automation)),
    }


def review_reminders_panel_context(request, automation) -> dict:
    """Review reminders on the automation page: who was reminded and when, who it went to after
    the grace period, and whether a review has closed the cycle since. One query."""
    rows = reminders.review_reminders_for(automation=automation)
    return {
        "automation": automation,
        "reminders": [{"reminder": r, "open": r.is_current(automation)} for r in rows],
        "grace_days": settings.REVOPS["HEALTH_REVIEW_ESCALATE_AFTER"].days,
    }


# --- Planned hold windows (issue 16 §1) -------------------------------------------------------
class HoldWindowListView(RoleRequiredMixin, View):
    """Every planned hold window in progress or to come, and those of the last 90 days."""

    required = "read"

    def get(self, request):
        return render(
            request,
            "health/hold_window_list.html",
            {
                "current": selectors.hold_windows_current().order_by("starts_at", "pk"),
                "past": selectors.hold_windows_past()[:100],
                "now": timezone.now(),
                "max_days": services.hold_window_max_days(),
            },
        )


def automation_hold_windows_context(request, automation, **forms) -> dict:
    return {
        "automation": automation,
        "current": selectors.hold_windows_current(automation=automation).order_by("starts_at", "pk"),
        "past": selectors.hold_windows_past(automation=automation)[:50],
        "now": timezone.now(),
        "max_days": services.hold_window_max_days(),
        "can_manage": can_decide(request.user) and services.hold_window_may_manage(request.user, automation),
        "form": forms.get("form") or HoldWindowForm(),
        "cancel_form": forms.get("cancel_form") or HoldWindowCancelForm(),
    }


class AutomationHoldWindowsView(RoleRequiredMixin, View):
    """One automation's planned hold windows, with the form to plan one (its failure owner, its
    system owner or an admin)."""

    required = "read"

    def get(self, request, key):
        automation = get_object_or_404(Automation, key=key)
        return render(
            request, "health/automation_hold_windows.html", automation_hold_windows_context(request, automation)
        )


class HoldWindowPlanView(RoleRequiredMixin, View):
    required = "decide"

    def post(self, request, key):
        automation = get_object_or_404(Automation, key=key)
        form = HoldWindowForm(request.POST)
        if form.is_valid():
            try:
                window = services.hold_window_plan(automation=automation, by=request.user, **form.cleaned_data)
                messages.success(
                    request,
                    f"Hold window planned: {window.starts_at:%Y-%m-%d %H:%M} – {window.ends_at:%Y-%m-%d %H:%M} UTC. "
                    "The did-not-run monitor stays quiet inside it.",
                )
                return redirect("health:automation-hold-windows", key=automation.key)
            except PermissionDenied as exc:
                messages.error(request, str(exc))
            except ValidationError as exc:
                form.add_service_error(exc)
        context = automation_hold_windows_context(request, automation, form=form)
        return render(request, "health/automation_hold_windows.html", context, status=400)


class HoldWindowCancelView(RoleRequiredMixin, View):
    required = "decide"

    def post(self, request, pk):
        window = get_object_or_404(PlannedHoldWindow.objects.select_related("automation"), pk=pk)
        form = HoldWindowCancelForm(request.POST)
        if form.is_valid():
            try:
                services.hold_window_cancel(window=window, by=request.user, reason=form.cleaned_data["reason"])
                messages.success(request, "Hold window cancelled: the monitors watch the automation again.")
                return redirect("health:automation-hold-windows", key=window.automation.key)
            except PermissionDenied as exc:
                messages.error(request, str(exc))
            except ValidationError as exc:
                form.add_service_error(exc)
        context = automation_hold_windows_context(request, window.automation, cancel_form=form)
        return render(request, "health/automation_hold_windows.html", context, status=400)
