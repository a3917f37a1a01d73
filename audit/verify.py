"""Recomputing the audit chain: is every event unchanged, present and in its place?

`verify_chain()` streams the events in `seq` order straight from the database cursor (no
model instances), recomputes each event's SHA-256 from its stored content, and checks
that `seq` runs 1, 2, 3 … without gaps and that each `prev_hash` is the hash of the event
before. It stops at the first broken event and says why:

- "changed content": the stored content no longer hashes to the stored hash (or an event
  was edited and its hash recomputed, so the next event links to a hash nobody has);
- "missing event": a gap in `seq`, or a checkpoint names an event that is gone;
- "reordered": the event is authentic but stands at another position than it was written;
- "checkpoint mismatch": the chain is self-consistent but disagrees with a signed
  checkpoint, i.e. it was recomputed after the checkpoint;
- "checkpoint invalid": a checkpoint's HMAC is wrong (altered, or made with another key).
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from django.db import connection

from audit.chain import (
    FIELD_COUNT,
    GENESIS_HASH,
    SEPARATOR,
    canonical_json,
    canonical_text,
    text_hash,
)
from audit.checkpoints import CheckpointError, checkpoint_key, mac_is_valid, stored_checkpoints

CHANGED = "changed content"
MISSING = "missing event"
REORDERED = "reordered"
DUPLICATE = "duplicate position"
CHECKPOINT_MISMATCH = "checkpoint mismatch"
CHECKPOINT_INVALID = "checkpoint invalid"

_COLUMNS = (
    "id, seq, {occurred_at}, actor_username, origin, action, object_type, object_id, "
    "object_repr, {changes}, reason, prev_hash, hash"
)
_FETCH_SIZE = 20_000
_ZERO = datetime.timedelta(0)


@dataclass
class VerificationResult:
    """What `verify_audit` and the API report. `count` is the number of events verified
    intact (all of them when `intact`, those before the first break otherwise)."""

    intact: bool
    count: int
    first_broken_seq: int | None = None
    first_broken_id: int | None = None
    reason: str | None = None
    detail: str = ""
    checkpoints_checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.intact:
            text = f"intact: {self.count} events"
            if self.checkpoints_checked:
                text += f", {self.checkpoints_checked} checkpoints"
            return text
        where = f"event #{self.first_broken_seq}" if self.first_broken_seq else "checkpoint"
        if self.first_broken_id is not None:
            where += f" (id {self.first_broken_id})"
        return f"BROKEN at {where}: {self.reason}. {self.detail}".strip()


def _isoformat_utc(value) -> str:
    """The stored time as it was hashed: `datetime.isoformat()` of the UTC time.

    SQLite hands back a naive datetime in UTC (or Django's storage text,
    "YYYY-MM-DD HH:MM:SS[.ffffff]", without its converters); PostgreSQL an aware one.
    """
    if isinstance(value, str):
        return value.replace(" ", "T", 1) + "+00:00"
    offset = value.utcoffset()
    if offset is None:
        return value.isoformat() + "+00:00"
    if offset != _ZERO:
        value = value.astimezone(datetime.UTC)
    return value.isoformat()


def _hash_of(row, seq=None) -> str:
    """The hash of a stored row, recomputed (at position `seq` if given).

    The stored `changes` text is hashed as it is when it is in canonical form (always,
    for events this code wrote); otherwise it is parsed and put in canonical form first.
    """
    (_, stored_seq, occurred_at, actor, origin, action, otype, oid, orepr, changes, reason,
     prev_hash, stored_hash) = row  # fmt: skip
    fields = [
        stored_seq if seq is None else seq, _isoformat_utc(occurred_at), actor, origin,
        action, otype, oid, orepr, changes, reason, prev_hash,
    ]  # fmt: skip
    text = canonical_text(*fields)
    if text.count(SEPARATOR) == FIELD_COUNT - 1 and text_hash(text) == stored_hash:
        return stored_hash
    try:
        fields[8] = canonical_json(json.loads(changes))
    except ValueError:
        return ""
    text = canonical_text(*fields)
    if text.count(SEPARATOR) != FIELD_COUNT - 1:
        return ""
    return text_hash(text)


def _one(sql: str, params) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _diagnose_content(row) -> tuple[str, str]:
    """The row does not hash to its stored hash: altered, or authentic but moved?"""
    seq, prev_hash, stored_hash = row[1], row[11], row[12]
    candidates = []
    before = _one("SELECT seq FROM audit_auditevent WHERE hash = %s", [prev_hash])
    if before:
        candidates.append(before[0] + 1)
    after = _one("SELECT seq FROM audit_auditevent WHERE prev_hash = %s", [stored_hash])
    if after:
        candidates.append(after[0] - 1)
    if prev_hash == GENESIS_HASH:
        candidates.append(1)
    for candidate in candidates:
        if candidate != seq and _hash_of(row, seq=candidate) == stored_hash:
            return REORDERED, (
                f"the event stored at position {seq} was written at position {candidate}; "
                "events were swapped or moved"
            )
    return CHANGED, (
        f"the stored content of event {seq} does not hash to its recorded hash "
        f"{stored_hash[:12]}…: a field was altered after it was written"
    )


def _load_checkpoints(extra: Iterable | None, notes: list[str]):
    records = stored_checkpoints() + list(extra or [])
    if not records:
        return {}, [], None
    try:
        key = checkpoint_key()
    except CheckpointError:
        key = None
        notes.append(
            "AUDIT_CHECKPOINT_KEY is not set: checkpoint signatures were not checked, only "
            "their positions and hashes."
        )
    invalid = [r for r in records if key is not None and not mac_is_valid(key, r)]
    by_seq: dict[int, list] = {}
    for record in records:
        by_seq.setdefault(record.seq, []).append(record)
    return by_seq, invalid, key


def verify_chain(*, checkpoints: bool = True, extra_checkpoints=None) -> VerificationResult:
    """Recompute the whole chain and report whether it is intact or where it first breaks.

    With `checkpoints`, also checks every stored checkpoint (and any `extra_checkpoints`,
    e.g. read from an inspector's exported file): its HMAC under AUDIT_CHECKPOINT_KEY, and
    that the event at its `seq` still has its hash.
    """
    started = time.perf_counter()
    notes: list[str] = []
    by_seq, invalid, _ = (
        _load_checkpoints(extra_checkpoints, notes) if checkpoints else ({}, [], None)
    )
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the scan keeps nothing alive; collections would only cost time
    try:
        result, expected, prev_hash, count, checked = _scan(by_seq)
    finally:
        if gc_was_enabled:
            gc.enable()
    if result is None and by_seq:
        record = by_seq[min(by_seq)][0]
        result = VerificationResult(
            intact=False,
            count=count,
            first_broken_seq=expected,
            reason=MISSING,
            detail=(
                f"checkpoint of {record.recorded_at} ({record.source}) records event "
                f"{record.seq}, but the trail ends at event {expected - 1}: events were "
                "removed from its end"
            ),
        )
    if result is None and invalid:
        record = invalid[0]
        result = VerificationResult(
            intact=False,
            count=count,
            reason=CHECKPOINT_INVALID,
            detail=(
                f"the checkpoint for event {record.seq} of {record.recorded_at} "
                f"({record.source}) has a wrong HMAC: it was altered or made with another key"
            ),
        )
    if result is None:
        result = VerificationResult(intact=True, count=count)
    result.head_seq = expected - 1
    result.head_hash = prev_hash
    result.checkpoints_checked = checked
    result.notes = notes
    result.seconds = time.perf_counter() - started
    return result


_SQLITE_TIME = "replace(occurred_at, ' ', 'T') || '+00:00'"
_PG_TIME = (
    "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
    "CASE WHEN extract(microseconds FROM occurred_at)::bigint % 1000000 = 0 THEN '' "
    "ELSE to_char(occurred_at AT TIME ZONE 'UTC', '.US') END || '+00:00'"
)


def _content_sql() -> str:
    """SELECT id, seq, canonical text, prev_hash, hash: the text is built by the database.

    Joining eleven columns in SQL is several times faster than fetching them and joining
    them in Python. The SQL is only a fast path: when its text does not hash to the
    stored hash, the row is recomputed in Python by `_hash_of` (the reference), so a
    formatting difference costs time, never a wrong verdict.
    """
    if connection.vendor == "postgresql":
        sep, time_sql = "chr(31)", _PG_TIME
    else:
        sep, time_sql = "char(31)", _SQLITE_TIME
    parts = [
        "seq",
        time_sql,
        "actor_username",
        "origin",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "changes",
        "reason",
        "prev_hash",
    ]
    text = f" || {sep} || ".join(f"({part})" for part in parts)
    return f"SELECT id, seq, {text}, prev_hash, hash FROM audit_auditevent ORDER BY seq"  # noqa: S608


def _full_row(event_id):
    """One event's columns, for the Python reference computation and diagnosis."""
    if connection.vendor == "sqlite":
        columns = _COLUMNS.format(occurred_at="occurred_at || ''", changes="changes")
    else:
        columns = _COLUMNS.format(occurred_at="occurred_at", changes="changes::text")
    return _one(f"SELECT {columns} FROM audit_auditevent WHERE id = %s", [event_id])  # noqa: S608


def _scan(by_seq: dict):
    """Stream every event in `seq` order; stop at the first break (the hot loop)."""
    checked = 0
    result = None
    expected, prev_hash, prev_id, count = 1, GENESIS_HASH, None, 0
    sha256 = hashlib.sha256
    separators = FIELD_COUNT - 1
    with connection.chunked_cursor() as cursor:
        cursor.execute(_content_sql())
        while result is None:
            rows = cursor.fetchmany(_FETCH_SIZE)
            if not rows:
                break
            for id_, seq, text, link, stored_hash in rows:
                if (
                    sha256(text.encode()).hexdigest() != stored_hash
                    or text.count(SEPARATOR) != separators
                    or seq != expected
                    or link != prev_hash
                ):
                    row = _full_row(id_)
                    result = _diagnose(row, _hash_of(row), expected, prev_hash, prev_id)
                    if result is not None:
                        break
                if seq in by_seq:
                    for record in by_seq.pop(seq):
                        checked += 1
                        if record.event_hash != stored_hash:
                            result = _checkpoint_mismatch(record, seq, id_, stored_hash, count)
                            break
                    if result is not None:
                        break
                expected, prev_hash, prev_id = seq + 1, stored_hash, id_
                count += 1
    return result, expected, prev_hash, count, checked


def _checkpoint_mismatch(record, seq, id_, stored_hash, count) -> VerificationResult:
    return VerificationResult(
        intact=False,
        count=count,
        first_broken_seq=seq,
        first_broken_id=id_,
        reason=CHECKPOINT_MISMATCH,
        detail=(
            f"checkpoint of {record.recorded_at} ({record.source}) recorded hash "
            f"{record.event_hash[:12]}… for event {seq}, the trail now has "
            f"{stored_hash[:12]}…: the chain was rewritten at or before event {seq}"
        ),
    )


def _diagnose(row, computed, expected, prev_hash, prev_id) -> VerificationResult | None:
    """Explain the first row that does not continue the chain; None if it does after all."""
    id_, seq, link, stored_hash = row[0], row[1], row[11], row[12]
    count = expected - 1

    def broken(reason, detail, at_seq=seq, at_id=id_):
        return VerificationResult(
            intact=False,
            count=min(count, at_seq - 1),
            first_broken_seq=at_seq,
            first_broken_id=at_id,
            reason=reason,
            detail=detail,
        )

    if seq > expected:
        missing = (
            f"event {expected} is" if seq == expected + 1 else f"events {expected}–{seq - 1} are"
        )
        return broken(
            MISSING,
            f"{missing} no longer in the trail: event {seq} follows event {expected - 1}",
            at_seq=expected,
            at_id=None,
        )
    if seq < expected:
        return broken(DUPLICATE, f"two events claim position {seq}")
    if computed != stored_hash:
        reason, detail = _diagnose_content(row)
        return broken(reason, detail)
    if link != prev_hash:
        target = _one("SELECT seq FROM audit_auditevent WHERE hash = %s", [link])
        if target:
            return broken(
                REORDERED,
                f"event {seq} was written after event {target[0]}, not after event {seq - 1}",
            )
        return broken(
            CHANGED,
            f"event {seq - 1} was altered and its hash recomputed: event {seq} still links "
            f"to its original hash {link[:12]}…, which no event has",
            at_seq=seq - 1,
            at_id=prev_id,
        )
    return None
