"""Real-browser tests: Playwright drives Debian's Chromium against pytest-django's live server.

Chromium is the system one (`apt-get install chromium`); no browser is ever downloaded.
Without it the tests are skipped, except in CI (`CI=true`), where they fail.
Screenshots of each step go to `screenshots/` at the top of the repository (git-ignored).
"""

import importlib.util
import os
import re
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in the test thread; the ORM calls that the
# tests and fixtures make there are still plain synchronous ones.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "screenshots"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000
PASSWORD = "pw"  # what the make_user fixture gives everyone


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives Chromium through Playwright against the live server")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


PLAYWRIGHT_MISSING = "Playwright is not installed: pip install -r requirements-dev.txt"
if _in_ci() and importlib.util.find_spec("playwright") is None:
    # Locally the test modules skip themselves (importorskip); in CI the browser tests must run.
    raise ImportError(PLAYWRIGHT_MISSING)


def _unavailable(reason: str):
    if _in_ci():
        pytest.fail(f"{reason} (in CI the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def chromium():
    """One headless Chromium for the whole browser package, closed after its last test."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium, live_server):
    """new_page(viewport=DESKTOP, **context_options) -> a page in a fresh browser context
    (its own cookies) whose relative URLs go to the live server."""
    contexts = []

    def make(viewport: dict = DESKTOP, **options):
        context = chromium.new_context(base_url=live_server.url, viewport=viewport, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    _wait_for_the_live_server_to_answer()


# A request the live server still serves when the test's data is flushed holds SQLite's
# tables locked ("database table is locked"): a page that polls, or syncs once back online,
# may have sent one just before its context closed.
SERVING_SECONDS = 5


def _wait_for_the_live_server_to_answer() -> None:
    """Wait, at most `SERVING_SECONDS`, until the live server's request threads have
    ended: they end once the browser has closed their connections."""
    deadline = time.monotonic() + SERVING_SECONDS
    while time.monotonic() < deadline and any(
        thread.name.endswith("(process_request_thread)") for thread in threading.enumerate()
    ):
        time.sleep(0.02)


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def phone_page(new_page):
    return new_page(PHONE, is_mobile=True, has_touch=True)


@pytest.fixture
def screenshot(request):
    """screenshot(page, "what it shows") saves screenshots/<area>--<test>--<nn>-<what-it-shows>.png,
    where the area is admin, api or door (from the test module's name)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    area = re.sub(r"^test_|_in_browser$", "", request.module.__name__.rpartition(".")[2])
    test_name = re.sub(r"^test_", "", request.node.name)
    steps = iter(range(1, 100))

    def take(page, step: str) -> Path:
        slug = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = SCREENSHOTS / f"{area}--{test_name}--{next(steps):02d}-{slug}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


@pytest.fixture
def log_in():
    """log_in(page, user, next_url) logs in through the admin login form, as a person would."""

    def submit(page, user, next_url: str = "/admin/") -> None:
        page.goto(f"/admin/login/?next={next_url}")
        page.get_by_label("Username").fill(user.get_username())
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(lambda url: urlsplit(url).path == urlsplit(next_url).path)

    return submit
