"""Playwright journeys in Debian's chromium against Django's live server.

No browser is ever downloaded: the tests use the system chromium and skip, with the reason,
where it is not installed (`apt-get install chromium` — .ci/run does it).

Each test module sets `pytestmark = pytest.mark.browser` itself (a `pytestmark` in a
conftest has no effect). Tests use `@pytest.mark.django_db(transaction=True)`: the live
server runs in another thread and must see committed data; the project's `flush` command
suspends the audit triggers so the database can be emptied between tests.
"""

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
SHOTS = Path(os.environ.get("BROWSER_SHOTS", "/tmp/shots"))

DESKTOP = {"width": 1024, "height": 768}
# A ward tablet in portrait (e.g. a 10" Android tablet at 1× CSS pixels).
TABLET = {"width": 800, "height": 1280}

TIMEOUT_MS = 10_000


@pytest.fixture(scope="package")
def browser():
    """One chromium for the browser tests, closed before the rest of the suite runs.

    While Playwright's sync API is open, its event loop counts as running in this thread,
    and Django refuses ORM calls from such a thread unless DJANGO_ALLOW_ASYNC_UNSAFE is
    set. Test set-up (factories) here is synchronous on purpose, so it is allowed for the
    browser tests only: the package scope closes the loop and restores the variable before
    other packages' tests run.
    """
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def _new_page(browser, viewport, **options):
    context = browser.new_context(viewport=viewport, locale="en-GB", **options)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return context, page


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_failed = report.failed
    return report


def _on_failure(request, pages, prefix="page"):
    """Keep a screenshot of each open page of a failed test, to see what the user saw."""
    if not getattr(request.node, "browser_failed", False):
        return
    for i, page in enumerate(pages):
        with contextlib.suppress(Exception):  # best effort: never hide the real failure
            shot(page, f"FAILED-{request.node.name}-{prefix}{i}")


@pytest.fixture
def page(browser, request):
    """A desktop page (pharmacy or production workstation)."""
    context, page = _new_page(browser, DESKTOP)
    yield page
    _on_failure(request, [page])
    context.close()


@pytest.fixture
def new_page(browser, request):
    """Open another user's browser: `new_page()` (desktop) or `new_page(tablet=True)`.

    One browser context per user, as on separate devices: no shared cookies or session.
    """
    contexts = []

    def make(*, tablet=False):
        if tablet:
            context, page = _new_page(browser, TABLET, has_touch=True)
        else:
            context, page = _new_page(browser, DESKTOP)
        contexts.append(context)
        return page

    yield make
    _on_failure(request, [c.pages[0] for c in contexts if c.pages], prefix="other")
    for context in contexts:
        context.close()


def login(page, live_server, username, password, *, key_hex=None):
    """Log in through the login page as a user would, and wait to leave it. A user whose
    role logs in with two factors then gives the code (`second_factor`; `key_hex`: the
    device's secret, for a server with a database of its own)."""
    from playwright.sync_api import expect

    base = getattr(live_server, "url", live_server)
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))
    if "/accounts/two-factor/" in page.url:
        second_factor(page, username, key_hex=key_hex)


def code_from_secret(secret_b32: str) -> str:
    """The current code of an authenticator app set up with `secret_b32` (base32)."""
    from base64 import b32decode

    from django_otp.oath import TOTP

    return f"{TOTP(b32decode(secret_b32)).token():06d}"


def second_factor(page, username, *, key_hex=None):
    """The code step, as the user with an authenticator app: on the enrolment page, set
    the app up from the secret shown; on the code page, give the code of the user's
    device — from `key_hex` when given (a server with its own database), else read from
    the test database (tests.conftest.totp_code)."""
    from playwright.sync_api import expect

    if "/accounts/two-factor/setup/" in page.url:
        secret = page.locator("#otp-secret").get_attribute("data-secret")
        page.get_by_label("Code from your authenticator app").fill(code_from_secret(secret))
        page.get_by_role("button", name="Confirm").click()
    else:
        if key_hex is not None:
            from base64 import b32encode

            code = code_from_secret(b32encode(bytes.fromhex(key_hex)).decode())
        else:
            from django.contrib.auth.models import User

            from tests.conftest import totp_code

            code = totp_code(User.objects.get(username=username))
        page.get_by_label("Code from your authenticator app").fill(code)
        page.get_by_role("button", name="Continue").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/two-factor/"))


def shot(page, name):
    """Save a full-page screenshot to /tmp/shots/<name>.png (to look at after a run)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
