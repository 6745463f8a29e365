"""Bearer-token authentication for CRM integrations and personal API tokens.

The lookup is the hot path of every integration call, so a token's row, its user and the user's
permissions are cached together for a short time (REVOPS["TOKEN_CACHE_SECONDS"]); revoking a
token deletes its cache entry at once.
"""

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from .models import ApiToken


def token_cache_key(key_hash: str) -> str:
    return f"apitoken:{key_hash}"


def token_for_raw(raw: str) -> ApiToken | None:
    """The active token for a raw bearer string, its user's permissions loaded, or None."""
    key_hash = ApiToken.digest(raw)
    cache_key = token_cache_key(key_hash)
    token = cache.get(cache_key)
    if token is None:
        token = (
            ApiToken.objects.active()
            .select_related("user", "integration")
            .filter(key_hash=key_hash, user__is_active=True)
            .first()
        )
        if token is None:
            return None
        # Load the permission caches now so they travel with the cached object.
        token.user.get_all_permissions()
        cache.set(cache_key, token, settings.REVOPS["TOKEN_CACHE_SECONDS"])
    return token


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            raw = parts[1].decode()
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed("Invalid token: it contains characters a token never has.") from exc
        token = token_for_raw(raw)
        if token is None:
            raise AuthenticationFailed("Invalid or revoked token.")
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration token (`manage.py create_integration_token NAME --system SYSTEM`) "
            "or a personal token from the account page.",
        }
