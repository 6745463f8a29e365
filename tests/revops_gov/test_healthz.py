import pytest
from django.test import override_settings

from revops_gov.celery import app as celery_app

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "ok"


def test_healthz_names_the_broker_when_it_is_down(client, monkeypatch):
    # A port nothing listens on: the broker is really unreachable, not mocked.
    # broker_write_url first: read after broker_url changes, it would save the bad URL as "old".
    monkeypatch.setattr(celery_app.conf, "broker_write_url", "redis://127.0.0.1:1/0")
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["broker"]
    assert body["broker"].startswith("broker unreachable")
    assert body["database"] == "ok"


def test_healthz_names_the_database_when_it_is_down(client, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["database"], response.json()


@override_settings(DEBUG=False)
def test_healthz_needs_no_login(client):
    assert client.get("/healthz").status_code in (200, 503)


def test_unknown_api_paths_answer_json_404(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"message": "Not found."}


def test_unknown_pages_answer_an_html_404(client, viewer):
    client.force_login(viewer)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b"Back to the registry" in response.content
