"""Lockout after repeated failed logins (django-axes), the same on every way in.

The admin login, the site login and the API login all call `authenticate(request, …)`;
axes counts each failure in its database tables (shared by every worker and server) and
refuses the account, or the client address, once `LOGIN_FAILURE_LIMIT` failures fall
within `LOGIN_COOLOFF_MINUTES` (`AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]`:
either counter alone locks). This module holds the pieces axes calls back:

- `LockoutBackend`: axes' backend, which also lets programmatic `authenticate()` calls
  without a request (the test client's `login()`, a shell) through: with no client there
  is nothing to count, and no login view calls without one.
- `lockout_username`: the name axes stores and counts. A name that matches no account is
  stored as an HMAC of it, never as typed: people type passwords into the name field.
- `locked_until` and `lockout_response`: what a locked-out client is told.
"""

from __future__ import annotations

import datetime
import math

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.crypto import salted_hmac

from core.formatting import fmt_time

UNKNOWN_PREFIX = "unknown:"


class LockoutBackend(AxesStandaloneBackend):
    """Refuses locked-out accounts and addresses before any password is checked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def unknown_username_key(name: str) -> str:
    """A name that matches no account, as it may be kept: HMAC-SHA256 under a key derived
    from SECRET_KEY (the same name always gives the same key, so it can still be counted
    and searched for, but it cannot be read back)."""
    digest = salted_hmac("celltrack.unknown-username", name, algorithm="sha256").hexdigest()
    return f"{UNKNOWN_PREFIX}{digest[:40]}"


def account_for(name: str | None):
    """The active-or-not account named `name`, or None."""
    if not name:
        return None
    user_model = get_user_model()
    return user_model._default_manager.filter(**{user_model.USERNAME_FIELD: name}).first()


def lockout_username(request, credentials) -> str | None:
    """AXES_USERNAME_CALLABLE: the typed name when it is an account's, else its HMAC."""
    field = get_user_model().USERNAME_FIELD
    name = (credentials or {}).get(field)
    if name is None and request is not None:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        name = data.get(field)
    if not name:
        return None
    name = str(name)
    memo = getattr(request, "_celltrack_lockout_names", None)
    if memo is None:
        memo = {}
        if request is not None:
            request._celltrack_lockout_names = memo
    if name not in memo:
        memo[name] = name if account_for(name) is not None else unknown_username_key(name)
    return memo[name]


def cooloff() -> datetime.timedelta:
    return settings.AXES_COOLOFF_TIME


def locked_until(request, credentials=None) -> datetime.datetime | None:
    """When the lockout that refuses this request ends (None: it is not locked out).

    Each lockout parameter (the name, the address) counts the failures newer than the
    cool-off; the lock lifts when enough of the oldest ones age out that fewer than the
    limit remain. The latest such moment over the locked parameters is the answer."""
    from axes.handlers.proxy import AxesProxyHandler
    from axes.helpers import get_failure_limit

    AxesProxyHandler.update_request(request)
    handler = AxesProxyHandler.get_implementation()
    limit = get_failure_limit(request, credentials)
    latest = None
    for attempts in handler.get_user_attempts(request, credentials):
        rows = list(
            attempts.order_by("attempt_time").values_list("attempt_time", "failures_since_start")
        )
        remaining = sum(failures for _, failures in rows)
        if remaining < limit:
            continue
        for attempt_time, failures in rows:
            remaining -= failures
            if remaining < limit:
                until = attempt_time + cooloff()
                latest = until if latest is None else max(latest, until)
                break
    return latest


def lockout_message(until: datetime.datetime | None) -> str:
    when = (
        f"until {fmt_time(until)} ({timezone.get_current_timezone_name()})"
        if until
        else "for a while"
    )
    return (
        "Too many failed logins: logins for this account, or from this address, are "
        f"refused {when}. An administrator can lift the lock sooner."
    )


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: 429 with the end of the lockout, as JSON under /api/ and as
    a page elsewhere, with Retry-After."""
    until = locked_until(request, credentials)
    message = lockout_message(until)
    retry_after = max(1, math.ceil((until - timezone.now()).total_seconds())) if until else None
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": message, "locked_until": until.isoformat() if until else None},
            status=settings.AXES_HTTP_RESPONSE_CODE,
        )
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"message": message, "until": until},
            status=settings.AXES_HTTP_RESPONSE_CODE,
        )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response
