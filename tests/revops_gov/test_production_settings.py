"""Production settings, read from a production environment: secure cookies, HSTS, the security
headers, and /healthz reachable over plain HTTP for load balancers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 20 + "k3y-for-the-production-settings-test-only-50-chars",
    "DJANGO_DEBUG": "false",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_BEHIND_TLS_PROXY": "true",
    "DJANGO_ALLOWED_HOSTS": "revops.example.com",
}
NAMES = [
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_REDIRECT_EXEMPT",
    "X_FRAME_OPTIONS",
    "BEHIND_TLS_PROXY",
    "ALLOWED_HOSTS",
]


@pytest.fixture(scope="module")
def production_settings():
    """The settings module as a production process loads it (a fresh interpreter, that env)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")} | PRODUCTION_ENV
    script = (
        f"import json; from revops_gov import settings as s; print(json.dumps({{n: getattr(s, n) for n in {NAMES!r}}}))"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    values = json.loads(out.stdout.strip().splitlines()[-1])
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


def test_production_env_turns_every_protection_on(production_settings):
    s = production_settings
    assert s["DEBUG"] is False
    assert s["SECURE_SSL_REDIRECT"] and s["SESSION_COOKIE_SECURE"] and s["CSRF_COOKIE_SECURE"]
    assert s["SESSION_COOKIE_HTTPONLY"] and s["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert s["SECURE_HSTS_SECONDS"] == 31536000 and s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and s["SECURE_HSTS_PRELOAD"]
    assert s["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert s["X_FRAME_OPTIONS"] == "DENY"


@pytest.mark.django_db
def test_responses_carry_the_security_headers_and_secure_cookies(production_settings, client, viewer):
    viewer.set_password("right-password-1")
    viewer.save()
    https = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_HOST": "revops.example.com"}
    with override_settings(**production_settings):
        page = client.get(reverse("login"), **https)
        assert page.status_code == 200
        assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert page["X-Content-Type-Options"] == "nosniff"
        assert page["X-Frame-Options"] == "DENY"
        assert page["Referrer-Policy"] == "same-origin"
        assert page["Cross-Origin-Opener-Policy"] == "same-origin"
        csrf_cookie = page.cookies["csrftoken"]
        assert csrf_cookie["secure"] and csrf_cookie["samesite"] == "Lax"

        response = client.post(
            reverse("login"),
            {"username": "victor", "password": "right-password-1", "csrfmiddlewaretoken": csrf_cookie.value},
            **https,
        )
        assert response.status_code == 302
        session = response.cookies["sessionid"]
        assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"

        # Plain HTTP is sent to HTTPS, except the health check load balancers call inside the network.
        plain = client.get(reverse("login"), HTTP_HOST="revops.example.com")
        assert plain.status_code == 301 and plain["Location"].startswith("https://")
        assert client.get(reverse("healthz"), HTTP_HOST="revops.example.com").status_code in (200, 503)
        # A host that is not ours is refused.
        assert (
            client.get(reverse("login"), HTTP_HOST="evil.example.net", HTTP_X_FORWARDED_PROTO="https").status_code
            == 400
        )
