"""Who may use each approvals route (see tests/authz.py)."""

from tests.authz import API_SCOPED, PAGE_GOVERN, PAGE_READ, POST_GOVERN

PAGE_DECIDE = {**PAGE_READ, "viewer": 403}
POST_DECIDE = {**PAGE_DECIDE, "manager": 302, "admin": 302}
# Anyone who reads may ask for a move; the gate refuses (with a message) whoever may not make it.
POST_READ = {**PAGE_READ, "viewer": 302, "manager": 302, "admin": 302}
NOT_ALLOWED_GOVERN = {
    "anonymous": 401,
    "outsider": 403,
    "viewer": 403,
    "manager": 403,
    "admin": 405,
    "integration": 403,
    "other_integration": 403,
}
NOT_ALLOWED_WRITE = {**dict.fromkeys(NOT_ALLOWED_GOVERN, 405), "anonymous": 401, "outsider": 403}

RULES = {
    "approvals:waiting": ("get", PAGE_DECIDE),
    "approvals:transition": ("post", POST_READ),
    "approvals:packet-edit": ("get", PAGE_GOVERN),
    "approvals:packet-detail": ("get", PAGE_READ),
    "approvals:packet-submit": ("post", POST_GOVERN),
    "approvals:packet-review": ("post", POST_DECIDE),
    "approvals:readiness": ("get", PAGE_READ),
    "approvals:readiness-tick": ("post", POST_GOVERN),
    # Empty posts: the page comes back with the form's errors (400) for admins, never a 500.
    "approvals:testcase-save": ("post", {**POST_GOVERN, "admin": 400}),
    "approvals:testcase-edit": ("post", {**POST_GOVERN, "admin": 400}),
    "approvals:testcase-run": ("post", {**POST_GOVERN, "admin": 400}),
    # Adopting a discovered automation (issue 17): admins only; an empty post is the form's 400.
    "approvals:adopt": ("get", PAGE_GOVERN),
    "approvals:retire-in-crm": ("post", POST_GOVERN),
    "api:automation-adopt": ("get", NOT_ALLOWED_GOVERN),
    "api:automation-retire-in-crm": ("get", NOT_ALLOWED_GOVERN),
    "api:automation-permit": ("get", API_SCOPED),
    "api:automation-transition": ("get", NOT_ALLOWED_GOVERN),
    "api:automation-shadow-observations": ("get", NOT_ALLOWED_WRITE),
}
ADMIN_ONLY_WRITE = {
    "anonymous": 401,
    "outsider": 403,
    "viewer": 403,
    "manager": 403,
    "admin": 400,
    "integration": 403,
    "other_integration": 403,
}
API_WRITES = {
    "api:automation-adopt": ("post", ADMIN_ONLY_WRITE),
    "api:automation-retire-in-crm": ("post", ADMIN_ONLY_WRITE),
    "api:automation-transition": (
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
    "api:automation-shadow-observations": (
        "post",
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
}


def world_kwargs(world) -> dict:
    """URL arguments for this app's routes, from the shared world (tests/revops_gov/test_authz.py)."""
    from approvals.services import packet_create_draft, test_case_save

    automation = world["automation"]
    packet = packet_create_draft(automation=automation, by=world["admin"])
    # A case of another automation, still in design (a launched version's plan is not rewritten).
    from tests.registry.factories import AutomationFactory

    designed = AutomationFactory(status="in_design", system=automation.system)
    case = test_case_save(automation=designed, by=world["admin"], kind="common", description="d", expected="e")
    key = {"key": automation.key}
    return {
        "approvals:transition": key,
        "approvals:packet-edit": key,
        "approvals:packet-detail": {**key, "number": packet.number},
        "approvals:packet-submit": {**key, "number": packet.number},
        "approvals:packet-review": {**key, "number": packet.number},
        "approvals:readiness": key,
        "approvals:readiness-tick": key,
        "approvals:testcase-save": key,
        "approvals:testcase-edit": {"key": designed.key, "case": case.pk},
        "approvals:testcase-run": {"key": designed.key, "case": case.pk},
        "api:automation-permit": key,
        "api:automation-transition": key,
        "api:automation-shadow-observations": key,
        "approvals:adopt": key,
        "approvals:retire-in-crm": key,
        "api:automation-adopt": key,
        "api:automation-retire-in-crm": key,
    }
