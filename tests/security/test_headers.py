"""Headers on every answer: CSP without inline script, Permissions-Policy, no-store on
pages and API answers; and what must stay (HSTS, frame, referrer, nosniff, cookies)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:]
        for part in (p.strip() for p in policy.split(";"))
        if part
    }


@pytest.mark.parametrize(
    ("who", "path"),
    [
        (None, "/accounts/login/"),
        ("pharmacist", "/pharmacy/"),
        ("production_user", "/admin/"),
        ("auditor", "/api/v1/batches/"),
        ("auditor", "/api/docs/"),
    ],
)
def test_every_answer_has_a_csp_without_inline_script(request, client, who, path):
    if who:
        client.force_login(request.getfixturevalue(who))
    response = client.get(path)

    assert response.status_code == 200
    csp = directives(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert "camera=()" in response["Permissions-Policy"]
    if "text/html" in response["Content-Type"]:
        assert not INLINE_SCRIPT.search(response.content.decode())


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("pharmacist", "/pharmacy/patients/"),
        ("production_user", "/admin/batches/batch/"),
        ("clinician", "/clinic/"),
        ("auditor", "/api/v1/patients/"),
        ("auditor", "/api/v1/audit-events/?format=csv"),
        (None, "/api/v1/patients/"),
    ],
)
def test_pages_and_api_answers_are_never_stored(request, client, who, path):
    if who:
        client.force_login(request.getfixturevalue(who))
    response = client.get(path)

    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"no-store", "no-cache", "private"} <= cache_control


def test_swagger_ui_loads_its_start_up_script_as_a_file(client, auditor):
    client.force_login(auditor)
    page = client.get("/api/docs/").content.decode()

    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert "/api/docs/?script=" in scripts
    assert any("swagger-ui-bundle.js" in src for src in scripts)
    init = client.get("/api/docs/?script=")
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in init.content.decode()


def test_no_template_of_ours_has_an_inline_script():
    templates = [p for p in ROOT.glob("**/templates/**/*.html") if ".venv" not in p.parts]
    assert templates
    offenders = [str(p) for p in templates if INLINE_SCRIPT.search(p.read_text())]
    assert offenders == []


def test_the_kept_headers_and_cookies(client, settings, pharmacist, password):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    secure = Client()  # made after the settings change: its middleware reads them
    login = secure.post(
        "/accounts/login/", {"username": "pharm1", "password": password}, secure=True
    )
    page = secure.get("/pharmacy/", secure=True)

    assert page["Strict-Transport-Security"].startswith("max-age=31536000")
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"
    cookie = login.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"


def test_logout_is_by_post_only(client, pharmacist):
    client.force_login(pharmacist)

    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/pharmacy/").status_code == 302


def test_whitenoise_serves_static_files_before_any_view():
    assert settings.MIDDLEWARE.index("core.middleware.StaticFilesMiddleware") < (
        settings.MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware")
    )
