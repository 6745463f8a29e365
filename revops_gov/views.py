import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError, connection
from django.db.models import Q
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import outbox, services
from .celery import app as celery_app
from .choices import System
from .errors import ApplicationError, validation_error_fields
from .forms import DeliveryFilterForm, NotificationSettingsForm, TeamChannelForm
from .models import AccessEvent, ApiToken, Delivery, Integration, TeamChannel, User
from .ratelimits import login_over_limit, over_limit, too_many_requests
from .roles import RoleRequiredMixin, can_decide, can_govern
from .tasks import HEARTBEAT_KEY

logger = logging.getLogger(__name__)


class HomeView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request):
        # Managers come to decide (often on a phone): their queue first; everyone else, the program.
        if can_decide(request.user) and not can_govern(request.user):
            return redirect("decisions:queue")
        return redirect("dashboard:dashboard")


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        retry_after = login_over_limit(request)
        if retry_after:
            return too_many_requests(request, retry_after=retry_after, what="log-in attempts")
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        services.access_event_record(
            kind=AccessEvent.Kind.SIGN_IN,
            source=AccessEvent.Source.PASSWORD,
            user=form.get_user(),
            request=self.request,
        )
        return response

    def get_context_data(self, **kwargs):
        from . import oidc

        return super().get_context_data(
            company_sign_in=oidc.enabled(),
            provider_name=settings.REVOPS_OIDC["PROVIDER_NAME"],
            break_glass_only=settings.REVOPS_OIDC["PASSWORD_LOGIN"] == "break-glass",
            **kwargs,
        )


class AccessLogView(RoleRequiredMixin, View):
    """Sign-ins, refusals, role changes from the identity provider and sign-outs (admins)."""

    required = "govern"

    def get(self, request):
        events = AccessEvent.objects.select_related("user")
        kind = request.GET.get("kind", "")
        if kind in AccessEvent.Kind.values:
            events = events.filter(kind=kind)
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        return render(
            request,
            "account/access_log.html",
            {
                "page": page,
                "kinds": AccessEvent.Kind.choices,
                "kind": kind,
                "kind_query": f"kind={kind}" if kind else "",
            },
        )


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return f"database unreachable: {exc.__class__.__name__}: {exc}".strip()
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2, timeout=2)
    except Exception as exc:  # noqa: BLE001 - kombu raises transport-specific errors; all mean "down"
        return f"broker unreachable: {exc.__class__.__name__}: {exc}".strip()
    return None


@never_cache
@require_GET
def healthz(request):
    """200 when the database and the broker answer; 503 naming what is down. Public on purpose
    (load balancers call it) and it reveals no data."""
    problems = {"database": _check_database(), "broker": _check_broker()}
    heartbeat = cache.get(HEARTBEAT_KEY)
    body = {
        "status": "ok" if not any(problems.values()) else "down",
        "database": problems["database"] or "ok",
        "broker": problems["broker"] or "ok",
        "worker_last_seen_seconds_ago": round(time.time() - heartbeat) if heartbeat else None,
    }
    down = [name for name, problem in problems.items() if problem]
    if down:
        body["down"] = down
        logger.warning("healthz: %s", "; ".join(problems[name] for name in down))
    return JsonResponse(body, status=503 if down else 200)


class TokenListView(RoleRequiredMixin, View):
    """A person's own API tokens: created here, shown once, revocable."""

    required = "read"

    def get(self, request, new_token=None):
        tokens = ApiToken.objects.filter(user=request.user, integration__isnull=True)
        return render(request, "account/tokens.html", {"tokens": tokens, "new_token": new_token})

    def post(self, request):
        retry_after = over_limit(request, group="token-create")
        if retry_after:
            return too_many_requests(request, retry_after=retry_after, what="tokens created")
        name = request.POST.get("name", "").strip()[:100]
        if not name:
            messages.error(request, "Give the token a label so you can tell it apart later.")
            return redirect("account-tokens")
        _, raw = services.api_token_create(user=request.user, name=name, by=request.user)
        return self.get(request, new_token=raw)


class TokenRevokeView(RoleRequiredMixin, View):
    required = "read"

    def post(self, request, pk):
        token = get_object_or_404(ApiToken, pk=pk, user=request.user, integration__isnull=True)
        services.api_token_revoke(token=token, by=request.user)
        messages.success(request, f"Token {token.prefix}… is revoked; calls with it now get 401.")
        return redirect("account-tokens")


class IntegrationListView(RoleRequiredMixin, View):
    """CRM integrations and their tokens (admins)."""

    required = "govern"

    def get(self, request, new_token=None, new_for=None):
        integrations = Integration.objects.select_related("service_user").prefetch_related("tokens")
        return render(
            request,
            "account/integrations.html",
            {"integrations": integrations, "systems": System.choices, "new_token": new_token, "new_for": new_for},
        )

    def post(self, request):
        webhook_for = request.POST.get("webhook_for")
        if webhook_for:
            return self._set_webhook(request, get_object_or_404(Integration, pk=webhook_for))
        retry_after = over_limit(request, group="token-create")
        if retry_after:
            return too_many_requests(request, retry_after=retry_after, what="tokens created")
        integration_id = request.POST.get("integration")
        if integration_id:
            integration = get_object_or_404(Integration, pk=integration_id)
            _, raw = services.api_token_create(
                user=integration.service_user,
                integration=integration,
                name=f"{integration.name} token",
                by=request.user,
            )
            return self.get(request, new_token=raw, new_for=integration)
        name = request.POST.get("name", "").strip()
        system = request.POST.get("system", "")
        if not name or system not in System.values:
            messages.error(request, "Give the integration a name and choose its system.")
            return redirect("integration-list")
        try:
            integration, raw = services.integration_create(name=name, system=system, by=request.user)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("integration-list")
        return self.get(request, new_token=raw, new_for=integration)

    def _set_webhook(self, request, integration):
        try:
            services.integration_webhook_set(
                integration=integration,
                url=request.POST.get("webhook_url", ""),
                secret=request.POST.get("webhook_secret", ""),
                by=request.user,
            )
        except ValidationError as exc:
            for errors in validation_error_fields(exc).values():
                messages.error(request, f"{integration.name}: {' '.join(errors)}")
        else:
            messages.success(request, f"Webhook of {integration.name} saved.")
        return redirect("integration-list")


class IntegrationTokenRevokeView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, pk):
        token = get_object_or_404(ApiToken, pk=pk, integration__isnull=False)
        services.api_token_revoke(token=token, by=request.user)
        messages.success(request, f"Token {token.prefix}… of {token.integration.name} is revoked.")
        return redirect(reverse("integration-list"))


# --- Error pages: JSON under /api/, a page that explains itself elsewhere -------------------
def _error(request, status: int, message: str, template: str):
    if request.path.startswith("/api/"):
        return JsonResponse({"message": message}, status=status)
    return render(request, template, {"message": message}, status=status)


def bad_request(request, exception=None):
    return _error(request, 400, "The request could not be understood.", "errors/400.html")


def permission_denied(request, exception=None):
    detail = str(exception) if exception and str(exception) else "Your role does not allow this."
    return _error(request, 403, detail, "errors/403.html")


def not_found(request, exception=None):
    return _error(request, 404, "Not found.", "errors/404.html")


def server_error(request):
    # Rendered without the request context: whatever broke (the database, a context processor)
    # must not break the error page too.
    message = "Something went wrong on our side; it has been logged."
    if request.path.startswith("/api/"):
        return JsonResponse({"message": message}, status=500)
    return HttpResponseServerError(loader.render_to_string("errors/500.html", {"message": message}))


def delivery_queryset(filters: dict):
    """The deliveries matching the page's filters, newest first."""
    rows = Delivery.objects.select_related("recipient")
    for name in ("status", "channel", "kind"):
        if filters.get(name):
            rows = rows.filter(**{name: filters[name]})
    if filters.get("recipient"):
        text = filters["recipient"]
        rows = rows.filter(Q(recipient__username__iexact=text) | Q(address__icontains=text))
    if filters.get("about"):
        rows = rows.filter(about=filters["about"])
    return rows.order_by("-created_at", "-pk")


class DeliveryListView(RoleRequiredMixin, View):
    """Every message in the outbox (email, alert webhooks) with its attempts, last error, next try
    and a resend button (admins)."""

    required = "govern"

    def get(self, request):
        form = DeliveryFilterForm(request.GET or None)
        filters = form.cleaned_data if form.is_valid() else {}
        page = Paginator(delivery_queryset(filters), 50).get_page(request.GET.get("page"))
        query = request.GET.copy()
        query.pop("page", None)
        return render(
            request,
            "account/deliveries.html",
            {"form": form, "page": page, "query": query.urlencode(), "now": timezone.now()},
        )


class DeliveryResendView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, pk):
        delivery = get_object_or_404(Delivery, pk=pk)
        outbox.delivery_resend(delivery=delivery, by=request.user)
        messages.success(request, f"Delivery {delivery.pk} ({delivery.subject}) is queued to be sent again.")
        back = request.POST.get("next", "")
        if not back.startswith("/deliveries/") or not url_has_allowed_host_and_scheme(back, allowed_hosts=None):
            back = reverse("delivery-list")
        return redirect(back)


class NotificationSettingsView(RoleRequiredMixin, View):
    """Where a person is told: email, Slack, Teams or the digest only (their team's choice if none)."""

    required = "read"

    def get(self, request, form=None, status=200):
        form = form or NotificationSettingsForm(instance=request.user)
        team = TeamChannel.objects.filter(team=request.user.team).first() if request.user.team else None
        return render(request, "account/notifications.html", {"form": form, "team_channel": team}, status=status)

    def post(self, request):
        form = NotificationSettingsForm(request.POST, instance=User.objects.get(pk=request.user.pk))
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        services.user_notifications_set(user=request.user, by=request.user, **form.cleaned_data)
        messages.success(request, "Saved: this is where you will be told from now on.")
        return redirect("account-notifications")


class TeamChannelsView(RoleRequiredMixin, View):
    """How each team is told (admins)."""

    required = "govern"

    def get(self, request, form=None, status=200):
        teams = TeamChannel.objects.all()
        return render(
            request, "account/team_channels.html", {"teams": teams, "form": form or TeamChannelForm()}, status=status
        )

    def post(self, request):
        existing = TeamChannel.objects.filter(team=request.POST.get("team", "").strip()).first()
        form = TeamChannelForm(request.POST, instance=existing)
        if not form.is_valid():
            return self.get(request, form=form, status=400)
        services.team_channel_set(by=request.user, **form.cleaned_data)
        messages.success(request, f"Saved how {form.cleaned_data['team']} is told.")
        return redirect("team-channels")
