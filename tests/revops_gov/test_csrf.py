"""CSRF on every form: a POST without the token is refused on every route of the authorization
matrix (tests/revops_gov/test_authz.py), for a logged-in admin, the caller with most rights.
Every page with a POST form carries the token. Bearer-token API calls need no CSRF token."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.revops_gov.test_authz import RULES, world  # noqa: F401 - `world` is a fixture

# Called by Slack's servers, not a browser: no cookie, so no CSRF; every request carries Slack's
# signature instead, checked before anything else (tests/approvals/decisions/test_chat.py).
SIGNED_BY_THE_CALLER = {"decisions:slack-interactivity"}
ROUTES = sorted(set(RULES) - SIGNED_BY_THE_CALLER)


@pytest.mark.django_db
@pytest.mark.parametrize("name", ROUTES)
def test_a_post_without_the_csrf_token_is_refused(name, world, admin):  # noqa: F811
    url = reverse(name, kwargs=world["kwargs"].get(name))
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(url, {"name": "x", "reason": "x"})
    assert response.status_code == 403, f"POST {url} without a CSRF token: {response.status_code}"


@pytest.mark.django_db
def test_login_without_the_csrf_token_is_refused(viewer):
    viewer.set_password("right-password-1")
    viewer.save()
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "victor", "password": "right-password-1"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_with_the_token_the_same_post_goes_through(viewer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)
    page = client.get(reverse("account-tokens")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(reverse("account-tokens"), {"name": "script", "csrfmiddlewaretoken": token})
    assert response.status_code == 200 and "shown only once" in response.content.decode()


FORM = re.compile(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", re.S | re.I)


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n in ROUTES if RULES[n][0] == "get" and not n.startswith("api")])
def test_every_post_form_on_every_page_carries_the_token(name, world, admin, client):  # noqa: F811
    client.force_login(admin)
    response = client.get(reverse(name, kwargs=world["kwargs"].get(name)))
    if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
        return
    for form in FORM.findall(response.content.decode()):
        assert 'name="csrfmiddlewaretoken"' in form, f"{name}: a POST form without {{% csrf_token %}}"


@pytest.mark.django_db
def test_bearer_token_api_calls_need_no_csrf_token(sf_token):
    api = APIClient(enforce_csrf_checks=True)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {sf_token}")
    response = api.post(reverse("api:automation-list"), {}, format="json")
    assert response.status_code == 400  # validation, not CSRF: a token cannot be ridden by a browser
