"""Browser tests drive a real Chromium (Debian's package) through Playwright against a live server.

Without Chromium they skip with a message, except on CI (CI set), where a missing browser fails."""

import os

import pytest

from tests.conftest import CHROMIUM

BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM:
        message = "No Chromium found (install Debian's chromium package or set CHROMIUM_PATH)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: on CI the browser tests must run.")
        pytest.skip(f"{message}; browser tests skipped.")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on the test thread, while the tests' own ORM
    # calls stay synchronous: allow them while the browser runs (check --deploy refuses this
    # variable, so it is removed again afterwards).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_page(chromium, live_server):
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, base_url=live_server.url, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def log_in(page, user, password):
    page.goto("/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    # Home: the dashboard, or the decision queue for managers.
    page.wait_for_url(lambda url: url.endswith(("/dashboard/", "/decisions/")))
