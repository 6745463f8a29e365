"""Writes on users, integrations and tokens. Each is one transaction and leaves an audit row."""

import secrets

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from . import access
from .api_auth import token_cache_key
from .errors import ApplicationError
from .models import AccessEvent, ApiToken, Integration, OidcIdentity, TeamChannel, User
from .roles import ROLE_CAPABILITIES, ROLE_ORDER, Role, role_of

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


# --- Access: sign-ins, the identity provider's roles, the access log -----------------------------
def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def access_event_record(
    *, kind: str, source: str, user: User | None = None, username: str = "", detail: str = "", groups=(), request=None
) -> AccessEvent:
    return AccessEvent.objects.create(
        kind=kind,
        source=source,
        user=user,
        username=(username or (user.username if user else ""))[:255],
        detail=detail[:500],
        groups=list(groups),
        ip=_client_ip(request),
    )


def _forget_cached_tokens(user: User) -> None:
    keys = [token_cache_key(h) for h in ApiToken.objects.filter(user=user).values_list("key_hash", flat=True)]
    if keys:
        cache.delete_many(keys)
        transaction.on_commit(lambda: cache.delete_many(keys))


def _role_set(user: User, role: Role | None) -> None:
    """The user's role groups become exactly `role` (or none); other groups are left alone."""
    role_groups = Group.objects.filter(name__in=[r.label for r in ROLE_ORDER if r != Role.INTEGRATION])
    user.groups.remove(*role_groups)
    if role is not None:
        user.groups.add(role_group(role))
    for cached in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cached, None)
    _forget_cached_tokens(user)


def _unique_username(claims: dict) -> str:
    base = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])[:140]
    candidate, n = base, 1
    while User.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@transaction.atomic
def user_sign_in_from_provider(
    *, user: User | None, issuer: str, claims: dict, groups: list[str], request=None
) -> User:
    """A company sign-in: create the user on the first one; on every one, role, team, manager,
    name and email from the provider's answer, and the identity (issuer, sub) linked. A role
    that changes is logged in the access log with the groups that gave it."""
    role = access.role_for_groups(groups)
    if role is None:  # access.role_for_groups decides who gets in; the backend refuses first
        raise ApplicationError("No mapped group: no role here.")
    created = user is None
    if created:
        user = User(username=_unique_username(claims))
        user.set_unusable_password()
    else:
        user = User.objects.select_for_update().get(pk=user.pk)
    before = None if created else role_of(user)
    user.email = str(claims.get("email") or user.email)[:254]
    user.first_name = str(claims.get("given_name") or user.first_name)[:150]
    user.last_name = str(claims.get("family_name") or user.last_name)[:150]
    user.team = access.team_for_groups(groups) or user.team
    manager_email = claims.get(settings.REVOPS_OIDC["MANAGER_CLAIM"]) if settings.REVOPS_OIDC["MANAGER_CLAIM"] else None
    if manager_email:
        user.manager = User.objects.filter(email__iexact=str(manager_email)).exclude(pk=user.pk).first() or user.manager
    user.save()
    if before != role:
        _role_set(user, role)
        access_event_record(
            kind=AccessEvent.Kind.ROLE_CHANGED,
            source=AccessEvent.Source.OIDC,
            user=user,
            detail=f"{before.label if before else 'no role'} → {role.label} (from the identity provider's groups)",
            groups=groups,
            request=request,
        )
    OidcIdentity.objects.update_or_create(
        issuer=issuer,
        subject=str(claims["sub"]),
        defaults={"user": user, "groups": groups, "last_sign_in_at": timezone.now()},
    )
    return user


@transaction.atomic
def user_access_remove(*, issuer: str, subject: str, groups: list[str], request=None) -> User | None:
    """The provider says this person is in no mapped group any more: their role goes now (their
    sessions end at the next request, their API tokens stop working), logged with the groups."""
    identity = OidcIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    if identity is None:
        return None
    user = identity.user
    before = role_of(user)
    if before is None:
        return user
    _role_set(user, None)
    identity.groups = groups
    identity.save(update_fields=["groups"])
    access_event_record(
        kind=AccessEvent.Kind.ACCESS_REMOVED,
        source=AccessEvent.Source.OIDC,
        user=user,
        detail=f"{before.label} → no role: in no mapped group at the identity provider",
        groups=groups,
        request=request,
    )
    return user


# --- Where people are told -----------------------------------------------------------------------
@transaction.atomic
def user_notifications_set(*, user: User, by: User, notify_by: str, slack_user_id: str, teams_webhook_url: str) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    user.notify_by, user.slack_user_id, user.teams_webhook_url = notify_by, slack_user_id, teams_webhook_url
    user.full_clean(exclude=["password"])
    user.save(update_fields=["notify_by", "slack_user_id", "teams_webhook_url"])
    return user


@transaction.atomic
def team_channel_set(*, by: User, team: str, notify_by: str, slack_channel: str = "", teams_webhook_url: str = ""):
    channel = TeamChannel.objects.select_for_update().filter(team=team).first() or TeamChannel(team=team)
    channel.notify_by, channel.slack_channel, channel.teams_webhook_url = notify_by, slack_channel, teams_webhook_url
    channel._history_user = by
    channel._change_reason = f"{team} told by {notify_by}"
    channel.full_clean()
    channel.save()
    return channel
