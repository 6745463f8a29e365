"""The one error shape for what is nobody's input: a lost database connection is a 503 with
Retry-After (the CRM retries the same request), never a 500."""

import pytest
from django.db import InterfaceError, OperationalError

from health import services as health_services


@pytest.mark.django_db
@pytest.mark.parametrize("error", [OperationalError("terminating connection"), InterfaceError("connection closed")])
def test_a_lost_database_connection_is_a_503_to_retry(api, sf_token, monkeypatch, error):
    def lost(**kwargs):
        raise error

    monkeypatch.setattr(health_services, "runs_ingest", lost)
    response = api.as_token(sf_token).post("/api/v1/runs/", [{"event_id": "e1"}], format="json")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["extra"] == {"retry_after_seconds": 5}
    assert "Send the same request again" in response.json()["message"]
