"""Company sign-in with OpenID Connect (mozilla-django-oidc), configured only by the environment.

- The provider is found from its issuer URL (`/.well-known/openid-configuration`, fetched when
  first needed and cached); an endpoint set explicitly in the environment wins.
- The authorization code flow with state, nonce and PKCE; the ID token's signature (the
  provider's JWKS), expiry, issuer and audience are checked.
- The groups claim decides the role at every sign-in (`REVOPS_OIDC_ROLE_GROUPS`), and the team and
  manager too; a person in no mapped group gets in nowhere, and one who was removed from every
  mapped group loses the role at the next check: the session is checked against the provider's
  answer at sign-in and again after `REVOPS_OIDC_RECHECK_SECONDS` (a silent `prompt=none` round
  trip).
- Logout ends the local session and, where the provider offers `end_session_endpoint`, the
  provider's session (RP-initiated logout).
- Password sign-in stays for `make run` and a break-glass admin: `REVOPS_PASSWORD_LOGIN=break-glass`
  keeps it for superusers and `REVOPS_BREAK_GLASS_USERS` only.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import cached_property
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.middleware import SessionRefresh
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView, OIDCLogoutView

from . import access, services
from .models import AccessEvent

logger = logging.getLogger(__name__)

BACKEND_PATH = "revops_gov.oidc.CompanySignInBackend"
REFUSAL_SESSION_KEY = "oidc_refusal"

# mozilla-django-oidc's endpoint settings, and the provider metadata field each is read from.
ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def config() -> dict:
    return settings.REVOPS_OIDC


def enabled() -> bool:
    return bool(config()["ISSUER"])


def provider_metadata() -> dict:
    """The provider's discovery document, cached for an hour; its issuer must be the one
    configured (OpenID Connect Discovery §4.3), or nothing signs in."""
    issuer = config()["ISSUER"].rstrip("/")
    key = f"oidc:metadata:{issuer}"
    metadata = cache.get(key)
    if metadata is None:
        url = f"{issuer}/.well-known/openid-configuration"
        response = requests.get(url, timeout=config()["TIMEOUT"])
        response.raise_for_status()
        metadata = response.json()
        if metadata.get("issuer", "").rstrip("/") != issuer:
            raise ImproperlyConfigured(
                f"The provider at {url} calls itself {metadata.get('issuer')!r}, not REVOPS_OIDC_ISSUER {issuer!r}."
            )
        cache.set(key, metadata, 3600)
    return metadata


def oidc_setting(attr, *args):
    """mozilla-django-oidc's settings, with the provider's endpoints from its discovery document
    unless the environment names them."""
    if attr in ENDPOINTS:
        explicit = getattr(settings, attr, None)
        if explicit:
            return explicit
        value = provider_metadata().get(ENDPOINTS[attr])
        if value is None and args:
            return args[0]
        if value is None:
            raise ImproperlyConfigured(f"The provider's discovery document has no {ENDPOINTS[attr]}.")
        return value
    return import_from_settings(attr, *args)


def _refuse(request, reason: str, *, claims: dict | None = None) -> None:
    """Remember why a sign-in was refused, for the page the person lands on and the access log."""
    claims = claims or {}
    groups = _groups(claims)
    request.session[REFUSAL_SESSION_KEY] = {"reason": reason, "groups": groups}
    services.access_event_record(
        kind=AccessEvent.Kind.REFUSED,
        source=AccessEvent.Source.OIDC,
        username=str(claims.get("email") or claims.get("sub") or ""),
        detail=reason,
        groups=groups,
        request=request,
    )


def _groups(claims: dict) -> list[str]:
    value = claims.get(config()["GROUPS_CLAIM"], [])
    if isinstance(value, str):
        value = [value]
    return sorted({str(group) for group in value if isinstance(group, (str, int))})


class CompanySignInBackend(OIDCAuthenticationBackend):
    """The authorization code flow's user: found by (issuer, subject), else linked once by a
    verified email to an existing account; role, team and manager from the groups every time."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        if enabled():
            super().__init__(*args, **kwargs)
        else:  # nothing configured: this backend signs nobody in, and reads no provider settings
            self.UserModel = auth.get_user_model()

    def authenticate(self, request, **kwargs):
        if not enabled() or request is None or "code" not in request.GET:
            return None
        try:
            return super().authenticate(request, **kwargs)
        except (SuspiciousOperation, jwt.InvalidTokenError) as exc:
            logger.warning("Company sign-in refused: %s", exc)
            _refuse(request, f"The identity provider's answer could not be trusted: {exc}")
        except requests.RequestException as exc:
            logger.warning("Company sign-in failed: %s", exc)
            _refuse(request, "The identity provider could not be reached. Try again in a moment.")
        return None

    def retrieve_matching_jwk(self, token):
        """The provider's key for this token: by its kid; a token without a kid (allowed when the
        provider publishes a single key) takes the one key of its algorithm, never a guess
        among several."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"The ID token is not a JWT: {exc}") from exc
        if "kid" in header:
            return super().retrieve_matching_jwk(token)
        response = requests.get(self.OIDC_OP_JWKS_ENDPOINT, timeout=config()["TIMEOUT"])
        response.raise_for_status()
        keys = [k for k in response.json().get("keys", []) if k.get("alg", header.get("alg")) == header.get("alg")]
        if len(keys) != 1:
            raise SuspiciousOperation("The ID token names no key (kid) and the provider publishes several.")
        return jwt.PyJWK(keys[0])

    def verify_token(self, token, **kwargs):
        """The signature, expiry and nonce (mozilla-django-oidc), then issuer and audience, which
        it leaves unchecked."""
        payload = super().verify_token(token, **kwargs)
        issuer = config()["ISSUER"].rstrip("/")
        if str(payload.get("iss", "")).rstrip("/") != issuer:
            raise SuspiciousOperation(f"The ID token was issued by {payload.get('iss')!r}, not {issuer!r}.")
        audience = payload.get("aud")
        audiences = [audience] if isinstance(audience, str) else list(audience or [])
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("The ID token was not issued to this application (aud).")
        return payload

    def get_userinfo(self, access_token, id_token, payload):
        """The ID token's claims, completed by the userinfo endpoint where the provider has one."""
        claims = dict(payload)
        if self.OIDC_OP_USER_ENDPOINT:
            userinfo = super().get_userinfo(access_token, id_token, payload)
            if userinfo.get("sub") not in (None, payload.get("sub")):
                raise SuspiciousOperation("The userinfo answer is about someone else (sub).")
            claims.update(userinfo)
        return claims

    def verify_claims(self, claims):
        if not claims.get("sub"):
            _refuse(self.request, "The identity provider sent no subject (sub).", claims=claims)
            return False
        role = access.role_for_groups(_groups(claims))
        if role is None:
            services.user_access_remove(
                issuer=config()["ISSUER"], subject=str(claims["sub"]), groups=_groups(claims), request=self.request
            )
            _refuse(
                self.request,
                "Your account is not in any group that has a role here.",
                claims=claims,
            )
            return False
        return True

    def filter_users_by_claims(self, claims):
        return access.users_for_identity(issuer=config()["ISSUER"], claims=claims)

    def create_user(self, claims):
        return services.user_sign_in_from_provider(
            user=None, issuer=config()["ISSUER"], claims=claims, groups=_groups(claims), request=self.request
        )

    def update_user(self, user, claims):
        return services.user_sign_in_from_provider(
            user=user, issuer=config()["ISSUER"], claims=claims, groups=_groups(claims), request=self.request
        )


class PasswordBackend(ModelBackend):
    """Username and password: for everyone on `make run`; with REVOPS_PASSWORD_LOGIN=break-glass,
    for superusers and the named break-glass accounts only (their sessions too)."""

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and access.password_login_allowed(user)


class SignInView(OIDCAuthenticationRequestView):
    """/oidc/authenticate/: off (404) when no provider is configured."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args, **kwargs):
        if not enabled():
            raise Http404("Company sign-in is not configured here.")
        super().__init__(*args, **kwargs)

    def get(self, request):
        request.session.pop(REFUSAL_SESSION_KEY, None)
        return super().get(request)


class CallbackView(OIDCAuthenticationCallbackView):
    get_settings = staticmethod(oidc_setting)

    def get(self, request):
        if not enabled():
            raise Http404("Company sign-in is not configured here.")
        if "error" in request.GET and REFUSAL_SESSION_KEY not in request.session:
            reason = request.GET.get("error_description") or request.GET["error"]
            signed_in = request.user if request.user.is_authenticated else None
            if signed_in:
                services.access_event_record(
                    kind=AccessEvent.Kind.SIGN_OUT,
                    source=AccessEvent.Source.OIDC,
                    user=signed_in,
                    detail=f"Session ended: the re-check with the identity provider failed ({reason}).",
                    request=request,
                )
            response = super().get(request)  # logs out a session whose silent re-check failed
            request.session[REFUSAL_SESSION_KEY] = {
                "reason": f"The identity provider said: {reason}"
                + (" Your session here has ended; sign in again." if signed_in else ""),
                "groups": [],
            }
            return response
        try:
            return super().get(request)
        except SuspiciousOperation as exc:  # state not issued by this browser's session
            logger.warning("Company sign-in callback refused: %s", exc)
            _refuse(request, "This sign-in did not start here (its state is unknown). Start again.")
            return self.login_failure()

    def login_success(self):
        services.access_event_record(
            kind=AccessEvent.Kind.SIGN_IN,
            source=AccessEvent.Source.OIDC,
            user=self.user,
            username=self.user.username,
            request=self.request,
        )
        self.request.session.pop(REFUSAL_SESSION_KEY, None)
        return super().login_success()

    def login_failure(self):
        if self.request.user.is_authenticated:
            auth.logout(self.request)
        return super().login_failure()


def provider_logout_url(request) -> str:
    """Where logout sends the browser: the provider's end_session_endpoint for a company sign-in
    (RP-initiated logout, with the ID token as a hint), else the log-in page."""
    local = reverse(settings.LOGOUT_REDIRECT_URL)
    if not enabled() or request.session.get(BACKEND_SESSION_KEY) != BACKEND_PATH:
        return local
    end_session = provider_metadata().get("end_session_endpoint")
    if not end_session:
        return local
    params = {"post_logout_redirect_uri": request.build_absolute_uri(local), "client_id": config()["CLIENT_ID"]}
    if request.session.get("oidc_id_token"):
        params["id_token_hint"] = request.session["oidc_id_token"]
    return f"{end_session}?{urlencode(params)}"


class LogoutView(OIDCLogoutView):
    """POST /logout/: ends this session (and the provider's, for a company sign-in)."""

    get_settings = staticmethod(oidc_setting)

    def post(self, request):
        if request.user.is_authenticated:
            company = request.session.get(BACKEND_SESSION_KEY) == BACKEND_PATH
            services.access_event_record(
                kind=AccessEvent.Kind.SIGN_OUT,
                source=AccessEvent.Source.OIDC if company else AccessEvent.Source.PASSWORD,
                user=request.user,
                username=request.user.username,
                request=request,
            )
        return super().post(request)


class RecheckWithProvider(SessionRefresh):
    """A company sign-in is re-checked with the provider after REVOPS_OIDC_RECHECK_SECONDS: a page
    load goes through a silent `prompt=none` round trip (role and groups read again; removed from
    every group, the session ends). A write or a background request that arrives after the
    deadline is not let through on the old answer: 401, reload to re-check."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, get_response):
        MiddlewareMixin.__init__(self, get_response)  # settings are read per request, when enabled

    @cached_property
    def exempt_urls(self):
        # The flow's own steps, and logout: ending a session never waits for a re-check.
        return {reverse(name) for name in ("oidc_authentication_init", "oidc_authentication_callback", "logout")}

    def process_request(self, request):
        if not enabled() or not request.user.is_authenticated:
            return None
        if request.session.get(BACKEND_SESSION_KEY) != BACKEND_PATH:
            return None
        if request.session.get("oidc_id_token_expiration", 0) > time.time():
            return None
        self.OIDC_EXEMPT_URLS = []
        self.OIDC_STATE_SIZE = self.get_settings("OIDC_STATE_SIZE", 32)
        self.OIDC_NONCE_SIZE = self.get_settings("OIDC_NONCE_SIZE", 32)
        self.OIDC_OP_AUTHORIZATION_ENDPOINT = self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT")
        self.OIDC_RP_CLIENT_ID = self.get_settings("OIDC_RP_CLIENT_ID")
        self.OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
        self.OIDC_RP_SCOPES = self.get_settings("OIDC_RP_SCOPES", "openid email")
        self.OIDC_USE_NONCE = self.get_settings("OIDC_USE_NONCE", True)
        if request.path in self.exempt_urls:
            return None
        if request.method != "GET" or request.headers.get("HX-Request") or request.path.startswith("/api/"):
            return HttpResponse(
                "Your company sign-in needs checking again with the identity provider: reload the page.",
                status=401,
                content_type="text/plain; charset=utf-8",
            )
        return super().process_request(request)


def refused(request):
    """Where a refused company sign-in lands: why, and what to do."""
    refusal = request.session.get(REFUSAL_SESSION_KEY) or {}
    context = {
        "reason": refusal.get("reason", "The sign-in did not complete."),
        "groups": refusal.get("groups", []),
        "mapped": access.mapped_groups(),
        "provider_name": config()["PROVIDER_NAME"],
        "groups_claim": config()["GROUPS_CLAIM"],
    }
    return render(request, "registration/oidc_refused.html", context, status=403)
