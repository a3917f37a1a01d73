"""Who signs in with two factors, and the check of their authenticator code (django-otp).

Users of the roles in `OTP_REQUIRED_ROLES` (qp, production, clinician by default) log in
with their password and then a TOTP code from an authenticator app; the same code is
asked again at the first e-signature of a session (`audit.signatures`). Everything that
writes the audit trail about it lives in `audit` (core imports no app): a refused code is
announced with the `code_refused` signal, which `audit.login_trail` records.
"""

from __future__ import annotations

from django.conf import settings
from django.dispatch import Signal

# Sent with user, request (or None) and where ("login", "api-login", "enrolment",
# "signature") each time a code is refused.
code_refused = Signal()

# The session of a user who has signed once with password and code: later signatures of
# the same continuous session need only the password (21 CFR 11.200(a)(1)(i)).
SIGNED_WITH_CODE_SESSION_KEY = "_celltrack_signed_with_code"


def requires_two_factors(user) -> bool:
    """Whether `user` must log in (and first sign) with a code: a member of one of the
    `OTP_REQUIRED_ROLES` groups. Remembered on the user object for the request."""
    if user is None or not user.is_authenticated:
        return False
    cached = getattr(user, "_celltrack_requires_two_factors", None)
    if cached is None:
        cached = user.groups.filter(name__in=settings.OTP_REQUIRED_ROLES).exists()
        user._celltrack_requires_two_factors = cached
    return cached


def confirmed_device(user):
    """The user's confirmed TOTP device (the oldest, if an administrator made several)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def check_code(user, device, code: str, *, request=None, where: str) -> bool:
    """Verify `code` against `device` (one use per code, throttled by django-otp after
    failures); a refusal is announced with `code_refused`. A device that is throttled
    refuses without counting (`device.verify_is_allowed()` says until when)."""
    from django_otp import verify_token

    code = (code or "").strip().replace(" ", "")
    if device is None or device.user_id != user.pk:
        verified = False
    else:
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            return False
        verified = verify_token(user, device.persistent_id, code) is not None
    if not verified:
        code_refused.send(sender=check_code, user=user, request=request, where=where)
    return verified


def throttled_until(device):
    """When a device that refused too many codes accepts one again (None: it does now)."""
    if device is None:
        return None
    allowed, info = device.verify_is_allowed()
    return None if allowed else (info or {}).get("locked_until")
