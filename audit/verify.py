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

Speed (docs/performance.md): the database builds each event's canonical content and
hands it over as bytes, so Python only hashes and compares. A large chain of committed
events is first checked in ranges on separate connections at once (`_parallel_scan`);
that pass can only clear a chain — on any doubt the serial scan runs and reports.
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from django.db import connection, transaction

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
_SEPARATOR_BYTE = SEPARATOR.encode()
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


def verify_chain(
    *, checkpoints: bool = True, extra_checkpoints=None, workers: int | None = None
) -> VerificationResult:
    """Recompute the whole chain and report whether it is intact or where it first breaks.

    With `checkpoints`, also checks every stored checkpoint (and any `extra_checkpoints`,
    e.g. read from an inspector's exported file): its HMAC under AUDIT_CHECKPOINT_KEY, and
    that the event at its `seq` still has its hash.

    A chain of `PARALLEL_MIN_EVENTS` or more committed events is first checked in
    `workers` ranges at once (default: one per CPU, at most 4; 1 = serial only); any
    doubt and the serial scan decides, so the verdict never depends on it.
    """
    started = time.perf_counter()
    notes: list[str] = []
    by_seq, invalid, _ = (
        _load_checkpoints(extra_checkpoints, notes) if checkpoints else ({}, [], None)
    )
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the scan keeps nothing alive; collections would only cost time
    try:
        workers = _default_workers() if workers is None else workers
        scanned = None
        if workers > 1 and _parallel_possible():
            scanned = _parallel_scan(by_seq, workers)
        if scanned is None:
            scanned = _scan(by_seq)
        result, expected, prev_hash, count, checked = scanned
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
# One to_char; ".000000" (a whole second) is dropped, as `datetime.isoformat()` does.
_PG_TIME = (
    "replace(to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "
    "'.000000', '') || '+00:00'"
)
_CONTENT_COLUMNS = (
    "seq",
    "occurred_at",
    "actor_username",
    "origin",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "reason",
    "prev_hash",
)
# SQLite's printf builds the content in one piece (`||` copies it at every step); the
# format, with its U+001F separators, is a parameter. printf makes NULL an empty field,
# so a NULL anywhere makes the content NULL instead, which never hashes right.
_SQLITE_FORMAT = SEPARATOR.join(["%d"] + ["%s"] * (FIELD_COUNT - 1))


def _content_sql(vendor: str, *, ranged: bool = False) -> tuple[str, list]:
    """SELECT id, seq, canonical content (UTF-8 bytes), prev_hash, hash, in `seq` order,
    and its parameters; with `ranged`, only `seq BETWEEN %s AND %s` (two more).

    The database builds each event's content (several times faster than fetching the
    columns and joining them in Python) and hands it over as bytes, so Python neither
    decodes nor re-encodes it before hashing. The SQL is only a fast path: when its bytes
    do not hash to the stored hash, the row is recomputed in Python by `_hash_of` (the
    reference), so a formatting difference costs time, never a wrong verdict.
    """
    if vendor == "postgresql":
        parts = [_PG_TIME if c == "occurred_at" else c for c in _CONTENT_COLUMNS]
        content = f"convert_to(concat_ws(chr(31), {', '.join(parts)}), 'UTF8')"
        params = []
    else:
        parts = [_SQLITE_TIME if c == "occurred_at" else c for c in _CONTENT_COLUMNS]
        nulls = " OR ".join(f"{c} IS NULL" for c in _CONTENT_COLUMNS)
        content = (
            f"CASE WHEN {nulls} THEN NULL ELSE CAST(printf(%s, {', '.join(parts)}) AS BLOB) END"
        )
        params = [_SQLITE_FORMAT]
    where = " WHERE seq BETWEEN %s AND %s" if ranged else ""
    sql = f"SELECT id, seq, {content}, prev_hash, hash FROM audit_auditevent{where} ORDER BY seq"  # noqa: S608
    return sql, params


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
    separator, separators = _SEPARATOR_BYTE, FIELD_COUNT - 1
    with _content_cursor() as cursor:
        fetchmany = cursor.fetchmany
        while result is None:
            rows = fetchmany(_FETCH_SIZE)
            if not rows:
                break
            for id_, seq, content, link, stored_hash in rows:
                if (
                    seq != expected
                    or link != prev_hash
                    or content is None
                    or sha256(content).hexdigest() != stored_hash
                    or content.count(separator) != separators
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


def _no_server_cursors() -> bool:
    """Django's flag for a pooler in transaction mode (PgBouncer): no server-side cursor."""
    return bool(connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"))


@contextmanager
def _content_cursor():
    """A cursor over `_content_sql` on the connection the caller uses (so a caller inside
    a transaction also verifies its own, not yet committed events).

    On PostgreSQL: the driver's server-side cursor, in a transaction (when there is none,
    Django's would be a WITH HOLD cursor, which the server materialises in full before
    the first row), with binary results (bytea arrives as bytes, not as hex text).
    """
    sql, params = _content_sql(connection.vendor)
    if connection.vendor != "postgresql" or _no_server_cursors():
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            yield cursor
        return
    with transaction.atomic():
        cursor = connection.connection.cursor(name="audit_verify", binary=True)
        try:
            with connection.wrap_database_errors:
                cursor.execute(sql, params)
            yield cursor
        finally:
            cursor.close()


# --- parallel verification of large chains -----------------------------------------------
#
# The chain's links only cross a range's border once, so ranges of `seq` can be checked
# independently, each on its own database connection in its own thread (the server
# builds the content in its own processes, and the driver waits for each batch of rows
# without holding the GIL), and then
# stitched together: range k+1 must start with the link to range k's last hash. This pass
# only ever *clears* a chain. At the first anything — a gap, a bad hash, a broken border,
# a checkpoint that disagrees — the ordinary serial scan runs instead and gives the
# verdict, so the report (first broken event and reason) is the same as ever.

PARALLEL_MIN_EVENTS = 200_000


def _default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def _parallel_possible() -> bool:
    """PostgreSQL only, and only for committed data read over separate connections:
    never inside a transaction (its own uncommitted events would be invisible to the
    other connections), never through a connection pool or a pooler (server-side
    cursors disabled).

    Not on SQLite: there the database works inside this process and hands over the GIL
    at every row, so threads queue for it and run slower than one (measured: 150,000
    against 280,000 events/s); the serial scan is the fast path there."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    return not (connection.settings_dict.get("OPTIONS", {}).get("pool") or _no_server_cursors())


def _check_range(driver_connection, vendor: str, first: int, last: int, wanted: frozenset):
    """Check events first..last (by seq) on their own connection.

    Returns (ok, first_link, last_hash, hashes of the `wanted` positions). ok is False at
    the first event that is missing, out of place, or does not hash to its hash; the
    serial scan then says what is wrong.
    """
    sha256 = hashlib.sha256
    separator, separators = _SEPARATOR_BYTE, FIELD_COUNT - 1
    expected, prev_hash, first_link = first, None, None
    hashes = {}
    try:
        if vendor == "postgresql":
            driver_connection.autocommit = False
            cursor = driver_connection.cursor(name=f"verify_{first}", binary=True)
        else:
            cursor = driver_connection.cursor()
        sql, params = _content_sql(vendor, ranged=True)
        if vendor == "sqlite":
            sql = sql.replace("%s", "?")
        cursor.execute(sql, [*params, first, last])
        fetchmany = cursor.fetchmany
        while True:
            rows = fetchmany(_FETCH_SIZE)
            if not rows:
                break
            if first_link is None:
                first_link = prev_hash = rows[0][3]
            for _, seq, content, link, stored_hash in rows:
                if (
                    seq != expected
                    or link != prev_hash
                    or content is None
                    or sha256(content).hexdigest() != stored_hash
                    or content.count(separator) != separators
                ):
                    return False, None, None, None
                if seq in wanted:
                    hashes[seq] = stored_hash
                expected, prev_hash = seq + 1, stored_hash
        cursor.close()
    finally:
        driver_connection.close()
    return expected == last + 1, first_link, prev_hash, hashes


def _parallel_scan(by_seq: dict, workers: int):
    """`_scan`'s result for an intact chain, checked in `workers` ranges at once; None
    when the serial scan must decide (a break, or a chain too small to split)."""
    head = _one("SELECT max(seq) FROM audit_auditevent", [])
    head = head[0] if head else None
    if not head or head < max(PARALLEL_MIN_EVENTS, 2):
        return None
    wanted = frozenset(seq for seq in by_seq if 1 <= seq <= head)
    step = -(-head // workers)
    ranges = [(first, min(head, first + step - 1)) for first in range(1, head + 1, step)]
    connection.ensure_connection()
    params = connection.get_connection_params()
    outcomes: list = [None] * len(ranges)

    def run(index, driver_connection, first, last):
        try:
            outcomes[index] = _check_range(
                driver_connection, connection.vendor, first, last, wanted
            )
        except Exception:  # noqa: BLE001  (any trouble: the serial scan decides)
            outcomes[index] = (False, None, None, None)

    driver_connections = []
    try:
        for _ in ranges:
            driver_connections.append(connection.get_new_connection(params))
    except Exception:  # noqa: BLE001  (no connections to spare: verify serially)
        for driver_connection in driver_connections:
            driver_connection.close()
        return None
    threads = [
        threading.Thread(
            target=run,
            args=(index, driver_connection, first, last),
            name=f"verify_audit-{index}",
            daemon=True,
        )
        for index, (driver_connection, (first, last)) in enumerate(
            zip(driver_connections, ranges, strict=True)
        )
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    prev_hash, hashes = GENESIS_HASH, {}
    for outcome in outcomes:
        ok, first_link, last_hash, found = outcome or (False, None, None, None)
        if not ok or first_link != prev_hash:
            return None
        prev_hash = last_hash
        hashes.update(found)
    checked = 0
    for seq in sorted(wanted):
        for record in by_seq[seq]:
            checked += 1
            if record.event_hash != hashes.get(seq):
                return None
    for seq in wanted:
        del by_seq[seq]
    return None, head + 1, prev_hash, head, checked


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
