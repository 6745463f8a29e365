"""Who may use each backlog route (see tests/authz.py)."""

from tests.authz import API_READ, API_SCOPED, PAGE_GOVERN, PAGE_READ, POST_GOVERN

# Admins get a 400 for an empty or not-ready request: allowed, then refused by the rules.
API_GOVERN_WRITE = {
    "anonymous": 401,
    "outsider": 403,
    "viewer": 403,
    "manager": 403,
    "admin": 400,
    "integration": 403,
    "other_integration": 403,
}

RULES = {
    "backlog:board": ("get", PAGE_READ),
    "backlog:export": ("get", PAGE_READ),
    "backlog:candidate-request": ("get", PAGE_READ),
    "backlog:scoring": ("get", PAGE_READ),
    "backlog:scoring-publish": ("post", {**PAGE_GOVERN, "admin": 400}),
    "backlog:candidate-detail": ("get", PAGE_READ),
    "backlog:candidate-triage": ("get", PAGE_GOVERN),
    "backlog:candidate-promote": ("post", POST_GOVERN),
    "backlog:candidate-decline": ("post", POST_GOVERN),
    "backlog:candidate-defer": ("post", POST_GOVERN),
    "backlog:candidate-reopen": ("post", POST_GOVERN),
    "api:candidate-list": ("get", API_READ),
    "api:candidate-detail": ("get", API_SCOPED),
    "api:candidate-promote": ("post", API_GOVERN_WRITE),
    "api:scoringmodel-list": ("get", API_READ),
    "api:scoringmodel-detail": ("get", API_READ),
}
API_WRITES = {
    # Anyone with a role may request an automation.
    "api:candidate-list": ("post", {**API_GOVERN_WRITE, "viewer": 400, "manager": 400}),
    "api:candidate-detail": ("patch", API_GOVERN_WRITE),
    "api:scoringmodel-list": ("post", API_GOVERN_WRITE),
}


def world_kwargs(world) -> dict:
    """URL arguments for this app's routes, from the shared world (tests/revops_gov/test_authz.py)."""
    from backlog.rules import DEFAULT_WEIGHTS
    from backlog.services import scoring_model_publish
    from tests.backlog.factories import CandidateFactory

    candidate = CandidateFactory(system="salesforce")
    model = scoring_model_publish(by=world["admin"], reason="authz", weights={**DEFAULT_WEIGHTS, "volume": 4})
    pk = {"pk": candidate.pk}
    return {
        "backlog:candidate-detail": pk,
        "backlog:candidate-triage": pk,
        "backlog:candidate-promote": pk,
        "backlog:candidate-decline": pk,
        "backlog:candidate-defer": pk,
        "backlog:candidate-reopen": pk,
        "api:candidate-detail": pk,
        "api:candidate-promote": pk,
        "api:scoringmodel-detail": {"pk": model.pk},
    }
