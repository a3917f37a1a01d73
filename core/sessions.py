"""How long a session lives: `SESSION_IDLE_SECONDS` without activity (30 min), and at
most `SESSION_COOKIE_AGE` after the login (8 h), whatever the user does.

The login time and the last activity are kept in the session. The activity time is
refreshed at most once every `SESSION_ACTIVITY_REFRESH_SECONDS` (a minute), so a session
is written once a minute at most, not on every request; an idle session therefore ends
between `SESSION_IDLE_SECONDS - refresh` and `SESSION_IDLE_SECONDS` after its last
request. The session's own expiry follows the same clock, so the store forgets an idle
session even if nobody comes back to end it.
"""

from __future__ import annotations

import time

from django.conf import settings

from core.two_factor import SIGNED_WITH_CODE_SESSION_KEY, requires_two_factors

LOGIN_AT_KEY = "_celltrack_login_at"
SEEN_AT_KEY = "_celltrack_seen_at"
# Whether the user needs the second factor, re-read from the groups at each refresh so a
# request does not cost a query for it.
NEEDS_CODE_KEY = "_celltrack_needs_code"


def now() -> int:
    return int(time.time())


def _expiry(session, at: int) -> int:
    """Seconds the stored session may live from `at`: idle allowance, never past the
    absolute limit."""
    login_at = session.get(LOGIN_AT_KEY, at)
    idle = settings.SESSION_IDLE_SECONDS + settings.SESSION_ACTIVITY_REFRESH_SECONDS
    left = settings.SESSION_COOKIE_AGE - (at - login_at)
    return max(1, min(idle, left))


def start_session(sender, request, user, **kwargs):
    """user_logged_in: a new continuous period of access starts (and with it, a new
    "first signature" that needs the code)."""
    session = getattr(request, "session", None)
    if session is None:
        return
    at = now()
    session[LOGIN_AT_KEY] = at
    session[SEEN_AT_KEY] = at
    session[NEEDS_CODE_KEY] = requires_two_factors(user)
    session.pop(SIGNED_WITH_CODE_SESSION_KEY, None)
    session.set_expiry(_expiry(session, at))


def session_end_reason(session, at: int) -> str | None:
    """Why the session must end now ("idle", "absolute"), or None."""
    login_at = session.get(LOGIN_AT_KEY)
    seen_at = session.get(SEEN_AT_KEY)
    if login_at is None or seen_at is None:
        return None
    if at - login_at >= settings.SESSION_COOKIE_AGE:
        return "absolute"
    if at - seen_at >= settings.SESSION_IDLE_SECONDS:
        return "idle"
    return None


def touch(session, user, at: int) -> None:
    """Record activity, writing the session only when the last write is a minute old."""
    if LOGIN_AT_KEY not in session:
        session[LOGIN_AT_KEY] = at
        session[SEEN_AT_KEY] = at
    elif at - session.get(SEEN_AT_KEY, 0) < settings.SESSION_ACTIVITY_REFRESH_SECONDS:
        return
    session[SEEN_AT_KEY] = at
    session[NEEDS_CODE_KEY] = requires_two_factors(user)
    session.set_expiry(_expiry(session, at))


def needs_code(session, user) -> bool:
    """Whether this session's user must give a code (from the session, else the groups)."""
    value = session.get(NEEDS_CODE_KEY)
    if value is None:
        value = requires_two_factors(user)
        session[NEEDS_CODE_KEY] = value
    return bool(value)
