"""Who may use each health route (see tests/authz.py)."""

from tests.authz import API_READ, API_SCOPED, PAGE_READ, POST_GOVERN

POST_DECIDE = {**POST_GOVERN, "manager": 302}
API_INGEST = {
    "anonymous": 401,
    "outsider": 403,
    "viewer": 403,
    "manager": 403,
    "admin": 400,
    "integration": 400,
    "other_integration": 400,
}

RULES = {
    "health:finding-list": ("get", PAGE_READ),
    "health:finding-detail": ("get", PAGE_READ),
    "health:finding-acknowledge": ("post", POST_DECIDE),
    "health:finding-suppress": ("post", {**POST_DECIDE, "manager": 400, "admin": 400}),
    "api:run-list": ("get", API_READ),
    "api:run-ping": (
        "post",
        {**API_INGEST, "admin": 201, "integration": 201, "other_integration": 404},
    ),
    "api:finding-list": ("get", API_READ),
    "api:finding-detail": ("get", API_SCOPED),
}
API_WRITES = {"api:run-list": ("post", API_INGEST)}


def world_kwargs(world) -> dict:
    """URL arguments for this app's routes, from the shared world (tests/revops_gov/test_authz.py)."""
    from tests.health.factories import FindingFactory

    finding = FindingFactory(automation=world["automation"])
    return {
        "health:finding-detail": {"pk": finding.pk},
        "health:finding-acknowledge": {"pk": finding.pk},
        "health:finding-suppress": {"pk": finding.pk},
        "api:run-ping": {"key": world["automation"].key, "kind": "start"},
        "api:finding-detail": {"pk": finding.pk},
    }
