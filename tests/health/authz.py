"""Who may use each health route (see tests/authz.py)."""

from tests.authz import API_READ, API_SCOPED, PAGE_GOVERN, PAGE_READ, POST_GOVERN

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
    "health:finding-fix": ("post", {**POST_DECIDE, "manager": 400, "admin": 400}),
    "health:finding-close": ("post", {**POST_DECIDE, "manager": 400, "admin": 400}),
    "health:finding-hold-release": ("post", {**POST_GOVERN, "admin": 400}),
    "health:suppression-list": ("get", PAGE_READ),
    "health:automation-runs": ("get", PAGE_READ),
    "health:automation-runs-export": ("get", PAGE_READ),
    # Planned hold windows: everyone with a role reads them; an empty form is a 400 naming the
    # fields for a manager or an admin (the service then checks failure owner / system owner / admin).
    "health:hold-window-list": ("get", PAGE_READ),
    "health:automation-hold-windows": ("get", PAGE_READ),
    "health:hold-window-plan": ("post", {**POST_DECIDE, "manager": 400, "admin": 400}),
    "health:hold-window-cancel": ("post", {**POST_DECIDE, "manager": 400, "admin": 400}),
    "api:hold-window-list": ("get", {**API_READ, "integration": 403, "other_integration": 403}),
    "api:hold-window-detail": ("get", {**API_READ, "integration": 403, "other_integration": 403}),
    "api:hold-window-cancel": (
        "post",
        {**API_READ, "viewer": 403, "manager": 400, "admin": 400, "integration": 403, "other_integration": 403},
    ),
    "api:run-list": ("get", API_READ),
    "api:run-ping": (
        "post",
        {**API_INGEST, "admin": 201, "integration": 201, "other_integration": 404},
    ),
    "api:finding-list": ("get", API_READ),
    "api:finding-detail": ("get", API_SCOPED),
}
# The monthly review: everyone with a role reads it; RevOps admins confirm and re-compute. It is
# not for integrations (no integration_access on its API views).
API_PEOPLE = {**API_READ, "integration": 403, "other_integration": 403}
RULES |= {
    "reviews:list": ("get", PAGE_READ),
    "reviews:detail": ("get", PAGE_READ),
    "reviews:export": ("get", PAGE_READ),
    "reviews:recompute": ("post", POST_GOVERN),
    "reviews:row": ("get", PAGE_READ),
    # An empty form is a 400 naming the field for an admin; nobody else gets that far.
    "reviews:row-confirm": ("post", {**PAGE_GOVERN, "admin": 400}),
    "reviews:trend": ("get", PAGE_READ),
    "api:health-review-list": ("get", API_PEOPLE),
    "api:health-review-detail": ("get", API_PEOPLE),
    "api:health-review-row-list": ("get", API_PEOPLE),
    "api:health-review-row-detail": ("get", API_PEOPLE),
}
API_WRITES = {
    "api:run-list": ("post", API_INGEST),
    "api:hold-window-list": (
        "post",
        {**API_INGEST, "manager": 400, "integration": 403, "other_integration": 403},
    ),
}


def world_kwargs(world) -> dict:
    """URL arguments for this app's routes, from the shared world (tests/revops_gov/test_authz.py)."""
    from tests.health.factories import FindingFactory, PlannedHoldWindowFactory
    from tests.health.reviews.factories import HealthReviewRowFactory

    finding = FindingFactory(automation=world["automation"])
    window = PlannedHoldWindowFactory(automation=world["automation"], created_by=world["admin"])
    row = HealthReviewRowFactory(automation=world["automation"])
    month = {"year": row.review.month.year, "month": row.review.month.month}
    return {
        "reviews:detail": month,
        "reviews:export": month,
        "reviews:recompute": month,
        "reviews:row": {"pk": row.pk},
        "reviews:row-confirm": {"pk": row.pk},
        "reviews:trend": {"key": world["automation"].key},
        "api:health-review-detail": {"pk": row.review.pk},
        "api:health-review-row-detail": {"pk": row.pk},
        "health:finding-detail": {"pk": finding.pk},
        "health:automation-runs": {"key": world["automation"].key},
        "health:automation-runs-export": {"key": world["automation"].key},
        "health:finding-acknowledge": {"pk": finding.pk},
        "health:finding-suppress": {"pk": finding.pk},
        "health:finding-fix": {"pk": finding.pk},
        "health:finding-close": {"pk": finding.pk},
        "health:finding-hold-release": {"pk": finding.pk},
        "api:run-ping": {"key": world["automation"].key, "kind": "start"},
        "api:finding-detail": {"pk": finding.pk},
        "health:automation-hold-windows": {"key": world["automation"].key},
        "health:hold-window-plan": {"key": world["automation"].key},
        "health:hold-window-cancel": {"pk": window.pk},
        "api:hold-window-detail": {"pk": window.pk},
        "api:hold-window-cancel": {"pk": window.pk},
    }
