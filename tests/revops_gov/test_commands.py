import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from registry.models import Automation, DataField
from revops_gov.api_auth import token_for_raw
from revops_gov.models import ApiToken, Integration, User

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_create_integration_token_prints_a_working_token_once_and_stores_its_hash():
    out = io.StringIO()
    call_command(
        "create_integration_token", "salesforce-prod", "--system", "salesforce", stdout=out, stderr=io.StringIO()
    )
    raw = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert raw.startswith("rg_") and raw not in (token.key_hash, token.prefix)
    assert token.key_hash == ApiToken.digest(raw)
    assert token_for_raw(raw).system == "salesforce"
    assert Integration.objects.get().service_user.groups.get().name == "Integration"


def test_a_second_token_for_the_same_integration_must_keep_its_system():
    call_command(
        "create_integration_token", "crm", "--system", "salesforce", stdout=io.StringIO(), stderr=io.StringIO()
    )
    call_command(
        "create_integration_token", "crm", "--system", "salesforce", stdout=io.StringIO(), stderr=io.StringIO()
    )
    assert ApiToken.objects.count() == 2
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="a token can only have its integration's system"):
        call_command(
            "create_integration_token", "crm", "--system", "hubspot", stdout=io.StringIO(), stderr=io.StringIO()
        )


def test_load_demo_is_idempotent():
    call_command("load_demo", stdout=io.StringIO())
    counts = (User.objects.count(), Automation.objects.count(), DataField.objects.count(), Automation.history.count())
    call_command("load_demo", stdout=io.StringIO())
    assert (
        User.objects.count(),
        Automation.objects.count(),
        DataField.objects.count(),
        Automation.history.count(),
    ) == counts
    assert counts[1] >= 40
    tiers = {automation.risk_tier for automation in Automation.objects.all()}
    assert tiers == {"low", "medium", "high"}
    assert set(Automation.objects.values_list("system", flat=True)) >= {"salesforce", "hubspot"}


def test_production_settings_pass_check_deploy():
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        "DJANGO_SECRET_KEY": "x" * 20 + "k3y-for-the-deploy-check-only-4n0ther-50-chars",
        "DJANGO_SECURE_SSL_REDIRECT": "true",
        "DJANGO_SECURE_COOKIES": "true",
        "DJANGO_HSTS_SECONDS": "31536000",
        "DJANGO_ALLOWED_HOSTS": "revops.example.com",
        "DJANGO_DEBUG": "false",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_development_key_fails_check_deploy():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stdout + result.stderr
