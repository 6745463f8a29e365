"""The authorization matrix's vocabulary: personas and the usual expected-status shapes.

Each app lists its routes' rules in `tests/<app>/authz.py` (RULES, API_WRITES and a
`world_kwargs(world)` giving the URL arguments); tests/revops_gov/test_authz.py checks them all.
"""

PERSONAS = ("anonymous", "outsider", "viewer", "manager", "admin", "integration", "other_integration")

# Shorthands for the usual shapes.
PAGE_READ = {
    "anonymous": 302,
    "outsider": 403,
    "viewer": 200,
    "manager": 200,
    "admin": 200,
    "integration": 403,
    "other_integration": 403,
}
PAGE_GOVERN = {**PAGE_READ, "viewer": 403, "manager": 403}
POST_GOVERN = {**PAGE_GOVERN, "admin": 302}
API_READ = {
    "anonymous": 401,
    "outsider": 403,
    "viewer": 200,
    "manager": 200,
    "admin": 200,
    "integration": 200,
    "other_integration": 200,
}
API_SCOPED = {**API_READ, "other_integration": 404}
API_DOCS = {
    "anonymous": 401,
    "outsider": 200,
    "viewer": 200,
    "manager": 200,
    "admin": 200,
    "integration": 200,
    "other_integration": 200,
}
