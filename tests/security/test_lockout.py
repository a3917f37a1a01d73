"""Lockout on every way in: the admin login, the site login and the API login."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import User
from django.test import RequestFactory
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from audit.models import AuditEvent
from core.client_address import client_address
from tests.security.helpers import LOGINS, age_attempts, attempt, logged_in

pytestmark = pytest.mark.django_db

WAYS = list(LOGINS)


@pytest.fixture
def staff_auditor(auditor):
    """An account that may use all three logins and has no second factor."""
    auditor.is_staff = True
    auditor.save()
    return auditor


@pytest.mark.parametrize("way", WAYS)
def test_the_right_password_is_refused_after_the_failure_limit_until_the_cool_off(
    way, staff_auditor, password
):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit):
        assert not logged_in(way, attempt(way, "audit1", "wrong"))

    refused = attempt(way, "audit1", password)

    assert refused.status_code == 429
    body = refused.content.decode()
    assert "Too many failed logins" in body
    assert "until" in body
    assert int(refused["Retry-After"]) > 0
    # Still refused a while later, whatever the password.
    assert attempt(way, "audit1", password).status_code == 429

    age_attempts(settings.AXES_COOLOFF_TIME.seconds // 60 + 1)
    assert logged_in(way, attempt(way, "audit1", password))


def test_the_lockout_answer_names_until_when(staff_auditor, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("api", "audit1", "wrong")
    attempt_time = AccessAttempt.objects.get().attempt_time

    body = attempt("api", "audit1", password).json()

    until = attempt_time + settings.AXES_COOLOFF_TIME
    assert body["locked_until"] == until.isoformat()
    assert "An administrator can lift the lock sooner" in body["detail"]


def test_a_locked_out_page_says_so(staff_auditor, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("site", "audit1", "wrong")

    response = attempt("site", "audit1", password)

    assert response.status_code == 429
    assert "Logins refused for now" in response.content.decode()
    assert "registration/locked_out.html" in [t.name for t in response.templates]


@pytest.mark.parametrize("way", WAYS)
def test_a_spoofed_forwarded_for_does_not_reset_the_count(way, staff_auditor, password):
    # Many names, a new X-Forwarded-For each time: all from one socket address.
    for i in range(settings.AXES_FAILURE_LIMIT):
        attempt(way, f"guess{i}", "wrong", forwarded=f"203.0.113.{i}")

    refused = attempt(way, "audit1", password, forwarded="198.51.100.7")

    assert refused.status_code == 429


def test_with_a_trusted_proxy_the_client_is_the_address_the_proxy_appended(
    settings, staff_auditor, password
):
    settings.TRUSTED_PROXY_COUNT = 1
    for i in range(settings.AXES_FAILURE_LIMIT):
        # The client typed "203.0.113.9"; our proxy appended what it saw.
        attempt(
            "site", f"guess{i}", "wrong", address="10.0.0.2", forwarded="203.0.113.9, 192.0.2.1"
        )

    assert (
        attempt("site", "audit1", password, address="10.0.0.2", forwarded="192.0.2.1").status_code
        == 429
    )
    # Another client behind the same proxy is not locked out.
    assert logged_in(
        "site", attempt("site", "audit1", password, address="10.0.0.2", forwarded="192.0.2.2")
    )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.1"}


@pytest.mark.parametrize("proxies", [0, 1, 2])
@pytest.mark.parametrize(
    "forwarded", [None, "203.0.113.9", "203.0.113.9, 192.0.2.1", "1.1.1.1, 2.2.2.2, 192.0.2.1"]
)
def test_lockout_and_throttle_count_the_same_client(settings, proxies, forwarded):
    settings.TRUSTED_PROXY_COUNT = proxies
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    extra = {"REMOTE_ADDR": "10.9.9.9"}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().post("/api/v1/auth/login/", **extra)

    assert proxies == api_settings.NUM_PROXIES
    assert client_address(request) == ScopedRateThrottle().get_ident(request)


def test_the_api_login_limit_holds_when_x_forwarded_for_rotates(settings, auditor):
    settings.AXES_FAILURE_LIMIT = 100  # the throttle alone
    for i in range(10):
        response = attempt("api", "audit1", "wrong", forwarded=f"203.0.113.{i}")
        assert response.status_code == 400

    response = attempt("api", "audit1", "wrong", forwarded="198.51.100.1")
    assert response.status_code == 429
    assert "throttled" in response.json()["detail"].lower()


def test_failed_logins_and_the_lockout_are_on_the_trail(staff_auditor, password):
    limit = settings.AXES_FAILURE_LIMIT
    for way in ["admin", "site", "api", "site", "site"][:limit]:
        attempt(way, "audit1", "wrong", address="192.0.2.44")
    attempt("site", "audit1", password, address="192.0.2.44")

    events = list(
        AuditEvent.objects.filter(
            object_type="auth.user", object_id=str(staff_auditor.pk)
        ).exclude(action="update")
    )
    failed = [e for e in events if e.action == "login_failed"]
    assert len(failed) == limit
    assert {e.origin for e in failed} == {"admin", "form", "api"}
    assert all(e.changes["client_address"] == [None, "192.0.2.44"] for e in failed)
    assert [e.changes["failures"][1] for e in failed] == list(range(1, limit + 1))
    locked = [e for e in events if e.action == "login_locked_out"]
    assert len(locked) == 1
    assert locked[0].changes["locked_until"][1]
    assert locked[0].seq > failed[-1].seq
    assert [e.action for e in events][-1] == "login_refused"


def test_a_name_that_matches_no_account_is_kept_only_as_a_hash(db):
    typed = "MySecretPassw0rd!"  # a password typed into the name field

    attempt("site", typed, "whatever")

    event = AuditEvent.objects.get(action="login_failed")
    assert event.object_repr == "(no such account)"
    assert event.changes["username_hmac"][1].startswith("unknown:")
    stored = AccessAttempt.objects.get()
    assert stored.username == event.changes["username_hmac"][1]
    assert typed not in str(
        list(AuditEvent.objects.values_list("changes", "object_repr", "reason"))
    )
    assert typed not in stored.username + stored.post_data + stored.get_data


def test_unattributed_trail_events_are_limited_per_address(settings):
    settings.AUTH_TRAIL_UNKNOWN_LIMIT = 3
    settings.AXES_FAILURE_LIMIT = 100
    for i in range(8):
        attempt("site", f"nobody{i}", "x", address="192.0.2.5")
    attempt("site", "nobody-else", "x", address="192.0.2.6")

    assert AuditEvent.objects.filter(action="login_failed").count() == 4  # 3 + 1 elsewhere
    suppressed = AuditEvent.objects.get(action="login_trail_suppressed")
    assert suppressed.changes["client_address"] == [None, "192.0.2.5"]


def test_an_administrator_sees_and_lifts_a_lockout(client, admin_user, staff_auditor, password):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt("site", "audit1", "wrong")
    assert attempt("site", "audit1", password).status_code == 429
    client.force_login(admin_user)

    page = client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200
    assert "Locked Out" in page.content.decode()

    attempt_row = AccessAttempt.objects.get()
    response = client.post(
        "/admin/axes/accessattempt/",
        {"action": "lift_lockouts", "_selected_action": [attempt_row.pk]},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    lifted = AuditEvent.objects.get(action="lockout_lifted")
    assert lifted.actor == admin_user
    assert lifted.changes["username"] == ["audit1", None]
    assert logged_in("site", attempt("site", "audit1", password))


def test_the_test_client_login_still_works_without_a_request(staff_auditor, password):
    # Client.login() authenticates without a request: nothing to count, nothing locked.
    from django.test import Client

    assert Client().login(username="audit1", password=password)
    assert not Client().login(username="audit1", password="wrong")
    assert not AccessAttempt.objects.exists()
    assert User.objects.get(username="audit1").is_active
