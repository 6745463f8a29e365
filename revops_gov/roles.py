"""Who may do what: roles, their capabilities, and the checks every view and endpoint uses.

A role is a Django group holding capability permissions (created by a migration):

| role          | read | decide | govern | integrate |
|---------------|------|--------|--------|-----------|
| RevOps admin  |  ✓   |   ✓    |   ✓    |           |
| Manager       |  ✓   |   ✓    |        |           |
| Viewer        |  ✓   |        |        |           |
| Integration   |      |        |        |     ✓     |

Superusers hold every capability. Integrations are service accounts behind API tokens; they never
log into the browser and their reach is limited to their own system by the selectors.
"""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied
from django.db import models
from rest_framework.permissions import SAFE_METHODS, BasePermission


class Role(models.TextChoices):
    ADMIN = "revops_admin", "RevOps admin"
    MANAGER = "manager", "Manager"
    VIEWER = "viewer", "Viewer"
    INTEGRATION = "integration", "Integration"


GOVERN = "revops_gov.govern"
DECIDE = "revops_gov.decide"
READ = "revops_gov.read_governance"
INTEGRATE = "revops_gov.integrate"

ROLE_CAPABILITIES = {
    Role.ADMIN: ("govern", "decide", "read_governance"),
    Role.MANAGER: ("decide", "read_governance"),
    Role.VIEWER: ("read_governance",),
    Role.INTEGRATION: ("integrate",),
}
# Highest first: a person in two groups is shown with the stronger role.
ROLE_ORDER = (Role.ADMIN, Role.MANAGER, Role.VIEWER, Role.INTEGRATION)


def can_read(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(READ))


def can_decide(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(DECIDE))


def can_govern(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(GOVERN))


def is_integration(user) -> bool:
    return bool(user and user.is_authenticated and not user.is_superuser and user.has_perm(INTEGRATE))


def role_of(user) -> Role | None:
    """The strongest role the user holds, for display and for the authorization matrix."""
    if not (user and user.is_authenticated):
        return None
    if user.is_superuser or can_govern(user):
        return Role.ADMIN
    if can_decide(user):
        return Role.MANAGER
    if can_read(user):
        return Role.VIEWER
    if is_integration(user):
        return Role.INTEGRATION
    return None


def require(user, capability: str) -> None:
    """Raise PermissionDenied unless the user holds the capability ("read", "decide", "govern")."""
    check = {"read": can_read, "decide": can_decide, "govern": can_govern}[capability]
    if not check(user):
        raise PermissionDenied(f"This needs the {capability} capability, which your role does not have.")


# --- Browser views --------------------------------------------------------------------------
class RoleRequiredMixin(AccessMixin):
    """Class-based views declare `required = "read" | "decide" | "govern"`; anonymous users go to
    the login page, logged-in users without the capability get 403."""

    required = "read"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        require(request.user, self.required)
        return super().dispatch(request, *args, **kwargs)


# --- API ------------------------------------------------------------------------------------
class ReadOrGovern(BasePermission):
    """The default for API views: reading needs the read capability, writing needs govern.

    A view lets integrations in by setting `integration_access = "read"` or `"write"`; their
    reach is then limited to their own system by the view's queryset."""

    message = "Your role does not allow this."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        safe = request.method in SAFE_METHODS
        if is_integration(user):
            access = getattr(view, "integration_access", None)
            return access == "write" or (access == "read" and safe)
        return can_read(user) if safe else can_govern(user)


class GovernOnly(BasePermission):
    message = "Only RevOps admins may do this."

    def has_permission(self, request, view):
        return can_govern(request.user)
