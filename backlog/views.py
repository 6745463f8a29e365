import csv

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from revops_gov.concurrency import StaleWrite, stale_context
from revops_gov.errors import ApplicationError
from revops_gov.history import history_versions
from revops_gov.roles import RoleRequiredMixin, can_govern

from . import selectors, services
from .filters import CandidateFilter
from .forms import CandidateRequestForm, CandidateTriageForm, PromoteForm, ReasonForm, ScoringModelForm
from .models import Candidate, ScoringModel
from .rules import FACTORS, HIGH_RISK, LOW_VOLUME, WEAK_DATA, material_risk_threshold


def _candidate_or_404(pk: int) -> Candidate:
    try:
        return selectors.candidate_get(pk=pk)
    except Candidate.DoesNotExist as exc:
        raise Http404(f"No candidate #{pk}") from exc


def _filtered(request):
    filterset = CandidateFilter(request.GET, queryset=selectors.candidate_queryset())
    queryset = filterset.qs if filterset.is_valid() else Candidate.objects.none()
    return filterset, queryset


class BoardView(RoleRequiredMixin, View):
    """Three columns sorted by score: the loudest request does not win, the score does."""

    required = "read"

    def get(self, request):
        filterset, queryset = _filtered(request)
        size = settings.REVOPS["BACKLOG_BOARD_COLUMN_SIZE"]
        query = request.GET.urlencode()
        return render(
            request,
            "backlog/board.html",
            {
                "filter": filterset,
                "columns": selectors.board_columns(queryset, size=size),
                "query": query,
                "scoring_model": services.scoring_model_current(),
            },
        )


class ExportView(RoleRequiredMixin, View):
    required = "read"

    HEADER = (
        "id",
        "workflow",
        "team",
        "system",
        "requester",
        "status",
        "group",
        "group_reasons",
        "score",
        "scoring_model_version",
        "arithmetic",
        "flags",
        *(f"factor_{f.name}" for f in FACTORS),
        "volume_per_month",
        "time_saved_hours_per_month",
        "sla_improvement_hours",
        "errors_avoided_per_month",
        "risk_reduction_per_year",
        "automation_key",
    )

    def get(self, request):
        _, queryset = _filtered(request)
        queryset = queryset.select_related("automation")
        response = StreamingHttpResponse(self._lines(queryset), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="automation-backlog-{timezone.now():%Y-%m-%d}.csv"'
        return response

    def _lines(self, queryset):
        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())
        yield writer.writerow(self.HEADER)
        for c in queryset.iterator(chunk_size=500):
            d = c.derivation
            score = c.score_breakdown
            yield writer.writerow(
                (
                    c.pk,
                    c.title,
                    c.team,
                    c.system,
                    c.requester.username,
                    c.status,
                    d.group.value,
                    "; ".join(d.reasons),
                    c.score if c.score is not None else "",
                    c.scoring_model.version if c.scoring_model_id else "",
                    score.arithmetic,
                    "; ".join(f"{f.flag.value}: {f.reason}" for f in c.flags),
                    *(c.factors[f.name] or "" for f in FACTORS),
                    c.volume_per_month,
                    c.time_saved_hours_per_month,
                    c.sla_improvement_hours,
                    c.errors_avoided_per_month,
                    c.risk_reduction_per_year,
                    c.automation.key if c.automation_id else "",
                )
            )


class RequestView(RoleRequiredMixin, View):
    """The intake form: anyone with a role (viewers too) can ask for an automation."""

    required = "read"

    def get(self, request):
        return render(request, "backlog/request_form.html", {"form": CandidateRequestForm()})

    def post(self, request):
        form = CandidateRequestForm(request.POST)
        if form.is_valid():
            data = form.service_kwargs()
            try:
                candidate = services.candidate_request(by=request.user, **data)
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, "Thank you: the request is on the backlog. A RevOps admin will score it.")
                return redirect(candidate)
        return render(request, "backlog/request_form.html", {"form": form}, status=400)


def _detail(request, candidate: Candidate, *, promote_form=None, status=200):
    current = services.scoring_model_current()
    score = candidate.score_breakdown
    # An older version's score stays; the current version's arithmetic is shown beside it.
    current_score = (
        candidate.score_with(current)
        if current is not None and score.total is not None and score.version != current.version
        else None
    )
    return render(
        request,
        "backlog/candidate_detail.html",
        {
            "candidate": candidate,
            "derivation": candidate.derivation,
            "score": score,
            "current_score": current_score,
            "flags": candidate.flags,
            "refusals": services.promotion_refusals(candidate, request.user),
            "promote_form": promote_form or PromoteForm(),
            "reason_form": ReasonForm(),
            "versions": history_versions(candidate, limit=30),
            "current_model": current,
        },
        status=status,
    )


class DetailView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, pk):
        return _detail(request, _candidate_or_404(pk))


class TriageView(RoleRequiredMixin, View):
    required = "govern"

    def get(self, request, pk):
        candidate = _candidate_or_404(pk)
        return render(
            request,
            "backlog/triage_form.html",
            {"form": CandidateTriageForm(instance=candidate), "candidate": candidate},
        )

    def post(self, request, pk):
        candidate = _candidate_or_404(pk)
        form = CandidateTriageForm(request.POST, instance=Candidate.objects.get(pk=pk))
        if form.is_valid():
            data = form.service_kwargs()
            fields = data.pop("data_fields")
            try:
                services.candidate_update(
                    candidate=candidate,
                    by=request.user,
                    reason=form.cleaned_data["change_reason"],
                    data_fields=fields,
                    expected_revision=form.submitted_revision(),
                    **data,
                )
            except StaleWrite as exc:
                context = {"form": form, "candidate": candidate, **stale_context(exc, form)}
                return render(request, "backlog/triage_form.html", context, status=409)
            except ValidationError as exc:
                form.add_service_error(exc)
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return redirect(candidate)
            else:
                updated = _candidate_or_404(pk)
                messages.success(request, f"Saved: it is in “{updated.group.label}”.")
                return redirect(updated)
        return render(request, "backlog/triage_form.html", {"form": form, "candidate": candidate}, status=400)


class PromoteView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, pk):
        candidate = _candidate_or_404(pk)
        form = PromoteForm(request.POST)
        if not form.is_valid():
            return _detail(request, candidate, promote_form=form, status=400)
        try:
            automation = services.candidate_promote(
                candidate=candidate, by=request.user, override_reason=form.cleaned_data["override_reason"]
            )
        except ValidationError as exc:
            form.add_service_error(exc)
            return _detail(request, candidate, promote_form=form, status=400)
        except ApplicationError as exc:
            for reason in exc.extra.get("reasons", [exc.message]):
                messages.error(request, reason)
            return redirect(candidate)
        messages.success(
            request,
            f"Promoted: {automation.name} is in the registry as proposed. Complete its documentation, "
            "then its approval packet.",
        )
        return redirect(automation)


class StatusView(RoleRequiredMixin, View):
    """Decline, defer or reopen, each with a reason."""

    required = "govern"
    action = ""
    ACTIONS = {
        "decline": (services.candidate_decline, "Declined."),
        "defer": (services.candidate_defer, "Deferred: it leaves the board until reopened."),
        "reopen": (services.candidate_reopen, "Reopened: it is back on the board."),
    }

    def post(self, request, pk):
        candidate = _candidate_or_404(pk)
        form = ReasonForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Say why; it is kept in the history with your name.")
            return redirect(candidate)
        service, message = self.ACTIONS[self.action]
        try:
            service(candidate=candidate, by=request.user, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, message)
        return redirect(candidate)


class ScoringView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, form=None, status=200, stale=None):
        current = services.scoring_model_current()
        revision = services.scoring_model_revision(current)
        return render(
            request,
            "backlog/scoring.html",
            {
                "current": current,
                "versions": ScoringModel.objects.select_related("created_by").order_by("-version")[:20],
                "form": form
                or (ScoringModelForm(current=current, revision=revision) if can_govern(request.user) else None),
                **(stale or {}),
                "factors": FACTORS,
                "high_risk": HIGH_RISK,
                "weak_data": WEAK_DATA,
                "low_volume": LOW_VOLUME,
                "material": material_risk_threshold(),
            },
            status=status,
        )


class ScoringPublishView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request):
        form = ScoringModelForm(request.POST, current=services.scoring_model_current())
        if form.is_valid():
            try:
                model = services.scoring_model_publish(
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                    weights=form.weights(),
                    expected_revision=form.submitted_revision(),
                )
            except StaleWrite as exc:
                return ScoringView().get(request, form=form, status=409, stale=stale_context(exc, form))
            except ValidationError as exc:
                form.add_service_error(exc)
            except ApplicationError as exc:
                messages.info(request, exc.message)
                return redirect("backlog:scoring")
            else:
                messages.success(
                    request, f"Version {model.version} published: {model.rescored} open candidate(s) re-scored."
                )
                return redirect("backlog:scoring")
        return ScoringView().get(request, form=form, status=400)
