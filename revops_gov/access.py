"""The rules of who gets in: identity-provider groups to roles, teams and managers, and who may
still use a password. Read from settings (REVOPS_OIDC), written by revops_gov.services."""

from django.conf import settings
from django.db.models import Q, QuerySet

from .roles import ROLE_ORDER, Role


def _config() -> dict:
    return settings.REVOPS_OIDC


def role_for_groups(groups) -> Role | None:
    """The strongest role any of the groups maps to (REVOPS_OIDC_ROLE_GROUPS), or None: a person
    in no mapped group has no role here."""
    groups = set(groups)
    mapping = _config()["ROLE_GROUPS"]
    for role in ROLE_ORDER:
        if groups & set(mapping.get(role.value, ())):
            return role
    return None


def team_for_groups(groups) -> str:
    """The team of the first mapped group, in the order REVOPS_OIDC_TEAM_GROUPS lists them."""
    groups = set(groups)
    for group, team in _config()["TEAM_GROUPS"].items():
        if group in groups:
            return team
    return ""


def mapped_groups() -> dict[str, list[str]]:
    """Role label → the provider groups that give it, for the refusal page."""
    return {Role(role).label: sorted(groups) for role, groups in _config()["ROLE_GROUPS"].items() if groups}


def password_login_allowed(user) -> bool:
    """REVOPS_PASSWORD_LOGIN=everyone (the default, `make run`) or break-glass: superusers and
    the accounts named in REVOPS_BREAK_GLASS_USERS only."""
    if _config()["PASSWORD_LOGIN"] != "break-glass":
        return True
    return bool(user.is_superuser or user.username in _config()["BREAK_GLASS_USERS"])


def users_for_identity(*, issuer: str, claims: dict) -> QuerySet:
    """The account a provider's subject signs in as: the one linked to (issuer, sub); failing
    that, an account with the same email that no identity of this issuer has claimed yet, if the
    provider does not say the email is unverified."""
    from .models import User

    linked = User.objects.filter(oidc_identities__issuer=issuer, oidc_identities__subject=str(claims["sub"]))
    if linked.exists():
        return linked
    email = claims.get("email")
    if not email or claims.get("email_verified") is False:
        return User.objects.none()
    return User.objects.filter(email__iexact=email).exclude(Q(oidc_identities__issuer=issuer))
