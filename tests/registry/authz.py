"""Who may use each registry route (see tests/authz.py)."""

from tests.authz import API_READ, API_SCOPED, PAGE_GOVERN, PAGE_READ, POST_GOVERN

RULES = {
    "registry:automation-list": ("get", PAGE_READ),
    "registry:automation-create": ("get", PAGE_GOVERN),
    "registry:automation-import": ("get", PAGE_GOVERN),
    "registry:automation-export": ("get", PAGE_READ),
    "registry:automation-bulk-owner": ("post", POST_GOVERN),
    "registry:automation-detail": ("get", PAGE_READ),
    "registry:automation-edit": ("get", PAGE_GOVERN),
    "registry:automation-history": ("get", PAGE_READ),
    "registry:automation-reviewed": ("post", POST_GOVERN),
    "registry:hold-place": ("post", POST_GOVERN),
    "registry:hold-release": ("post", POST_GOVERN),
    "registry:datafield-list": ("get", PAGE_READ),
    "registry:datafield-create": ("get", PAGE_GOVERN),
    "registry:datafield-detail": ("get", PAGE_READ),
    "registry:datafield-edit": ("get", PAGE_GOVERN),
    "registry:changeevent-list": ("get", PAGE_READ),
    "registry:changeevent-create": ("get", PAGE_GOVERN),
    "registry:changeevent-detail": ("get", PAGE_READ),
    "api:automation-list": ("get", API_READ),
    "api:automation-detail": ("get", API_SCOPED),
    "api:datafield-list": ("get", API_READ),
    "api:datafield-detail": ("get", API_READ),
    "api:changeevent-list": ("get", API_READ),
    "api:changeevent-detail": ("get", API_SCOPED),
}
API_WRITES = {
    "api:automation-list": (
        "post",
        {
            "anonymous": 401,
            "outsider": 403,
            "viewer": 403,
            "manager": 403,
            "admin": 400,
            "integration": 400,
            "other_integration": 400,
        },
    ),
    "api:automation-detail": (
        "patch",
        {
            "anonymous": 401,
            "outsider": 403,
            "viewer": 403,
            "manager": 403,
            "admin": 400,
            "integration": 400,
            "other_integration": 404,
        },
    ),
    "api:datafield-list": (
        "post",
        {
            "anonymous": 401,
            "outsider": 403,
            "viewer": 403,
            "manager": 403,
            "admin": 400,
            "integration": 403,
            "other_integration": 403,
        },
    ),
    "api:datafield-detail": (
        "patch",
        {
            "anonymous": 401,
            "outsider": 403,
            "viewer": 403,
            "manager": 403,
            "admin": 400,
            "integration": 403,
            "other_integration": 403,
        },
    ),
    "api:changeevent-list": (
        "post",
        {
            "anonymous": 401,
            "outsider": 403,
            "viewer": 403,
            "manager": 403,
            "admin": 400,
            "integration": 403,
            "other_integration": 403,
        },
    ),
}


def world_kwargs(world) -> dict:
    """URL arguments for this app's routes, from the shared world (tests/revops_gov/test_authz.py)."""
    automation, field, event, hold = world["automation"], world["field"], world["event"], world["hold"]
    return {
        "registry:automation-detail": {"key": automation.key},
        "registry:automation-edit": {"key": automation.key},
        "registry:automation-history": {"key": automation.key},
        "registry:automation-reviewed": {"key": automation.key},
        "registry:hold-place": {"key": automation.key},
        "registry:hold-release": {"key": automation.key, "pk": hold.pk},
        "registry:datafield-detail": {"pk": field.pk},
        "registry:datafield-edit": {"pk": field.pk},
        "registry:changeevent-detail": {"pk": event.pk},
        "api:automation-detail": {"key": automation.key},
        "api:datafield-detail": {"pk": field.pk},
        "api:changeevent-detail": {"pk": event.pk},
    }
