"""Electronic signatures (21 CFR 11.50 / 11.200 style) bound to a record's content.

`sign()` checks the password the signer re-entered at the moment of signing, records
the printed name, the time and the meaning, and binds the signature to a SHA-256 of the
signed content, so `signature_matches()` shows later whether the record still is what
was signed (and `hash_matches()`, for lists, compares a hash the record's services keep
of its current content, without rebuilding it). Every signature also writes a "sign"
event on the audit trail.

Signing is guarded like a login (`verify_signer`, which `sign()` and the signing forms'
`audit.signing_forms.SignatureFormMixin` both call):

- After `SIGNATURE_FAILURE_LIMIT` wrong passwords or codes in a row (3; within
  `SIGNATURE_COOLOFF_MINUTES` of each other), signing is blocked for the user for
  `SIGNATURE_COOLOFF_MINUTES`, and the refusal names until when. Every failure
  (`sign_failed`), the block (`sign_blocked`) and each attempt refused during it
  (`sign_refused`) are on the trail; the count is read from the trail itself, so every
  worker and server sees the same. A signature (`sign`) ends a run of failures.
- For the roles with two factors, the first signature of a continuous session needs the
  authenticator's code as well as the password; later ones of that session only the
  password (21 CFR 11.200(a)(1)(i)). That needs the session, which a form has: without
  one (a service called by a command or a test) only the password is checked.

A failure is written in its own transaction, so it stays on the trail although the
signature is refused — provided the check runs outside the caller's transaction, as a
form's validation does. Inside a transaction the caller then rolls back (a service that
refuses changes nothing), the failure with it: call `verify_signer` first there.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import hmac
import json

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.exceptions import AuditError
from audit.models import AuditEvent, Signature
from audit.writer import write_event
from core.formatting import fmt_time
from core.two_factor import (
    SIGNED_WITH_CODE_SESSION_KEY,
    check_code,
    confirmed_device,
    requires_two_factors,
)

SIGNED = "sign"
SIGN_FAILED = "sign_failed"
SIGN_BLOCKED = "sign_blocked"
SIGN_REFUSED = "sign_refused"


class SignatureError(AuditError):
    """The signature could not be made (wrong password, inactive user, no printed name)."""


def _default(value):
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    return str(value)


def canonical_json(content: dict) -> bytes:
    """Sorted, compact JSON: the same content always gives the same bytes."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode()


def content_hash(content: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of `content`."""
    return hashlib.sha256(canonical_json(content)).hexdigest()


def signature_matches(signature: Signature, content: dict) -> bool:
    """Whether `content` is still exactly what `signature` signed."""
    return hash_matches(signature, content_hash(content))


def hash_matches(signature: Signature, digest: str) -> bool:
    """Whether `digest` — the hash of a record's content, kept up to date by the
    record's services — is what `signature` signed: the comparison in bulk, for a list of
    records, without rebuilding each one's content (a blank digest never matches)."""
    return bool(digest) and hmac.compare_digest(signature.content_hash, digest)


def _cooloff() -> datetime.timedelta:
    return datetime.timedelta(minutes=settings.SIGNATURE_COOLOFF_MINUTES)


def _local(moment: datetime.datetime) -> str:
    return f"{fmt_time(moment)} ({timezone.get_current_timezone_name()})"


def signing_state(signer, now: datetime.datetime | None = None):
    """(blocked until, failures in the current run) for `signer`, read from the trail.

    Blocked: the signer's latest `sign`/`sign_blocked` event is a block that has not yet
    ended. The run: `sign_failed` events after that event and within the cool-off."""
    now = now or timezone.now()
    events = AuditEvent.objects.filter(actor=signer)
    last = (
        events.filter(action__in=(SIGNED, SIGN_BLOCKED))
        .order_by("-seq")
        .values("seq", "action", "changes")
        .first()
    )
    if last is not None and last["action"] == SIGN_BLOCKED:
        until = datetime.datetime.fromisoformat(last["changes"]["blocked_until"][1])
        if until > now:
            return until, 0
    failures = events.filter(
        action=SIGN_FAILED,
        seq__gt=last["seq"] if last else 0,
        occurred_at__gte=now - _cooloff(),
    ).count()
    return None, failures


def signature_needs_code(signer, session) -> bool:
    """Whether the next signature in `session` must carry the authenticator's code: the
    signer's role logs in with two factors and has not yet signed with it in this
    session. Without a session (no interactive signing), False."""
    if session is None or signer is None:
        return False
    return requires_two_factors(signer) and not session.get(SIGNED_WITH_CODE_SESSION_KEY)


def _signer_event(action, signer, *, reason="", **changes):
    write_event(
        action=action,
        object_type="auth.user",
        object_id=str(signer.pk),
        object_repr=signer.get_username(),
        changes={key: [None, value] for key, value in changes.items()},
        reason=reason,
        actor=signer,
    )


def verify_signer(signer, password: str, *, otp_code: str = "", session=None) -> None:
    """Check the signing credentials of `signer`, counting failures (see the module).

    Refuses with SignatureError — whose `field` is "password" or "otp_code" — when the
    account is inactive, signing is blocked, the password is wrong, or a needed code is
    missing or wrong. On success with a code, marks `session` so the next signatures of
    the session need only the password."""
    if signer is None or not signer.is_active:
        raise SignatureError("The password is not correct: nothing was signed.", field="password")
    now = timezone.now()
    blocked_until, failures = signing_state(signer, now)
    if blocked_until is not None:
        with transaction.atomic():
            _signer_event(
                SIGN_REFUSED,
                signer,
                reason="signing blocked",
                blocked_until=blocked_until.isoformat(),
            )
        raise SignatureError(
            f"Signing is blocked until {_local(blocked_until)} after "
            f"{settings.SIGNATURE_FAILURE_LIMIT} failed attempts: nothing was signed.",
            field="password",
        )
    needs_code = signature_needs_code(signer, session)
    problem = field = None
    if not signer.check_password(password or ""):
        problem, field = "The password is not correct: nothing was signed.", "password"
    elif needs_code and not (otp_code or "").strip():
        problem, field = (
            "Enter the code from your authenticator app: the first signature of a "
            "session needs it as well as the password.",
            "otp_code",
        )
    elif needs_code and not check_code(
        signer, confirmed_device(signer), otp_code, where="signature"
    ):
        problem, field = (
            "The code is not correct or was already used: enter the code your "
            "authenticator app shows now. Nothing was signed.",
            "otp_code",
        )
    if problem is None:
        if needs_code:
            session[SIGNED_WITH_CODE_SESSION_KEY] = True
        return
    failures += 1
    limit = settings.SIGNATURE_FAILURE_LIMIT
    with transaction.atomic():
        _signer_event(
            SIGN_FAILED,
            signer,
            reason="wrong password" if field == "password" else "wrong or missing code",
            attempt=failures,
            limit=limit,
        )
        if failures >= limit:
            blocked_until = now + _cooloff()
            _signer_event(
                SIGN_BLOCKED,
                signer,
                reason=f"{failures} failed signing attempts",
                blocked_until=blocked_until.isoformat(),
            )
    if blocked_until is not None:
        problem += (
            f" Signing is now blocked until {_local(blocked_until)} after {limit} failed attempts."
        )
    else:
        left = limit - failures
        problem += (
            f" {left} more failed attempt{'s' if left != 1 else ''} and signing is blocked "
            f"for {settings.SIGNATURE_COOLOFF_MINUTES} minutes."
        )
    raise SignatureError(problem, field=field)


def sign(
    *,
    signer,
    password: str,
    meaning: str,
    object_type: str,
    object_id,
    content: dict,
    comment: str = "",
    object_repr: str = "",
    otp_code: str = "",
    session=None,
    signed_at=None,
) -> Signature:
    """Make one signature after re-checking the signer's credentials (`verify_signer`).

    `signed_at` (default now) places a signature loaded from earlier records (the demo)
    in time; its audit event keeps the time it was written.

    Refuses (SignatureError; no signature written) when the account is inactive, signing
    is blocked, the password (or a needed code) is wrong, or the account has no full name
    to print on the signature. Writes the Signature and an audit event "sign" carrying the
    meaning and the content hash.
    """
    if meaning not in Signature.Meaning.values:
        raise SignatureError(f"'{meaning}' is not a signature meaning.")
    verify_signer(signer, password, otp_code=otp_code, session=session)
    printed_name = signer.get_full_name().strip()
    if not printed_name:
        raise SignatureError(
            "Your account has no full name to print on a signature: ask an administrator "
            "to add it, then sign again."
        )
    with transaction.atomic():
        return _record_signature(
            signer=signer,
            printed_name=printed_name,
            meaning=meaning,
            object_type=object_type,
            object_id=object_id,
            content=content,
            comment=comment,
            object_repr=object_repr,
            signed_at=signed_at,
        )


def _record_signature(
    *,
    signer,
    printed_name,
    meaning,
    object_type,
    object_id,
    content,
    comment,
    object_repr,
    signed_at=None,
) -> Signature:
    digest = content_hash(content)
    signature = Signature.objects.create(
        signer=signer,
        printed_name=printed_name,
        signed_at=signed_at or timezone.now(),
        meaning=meaning,
        object_type=object_type,
        object_id=str(object_id),
        content_hash=digest,
        comment=comment,
    )
    write_event(
        action=SIGNED,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr or str(object_id),
        changes={
            "signature": [None, signature.pk],
            "meaning": [None, meaning],
            "printed_name": [None, printed_name],
            "content_hash": [None, digest],
        },
        reason=comment,
        actor=signer,
    )
    return signature
