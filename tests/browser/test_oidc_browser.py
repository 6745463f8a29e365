"""Company sign-in in a real Chromium, through the real redirects of a real OpenID Connect
provider on a local port: the button, the provider's page, back signed in with the mapped role,
and logout ending the provider's session too; on a phone as well."""

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from revops_gov.models import User
from revops_gov.roles import Role, role_of
from tests.revops_gov.oidc_provider import running_provider
from tests.revops_gov.test_oidc import configure


def _open_the_account_menu(page, name, *, phone):
    """Open the account menu as a person would; on a phone first the collapsed navigation, waiting
    for its animation to end (a click during it can land on a menu that is still moving)."""
    if phone:
        page.get_by_role("button", name="Toggle navigation").click()
        page.locator("#nav.show").wait_for()
    logout = page.get_by_role("button", name="Log out")
    for _ in range(3):
        page.get_by_role("button", name=name).click()
        try:
            logout.wait_for(state="visible", timeout=3000)
            return
        except PlaywrightTimeoutError:
            continue


@pytest.fixture
def provider(settings, transactional_db):
    with running_provider() as provider:
        configure(settings, provider)
        yield provider


def _sign_in_at_the_provider(page, provider, sub):
    page.goto("/login/")
    page.get_by_role("link", name="Sign in with Acme SSO").click()
    page.wait_for_url(f"{provider.issuer}/oauth2/authorize**")
    page.fill("input[name=sub]", sub)
    page.get_by_role("button", name="Authorize").click()


@pytest.mark.parametrize("device", ["page", "phone_page"])
def test_a_manager_signs_in_with_the_company_account_and_signs_out_of_both(provider, device, request):
    page = request.getfixturevalue(device)
    provider.put_user("m-1", email="mia@acme.example", given_name="Mia", groups=["sales-managers"])

    _sign_in_at_the_provider(page, provider, "m-1")

    page.wait_for_url("**/decisions/")  # a manager lands on the decision queue
    user = User.objects.get(email="mia@acme.example")
    assert role_of(user) == Role.MANAGER
    page.screenshot(path=f"var/screenshots/oidc-{device}-signed-in.png", full_page=True)

    _open_the_account_menu(page, "Mia", phone=device == "phone_page")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(f"{provider.issuer}/oauth2/end_session**")
    page.get_by_role("button", name="End session").click()
    page.wait_for_url("**/login/")
    page.goto("/decisions/")
    page.wait_for_url("**/login/?next=/decisions/")


def test_someone_in_no_mapped_group_reads_why_on_the_page(provider, page):
    provider.put_user("x-1", email="max@acme.example", groups=["marketing"])

    _sign_in_at_the_provider(page, provider, "x-1")

    page.wait_for_url("**/login/refused/")
    alert = page.get_by_role("alert").inner_text()
    assert "not in any group that has a role here" in alert
    assert "marketing" in page.content()
    page.screenshot(path="var/screenshots/oidc-refused.png", full_page=True)
    assert not User.objects.filter(email="max@acme.example").exists()
