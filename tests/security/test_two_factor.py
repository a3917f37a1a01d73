"""Two factors for the qp, production and clinician roles: password, then a TOTP code."""

from base64 import b32decode
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from fhir.resources.operationoutcome import OperationOutcome
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.fhir import FHIR_PATH
from tests.conftest import login_without_code, totp_code, totp_device

pytestmark = pytest.mark.django_db

# (fixture, a page of the role)
TWO_FACTOR_ROLES = [
    ("qp_user", "/admin/"),
    ("production_user", "/admin/"),
    ("clinician", "/clinic/"),
]


@pytest.mark.parametrize(("role", "page"), TWO_FACTOR_ROLES)
def test_an_unverified_session_is_sent_to_the_code_step(request, role, page):
    user = request.getfixturevalue(role)
    client = login_without_code(Client(), user)

    response = client.get(page)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/two-factor/?next={page}"


@pytest.mark.parametrize(("role", "page"), TWO_FACTOR_ROLES)
def test_an_unverified_session_reads_no_api(request, role, page):
    user = request.getfixturevalue(role)
    client = login_without_code(APIClient(), user)

    response = client.get("/api/v1/batches/")

    assert response.status_code == 403
    assert "two factors" in response.json()["detail"]


@pytest.mark.parametrize(("role", "page"), TWO_FACTOR_ROLES)
def test_the_test_clients_login_gives_a_verified_session(client, request, role, page):
    user = request.getfixturevalue(role)
    client.force_login(user)

    assert client.get(page).status_code == 200
    assert client.session[DEVICE_ID_SESSION_KEY] == totp_device(user).persistent_id


@pytest.mark.parametrize(("role", "page"), [("pharmacist", "/pharmacy/"), ("auditor", "/")])
def test_other_roles_log_in_with_the_password_alone(request, role, page):
    user = request.getfixturevalue(role)
    client = login_without_code(Client(), user)

    assert client.get(page).status_code == 200


def test_a_qp_logs_in_with_password_then_code(qp_user, password):
    device = totp_device(qp_user)
    client = Client()

    response = client.post(
        "/accounts/login/", {"username": "qp1", "password": password, "next": "/admin/"}
    )
    assert response["Location"] == "/admin/"
    step = client.get("/admin/")
    assert step["Location"] == "/accounts/two-factor/?next=/admin/"
    page = client.get(step["Location"])
    assert "Code from your authenticator app" in page.content.decode()

    wrong = client.post(step["Location"], {"otp_code": "000000", "next": "/admin/"})
    assert wrong.status_code == 200
    assert "not correct" in wrong.content.decode()
    assert client.get("/admin/").status_code == 302
    # A wrong code holds the device back a second (django-otp doubles it each time).
    throttled = client.post(step["Location"], {"otp_code": totp_code(qp_user, device)})
    assert "Too many wrong codes: try again after" in throttled.content.decode()
    device.refresh_from_db()
    device.throttle_reset()

    response = client.post(
        step["Location"], {"otp_code": totp_code(qp_user, device), "next": "/admin/"}
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    failed = AuditEvent.objects.get(action="otp_failed")
    assert failed.actor == qp_user
    assert failed.changes["step"] == [None, "login"]


def test_the_admin_login_leads_to_the_code_step_too(production_user, password):
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "prod1", "password": password, "next": "/admin/"},
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/")["Location"].startswith("/accounts/two-factor/")


def test_a_first_login_enrols_an_authenticator_from_the_secret_shown(clinician, password):
    client = Client()
    client.post("/accounts/login/", {"username": "clin1", "password": password})
    assert client.get("/clinic/")["Location"] == "/accounts/two-factor/?next=/clinic/"
    assert client.get("/accounts/two-factor/?next=/clinic/")["Location"] == (
        "/accounts/two-factor/setup/?next=%2Fclinic%2F"
    )

    page = client.get("/accounts/two-factor/setup/?next=/clinic/")
    secret = page.context["secret"]
    body = page.content.decode()
    assert f'data-secret="{secret}"' in body
    assert "otpauth://totp/CellTrack%3Aclin1?secret=" + secret in body
    assert 'src="data:image/svg+xml' in body
    # Reloading keeps the same secret while it is not confirmed.
    assert client.get("/accounts/two-factor/setup/").context["secret"] == secret

    code = f"{TOTP(b32decode(secret)).token():06d}"
    response = client.post("/accounts/two-factor/setup/", {"otp_code": code, "next": "/clinic/"})

    assert response["Location"] == "/clinic/"
    assert client.get("/clinic/").status_code == 200
    device = TOTPDevice.objects.get(user=clinician)
    assert device.confirmed
    enrolled = AuditEvent.objects.get(action="otp_enrolled")
    assert enrolled.actor == clinician
    assert secret not in str(enrolled.changes)
    # Enrolled: the setup page now sends to the code step.
    assert client.get("/accounts/two-factor/setup/")["Location"].startswith(
        "/accounts/two-factor/"
    )


def test_an_administrator_resets_a_lost_authenticator(client, admin_user, qp_user):
    qp = Client()
    qp.force_login(qp_user)  # verified with its device
    assert qp.get("/admin/").status_code == 200
    device = totp_device(qp_user)
    client.force_login(admin_user)

    page = client.get("/admin/otp_totp/totpdevice/")
    assert page.status_code == 200
    assert device.key not in page.content.decode()
    response = client.post(
        "/admin/otp_totp/totpdevice/",
        {"action": "reset_authenticators", "_selected_action": [device.pk]},
    )

    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=qp_user).exists()
    reset = AuditEvent.objects.get(action="otp_reset")
    assert reset.actor == admin_user
    assert reset.object_id == str(qp_user.pk)
    # The session verified with the removed device is verified no more.
    assert qp.get("/admin/")["Location"].startswith("/accounts/two-factor/")


def test_the_api_login_of_a_two_factor_role_needs_the_code(qp_user, password):
    device = totp_device(qp_user)
    api = APIClient()

    without = api.post(
        "/api/v1/auth/login/", {"username": "qp1", "password": password}, format="json"
    )
    assert without.status_code == 400
    assert "otp_code" in without.json()["detail"]
    wrong = api.post(
        "/api/v1/auth/login/",
        {"username": "qp1", "password": password, "otp_code": "123456"},
        format="json",
    )
    assert wrong.status_code == 400
    failed = AuditEvent.objects.get(action="otp_failed")
    assert failed.changes["step"] == [None, "api-login"]
    device.refresh_from_db()
    device.throttle_reset()  # the wrong code held the device back a second

    ok = api.post(
        "/api/v1/auth/login/",
        {"username": "qp1", "password": password, "otp_code": totp_code(qp_user, device)},
        format="json",
    )
    assert ok.status_code == 200
    assert ok.json()["token"]


def test_demo_users_of_two_factor_roles_get_the_printed_demo_secrets(db):
    from django.contrib.auth.models import Group, User

    from audit.context import Origin, audit_origin
    from demo.management.commands.seed_demo import Command
    from demo.totp import DEMO_TOTP_SECRETS, demo_totp_secret, key_hex

    users, logins = {}, {}
    for name, group in [("qp", "qp"), ("pharmacy", "pharmacy"), ("qp-esnav", "qp")]:
        user = User.objects.create_user(name, password="x")
        user.groups.add(Group.objects.get(name=group))
        users[name] = user
        logins[name] = (user, group, "a site")
    with audit_origin(Origin.COMMAND):
        Command()._authenticators(logins)
        Command()._authenticators(logins)  # idempotent

    device = TOTPDevice.objects.get(user=users["qp"])
    assert device.key == key_hex(DEMO_TOTP_SECRETS["qp"])
    assert not TOTPDevice.objects.filter(user=users["pharmacy"]).exists()
    out = StringIO()
    call_command("demo_code", "qp", stdout=out)
    assert out.getvalue().strip() == f"{TOTP(b32decode(DEMO_TOTP_SECRETS['qp'])).token():06d}"
    # a site's own QP gets a secret of its own, printed and served by demo_code alike
    other = demo_totp_secret("qp-esnav")
    assert other != DEMO_TOTP_SECRETS["qp"]
    assert TOTPDevice.objects.get(user=users["qp-esnav"]).key == key_hex(other)
    out = StringIO()
    call_command("demo_code", "qp-esnav", stdout=out)
    assert out.getvalue().strip() == f"{TOTP(b32decode(other)).token():06d}"


@pytest.mark.parametrize(("role", "page"), TWO_FACTOR_ROLES)
@pytest.mark.parametrize("path", ["/api/fhir/metadata", "/api/fhir/Patient", "/api/fhir/nope"])
def test_an_unverified_session_gets_a_fhir_operation_outcome_on_the_fhir_api(
    request, role, page, path
):
    """A FHIR client reads OperationOutcomes only: the refusal is one, not DRF JSON."""
    user = request.getfixturevalue(role)
    client = login_without_code(Client(), user)

    response = client.get(path, HTTP_ACCEPT="application/fhir+json")

    assert response.status_code == 403
    assert response["Content-Type"].startswith("application/fhir+json")
    answer = OperationOutcome.model_validate_json(response.content)
    (issue,) = answer.issue
    assert (issue.severity, issue.code) == ("error", "forbidden")
    assert "two factors" in issue.diagnostics
    assert "/accounts/two-factor/" in issue.diagnostics


def test_the_fhir_api_is_mounted_where_the_middleware_expects_it():
    assert reverse("fhir:metadata").startswith(FHIR_PATH)
    assert reverse("fhir:base") == FHIR_PATH
