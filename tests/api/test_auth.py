"""API authentication: knox tokens (hashed, expiring), login, logout, the token command."""

import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_anonymous_request_is_401_with_a_token_challenge():
    response = APIClient().get("/api/v1/donors/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["detail"]


def test_login_returns_a_token_that_reads_the_api(auditor, password):
    response = APIClient().post(
        "/api/v1/auth/login/", {"username": "audit1", "password": password}, format="json"
    )

    assert response.status_code == 200
    token = response.json()["token"]
    assert response.json()["expiry"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/donors/").status_code == 200


def test_login_with_a_wrong_password_is_refused_with_a_message(auditor):
    response = APIClient().post(
        "/api/v1/auth/login/", {"username": "audit1", "password": "nope"}, format="json"
    )

    assert response.status_code == 400
    assert "Unable to log in" in response.json()["detail"]
    assert not AuthToken.objects.exists()


def test_repeated_login_attempts_are_slowed_down(auditor, settings):
    settings.AXES_FAILURE_LIMIT = 100  # the throttle alone, not the lockout
    rate_per_minute = 10
    client = APIClient()
    for _ in range(rate_per_minute):
        response = client.post(
            "/api/v1/auth/login/", {"username": "audit1", "password": "guess"}, format="json"
        )
        assert response.status_code == 400

    response = client.post(
        "/api/v1/auth/login/", {"username": "audit1", "password": "guess"}, format="json"
    )
    assert response.status_code == 429
    assert "throttled" in response.json()["detail"].lower()
    assert not AuthToken.objects.exists()


def test_token_is_stored_only_as_a_hash(auditor, password):
    token = (
        APIClient()
        .post("/api/v1/auth/login/", {"username": "audit1", "password": password})
        .json()["token"]
    )

    stored = AuthToken.objects.get(user=auditor)
    assert token not in (stored.digest, stored.token_key)
    assert len(stored.digest) == 128  # SHA-512 hex
    assert token.startswith(stored.token_key)


def test_token_expires(auditor, settings):
    instance, token = AuthToken.objects.create(user=auditor, expiry=datetime.timedelta(hours=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/donors/").status_code == 200

    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - datetime.timedelta(1))

    response = client.get("/api/v1/donors/")
    assert response.status_code == 401
    assert not AuthToken.objects.filter(pk=instance.pk).exists()


def test_logout_revokes_the_token(auditor):
    _, token = AuthToken.objects.create(user=auditor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/donors/").status_code == 401


def test_session_login_reads_the_api(auditor):
    client = APIClient()
    client.force_login(auditor)

    assert client.get("/api/v1/donors/").status_code == 200


def test_create_api_token_prints_a_working_token_on_its_last_line(auditor):
    out = StringIO()

    call_command("create_api_token", "audit1", "--hours", "2", stdout=out)

    token = out.getvalue().strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/audit-events/").status_code == 200
    expiry = AuthToken.objects.get(user=auditor).expiry
    assert timezone.now() + datetime.timedelta(minutes=110) < expiry
    assert expiry < timezone.now() + datetime.timedelta(minutes=130)


def test_create_api_token_refuses_an_unknown_user(db):
    with pytest.raises(CommandError, match="No user named"):
        call_command("create_api_token", "ghost", stdout=StringIO())
