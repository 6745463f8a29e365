"""Who may act on a decision request. Services call these too, so a page, the API and a task
apply the same rule."""

from revops_gov.roles import can_govern, can_read, is_integration


def may_decide(user, request) -> bool:
    """The assignee, the assignee's manager, or a RevOps admin; never an integration."""
    if not (user and user.is_authenticated and user.is_active) or is_integration(user):
        return False
    if can_govern(user):
        return True
    return user.pk == request.assignee_id or (
        request.assignee.manager_id is not None and request.assignee.manager_id == user.pk
    )


def may_manage(user) -> bool:
    """Reassigning, cancelling and redelivering webhooks are RevOps admin work."""
    return can_govern(user)


def may_read(user) -> bool:
    return can_read(user)
