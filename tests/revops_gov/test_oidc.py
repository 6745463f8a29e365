"""Company sign-in through a real OpenID Connect provider on a local port (oidc-provider-mock):
the redirect flow, groups → roles at every sign-in, removal, logout, and the tokens and callbacks
that must be refused. The browser walk is in tests/browser/test_oidc_browser.py."""

from datetime import timedelta

import pytest
from django.test import Client

from revops_gov.models import AccessEvent, OidcIdentity, User
from revops_gov.roles import Role, role_of
from tests.factories import PASSWORD, UserFactory, personal_token
from tests.revops_gov.oidc_provider import (
    attacker_key,
    local_path,
    provider_authorize,
    query_of,
    running_provider,
    sign_in,
    start,
    tampering_token_endpoint,
    with_query,
    without,
)

ROLE_GROUPS = {"revops_admin": ["revops-admins"], "manager": ["sales-managers", "cs-managers"], "viewer": ["revenue"]}


def configure(settings, provider, **overrides):
    settings.REVOPS_OIDC = {
        **settings.REVOPS_OIDC,
        "ISSUER": provider.issuer,
        "CLIENT_ID": "revops-gov",
        "PROVIDER_NAME": "Acme SSO",
        "ROLE_GROUPS": ROLE_GROUPS,
        "TEAM_GROUPS": {"sales-managers": "sales", "cs-managers": "cs"},
        "MANAGER_CLAIM": "manager_email",
        **overrides,
    }
    settings.OIDC_RP_CLIENT_ID = "revops-gov"
    settings.OIDC_RP_CLIENT_SECRET = "client-secret"


@pytest.fixture
def provider(settings, db):
    with running_provider() as provider:
        configure(settings, provider)
        yield provider


def _signed_in_user(client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def test_first_sign_in_creates_the_user_with_the_mapped_role_team_and_manager(provider, client):
    boss = UserFactory(email="boss@acme.example")
    provider.put_user(
        "u-100",
        email="ana@acme.example",
        given_name="Ana",
        family_name="Lima",
        groups=["sales-managers", "everyone"],
        manager_email="boss@acme.example",
    )

    response = sign_in(client, "u-100")

    assert response.status_code == 302 and response["Location"] == "/"
    user = _signed_in_user(client)
    assert (user.email, user.get_full_name(), user.team, user.manager) == (
        "ana@acme.example",
        "Ana Lima",
        "sales",
        boss,
    )
    assert role_of(user) == Role.MANAGER
    assert OidcIdentity.objects.get(user=user).subject == "u-100"
    assert not user.has_usable_password()
    assert client.get("/decisions/").status_code == 200  # a manager's queue opens
    kinds = list(AccessEvent.objects.filter(user=user).order_by("id").values_list("kind", "source"))
    assert kinds == [("role_changed", "oidc"), ("sign_in", "oidc")]


def test_the_role_follows_the_groups_at_every_sign_in(provider):
    provider.put_user("u-1", email="lee@acme.example", groups=["revops-admins"])
    first = Client()
    sign_in(first, "u-1")
    user = _signed_in_user(first)
    assert role_of(user) == Role.ADMIN

    provider.put_user("u-1", email="lee@acme.example", groups=["revenue"])
    again = Client()
    sign_in(again, "u-1")

    user = User.objects.get(pk=user.pk)
    assert role_of(user) == Role.VIEWER
    assert User.objects.filter(email="lee@acme.example").count() == 1
    change = AccessEvent.objects.filter(user=user, kind="role_changed").first()
    assert change.detail.startswith("RevOps admin → Viewer") and change.groups == ["revenue"]
    assert again.get("/integrations/").status_code == 403  # a viewer governs nothing


def test_an_existing_account_is_linked_once_by_email_then_by_subject(provider, client):
    local = UserFactory(username="ana", email="Ana@acme.example")
    provider.put_user("u-7", email="ana@acme.example", groups=["revenue"])
    sign_in(client, "u-7")
    assert _signed_in_user(client) == local
    # Someone else later given the same address at the provider does not become Ana.
    provider.put_user("u-8", email="ana@acme.example", groups=["revenue"])
    other = Client()
    sign_in(other, "u-8")
    assert _signed_in_user(other) != local


def test_a_person_in_no_mapped_group_is_not_let_in_and_is_told_why(provider, client):
    provider.put_user("u-2", email="sam@acme.example", groups=["marketing"])

    response = sign_in(client, "u-2")

    assert response["Location"] == "/login/refused/"
    assert _signed_in_user(client) is None
    assert not User.objects.filter(email="sam@acme.example").exists()
    page = client.get("/login/refused/")
    assert page.status_code == 403
    text = page.content.decode()
    assert "not in any group that has a role here" in text and "marketing" in text and "sales-managers" in text
    assert AccessEvent.objects.get(kind="refused").groups == ["marketing"]


def test_removed_from_every_mapped_group_loses_access_at_the_next_check(provider, settings, client):
    provider.put_user("u-3", email="kim@acme.example", groups=["revops-admins"])
    sign_in(client, "u-3")
    user = _signed_in_user(client)
    token = personal_token(user)
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/v1/automations/").status_code == 200
    provider.put_user("u-3", email="kim@acme.example", groups=[])

    # The re-check is due (REVOPS_OIDC_RECHECK_SECONDS): a write is not let through on the old answer…
    session = client.session
    session["oidc_id_token_expiration"] = 0
    session.save()
    assert client.post("/account/tokens/", {"name": "one more"}).status_code == 401
    assert not user.api_tokens.filter(name="one more").exists()
    # …and the next page load goes back to the provider, silently.
    response = client.get("/automations/")
    assert response.status_code == 302
    authorize = response["Location"]
    assert authorize.startswith(provider.issuer) and query_of(authorize)["prompt"] == "none"
    # A provider with a live session answers prompt=none with a code at once; the mock has no
    # session, so the person signs in at its form (the request is otherwise the one we sent).
    callback = client.get(local_path(provider_authorize(without(authorize, "prompt"), "u-3")))

    assert callback["Location"] == "/login/refused/"
    assert _signed_in_user(client) is None
    assert client.get("/automations/").status_code == 302  # to the log-in page
    user = User.objects.get(pk=user.pk)
    assert role_of(user) is None
    assert api.get("/api/v1/automations/").status_code == 403  # the cached token lost its role too
    assert AccessEvent.objects.filter(user=user, kind="access_removed").exists()


def test_a_failed_silent_recheck_ends_the_session(provider, client):
    provider.put_user("u-4", email="jo@acme.example", groups=["revenue"])
    sign_in(client, "u-4")
    session = client.session
    session["oidc_id_token_expiration"] = 0
    session.save()
    authorize = client.get("/automations/")["Location"]
    state = query_of(authorize)["state"]
    # The provider answers prompt=none with login_required (its session is gone).
    response = client.get(f"/oidc/callback/?error=login_required&state={state}")
    assert response["Location"] == "/login/refused/"
    assert _signed_in_user(client) is None
    assert "login_required" in client.get("/login/refused/").content.decode()


def test_an_id_token_signed_by_another_key_is_refused(provider, settings, client):
    provider.put_user("u-5", email="eve@acme.example", groups=["revops-admins"])
    with tampering_token_endpoint(provider, key=attacker_key()) as token_endpoint:
        settings.OIDC_OP_TOKEN_ENDPOINT = token_endpoint
        response = sign_in(client, "u-5")
    assert response["Location"] == "/login/refused/"
    assert _signed_in_user(client) is None
    assert not User.objects.filter(email="eve@acme.example").exists()
    assert "could not be trusted" in AccessEvent.objects.get(kind="refused").detail


@pytest.mark.parametrize(
    "tamper, why",
    [
        (lambda claims: claims | {"aud": "another-app"}, "aud"),
        (lambda claims: claims | {"iss": "https://idp.evil.example"}, "issued by"),
    ],
)
def test_an_id_token_for_another_app_or_from_another_issuer_is_refused(provider, settings, client, tamper, why):
    provider.put_user("u-6", email="max@acme.example", groups=["revops-admins"])
    with tampering_token_endpoint(provider, key=provider.signing_key(), tamper=tamper) as token_endpoint:
        settings.OIDC_OP_TOKEN_ENDPOINT = token_endpoint
        response = sign_in(client, "u-6")
    assert response["Location"] == "/login/refused/"
    assert _signed_in_user(client) is None
    assert why in AccessEvent.objects.get(kind="refused").detail


def test_the_same_token_re_signed_unchanged_by_the_provider_key_is_accepted(provider, settings, client):
    """The tampering endpoint itself is sound: what the two tests above refuse is the change."""
    provider.put_user("u-9", email="ok@acme.example", groups=["revenue"])
    with tampering_token_endpoint(provider, key=provider.signing_key()) as token_endpoint:
        settings.OIDC_OP_TOKEN_ENDPOINT = token_endpoint
        sign_in(client, "u-9")
    assert _signed_in_user(client).email == "ok@acme.example"


def test_an_expired_id_token_is_refused(settings, db, client):
    with running_provider(access_token_max_age=timedelta(seconds=-120)) as provider:
        configure(settings, provider)
        provider.put_user("u-10", email="old@acme.example", groups=["revops-admins"])
        response = sign_in(client, "u-10")
    assert response["Location"] == "/login/refused/"
    assert _signed_in_user(client) is None
    assert "expired" in AccessEvent.objects.get(kind="refused").detail.lower()


def test_a_callback_this_browser_did_not_start_is_refused(provider, client):
    provider.put_user("u-11", email="vic@acme.example", groups=["revops-admins"])
    callback = provider_authorize(start(client), "u-11")
    # Delivered to someone else's browser (login CSRF): that session issued no state.
    victim = Client()
    victim.get("/login/")
    assert victim.get(local_path(callback))["Location"] == "/login/refused/"
    assert _signed_in_user(victim) is None
    # In the right browser, a state it never issued is refused too.
    forged = with_query(callback, state="not-a-state-we-issued")
    assert client.get(local_path(forged))["Location"] == "/login/refused/"
    assert _signed_in_user(client) is None


def test_an_id_token_carrying_another_sign_ins_nonce_is_refused(provider, client):
    provider.put_user("u-12", email="ned@acme.example", groups=["revops-admins"])
    first, second = start(client), start(client)
    # The provider is asked for the first sign-in's code but with the second one's nonce.
    swapped = with_query(first, nonce=query_of(second)["nonce"])
    response = client.get(local_path(provider_authorize(swapped, "u-12")))
    assert response["Location"] == "/login/refused/"
    assert _signed_in_user(client) is None
    assert "Nonce" in AccessEvent.objects.get(kind="refused").detail


def test_logout_ends_the_local_session_and_the_providers(provider, client):
    provider.put_user("u-13", email="liv@acme.example", groups=["revenue"])
    sign_in(client, "u-13")
    id_token = client.session["oidc_id_token"]

    response = client.post("/logout/")

    assert response.status_code == 302
    end_session = response["Location"]
    assert end_session.startswith(f"{provider.issuer}/oauth2/end_session?")
    assert query_of(end_session)["id_token_hint"] == id_token
    assert query_of(end_session)["post_logout_redirect_uri"] == "http://testserver/login/"
    assert _signed_in_user(client) is None
    assert AccessEvent.objects.filter(kind="sign_out", source="oidc").count() == 1


def test_password_login_kept_only_for_break_glass_accounts_when_switched_off(provider, settings):
    settings.REVOPS_OIDC = {
        **settings.REVOPS_OIDC,
        "PASSWORD_LOGIN": "break-glass",
        "BREAK_GLASS_USERS": ["ops-oncall"],
    }
    UserFactory(username="mara")
    UserFactory(username="root", is_superuser=True)
    UserFactory(username="ops-oncall")

    def password_login(username):
        client = Client()
        response = client.post("/login/", {"username": username, "password": PASSWORD})
        return response, client

    refused, _ = password_login("mara")
    assert refused.status_code == 200 and "may only sign in with Acme SSO" in refused.content.decode()
    for username in ("root", "ops-oncall"):
        response, client = password_login(username)
        assert response.status_code == 302, username
        assert AccessEvent.objects.filter(username=username, kind="sign_in", source="password").exists()


def test_a_password_session_ends_when_password_login_is_switched_off(settings, db):
    user = UserFactory(username="mara")
    client = Client()
    client.post("/login/", {"username": "mara", "password": PASSWORD})
    assert _signed_in_user(client) == user
    settings.REVOPS_OIDC = {**settings.REVOPS_OIDC, "PASSWORD_LOGIN": "break-glass"}
    assert client.get("/automations/").status_code == 302  # back to the log-in page


def test_without_a_provider_the_login_page_has_no_company_button_and_the_flow_is_off(db, client):
    assert b"company-sign-in" not in client.get("/login/").content
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/?code=x&state=y").status_code == 404


def test_the_login_page_offers_the_company_sign_in(provider, client):
    page = client.get("/login/?next=/automations/").content.decode()
    assert "Sign in with Acme SSO" in page and "/oidc/authenticate/?next=/automations/" in page
    provider.put_user("u-14", email="pia@acme.example", groups=["revenue"])
    callback = provider_authorize(start(client, next_url="/automations/"), "u-14")
    assert client.get(local_path(callback))["Location"] == "/automations/"


def test_the_access_log_lists_sign_ins_refusals_and_role_changes_for_admins(provider, client, admin):
    provider.put_user("u-15", email="zed@acme.example", groups=["marketing"])
    sign_in(client, "u-15")
    provider.put_user("u-16", email="yan@acme.example", groups=["revenue"])
    sign_in(Client(), "u-16")
    client.force_login(admin)
    page = client.get("/account/access-log/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Sign-in refused" in text and "zed@acme.example" in text and "no role → Viewer" in text
    only_refusals = client.get("/account/access-log/?kind=refused").content.decode()
    assert "zed@acme.example" in only_refusals and "yan@acme.example" not in only_refusals
