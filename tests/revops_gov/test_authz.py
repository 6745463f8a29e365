"""Every route × every persona, generated from the URL configuration: a new route without a
rule here fails the suite, so nothing ships without someone deciding who may use it."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from revops_gov.models import ApiToken
from tests.approvals import authz as approvals_authz
from tests.approvals.decisions import authz as decisions_authz
from tests.authz import API_DOCS, PAGE_GOVERN, PAGE_READ, PERSONAS, POST_GOVERN
from tests.backlog import authz as backlog_authz
from tests.discovery import authz as discovery_authz
from tests.factories import UserFactory
from tests.health import authz as health_authz
from tests.health.dashboard import authz as dashboard_authz
from tests.registry import authz as registry_authz
from tests.registry.factories import AutomationFactory, ChangeEventFactory, DataFieldFactory

APPS = (
    registry_authz,
    backlog_authz,
    approvals_authz,
    decisions_authz,
    health_authz,
    dashboard_authz,
    discovery_authz,
)

RULES = {
    "home": ("get", {**PAGE_READ, "viewer": 302, "manager": 302, "admin": 302}),
    "healthz": ("get", dict.fromkeys(PERSONAS, 200)),
    "login": ("get", {**dict.fromkeys(PERSONAS, 302), "anonymous": 200}),
    "logout": ("post", dict.fromkeys(PERSONAS, 302)),
    "account-tokens": ("get", PAGE_READ),
    "account-token-revoke": ("post", {**PAGE_READ, "viewer": 404, "manager": 404, "admin": 302}),
    "integration-list": ("get", PAGE_GOVERN),
    "integration-token-revoke": ("post", POST_GOVERN),
    "delivery-list": ("get", PAGE_GOVERN),
    "delivery-resend": ("post", POST_GOVERN),
    "api-schema": ("get", API_DOCS),
    "api-docs": ("get", API_DOCS),
    "api-redoc": ("get", API_DOCS),
    "access-log": ("get", PAGE_GOVERN),
    "account-notifications": ("get", PAGE_READ),
    "team-channels": ("get", PAGE_GOVERN),
    # Company sign-in is off unless REVOPS_OIDC_ISSUER is set (tests/revops_gov/test_oidc.py turns it on).
    "oidc_authentication_init": ("get", dict.fromkeys(PERSONAS, 404)),
    "oidc_authentication_callback": ("get", dict.fromkeys(PERSONAS, 404)),
    "oidc-refused": ("get", dict.fromkeys(PERSONAS, 403)),
}
API_WRITES: dict = {}
# Routes acting on something assigned to the persona itself: (method, expected, body), and the app's
# `assigned_kwargs(user)` making it.
ASSIGNED: dict = {}
for app in APPS:
    assert not set(app.RULES) & set(RULES), f"{app.__name__} repeats a rule"
    RULES |= app.RULES
    API_WRITES |= app.API_WRITES
    for name, (method, expected) in getattr(app, "ASSIGNED_RULES", {}).items():
        ASSIGNED[name] = (method, expected, app.ASSIGNED_BODY, app.assigned_kwargs)


def _route_names(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue  # the Django admin guards itself: superusers only (tested below)
            yield from _route_names(pattern, f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


def test_every_route_has_an_authorization_rule():
    missing = sorted(set(_route_names()) - set(RULES))
    assert not missing, f"Routes without an authorization rule in test_authz.RULES: {missing}"


@pytest.fixture
def world(db, admin):
    automation = AutomationFactory(system="salesforce", key="sf-routing")
    field = DataFieldFactory()
    event = ChangeEventFactory(automations=[automation])
    from registry.services import hold_place
    from revops_gov import services

    hold = hold_place(automation=automation, source="manual", reason="stop", by=admin)
    sf, sf_raw = services.integration_create(name="sf", system="salesforce")
    hs, hs_raw = services.integration_create(name="hs", system="hubspot")
    integration_token = ApiToken.objects.filter(integration=sf).first()
    admin_token, _ = services.api_token_create(user=admin, name="mine", by=admin)
    from revops_gov.outbox import delivery_enqueue

    delivery, _ = delivery_enqueue(kind="notice", channel="email", subject="Hi", payload={}, address="")
    world = {
        "admin": admin,
        "automation": automation,
        "field": field,
        "event": event,
        "hold": hold,
        "integrations": {"integration": sf, "other_integration": hs},
        "kwargs": {
            "integration-token-revoke": {"pk": integration_token.pk},
            "account-token-revoke": {"pk": admin_token.pk},
            "delivery-resend": {"pk": delivery.pk},
        },
        "tokens": {"integration": sf_raw, "other_integration": hs_raw},
        "service_users": {"integration": sf.service_user, "other_integration": hs.service_user},
    }
    for app in APPS:
        world["kwargs"] |= app.world_kwargs(world)
    return world


def _client_for(persona, world, request, client, api):
    people = {
        "outsider": lambda: world.setdefault("outsider", UserFactory()),
        "viewer": lambda: request.getfixturevalue("viewer"),
        "manager": lambda: request.getfixturevalue("manager"),
        "admin": lambda: request.getfixturevalue("admin"),
    }
    if persona == "anonymous":
        return client, api
    if persona in people:
        user = people[persona]()
        client.force_login(user)
        api.force_login(user)
        return client, api
    client.force_login(world["service_users"][persona])
    return client, api.as_token(world["tokens"][persona])


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(RULES))
def test_route_answers_each_persona_as_ruled(name, persona, world, request, client, api):
    method, expected = RULES[name]
    url = reverse(name, kwargs=world["kwargs"].get(name))
    page_client, api_client = _client_for(persona, world, request, client, api)
    caller = api_client if name.startswith("api") else page_client
    response = getattr(caller, method)(url)
    assert response.status_code == expected[persona], f"{method.upper()} {url} as {persona}"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(API_WRITES))
def test_api_write_answers_each_persona_as_ruled(name, persona, world, request, client, api):
    method, expected = API_WRITES[name]
    url = reverse(name, kwargs=world["kwargs"].get(name))
    _, api_client = _client_for(persona, world, request, client, api)
    # An empty body: allowed callers get a 400 naming the missing fields, refused ones never get that far.
    # (If-Match "*": a write that takes whatever is there; the concurrency tests check the header.)
    response = getattr(api_client, method)(url, {}, format="json", HTTP_IF_MATCH="*")
    assert response.status_code == expected[persona], f"{method.upper()} {url} as {persona}: {response.content[:200]}"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(ASSIGNED))
def test_acting_on_what_is_assigned_to_the_persona_answers_as_ruled(name, persona, world, request, client, api):
    method, expected, body, make = ASSIGNED[name]
    page_client, api_client = _client_for(persona, world, request, client, api)
    user = {
        "anonymous": world["admin"],  # someone's request: the anonymous caller never gets that far
        "outsider": world.get("outsider"),
        "viewer": request.getfixturevalue("viewer"),
        "manager": request.getfixturevalue("manager"),
        "admin": world["admin"],
    }.get(persona) or world["service_users"].get(persona)
    url = reverse(name, kwargs=make(user)[name])
    if name.startswith("api"):
        response = getattr(api_client, method)(url, body, format="json")
    else:
        response = getattr(page_client, method)(url, body)
    assert response.status_code == expected[persona], f"{method.upper()} {url} as {persona} (the assignee)"


@pytest.mark.django_db
def test_the_django_admin_is_for_superusers_only(client, admin):
    client.force_login(admin)
    assert client.get("/admin/").status_code == 302
    admin.is_superuser = admin.is_staff = True
    admin.save()
    assert client.get("/admin/").status_code == 200
