"""Appending events to the chain: the head's lock, its per-connection cache, the INSERTs.

The one place that takes `seq` and `prev_hash` (see `audit.writer` for how the cached
head is checked by the database, so that it can cost a retry but never a fork).
"""

from __future__ import annotations

import hashlib

from django.db import DEFAULT_DB_ALIAS, connections

from audit.chain import FIELD_COUNT, GENESIS_HASH, SEPARATOR
from audit.writer.sql import (
    CHAIN_LOCK_KEY,
    HEAD_SQL,
    PG_LOCK_SQL,
    DriverCursor,
    open_cursor,
    statements_for,
)

_TEMPLATE = SEPARATOR.join(["%d"] + ["%s"] * (FIELD_COUNT - 1))
_SEPARATORS = FIELD_COUNT - 1
_sha256 = hashlib.sha256


def default_connection():
    return connections[DEFAULT_DB_ALIAS]


def _read_head(cursor) -> tuple[int, str]:
    last = cursor.execute(HEAD_SQL, ()).fetchone()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def _lock(cursor, statements):
    """Take the chain's lock for this transaction; return the transaction id (PostgreSQL)."""
    if statements.postgres:
        return cursor.execute(PG_LOCK_SQL, [CHAIN_LOCK_KEY]).fetchone()[1]
    return None


def lock_chain_head() -> tuple[int, str]:
    """Take the chain's lock for this transaction and return the head (seq, hash).

    On PostgreSQL the lock and the read are separate statements, so the read sees every
    event committed before the lock was granted.
    """
    conn = default_connection()
    statements = statements_for(conn)
    cursor = open_cursor(conn, statements)
    try:
        txid = _lock(cursor, statements)
        seq, head_hash = _read_head(cursor)
    finally:
        cursor.close()
    _remember_head(conn, seq, head_hash, txid)
    return seq, head_hash


# --- the chain head, cached per connection -----------------------------------------------
#
# `conn._audit_head` = (seq, hash, txid, hint). Only ever a guess: each use is checked by
# the database (see the module docstring). `hint` is the connection's list of on-commit
# callbacks, which Django replaces at every commit, rollback and savepoint rollback: on
# PostgreSQL a different list means another transaction, where the cached head would only
# cost a wasted round trip. (The cache keeps the list alive, so no later list can take its
# identity.) Correctness never depends on the hint.


def _remember_head(conn, seq: int, head_hash: str, txid) -> None:
    conn._audit_head = (seq, head_hash, txid, conn.run_on_commit)


def _cached_head(conn, statements):
    head = getattr(conn, "_audit_head", None)
    if head is None or not conn.in_atomic_block:
        return None
    if statements.postgres and (head[2] is None or head[3] is not conn.run_on_commit):
        return None
    return head


def event_hash_of(seq: int, prev_hash: str, fixed: tuple) -> str:
    """The event's hash. `fixed` = its content fields other than seq and prev_hash:
    (occurred_at ISO, actor_username, origin, action, object_type, object_id,
    object_repr, changes JSON, reason) — see `audit.chain.canonical_content`."""
    text = _TEMPLATE % (seq, *fixed, prev_hash)
    if text.count(SEPARATOR) != _SEPARATORS:
        raise ValueError("audit event fields must not contain U+001F")
    return _sha256(text.encode()).hexdigest()


# A batch of up to this many events follows a cached head in one statement.
ROWS_AFTER_HEAD = 32


def _chained_rows(prepared: list, seq: int, prev_hash: str) -> tuple[list, list]:
    """The rows to insert for `prepared` after the event (seq, prev_hash), and their
    (seq, prev_hash, hash)."""
    rows, chained = [], []
    for fixed, stored in prepared:
        seq += 1
        event_hash = event_hash_of(seq, prev_hash, fixed)
        rows.append((seq, *stored, prev_hash, event_hash))
        chained.append((seq, prev_hash, event_hash))
        prev_hash = event_hash
    return rows, chained


def _append_rows_after_head(cursor, statements, prepared: list, head) -> tuple[list, int] | None:
    """A small batch after the cached head in one guarded INSERT (the database checks
    the head, as for one event); None when the check failed and nothing was inserted."""
    rows, chained = _chained_rows(prepared, head[0], head[1])
    params = [value for row in rows for value in row]
    if statements.postgres:
        params.append(head[2])
    params += (head[0], head[1])
    result = cursor.execute(statements.insert_rows_after_head(len(rows)), params)
    if statements.returning:
        ids = [row[0] for row in result.fetchall()]
        return (chained, min(ids)) if len(ids) == len(rows) else None
    if result.rowcount != len(rows):
        return None
    return chained, result.lastrowid - len(rows) + 1  # one statement: consecutive ids


def append_events(conn, prepared: list) -> tuple[list, int]:
    """Append prepared events to the chain, in order, in the current transaction.

    Returns their (seq, prev_hash, hash) and the id of the first. A batch of up to
    `ROWS_AFTER_HEAD` events follows the cached head in one statement (checked by the
    database). Otherwise the first event goes through the cached head when there is one
    (checked likewise), else the slow way; the rest follow it in one batch
    (`_insert_many`), under the lock it holds.
    """
    statements = statements_for(conn)
    cursor = open_cursor(conn, statements)
    try:
        fixed, stored = prepared[0]
        pk = None
        head = _cached_head(conn, statements)
        if head is not None and 1 < len(prepared) <= ROWS_AFTER_HEAD:
            appended = _append_rows_after_head(cursor, statements, prepared, head)
            if appended is not None:
                chained = appended[0]
                _remember_head(conn, chained[-1][0], chained[-1][2], head[2])
                return appended
            head = None  # the head moved: the slow way, below
        if head is not None:
            seq, prev_hash, txid = head[0] + 1, head[1], head[2]
            event_hash = event_hash_of(seq, prev_hash, fixed)
            params = [seq, *stored, prev_hash, event_hash]
            if statements.postgres:
                params.append(txid)
            params += (head[0], prev_hash)
            result = cursor.execute(statements.insert_after_head, params)
            if statements.returning:
                row = result.fetchone()
                pk = row[0] if row else None
            elif result.rowcount == 1:
                pk = result.lastrowid
        if pk is None:
            txid = _lock(cursor, statements)
            seq, prev_hash = _read_head(cursor)
            seq += 1
            event_hash = event_hash_of(seq, prev_hash, fixed)
            result = cursor.execute(statements.insert_one, [seq, *stored, prev_hash, event_hash])
            pk = result.fetchone()[0] if statements.returning else result.lastrowid
        chained = [(seq, prev_hash, event_hash)]
        if len(prepared) > 1:
            rows = []
            for fixed, stored in prepared[1:]:
                prev_hash = event_hash
                seq += 1
                event_hash = event_hash_of(seq, prev_hash, fixed)
                rows.append((seq, *stored, prev_hash, event_hash))
                chained.append((seq, prev_hash, event_hash))
            _insert_many(cursor, statements, rows)
    finally:
        cursor.close()
    _remember_head(conn, seq, event_hash, txid)
    return chained, pk


def _insert_many(cursor, statements, rows: list) -> None:
    """INSERT many events: on SQLite one prepared statement run per row (in-process, so
    that is cheapest); on PostgreSQL one COPY (one round trip)."""
    if statements.postgres and isinstance(cursor, DriverCursor):
        cursor.copy(statements.copy, rows)
    else:
        cursor.executemany(statements.insert, rows)
