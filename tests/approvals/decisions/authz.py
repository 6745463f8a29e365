"""Who may use each decision-queue route (see tests/authz.py)."""

from tests.authz import API_READ, API_SCOPED, PAGE_GOVERN, PAGE_READ, PERSONAS, POST_GOVERN

NOBODY_BUT_ADMIN = {
    "anonymous": 302,
    "outsider": 403,
    "viewer": 403,
    "manager": 403,
    "admin": 400,
    "integration": 403,
    "other_integration": 403,
}

RULES = {
    "decisions:queue": ("get", PAGE_READ),
    # Off without REVOPS_SLACK_SIGNING_SECRET; with it, only Slack's signature lets a call in.
    "decisions:slack-interactivity": ("post", dict.fromkeys(PERSONAS, 404)),
    "decisions:team": ("get", PAGE_GOVERN),
    "decisions:history": ("get", PAGE_READ),
    "decisions:deliveries": ("get", PAGE_GOVERN),
    "decisions:redeliver": ("post", POST_GOVERN),
    "decisions:detail": ("get", PAGE_READ),
    # The world's request waits for someone else: only an admin gets as far as "choose an option".
    "decisions:decide": ("post", NOBODY_BUT_ADMIN),
    "decisions:reassign": ("post", POST_GOVERN),
    "decisions:cancel": ("post", POST_GOVERN),
    "api:decision-list": ("get", API_READ),
    "api:decision-detail": ("get", API_SCOPED),
    "api:decision-decide": ("post", {**NOBODY_BUT_ADMIN, "anonymous": 401}),
}
API_WRITES = {
    "api:decision-list": (
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
    "api:decision-decide": ("post", {**NOBODY_BUT_ADMIN, "anonymous": 401}),
}


# Deciding a request assigned to the persona itself (body {"option": "accept_owner"}): being the
# assignee is not enough, the decide capability decides — managers and admins may, a viewer never
# (issue 15 §3), an integration never, not even as the assignee.
ASSIGNED_RULES = {
    "decisions:decide": (
        "post",
        {
            "anonymous": 302,
            "outsider": 403,
            "viewer": 403,
            "manager": 302,
            "admin": 302,
            "integration": 403,
            "other_integration": 403,
        },
    ),
    "api:decision-decide": (
        "post",
        {
            "anonymous": 401,
            "outsider": 403,
            "viewer": 403,
            "manager": 200,
            "admin": 200,
            "integration": 403,
            "other_integration": 403,
        },
    ),
}
ASSIGNED_BODY = {"option": "accept_owner"}


def assigned_kwargs(user) -> dict:
    """A request waiting for `user` (written directly: the service would refuse some of these
    assignees), about a live automation, and the URL arguments of the routes above."""
    from tests.approvals.decisions.factories import DecisionRequestFactory

    request = DecisionRequestFactory(assignee=user)
    return {name: {"pk": request.pk} for name in ASSIGNED_RULES}


def world_kwargs(world) -> dict:
    """URL arguments for this app's routes, from the shared world (tests/revops_gov/test_authz.py)."""
    from approvals.decisions.models import OutboxEvent
    from tests.approvals.decisions.factories import DecisionRequestFactory

    request = DecisionRequestFactory(automation=world["automation"], created_by=world["admin"])
    event = OutboxEvent.objects.create(
        integration=world["integrations"]["integration"], request=request, event_type="decision.decided", payload={}
    )
    world["decision_request"] = request
    return {
        "decisions:redeliver": {"pk": event.pk},
        "decisions:detail": {"pk": request.pk},
        "decisions:decide": {"pk": request.pk},
        "decisions:reassign": {"pk": request.pk},
        "decisions:cancel": {"pk": request.pk},
        "api:decision-detail": {"pk": request.pk},
        "api:decision-decide": {"pk": request.pk},
    }
