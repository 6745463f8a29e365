"""The decision queue pages: my queue (decide in place with htmx), the team view, the history,
one request, and the webhook deliveries (admins)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from registry.models import Automation
from revops_gov.errors import Conflict, Forbidden, validation_error_fields
from revops_gov.history import history_versions
from revops_gov.models import User
from revops_gov.roles import RoleRequiredMixin, can_govern

from . import selectors, services
from .kinds import DecisionKind
from .models import OutboxEvent
from .permissions import deciders, may_decide


def card(request, decision_request, *, now=None, **extra) -> dict:
    """What one card needs: the request, whether this person may decide it, and any errors."""
    now = now or timezone.now()
    return {
        "r": decision_request,
        "can_decide": decision_request.is_open and may_decide(request.user, decision_request),
        "overdue": decision_request.is_overdue(now),
        "decision": getattr(decision_request, "decision", None) if not decision_request.is_open else None,
        "errors": {},
        "values": {},
        **extra,
    }


class QueueView(RoleRequiredMixin, View):
    """Open requests waiting for me and my reports (or, for the team view, for everyone)."""

    required = "read"
    team = False

    def get(self, request):
        if self.team and not can_govern(request.user):
            raise PermissionDenied("The team view is for RevOps admins.")
        kind = request.GET.get("kind", "")
        kind = kind if kind in DecisionKind.values else ""
        automation = request.GET.get("automation", "")
        overdue = request.GET.get("overdue", "") == "yes"
        now = timezone.now()
        page = Paginator(
            selectors.queue_for(
                user=request.user, kind=kind, automation=automation, team=self.team, overdue=overdue, now=now
            ),
            50,
        ).get_page(request.GET.get("page"))
        automations = Automation.objects.filter(decision_requests__status="open").distinct().order_by("name")
        context = {
            "cards": [card(request, r, now=now) for r in page],
            "page": page,
            "team": self.team,
            "kinds": DecisionKind.choices,
            "kind": kind,
            "automation": automation,
            "overdue_only": overdue,
            "automations": automations.values_list("key", "name"),
            "can_govern": can_govern(request.user),
            "query": "&".join(
                f"{k}={v}" for k, v in (("kind", kind), ("automation", automation), ("overdue", overdue and "yes")) if v
            ),
        }
        return render(request, "decisions/queue.html", context)


class HistoryView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request):
        page = Paginator(selectors.history_for(user=request.user), 50).get_page(request.GET.get("page"))
        return render(request, "decisions/history.html", {"page": page})


def _request_or_404(pk):
    return get_object_or_404(selectors.request_queryset(), pk=pk)


class DetailView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, pk, status=200, **extra):
        decision_request = _request_or_404(pk)
        context = {
            **card(request, decision_request, **extra),
            "versions": history_versions(decision_request),
            "chat_actions": list(decision_request.chat_actions.select_related("user")),
            "decided_via": selectors.decided_via(decision_request),
            "can_govern": can_govern(request.user),
            # Only someone who may decide it may be assigned it (services.reassign refuses anyone else).
            "people": deciders() if can_govern(request.user) else [],
        }
        return render(request, "decisions/detail.html", context, status=status)


class DecideView(RoleRequiredMixin, View):
    """POST an option. With htmx the card is swapped in place (errors included, status 200 so
    htmx swaps it); without htmx a plain form post redirects or re-renders the page."""

    required = "read"

    def post(self, request, pk):
        decision_request = _request_or_404(pk)
        values = {name: request.POST.get(name, "") for name in ("option", "value", "reason")}
        try:
            outcome = services.decide(request=decision_request, by=request.user, **values)
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from exc
        except ValidationError as exc:
            return self._again(request, pk, 400, errors=validation_error_fields(exc), values=values)
        except Conflict as exc:
            return self._again(request, pk, 409, conflict=exc.message)
        decision_request = _request_or_404(pk)
        if isinstance(outcome, services.Handoff):
            if request.htmx:
                return render(
                    request, "decisions/partials/card.html", card(request, decision_request, handed_off=outcome.message)
                )
            messages.success(request, outcome.message)
            return redirect("decisions:queue")
        if request.htmx:
            return render(request, "decisions/partials/card.html", card(request, decision_request, just_decided=True))
        messages.success(request, f"Decided: {decision_request.decision.option_label}. The CRM is being told.")
        return redirect("decisions:queue")

    def _again(self, request, pk, status, **extra):
        if request.htmx:
            return render(request, "decisions/partials/card.html", card(request, _request_or_404(pk), **extra))
        return DetailView().get(request, pk, status=status, **extra)


class ReassignView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, pk):
        decision_request = _request_or_404(pk)
        assignee = User.objects.filter(username=request.POST.get("assignee", ""), is_active=True).first()
        try:
            if assignee is None:
                raise ValidationError({"assignee": "Choose an active person."})
            services.reassign(
                request=decision_request, by=request.user, assignee=assignee, reason=request.POST.get("reason", "")
            )
        except ValidationError as exc:
            for field, errors in validation_error_fields(exc).items():
                messages.error(request, f"{field}: {' '.join(errors)}")
        except Conflict as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Reassigned to {assignee}.")
        return redirect("decisions:detail", pk=pk)


class CancelView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, pk):
        decision_request = _request_or_404(pk)
        try:
            services.cancel(request=decision_request, by=request.user, reason=request.POST.get("reason", ""))
        except ValidationError as exc:
            for field, errors in validation_error_fields(exc).items():
                messages.error(request, f"{field}: {' '.join(errors)}")
        except Conflict as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Cancelled; the CRM is being told.")
        return redirect("decisions:detail", pk=pk)


class DeliveryListView(RoleRequiredMixin, View):
    """Every webhook event with its attempts (status, latency, error), and a redeliver button."""

    required = "govern"

    def get(self, request):
        page = Paginator(selectors.outbox_queryset(), 50).get_page(request.GET.get("page"))
        return render(request, "decisions/deliveries.html", {"page": page})


class RedeliverView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, pk):
        event = get_object_or_404(OutboxEvent, pk=pk)
        services.webhook_redeliver(event=event, by=request.user)
        messages.success(request, f"Event {event.event_id} is queued for delivery again (same event id).")
        return redirect(reverse("decisions:deliveries"))
