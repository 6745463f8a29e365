"""The review cadence's floor by tier: high at most 30 days (the guide's "review monthly"), medium
90, low 180 (settings). Longer is refused with the same message on every entry point; existing rows
were brought down by a data migration, recorded in their history."""

import pytest
from django.core import checks
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from registry import services
from registry.cadence import cadence_refusal, longest_allowed
from registry.choices import ReviewCadence, RiskTier
from registry.csv_io import import_automations
from registry.models import Automation
from tests.factories import personal_token
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db
HIGH = {"uses_ai": True}


@pytest.mark.parametrize(
    ("tier", "longest", "refused"),
    [
        (RiskTier.HIGH, ReviewCadence.MONTHLY, ReviewCadence.QUARTERLY),
        (RiskTier.MEDIUM, ReviewCadence.QUARTERLY, ReviewCadence.TWICE_A_YEAR),
        (RiskTier.LOW, ReviewCadence.TWICE_A_YEAR, ReviewCadence.YEARLY),
    ],
)
def test_each_tier_allows_its_floor_and_shorter_never_longer(tier, longest, refused):
    assert longest_allowed(tier) == longest
    assert cadence_refusal(tier, longest) is None and cadence_refusal(tier, None) is None
    assert cadence_refusal(tier, ReviewCadence.MONTHLY) is None
    message = cadence_refusal(tier, refused)
    assert f"{tier.label.lower()}-tier" in message and "too long" in message


def test_the_floor_is_a_setting(settings):
    settings.REVOPS = {**settings.REVOPS, "REVIEW_CADENCE_MAX_DAYS": {"high": 90, "medium": 90, "low": 365}}
    assert cadence_refusal(RiskTier.HIGH, ReviewCadence.QUARTERLY) is None
    assert cadence_refusal(RiskTier.LOW, ReviewCadence.YEARLY) is None


def test_a_floor_shorter_than_the_tiers_default_fails_the_system_check(settings):
    settings.REVOPS = {**settings.REVOPS, "REVIEW_CADENCE_MAX_DAYS": {"high": 30, "medium": 60, "low": 180}}
    errors = [e for e in checks.run_checks() if e.id == "registry.E002"]
    assert len(errors) == 1 and "medium" in errors[0].msg


def test_the_service_refuses_a_too_long_cadence_on_create_and_update(admin):
    with pytest.raises(ValidationError) as exc:
        services.automation_create(by=admin, key="ai-summary", name="AI summary", business_purpose="x",
                                   workflow_type="ai", team="revops", system="salesforce",
                                   review_cadence=ReviewCadence.QUARTERLY, **HIGH)  # fmt: skip
    assert "review_cadence" in exc.value.message_dict
    automation = AutomationFactory(review_cadence=ReviewCadence.TWICE_A_YEAR)  # low tier: allowed
    with pytest.raises(ValidationError) as exc:
        services.automation_update(automation=automation, by=admin, reason="Yearly", review_cadence=365)
    assert "too long" in exc.value.message_dict["review_cadence"][0]


def test_raising_the_tier_past_a_hand_set_cadence_is_refused_until_the_cadence_fits(admin):
    automation = AutomationFactory(review_cadence=ReviewCadence.TWICE_A_YEAR)
    with pytest.raises(ValidationError) as exc:
        services.automation_update(automation=automation, by=admin, reason="It uses AI now", uses_ai=True)
    assert "high-tier" in exc.value.message_dict["review_cadence"][0]
    services.automation_update(automation=automation, by=admin, reason="It uses AI now", uses_ai=True,
                               review_cadence=None)  # fmt: skip
    automation.refresh_from_db()
    assert (automation.uses_ai, automation.review_cadence_days) == (True, 30)


def test_the_form_refuses_a_too_long_cadence_with_the_message(login, admin):
    from tests.registry.test_views import FORM  # a medium-tier automation (creates internal tasks)

    response = login(admin).post(reverse("registry:automation-create"), {**FORM, "review_cadence": "180"})
    assert response.status_code == 400
    assert "medium-tier automation is reviewed at least every 90 days" in response.context["form"].errors[
        "review_cadence"][0]  # fmt: skip
    assert not Automation.objects.exists()


@pytest.mark.parametrize("caller", ["admin_session", "personal_token"])
def test_the_api_refuses_a_too_long_cadence_naming_the_field(api, admin, caller):
    automation = AutomationFactory(**HIGH)
    if caller == "admin_session":
        api.force_login(admin)
    else:
        api.as_token(personal_token(admin))
    response = api.patch_current(
        f"/api/v1/automations/{automation.key}/", {"review_cadence": 90, "change_reason": "Quarterly"}, format="json"
    )
    assert response.status_code == 400
    assert "high-tier" in response.json()["fields"]["review_cadence"][0]
    automation.refresh_from_db()
    assert automation.review_cadence is None


def test_the_csv_import_refuses_a_too_long_cadence_with_its_line(admin):
    content = (
        b"key,name,business_purpose,workflow_type,team,system,trigger,rule,uses_ai,review_cadence\n"
        b"ok,Fine,x,CRM hygiene,revops,salesforce,Nightly,Same domain,false,180\n"
        b"too-long,AI notes,x,CRM hygiene,revops,salesforce,Nightly,Summarise,true,90\n"
    )
    result = import_automations(content=content, by=admin)
    assert [(e.line, e.column) for e in result.errors] == [(3, "review_cadence")]
    assert "high-tier" in result.errors[0].message
    assert not Automation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_brings_too_long_cadences_down_and_records_why():
    executor = MigrationExecutor(connection)
    before, after = [("registry", "0002_went_live_and_reviews")], [("registry", "0004_review_cadence_days_regenerated")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    Old = apps.get_model("registry", "Automation")
    common = {"business_purpose": "x", "workflow_type": "x", "team": "revops", "system": "salesforce"}
    Old.objects.create(key="high-quarterly", name="A", uses_ai=True, review_cadence=91, **common)
    Old.objects.create(key="low-yearly", name="B", review_cadence=365, **common)
    Old.objects.create(key="medium-quarterly", name="C", assigns_ownership=True, review_cadence=91, **common)
    Old.objects.create(key="low-default", name="D", **common)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    cadences = dict(Automation.objects.values_list("key", "review_cadence"))
    assert cadences == {"high-quarterly": 30, "low-yearly": 180, "medium-quarterly": 90, "low-default": None}
    assert Automation.objects.get(key="high-quarterly").review_cadence_days == 30
    reasons = {h.key: h.history_change_reason for h in Automation.history.all()}
    assert "high-tier automation is reviewed at least every 30 days" in reasons["high-quarterly"]
    assert "from yearly (365 days) to twice a year (180 days)" in reasons["low-yearly"]
    assert set(reasons) == {"high-quarterly", "low-yearly"}  # renaming 91 to 90 days is no change
