"""Failed logins, lockouts and refused authenticator codes on the audit trail.

Written from the authentication signals (Django's `user_login_failed`, axes'
`user_locked_out`, `core.two_factor.code_refused`): they are the one place every way in
(the admin login, the site login, the API login) passes, as for `audit.auth_trail`'s
changes to users. Each event names the account, the client address (the one axes counts,
`core.client_address`) and, as every event, the time and the interface (`origin`).

- A failed login on an existing account: `login_failed` (the failures counted so far);
  the failure that locks: `login_failed` then `login_locked_out` (with `locked_until`);
  an attempt refused during a lockout: `login_refused`.
- A name that matches no account is never written as typed (it may be a password typed
  into the wrong field): the event carries `username_hmac` only. Those events, and
  `login_refused`, are limited per client address (`AUTH_TRAIL_UNKNOWN_LIMIT` per
  `AUTH_TRAIL_UNKNOWN_WINDOW_SECONDS`; one `login_trail_suppressed` event says when the
  limit was reached), so one address cannot flood the trail; the lockout still counts
  every attempt.
- A refused authenticator code: `otp_failed`, attributed to the account.

`authenticate()` calls without a request (code, not a client) are not recorded.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.utils.crypto import salted_hmac

from audit.writer import write_event
from core.client_address import client_address
from core.lockout import account_for, locked_until, unknown_username_key
from core.two_factor import code_refused

USER_TYPE = "auth.user"


def _address(request):
    return getattr(request, "axes_ip_address", None) or client_address(request)


def _within_rate(address) -> bool:
    """Whether one more unattributed event from `address` may be written now; the first
    one past the limit writes `login_trail_suppressed` instead."""
    key = (
        "celltrack:auth-trail:"
        + salted_hmac(
            "celltrack.auth-trail-address", address or "-", algorithm="sha256"
        ).hexdigest()[:32]
    )
    window = settings.AUTH_TRAIL_UNKNOWN_WINDOW_SECONDS
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        count = 1
    limit = settings.AUTH_TRAIL_UNKNOWN_LIMIT
    if count == limit + 1:
        write_event(
            action="login_trail_suppressed",
            object_type=USER_TYPE,
            object_id="",
            object_repr="(failed logins from one address)",
            changes={
                "client_address": [None, address],
                "limit": [None, limit],
                "window_seconds": [None, window],
            },
            reason="Further failed logins under unknown names, or during a lockout, from "
            "this address are counted by the lockout but not written until the window ends.",
        )
    return count <= limit


def _account_event(action, user, address, **changes):
    write_event(
        action=action,
        object_type=USER_TYPE,
        object_id=str(user.pk),
        object_repr=user.get_username(),
        changes={"client_address": [None, address]}
        | {key: [None, value] for key, value in changes.items()},
    )


def login_failed(sender, credentials, request=None, **kwargs):
    if request is None:
        return
    name = (credentials or {}).get("username")
    address = _address(request)
    user = account_for(name)
    # axes has already run (its receiver is connected first): during a lockout it
    # refused before checking the password and counted nothing.
    refused = bool(getattr(request, "axes_locked_out", False)) and (
        getattr(request, "axes_failures_since_start", None) is None
    )
    if user is not None and not refused:
        _account_event(
            "login_failed",
            user,
            address,
            failures=getattr(request, "axes_failures_since_start", None),
        )
    elif _within_rate(address):
        if user is not None:
            _account_event("login_refused", user, address, reason="locked out")
        else:
            write_event(
                action="login_refused" if refused else "login_failed",
                object_type=USER_TYPE,
                object_id="",
                object_repr="(no such account)",
                changes={
                    "username_hmac": [None, unknown_username_key(name or "")],
                    "client_address": [None, address],
                },
            )
    lockout = getattr(request, "_celltrack_new_lockout", None)
    if lockout is not None:
        request._celltrack_new_lockout = None
        until = locked_until(request, credentials)
        changes = {
            "client_address": [None, address],
            "failure_limit": [None, settings.AXES_FAILURE_LIMIT],
            "locked_until": [None, until.isoformat() if until else None],
        }
        if user is not None:
            write_event(
                action="login_locked_out",
                object_type=USER_TYPE,
                object_id=str(user.pk),
                object_repr=user.get_username(),
                changes=changes,
            )
        else:
            write_event(
                action="login_locked_out",
                object_type=USER_TYPE,
                object_id="",
                object_repr="(no such account)",
                changes=changes | {"username_hmac": [None, unknown_username_key(name or "")]},
            )


def locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    """axes' user_locked_out: a *new* lockout (axes also sends it for each attempt it
    refuses during one; those carry no failure count). Written by `login_failed`, which
    runs next, so that the trail reads "failed, then locked"."""
    if request is not None and getattr(request, "axes_failures_since_start", None) is not None:
        request._celltrack_new_lockout = (username, ip_address)


def otp_failed(sender, user, request=None, where="", **kwargs):
    write_event(
        action="otp_failed",
        object_type=USER_TYPE,
        object_id=str(user.pk),
        object_repr=user.get_username(),
        changes={
            "client_address": [None, _address(request) if request is not None else None],
            "step": [None, where],
        },
        actor=user,
    )


def connect():
    from axes.signals import user_locked_out

    from audit import security_admin

    user_login_failed.connect(login_failed, dispatch_uid="celltrack-login-failed")
    user_locked_out.connect(locked_out, dispatch_uid="celltrack-locked-out")
    code_refused.connect(otp_failed, dispatch_uid="celltrack-otp-failed")
    security_admin.register()
