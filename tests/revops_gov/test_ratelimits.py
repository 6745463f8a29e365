"""Logging in and creating tokens are rate limited; over the limit, a 429 that says when to retry."""

import json

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import reverse

from revops_gov.models import ApiToken, Integration
from tests.processes import free_port

pytestmark = pytest.mark.django_db


def _rates(**rates):
    return override_settings(REVOPS={**settings.REVOPS, "RATE_LIMITS": {**settings.REVOPS["RATE_LIMITS"], **rates}})


def _log_in(client, username, password="wrong", ip="10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_login_is_limited_per_username_whatever_the_address(client, viewer):
    with _rates(**{"login-username": "3/10m", "login-ip": "100/10m"}):
        for n in range(3):
            assert _log_in(client, "victor", ip=f"10.0.0.{n}").status_code == 200  # the form, with its error
        response = _log_in(client, "VICTOR ", ip="10.0.0.9")
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert "Too many log-in attempts" in response.content.decode()
        # Even the right password waits: the attacker cannot tell a hit from a miss.
        viewer.set_password("right-password-1")
        viewer.save()
        assert _log_in(client, "victor", password="right-password-1", ip="10.0.0.8").status_code == 429
        # Another person is not locked out by victor's limit.
        assert _log_in(client, "morgan", ip="10.0.0.9").status_code == 200


def test_login_is_limited_per_address_whatever_the_username(client):
    with _rates(**{"login-username": "100/10m", "login-ip": "3/10m"}):
        for n in range(3):
            assert _log_in(client, f"user{n}", ip="192.0.2.7").status_code == 200
        assert _log_in(client, "user9", ip="192.0.2.7").status_code == 429
        assert _log_in(client, "user9", ip="192.0.2.8").status_code == 200


def test_a_login_under_the_limit_works(client, viewer):
    viewer.set_password("right-password-1")
    viewer.save()
    assert _log_in(client, "victor", password="right-password-1").status_code == 302


@override_settings(BEHIND_TLS_PROXY=True)
def test_behind_the_proxy_the_address_is_the_one_the_proxy_appended(client):
    with _rates(**{"login-username": "100/10m", "login-ip": "2/10m"}):
        for forged in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
            # The client forges the first entry; the proxy appends the real address last.
            client.post(reverse("login"), {"username": "x"}, HTTP_X_FORWARDED_FOR=f"{forged}, 198.51.100.4")
        response = client.post(reverse("login"), {"username": "x"}, HTTP_X_FORWARDED_FOR="4.4.4.4, 198.51.100.4")
        assert response.status_code == 429
        assert client.post(reverse("login"), {"username": "x"}, HTTP_X_FORWARDED_FOR="198.51.100.5").status_code == 200


def test_personal_token_creation_is_limited_per_person(login, viewer, manager):
    with _rates(**{"token-create": "2/h"}):
        client = login(viewer)
        for n in range(2):
            assert client.post(reverse("account-tokens"), {"name": f"t{n}"}).status_code == 200
        response = client.post(reverse("account-tokens"), {"name": "one too many"})
        assert response.status_code == 429
        assert "Too many tokens created" in response.content.decode()
        assert ApiToken.objects.filter(user=viewer).count() == 2
        assert login(manager).post(reverse("account-tokens"), {"name": "mine"}).status_code == 200


def test_integration_token_creation_is_limited(login, admin):
    with _rates(**{"token-create": "1/h"}):
        client = login(admin)
        assert client.post(reverse("integration-list"), {"name": "sf", "system": "salesforce"}).status_code == 200
        integration = Integration.objects.get()
        response = client.post(reverse("integration-list"), {"integration": integration.pk})
        assert response.status_code == 429
        assert ApiToken.objects.filter(integration=integration).count() == 1


def test_a_cache_that_cannot_count_lets_people_in(client, viewer, settings):
    """Fail open: with the cache down (Redis restarting) logging in still works; it is logged."""
    settings.CACHES = {
        "default": {
            "BACKEND": "revops_gov.cache_backends.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }
    viewer.set_password("right-password-1")
    viewer.save()
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    with _rates(**{"login-username": "1/10m", "login-ip": "1/10m"}):
        for _ in range(3):
            assert _log_in(client, "victor", password="right-password-1").status_code == 302
            client.logout()


def test_the_admin_login_has_the_same_limits(client):
    with _rates(**{"login-username": "2/10m", "login-ip": "100/10m"}):
        for _ in range(2):
            response = client.post("/admin/login/", {"username": "root", "password": "guess"})
            assert response.status_code == 200
        response = client.post("/admin/login/", {"username": "root", "password": "guess"})
        assert response.status_code == 429
        assert client.get("/admin/login/").status_code == 200


def test_under_the_api_the_429_is_json_in_the_one_error_shape(rf):
    from revops_gov.ratelimits import too_many_requests

    response = too_many_requests(rf.post("/api/v1/anything/"), retry_after=42, what="tokens created")
    assert response.status_code == 429 and response["Retry-After"] == "42"
    assert json.loads(response.content) == {
        "message": "Too many tokens created. Wait 42 seconds and try again.",
        "fields": {},
        "extra": {"retry_after": 42},
    }
