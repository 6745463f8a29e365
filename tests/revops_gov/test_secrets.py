"""Nothing secret ever leaves through the API: over every API route of the authorization matrix's
world, as each caller that can read, no response contains a raw token, a token's stored hash, or the
value of any field whose name says it is secret (webhook signing secrets and the like, in any app)."""

import pytest
from django.apps import apps
from django.urls import reverse

from revops_gov import services
from revops_gov.models import ApiToken
from tests.revops_gov.test_authz import RULES, _client_for, world  # noqa: F401 - `world` is a fixture

API_ROUTES = sorted(name for name, (method, _) in RULES.items() if name.startswith("api") and method == "get")


def _secret_values() -> set[str]:
    values = set()
    for model in apps.get_models():
        names = [f.attname for f in model._meta.concrete_fields if "secret" in f.name or f.name == "key_hash"]
        for name in names:
            values |= {str(v) for v in model.objects.values_list(name, flat=True) if v and len(str(v)) >= 8}
    return values


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["admin", "integration", "other_integration"])
def test_no_api_response_contains_a_secret(persona, world, request, client, api):  # noqa: F811
    _, raw_personal = services.api_token_create(user=world["admin"], name="second", by=world["admin"])
    secrets = _secret_values() | set(world["tokens"].values()) | {raw_personal}
    assert ApiToken.objects.count() >= 4 and len(secrets) >= 7
    _, caller = _client_for(persona, world, request, client, api)
    checked = 0
    for name in API_ROUTES:
        response = caller.get(reverse(name, kwargs=world["kwargs"].get(name)))
        body = response.content.decode(errors="replace")
        leaked = [s[:6] + "…" for s in secrets if s in body]
        assert not leaked, f"GET {name} as {persona} returns secret values starting {leaked}"
        checked += response.status_code == 200
    assert checked >= 5
