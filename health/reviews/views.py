"""The monthly review pages: the list of reviews, one month's review (sortable, filtered, with the
progress of confirmations), one automation's row (questions, reasons, value, trend, confirm), the
trend of one automation, the CSV export and the admin's re-computation."""

import csv

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from registry.models import Automation
from revops_gov.errors import ApplicationError
from revops_gov.roles import RoleRequiredMixin, can_govern

from .. import charts
from ..views import csv_cell
from . import selectors, services
from .forms import ConfirmForm, ReviewFilterForm
from .models import HealthReview, HealthReviewRow

PAGE_SIZE = 100


def _review_or_404(year: int, month: int) -> HealthReview:
    try:
        return selectors.review_get(year=year, month=month)
    except (HealthReview.DoesNotExist, ValueError) as exc:
        raise Http404("No health review for this month.") from exc


def _filters(request) -> tuple[ReviewFilterForm, dict]:
    form = ReviewFilterForm(request.GET or None)
    return form, (form.cleaned_data if form.is_valid() else {})


class ReviewListView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request):
        page = Paginator(selectors.review_list(), 24).get_page(request.GET.get("page"))
        recent = list(page.object_list)[:12] if page.number == 1 else list(selectors.review_list()[:12])
        return render(
            request,
            "reviews/review_list.html",
            {"page": page, "chart": charts.recommendations_per_month(recent) if recent else ""},
        )


class ReviewDetailView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, year, month):
        review = _review_or_404(year, month)
        form, filters = _filters(request)
        page = Paginator(selectors.review_rows(review=review, filters=filters), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        params = request.GET.copy()
        params.pop("page", None)
        sort_params = params.copy()
        sort_params.pop("sort", None)
        current = filters.get("sort") or "name"
        prefix = sort_params.urlencode()
        base = f"?{prefix}&sort=" if prefix else "?sort="
        sort_links = {key: f"{base}{'-' if current == key else ''}{key}" for key in selectors.SORTS}
        candidates, candidates_total = selectors.ready_candidates()
        return render(
            request,
            "reviews/review_detail.html",
            {
                "review": review,
                "form": form,
                "page": page,
                "query": params.urlencode(),
                "sort_links": sort_links,
                "sort": current,
                "can_govern": can_govern(request.user),
                "candidates": candidates,
                "candidates_total": candidates_total,
                "chart": charts.recommendations_per_month(list(selectors.review_list()[:12])),
            },
        )


_cell = csv_cell


class ReviewExportView(RoleRequiredMixin, View):
    required = "read"

    HEADER = (
        "automation_key", "automation", "team", "rule_owner", "status", "runs", "failures", "failure_rate",
        "overrides", "override_rate", "alerts_sent", "decision_requests", "decisions_made", "alerts_ignored",
        "tasks_created", "tasks_completed", "manual_corrections", "exceptions", "findings_opened",
        "avg_response_seconds", "sla_met", "sla_measured", "duplicates_found", "handoffs_complete",
        "handoffs_measured", "data_quality_issues", "maintenance_minutes", "noisy", "recommendation", "reasons",
        "decision", "note", "confirmed_by", "confirmed_at", "lifecycle_move",
    )  # fmt: skip

    def get(self, request, year, month):
        review = _review_or_404(year, month)
        _, filters = _filters(request)
        rows = selectors.review_rows(review=review, filters=filters)
        response = StreamingHttpResponse(self._lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="health-review-{review.month:%Y-%m}.csv"'
        return response

    def _lines(self, rows):
        class Echo:
            def write(self, value):
                return value

        def rate(value):
            return "" if value is None else f"{value:.4f}"

        writer = csv.writer(Echo())
        yield writer.writerow(self.HEADER)
        for r in rows.iterator(chunk_size=500):
            a = r.automation
            values = (
                a.key, a.name, a.team, a.rule_owner.username if a.rule_owner else "", r.status, r.runs, r.failures,
                rate(r.failure_rate), r.overrides, rate(r.override_rate), r.alerts_sent, r.decision_requests,
                r.decisions_made, r.alerts_ignored, r.tasks_created, r.tasks_completed, r.manual_corrections,
                r.exceptions, r.findings_opened, r.avg_response_seconds, r.sla_met, r.sla_measured,
                r.duplicates_found, r.handoffs_complete, r.handoffs_measured, r.data_quality_issues,
                r.maintenance_minutes, "yes" if r.noisy else "no", r.recommendation,
                " | ".join(reason.text for reason in r.reasons), r.decision, r.note,
                r.confirmed_by.username if r.confirmed_by else "",
                r.confirmed_at.isoformat() if r.confirmed_at else "", r.lifecycle_move,
            )  # fmt: skip
            yield writer.writerow([_cell(v) for v in values])


class ReviewRecomputeView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, year, month):
        review = _review_or_404(year, month)
        services.review_recompute(review=review, by=request.user)
        messages.success(request, "Re-computed from the month's events. Confirmations and notes are kept.")
        return redirect(review)


def _row_context(request, row: HealthReviewRow, form: ConfirmForm | None = None) -> dict:
    return {
        "row": row,
        "review": row.review,
        "trend": selectors.automation_trend(automation_id=row.automation_id),
        "can_govern": can_govern(request.user),
        "form": form or ConfirmForm(initial={"decision": row.decision or row.recommendation, "note": row.note}),
    }


class RowDetailView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, pk):
        try:
            row = selectors.row_get(pk=pk)
        except HealthReviewRow.DoesNotExist as exc:
            raise Http404("No such review row.") from exc
        return render(request, "reviews/row_detail.html", _row_context(request, row))


class RowConfirmView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, pk):
        row = get_object_or_404(HealthReviewRow, pk=pk)
        form = ConfirmForm(request.POST)
        if form.is_valid():
            try:
                row = services.review_row_confirm(row=row, by=request.user, **form.cleaned_data)
                messages.success(request, f"{row.automation.name}: {row.get_decision_display().lower()} confirmed.")
                return redirect(row.review)
            except ValidationError as exc:
                form.add_service_error(exc)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
        context = _row_context(request, selectors.row_get(pk=pk), form)
        return render(request, "reviews/row_detail.html", context, status=400)


class TrendView(RoleRequiredMixin, View):
    """One automation's monthly review rows over the last 12 months."""

    required = "read"

    def get(self, request, key):
        automation = get_object_or_404(Automation, key=key)
        trend = selectors.automation_trend(automation_id=automation.pk)
        return render(request, "reviews/trend.html", {"automation": automation, "trend": trend})
