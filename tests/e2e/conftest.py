"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Playwright cannot download its own browsers here, so it is pointed at the system
binary. Without one, these tests skip and say how to get it; in CI (CI=true) they fail
instead, so a green run always includes them.
"""

import os
import shutil
from urllib.parse import urlsplit

import pytest

from guidance.default_rules import load_default_rules
from guidance.models import Rule

# Playwright's sync API runs an event loop in this thread; the test's own database calls
# are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not executable:
        message = (
            "No Chromium found: install Debian's (apt-get install -y chromium) or set CHROMIUM."
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def default_rules(transactional_db):
    """The live server needs committed data, so each browser test ends by flushing the
    database, default rules included; put them back as a fresh install has them."""
    load_default_rules(Rule)


@pytest.fixture
def page(browser, live_server):
    from playwright.sync_api import expect

    context = browser.new_context(base_url=live_server.url)
    # One patience for actions and assertions alike: under CI's load (coverage, two test
    # processes, the browser) a live-panel answer has taken more than expect()'s own 5 s.
    context.set_default_timeout(10_000)
    expect.set_options(timeout=10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def sign_in(page):
    def sign_in_as(user, password):
        page.goto("/sign-in/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        # Not "**/": the sign-in page's own address ends with a slash too, so that would
        # return before the session cookie arrives.
        page.wait_for_url(lambda url: urlsplit(url).path != "/sign-in/")

    return sign_in_as
