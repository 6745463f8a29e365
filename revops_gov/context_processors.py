from .navigation import nav_for
from .roles import can_decide, can_govern, can_read, role_of


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav": [], "role": None}
    role = role_of(user)
    return {
        "nav": nav_for(request),
        "role": role,
        "role_label": role.label if role else "No role",
        "can_govern": can_govern(user),
        "can_decide": can_decide(user),
        "can_read": can_read(user),
    }
