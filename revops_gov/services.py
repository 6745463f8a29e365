"""Writes on users, integrations and tokens. Each is one transaction and leaves an audit row."""

import secrets

from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from .api_auth import token_cache_key
from .errors import ApplicationError
from .models import ApiToken, Integration, User
from .roles import ROLE_CAPABILITIES, Role

SYSTEM_USERNAME = "system"


def system_user() -> User:
    """The actor recorded for writes made by tasks and commands with no person behind them."""
    user, _ = User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={"first_name": "RevOps Governance", "last_name": "(system)", "is_active": False},
    )
    return user


def role_group(role: Role) -> Group:
    """The role's group with its capabilities. A migration creates them; this recreates one that
    was deleted (or flushed), so assigning a role never fails."""
    group, created = Group.objects.get_or_create(name=role.label)
    if created:
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="revops_gov", codename__in=ROLE_CAPABILITIES[role])
        )
    return group


@transaction.atomic
def user_create(
    *,
    username: str,
    role: Role,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    password: str | None = None,
    manager: User | None = None,
    is_superuser: bool = False,
) -> User:
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        manager=manager,
        is_superuser=is_superuser,
        is_staff=is_superuser,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    user.groups.add(role_group(role))
    return user


def _new_raw_token() -> str:
    return "rg_" + secrets.token_urlsafe(32)


@transaction.atomic
def integration_create(*, name: str, system: str, by: User | None = None) -> tuple[Integration, str]:
    """Create an integration with its service account and a first token; returns the raw token,
    which is never stored and cannot be shown again."""
    if Integration.objects.filter(name=name).exists():
        raise ApplicationError(f"An integration named {name!r} already exists.", {"field": "name"})
    username = f"integration-{name}".lower().replace(" ", "-")[:150]
    service_user = user_create(username=username, role=Role.INTEGRATION, first_name=name, last_name="(integration)")
    integration = Integration(name=name, system=system, service_user=service_user)
    integration.full_clean()
    integration._history_user = by
    integration._change_reason = "Integration created"
    integration.save()
    _, raw = api_token_create(user=service_user, integration=integration, name=f"{name} token", by=by)
    return integration, raw


@transaction.atomic
def api_token_create(
    *, user: User, name: str, by: User | None = None, integration: Integration | None = None
) -> tuple[ApiToken, str]:
    """Create a token acting as `user` (scoped to the integration's system if given)."""
    raw = _new_raw_token()
    token = ApiToken(
        name=name,
        user=user,
        integration=integration,
        key_hash=ApiToken.digest(raw),
        prefix=raw[:10],
        created_by=by,
    )
    token.full_clean(exclude=["key_hash"])
    token._history_user = by
    token._change_reason = "Token created"
    token.save()
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by: User) -> ApiToken:
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.revoked_by = by
    token._history_user = by
    token._change_reason = "Token revoked"
    token.save(update_fields=["revoked_at", "revoked_by"])
    # Clear now and again after commit, so a request racing the revocation cannot re-cache it.
    key = token_cache_key(token.key_hash)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))
    return token


@transaction.atomic
def integration_webhook_set(*, integration: Integration, url: str, secret: str = "", by: User) -> Integration:
    """Set where decision outcomes are POSTed for this integration and the secret they are signed
    with. An empty secret keeps the current one; an empty URL switches the webhook off."""
    from django.core.exceptions import ValidationError

    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    integration.webhook_url = (url or "").strip()
    if secret:
        integration.webhook_secret = secret.strip()
    if integration.webhook_url and len(integration.webhook_secret) < 16:
        raise ValidationError({"webhook_secret": "Give a secret of at least 16 characters to sign the webhook with."})
    integration.full_clean()
    integration._history_user = by
    integration._change_reason = "Webhook set" if integration.webhook_url else "Webhook switched off"
    integration.save()
    return integration
