"""Who may act on a decision request. One check, `decide_refusals()`: the services call it
before any decision, and the pages, the API and the Slack buttons reach it through the services
(or ask it first, to show or refuse the options) — there is no other copy of the rule."""

from django.db.models import Q, QuerySet

from revops_gov.errors import Forbidden
from revops_gov.models import User
from revops_gov.roles import DECIDE, can_decide, can_govern, can_read, is_integration, role_of

from .kinds import DecisionKind


def holds_decide_capability(user, kind: str) -> bool:
    """May this person decide requests of this kind at all? The decide capability (managers and
    RevOps admins; every kind needs the same one), active, and a person, not an integration."""
    DecisionKind(kind)  # an unknown kind is a bug, not a refusal
    return bool(user and user.is_authenticated and user.is_active and not is_integration(user) and can_decide(user))


def deciders() -> QuerySet[User]:
    """The people a request may be assigned to: active, not integrations, holding the decide
    capability through a role, their own permissions or as superusers (what `holds_decide_capability` asks)."""
    app_label, codename = DECIDE.split(".")
    grants = Q(groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label) | Q(
        user_permissions__codename=codename, user_permissions__content_type__app_label=app_label
    )
    return (
        User.objects.filter(Q(is_superuser=True) | grants, is_active=True, integration__isnull=True)
        .exclude(username="system")
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def decide_refusals(user, request=None) -> list[str]:
    """Every reason `user` may not decide `request`; none means they may. Without a request,
    only what depends on the person (signed in, a person, the decide capability)."""
    if not (user and user.is_authenticated and user.is_active):
        return ["Sign in as an active user to decide."]
    if is_integration(user):
        return ["Decisions are made by people, with their own token, never by an integration."]
    refusals = []
    if not can_decide(user):
        role = role_of(user)
        refusals.append(
            f"Your role ({role.label if role else 'none'}) does not hold the decide capability: "
            "only managers and RevOps admins decide."
        )
    if request is not None and not can_govern(user):
        assignee = request.assignee
        if user.pk != assignee.pk and not (assignee.manager_id is not None and assignee.manager_id == user.pk):
            refusals.append(f"Only {assignee}, their manager or a RevOps admin may decide this request.")
    return refusals


def require_may_decide(user, request=None) -> None:
    """Raise Forbidden (403) with every reason when `decide_refusals` finds one."""
    refusals = decide_refusals(user, request)
    if refusals:
        extra = {"reasons": refusals}
        if request is not None:
            extra["assignee"] = request.assignee.username
        raise Forbidden(" ".join(refusals), extra)


def may_decide(user, request) -> bool:
    """The assignee, the assignee's manager, or a RevOps admin, holding the decide capability;
    never an integration, never a viewer."""
    return not decide_refusals(user, request)


def may_manage(user) -> bool:
    """Reassigning, cancelling and redelivering webhooks are RevOps admin work."""
    return can_govern(user)


def may_read(user) -> bool:
    return can_read(user)
