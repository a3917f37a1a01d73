"""A lost database connection during a request: a "try again" page (503), JSON on the API,
and a log line; never Django's bare 500."""

import logging

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db


def _lose_the_database(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


@pytest.fixture
def client_keeping_errors():
    return Client(raise_request_exception=False)


def test_a_lost_connection_on_the_api_answers_json_503(
    auditor, client_keeping_errors, monkeypatch, caplog
):
    client_keeping_errors.force_login(auditor)
    monkeypatch.setattr("audit.api.verify_chain", _lose_the_database)

    with caplog.at_level(logging.ERROR, logger="celltrack.errors"):
        response = client_keeping_errors.get("/api/v1/audit-events/verify/")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"]
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert "try again" in body["detail"]
    assert any("database unavailable: OperationalError" in r.getMessage() for r in caplog.records)


def test_a_lost_connection_in_a_middleware_gives_the_try_again_page(
    pharmacist, client_keeping_errors, monkeypatch, caplog
):
    client_keeping_errors.force_login(pharmacist)
    # The session is read by the authentication middleware, before any view.
    monkeypatch.setattr(SessionStore, "load", _lose_the_database)

    with caplog.at_level(logging.ERROR, logger="celltrack.errors"):
        response = client_keeping_errors.get("/pharmacy/")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Please try again" in page
    assert "could not be reached" in page
    assert any("database unavailable" in r.getMessage() for r in caplog.records)


def test_another_error_on_the_api_is_a_json_500(auditor, client_keeping_errors, monkeypatch):
    client_keeping_errors.force_login(auditor)

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("audit.api.verify_chain", broken)
    response = client_keeping_errors.get("/api/v1/audit-events/verify/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error."}
