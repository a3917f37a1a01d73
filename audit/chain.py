"""The hash chain: canonical content of an event and its SHA-256.

Kept free of the ORM so that `verify_audit` can recompute hashes over raw rows quickly
and tests can cover it directly.
"""

import hashlib
import json

GENESIS_HASH = "0" * 64

# One encoder, built once: `json.dumps` with options builds a new encoder on every call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_sha256 = hashlib.sha256


def _c_encoder():
    """The C encoder behind `_ENCODER.encode`, made once instead of on every call (what
    `JSONEncoder.iterencode` does). The same output; without the circular-reference
    check (a snapshot cannot contain itself). None where the C accelerator is missing."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        return make(
            None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",",
            True, False, True,
        )  # fmt: skip
    except TypeError:  # another signature: keep the documented path
        return None


_C_ENCODE = _c_encoder()

# Fields are joined by U+001F (UNIT SEPARATOR). No field may contain it: the writer
# replaces it in free text (`clean_text`), and JSON escapes it as \u001f, so an event's
# content splits back into exactly its eleven fields and no two contents share bytes.
SEPARATOR = "\x1f"
FIELD_COUNT = 11
_TEMPLATE = SEPARATOR.join(["%d"] + ["%s"] * (FIELD_COUNT - 1))


def canonical_json(value) -> str:
    """Sorted keys, no spaces, UTF-8 text: the one text form of a JSON value.

    `AuditEvent.changes` is stored in exactly this form, so the verifier hashes the
    stored text without parsing it.
    """
    if _C_ENCODE is not None:
        return "".join(_C_ENCODE(value, 0))
    return _ENCODER.encode(value)


def clean_text(value: str) -> str:
    """Free text as it may enter the chain: without the field separator."""
    return value.replace(SEPARATOR, "\ufffd")


def canonical_content(
    *,
    seq: int,
    occurred_at: str,
    actor_username: str,
    origin: str,
    action: str,
    object_type: str,
    object_id: str,
    object_repr: str,
    changes: dict,
    reason: str,
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash covers: every field, in a fixed order and encoding.

    `occurred_at` is the ISO 8601 form of the UTC time (`datetime.isoformat()`), and
    `changes` its canonical JSON. Fields are joined by U+001F; a field containing it is
    refused, because it would make two different events share one content.
    """
    text = canonical_text(
        seq, occurred_at, actor_username, origin, action, object_type, object_id,
        object_repr, canonical_json(changes), reason, prev_hash,
    )  # fmt: skip
    if text.count(SEPARATOR) != FIELD_COUNT - 1:
        raise ValueError("audit event fields must not contain U+001F")
    return text.encode()


def canonical_text(
    seq, occurred_at, actor_username, origin, action, object_type, object_id, object_repr,
    changes_json, reason, prev_hash,
) -> str:  # fmt: skip
    """`canonical_content` from positional fields, with `changes` already canonical JSON."""
    return _TEMPLATE % (
        seq, occurred_at, actor_username, origin, action, object_type, object_id,
        object_repr, changes_json, reason, prev_hash,
    )  # fmt: skip


def event_hash(**content) -> str:
    return _sha256(canonical_content(**content)).hexdigest()


def text_hash(text: str) -> str:
    return _sha256(text.encode()).hexdigest()


def row_hash(
    seq, occurred_at, actor_username, origin, action, object_type, object_id, object_repr,
    changes, reason, prev_hash,
) -> str:  # fmt: skip
    """`event_hash` with positional arguments (`changes` as a dict or list)."""
    return event_hash(
        seq=seq, occurred_at=occurred_at, actor_username=actor_username, origin=origin,
        action=action, object_type=object_type, object_id=object_id,
        object_repr=object_repr, changes=changes, reason=reason, prev_hash=prev_hash,
    )  # fmt: skip
