"""The hash chain: canonical content of an event and its SHA-256.

Kept free of the ORM so that `verify_audit` can recompute hashes over raw rows quickly
and tests can cover it directly.
"""

import hashlib
import json

GENESIS_HASH = "0" * 64


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
    """The bytes an event's hash covers: every field, in a fixed order and encoding."""
    return json.dumps(
        [
            seq,
            occurred_at,
            actor_username,
            origin,
            action,
            object_type,
            object_id,
            object_repr,
            changes,
            reason,
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def event_hash(**content) -> str:
    return hashlib.sha256(canonical_content(**content)).hexdigest()
