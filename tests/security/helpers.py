"""Shared by the security tests: logging in through each way in, and going back in time."""

from __future__ import annotations

import datetime

from axes.models import AccessAttempt
from django.test import Client
from rest_framework.test import APIClient

LOGINS = {
    "admin": "/admin/login/",
    "site": "/accounts/login/",
    "api": "/api/v1/auth/login/",
}


def attempt(way: str, username: str, password: str, *, address="127.0.0.1", forwarded=None):
    """One login through `way` ("admin", "site", "api") from a fresh client."""
    extra = {"REMOTE_ADDR": address}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    if way == "api":
        return APIClient().post(
            LOGINS[way], {"username": username, "password": password}, format="json", **extra
        )
    return Client().post(
        LOGINS[way], {"username": username, "password": password, "next": "/"}, **extra
    )


def logged_in(way: str, response) -> bool:
    if way == "api":
        return response.status_code == 200 and "token" in response.json()
    return response.status_code == 302


def age_attempts(minutes: int) -> None:
    """Move every counted login failure `minutes` into the past (the cool-off passing)."""
    AccessAttempt.objects.update(
        attempt_time=datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=minutes)
    )
