"""A session ends after 30 minutes without activity and 8 hours after the login; the
activity time is written at most once a minute."""

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import sessions

pytestmark = pytest.mark.django_db


def shift(client, **seconds_ago):
    session = client.session
    at = sessions.now()
    for key, ago in seconds_ago.items():
        session[{"login": sessions.LOGIN_AT_KEY, "seen": sessions.SEEN_AT_KEY}[key]] = at - ago
    session.save()


def session_writes(queries) -> int:
    return sum(
        1
        for q in queries
        if "django_session" in q["sql"]
        and q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT"))
    )


def test_a_session_ends_after_the_idle_time(client, pharmacist, settings):
    client.force_login(pharmacist)
    shift(client, seen=settings.SESSION_IDLE_SECONDS + 1)

    response = client.get("/pharmacy/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"])
    assert "minutes without activity" in page.content.decode()


def test_a_session_ends_at_most_eight_hours_after_login_however_active(
    client, pharmacist, settings
):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    client.force_login(pharmacist)
    shift(client, login=8 * 3600 + 1, seen=5)

    response = client.get("/pharmacy/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_activity_keeps_a_session_alive_with_one_write_a_minute(client, pharmacist, settings):
    client.force_login(pharmacist)
    with CaptureQueriesContext(connection) as quick:
        for _ in range(3):
            assert client.get("/pharmacy/").status_code == 200
    assert session_writes(quick.captured_queries) == 0

    shift(client, seen=settings.SESSION_ACTIVITY_REFRESH_SECONDS + 1)
    before = client.session[sessions.SEEN_AT_KEY]
    with CaptureQueriesContext(connection) as later:
        assert client.get("/pharmacy/").status_code == 200
    assert session_writes(later.captured_queries) == 1
    assert client.session[sessions.SEEN_AT_KEY] > before
    stored = Session.objects.get(session_key=client.session.session_key)
    # The store forgets the session after the idle time (plus the refresh step).
    lifetime = stored.expire_date.timestamp() - client.session[sessions.SEEN_AT_KEY]
    assert (
        lifetime <= settings.SESSION_IDLE_SECONDS + settings.SESSION_ACTIVITY_REFRESH_SECONDS + 2
    )
