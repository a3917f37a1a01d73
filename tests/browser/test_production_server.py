"""Under gunicorn with DEBUG off — the production settings — the admin and the API docs
load every style and script (from whitenoise, no 404) and the Content-Security-Policy
refuses nothing; a QP logs in with password and code."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS, login, shot
from tests.conftest import TEST_TOTP_KEY
from tests.security.servers import environment, gunicorn, manage

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAKE_QP = f"""
from django.contrib.auth.models import Group, User
from django_otp.plugins.otp_totp.models import TOTPDevice
from audit.context import audit_context
with audit_context(actor=None, reason="browser test set-up"):
    qp = User.objects.create_user("qp-prod", password="a-long-test-password-42",
                                  first_name="Quinn", last_name="Prod", is_staff=True)
    qp.groups.add(Group.objects.get(name="qp"))
TOTPDevice.objects.create(user=qp, name="phone", key="{TEST_TOTP_KEY}", confirmed=True)
"""

WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """migrate, collectstatic and a QP with an authenticator, then gunicorn — what
    `make serve` does, on a SQLite file of its own."""
    root = tmp_path_factory.mktemp("production")
    env = environment(
        DATABASE_URL=f"sqlite:///{root / 'db.sqlite3'}", STATIC_ROOT=str(root / "static")
    )
    manage("migrate", "--noinput", env=env)
    manage("collectstatic", "--noinput", "--verbosity", "0", env=env)
    manage("shell", "-c", MAKE_QP, env=env)
    with gunicorn(env, log=root / "gunicorn.log") as url:
        yield url


def test_admin_and_api_docs_load_under_gunicorn_without_debug(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.add_init_script(WATCH_CSP)
    errors, failed = [], []
    page.on(
        "console",
        lambda m: (
            errors.append(f"{m.text} {m.location.get('url', '')}")
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    # The browser asks for /favicon.ico by itself (the admin names no icon): not a page's
    # asset, and CellTrack has none to serve.
    page.on(
        "response",
        lambda r: (
            failed.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    loaded = []
    page.on("response", lambda r: loaded.append(r.url) if "/static/" in r.url else None)
    try:
        login(page, server, "qp-prod", "a-long-test-password-42", key_hex=TEST_TOTP_KEY)
        page.goto(f"{server}/admin/")
        expect(page).to_have_url(re.compile(r"/admin/$"))
        expect(page.locator("#site-name")).to_contain_text("CellTrack production")
        # The admin's stylesheet is applied: its header has a colour of its own.
        background = page.locator("#header").evaluate("e => getComputedStyle(e).backgroundColor")
        assert background not in ("rgba(0, 0, 0, 0)", "transparent")
        assert page.evaluate("window.__csp") == []
        shot(page, "production-admin")

        page.goto(f"{server}/api/docs/")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("CellTrack auditor API")
        expect(page.locator(".opblock").first).to_be_visible()
        assert page.evaluate("window.__csp") == []
        shot(page, "production-api-docs")
    finally:
        context.close()

    assert failed == []
    assert [e for e in errors if "Content Security Policy" in e] == []
    assert errors == []
    # Hashed names from the manifest, served by whitenoise.
    assert any(re.search(r"/static/admin/css/base\.[0-9a-f]{12}\.css$", u) for u in loaded)
    assert any("swagger-ui-bundle" in u for u in loaded)
