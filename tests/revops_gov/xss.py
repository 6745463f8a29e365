"""Account pages showing names people typed (see tests/xss.py)."""

from django.urls import reverse

from revops_gov import services
from revops_gov.models import Integration
from tests.xss import PAYLOAD, XssCase


def _integration(admin) -> list[str]:
    # The service keeps names to what a username allows; what the page shows must be safe anyway,
    # so the name is written straight to the row.
    integration, _ = services.integration_create(name="crm", system="salesforce", by=admin)
    services.api_token_create(user=integration.service_user, integration=integration, name=PAYLOAD, by=admin)
    Integration.objects.filter(pk=integration.pk).update(name=PAYLOAD)
    return [reverse("integration-list")]


def _personal_token(admin) -> list[str]:
    services.api_token_create(user=admin, name=PAYLOAD, by=admin)
    return [reverse("account-tokens")]


XSS_CASES = [
    XssCase("integration name and its token's name", _integration),
    XssCase("personal token label", _personal_token),
]
