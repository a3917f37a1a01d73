"""Electronic signatures (21 CFR 11.50 / 11.200 style) bound to a record's content.

`sign()` checks the password the signer re-entered at the moment of signing, records
the printed name, the time and the meaning, and binds the signature to a SHA-256 of the
signed content, so `signature_matches()` shows later whether the record still is what
was signed. Every signature also writes a "sign" event on the audit trail.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import hmac
import json

from django.db import transaction
from django.utils import timezone

from audit.exceptions import AuditError
from audit.models import Signature
from audit.writer import write_event


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
    return hmac.compare_digest(signature.content_hash, content_hash(content))


@transaction.atomic
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
) -> Signature:
    """Make one signature after re-checking the signer's password.

    Refuses (SignatureError, nothing written) when the account is inactive, the password
    is wrong, or the account has no full name to print on the signature. Writes the
    Signature and an audit event "sign" carrying the meaning and the content hash.
    """
    if meaning not in Signature.Meaning.values:
        raise SignatureError(f"'{meaning}' is not a signature meaning.")
    if signer is None or not signer.is_active or not signer.check_password(password or ""):
        raise SignatureError("The password is not correct: nothing was signed.")
    printed_name = signer.get_full_name().strip()
    if not printed_name:
        raise SignatureError(
            "Your account has no full name to print on a signature: ask an administrator "
            "to add it, then sign again."
        )
    digest = content_hash(content)
    signature = Signature.objects.create(
        signer=signer,
        printed_name=printed_name,
        signed_at=timezone.now(),
        meaning=meaning,
        object_type=object_type,
        object_id=str(object_id),
        content_hash=digest,
        comment=comment,
    )
    write_event(
        action="sign",
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
