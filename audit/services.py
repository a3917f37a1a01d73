"""Writing audit events: the only code that inserts into the audit trail.

Events are chained: each takes the next `seq` and the previous event's hash while
holding a lock on the chain's head, so concurrent writers cannot fork it. On PostgreSQL
the lock is a transaction-scoped advisory lock; SQLite serialises writers itself
(transactions begin IMMEDIATE, see settings).

The write path is built to cost little next to the save it records (numbers in
docs/performance.md):

- **The chain head is cached on the connection** after each event. The next event is
  inserted by one statement that checks *in the database* that the cached head is
  still the last event, `INSERT … SELECT … WHERE (cached seq, cached hash) = (SELECT
  seq, hash … ORDER BY seq DESC LIMIT 1)`, and on PostgreSQL also that it runs in the
  same transaction (`txid_current()`). Whatever happened since — a rolled-back savepoint
  (through `atomic` or by hand), a rolled-back transaction, events appended by other
  code or another process — the check fails, nothing is inserted, and the event is
  written the slow way: lock, fresh read of the head, INSERT. The cache can cost a
  retry; it can never leave a gap or a fork.
- **On PostgreSQL the advisory lock is taken once per transaction** (it is held until
  commit anyway). While the cached head is the last row in the *same* transaction the
  lock is still held: a rollback that released it (the lock was taken inside a
  savepoint that was then rolled back) also removed every event written after it,
  the cached head included, so the check fails and the slow path locks again.
- Statements go to the driver's cursor (kept per connection), under Django's checks (no
  query in a broken transaction; driver errors translated to Django's). When Django is
  watching queries — DEBUG, `CaptureQueriesContext`, `connection.execute_wrapper` —
  they go through Django's cursor instead, so they are logged and counted like any
  other.
- Bulk operations (`bulk_create`, `update_audited`) append their events together: the
  first like any other, the rest under the same lock by one `executemany` (SQLite) or
  one COPY (PostgreSQL).
"""

from __future__ import annotations

import hashlib

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from audit.chain import FIELD_COUNT, GENESIS_HASH, SEPARATOR, canonical_json, clean_text
from audit.context import current_context, current_origin
from audit.exceptions import AuditContextMissing, ReasonRequired
from audit.models import AuditEvent

# Arbitrary constant naming the advisory lock that guards the chain's head.
CHAIN_LOCK_KEY = 727_271_001

_HEAD_SQL = "SELECT seq, hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1"
_PG_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s::bigint), txid_current()"
_INSERT_FIELDS = (
    "seq",
    "occurred_at",
    "actor",
    "actor_username",
    "origin",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "changes",
    "reason",
    "prev_hash",
    "hash",
)
_TEMPLATE = SEPARATOR.join(["%d"] + ["%s"] * (FIELD_COUNT - 1))
_SEPARATORS = FIELD_COUNT - 1
_sha256 = hashlib.sha256


def _connection():
    return connections[DEFAULT_DB_ALIAS]


# --- SQL and cursors ---------------------------------------------------------------------


class _Statements:
    """The write path's SQL for one database vendor, built once."""

    def __init__(self, conn):
        fields = [AuditEvent._meta.get_field(name) for name in _INSERT_FIELDS]
        columns = ", ".join(conn.ops.quote_name(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        self.postgres = conn.vendor == "postgresql"
        # RETURNING only where the driver has no cheaper way to the new id: SQLite's
        # `lastrowid` is free, and `rowcount` tells whether a guarded INSERT inserted.
        self.returning = self.postgres or (
            conn.vendor != "sqlite" and conn.features.can_return_columns_from_insert
        )
        suffix = " RETURNING id" if self.returning else ""
        self.insert = f"INSERT INTO audit_auditevent ({columns}) VALUES ({marks})"  # noqa: S608
        self.insert_one = self.insert + suffix
        if self.postgres:
            # Typed, so the SELECT's values need no inference; `text` rather than
            # `varchar(n)`, whose cast would silently cut a value that is too long.
            selected = ", ".join(f"%s::{_pg_type(f, conn)}" for f in fields)
            guard, head = "txid_current() = %s::bigint AND ", "(%s::bigint, %s::text)"
        else:
            selected, guard, head = marks, "", "(%s, %s)"
        self.insert_after_head = (
            f"INSERT INTO audit_auditevent ({columns}) SELECT {selected} "  # noqa: S608
            f"WHERE {guard}{head} = ({_HEAD_SQL}){suffix}"
        )
        self.copy = f"COPY audit_auditevent ({columns}) FROM STDIN"
        # The same statements in the driver's placeholder style, for its own cursor.
        qmark = conn.vendor == "sqlite"
        self.raw = {
            sql: sql.replace("%s", "?") if qmark else sql
            for sql in (
                self.insert,
                self.insert_one,
                self.insert_after_head,
                _HEAD_SQL,
                _PG_LOCK_SQL,
            )
        }


def _pg_type(field, conn) -> str:
    if field.get_internal_type() in ("CharField", "TextField", "JSONField"):
        return "text"
    if field.is_relation:
        return field.target_field.rel_db_type(conn)
    return field.db_type(conn)


_STATEMENTS: dict[str, _Statements] = {}


def _statements(conn) -> _Statements:
    statements = _STATEMENTS.get(conn.vendor)
    if statements is None:
        statements = _STATEMENTS[conn.vendor] = _Statements(conn)
    return statements


class _DriverCursor:
    """The driver's cursor, kept on the connection while its driver connection lives.

    (On PostgreSQL it binds parameters client-side, as Django's does, so it is safe
    behind a pooler in transaction mode. Server-side prepared statements were measured
    and gained nothing here.)
    """

    __slots__ = ("conn", "driver_connection", "cursor", "statements")

    def __init__(self, conn, statements):
        self.conn, self.statements = conn, statements
        self.driver_connection = conn.connection
        self.cursor = conn.connection.cursor()

    def execute(self, sql: str, params):
        try:
            self.cursor.execute(self.statements.raw[sql], params)
        except Exception:
            with self.conn.wrap_database_errors:  # re-raised as Django's error class
                raise
        return self.cursor

    def executemany(self, sql: str, rows):
        try:
            self.cursor.executemany(self.statements.raw[sql], rows)
        except Exception:
            with self.conn.wrap_database_errors:
                raise

    def copy(self, sql: str, rows):
        try:
            with self.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except Exception:
            with self.conn.wrap_database_errors:
                raise

    def close(self):
        pass  # kept for the connection's next event


class _DjangoCursor:
    """Django's cursor: every statement logged and passed through execute wrappers."""

    __slots__ = ("cursor",)

    def __init__(self, conn):
        self.cursor = conn.cursor()

    def execute(self, sql: str, params):
        self.cursor.execute(sql, params)
        return self.cursor

    def executemany(self, sql: str, rows):
        self.cursor.executemany(sql, rows)

    def close(self):
        self.cursor.close()


def _cursor(conn, statements):
    if conn.queries_logged or conn.execute_wrappers:
        return _DjangoCursor(conn)
    conn.validate_no_broken_transaction()
    cursor = getattr(conn, "_audit_cursor", None)
    if cursor is not None and cursor.driver_connection is conn.connection is not None:
        return cursor
    conn.ensure_connection()
    conn.validate_thread_sharing()
    with conn.wrap_database_errors:
        cursor = conn._audit_cursor = _DriverCursor(conn, statements)
    return cursor


def _read_head(cursor) -> tuple[int, str]:
    last = cursor.execute(_HEAD_SQL, ()).fetchone()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


def _lock(cursor, statements):
    """Take the chain's lock for this transaction; return the transaction id (PostgreSQL)."""
    if statements.postgres:
        return cursor.execute(_PG_LOCK_SQL, [CHAIN_LOCK_KEY]).fetchone()[1]
    return None


def _lock_chain_head() -> tuple[int, str]:
    """Take the chain's lock for this transaction and return the head (seq, hash).

    On PostgreSQL the lock and the read are separate statements, so the read sees every
    event committed before the lock was granted.
    """
    conn = _connection()
    statements = _statements(conn)
    cursor = _cursor(conn, statements)
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


# --- building and appending events -------------------------------------------------------


def _hash(seq: int, prev_hash: str, fixed: tuple) -> str:
    """The event's hash. `fixed` = its content fields other than seq and prev_hash:
    (occurred_at ISO, actor_username, origin, action, object_type, object_id,
    object_repr, changes JSON, reason) — see `audit.chain.canonical_content`."""
    text = _TEMPLATE % (seq, *fixed, prev_hash)
    if text.count(SEPARATOR) != _SEPARATORS:
        raise ValueError("audit event fields must not contain U+001F")
    return _sha256(text.encode()).hexdigest()


class _Common:
    """What the events of one write share: time, actor, origin, action, reason."""

    __slots__ = ("iso", "stored_time", "actor", "actor_id", "username", "origin", "reason")

    def __init__(self, conn, *, actor, origin: str, reason: str, occurred_at):
        self.iso = occurred_at.isoformat()
        self.stored_time = conn.ops.adapt_datetimefield_value(occurred_at)
        self.actor = actor
        self.actor_id = actor.pk if actor is not None else None
        self.username = clean_text(actor.get_username()) if actor is not None else ""
        self.origin = clean_text(origin)
        self.reason = clean_text(reason)


def _prepare(common: _Common, action, object_type, object_id, object_repr, changes_json):
    """(content fields, database values) of one event, without seq and the hashes."""
    fixed = (
        common.iso,
        common.username,
        common.origin,
        clean_text(action),
        clean_text(object_type),
        clean_text(object_id),
        clean_text(object_repr[:200]),
        changes_json,
        common.reason,
    )
    return fixed, (common.stored_time, common.actor_id, *fixed[1:])


def _append(conn, prepared: list) -> tuple[list, int]:
    """Append prepared events to the chain, in order, in the current transaction.

    Returns their (seq, prev_hash, hash) and the id of the first. The first event goes
    through the cached head when there is one (checked by the database), else the slow
    way; the rest follow it in one batch (`_insert_many`), under the lock it holds.
    """
    statements = _statements(conn)
    cursor = _cursor(conn, statements)
    try:
        fixed, stored = prepared[0]
        pk = None
        head = _cached_head(conn, statements)
        if head is not None:
            seq, prev_hash, txid = head[0] + 1, head[1], head[2]
            event_hash = _hash(seq, prev_hash, fixed)
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
            event_hash = _hash(seq, prev_hash, fixed)
            result = cursor.execute(statements.insert_one, [seq, *stored, prev_hash, event_hash])
            pk = result.fetchone()[0] if statements.returning else result.lastrowid
        chained = [(seq, prev_hash, event_hash)]
        if len(prepared) > 1:
            rows = []
            for fixed, stored in prepared[1:]:
                prev_hash = event_hash
                seq += 1
                event_hash = _hash(seq, prev_hash, fixed)
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
    if statements.postgres and isinstance(cursor, _DriverCursor):
        cursor.copy(statements.copy, rows)
    else:
        cursor.executemany(statements.insert, rows)


def _event(common: _Common, prepared, chained, pk, *, changes, occurred_at) -> AuditEvent:
    """The AuditEvent instance of an appended event, for the public functions' callers."""
    fixed, _ = prepared
    seq, prev_hash, event_hash = chained
    event = AuditEvent(
        seq=seq,
        occurred_at=occurred_at,
        actor=common.actor,
        actor_username=fixed[1],
        origin=fixed[2],
        action=fixed[3],
        object_type=fixed[4],
        object_id=fixed[5],
        object_repr=fixed[6],
        changes=changes,
        reason=fixed[8],
        prev_hash=prev_hash,
        hash=event_hash,
    )
    event.pk = pk
    event._state.adding = False
    event._state.db = DEFAULT_DB_ALIAS
    return event


def _require_context(label: str):
    ctx = current_context()
    if ctx is None:
        raise AuditContextMissing(
            f"{label}: no audit context; regulated records change only through a "
            "service that names the actor."
        )
    return ctx


@transaction.atomic(savepoint=False)
def write_event(
    *,
    action: str,
    object_type: str,
    object_id: str,
    object_repr: str = "",
    changes: dict | None = None,
    reason: str | None = None,
    actor=None,
) -> AuditEvent:
    """Append one event to the chain, attributed to `actor` or the current context."""
    ctx = current_context()
    if actor is None and ctx is not None:
        actor = ctx.actor
    if reason is None:
        reason = ctx.reason if ctx is not None else ""
    changes = changes or {}
    occurred_at = timezone.now()
    conn = _connection()
    common = _Common(
        conn, actor=actor, origin=current_origin(), reason=reason, occurred_at=occurred_at
    )
    object_id = str(object_id)
    prepared = _prepare(
        common, action, object_type, object_id, object_repr or object_id, canonical_json(changes)
    )
    chained, pk = _append(conn, [prepared])
    return _event(common, prepared, chained[0], pk, changes=changes, occurred_at=occurred_at)


def diff(before: dict, after: dict) -> dict:
    """{field: [before, after]} for every field whose value changed."""
    if not before:  # a creation: every field that has a value
        return {key: [None, value] for key, value in after.items() if value is not None}
    keys = list(after) if after else list(before)
    return {
        key: [before.get(key), after.get(key)] for key in keys if before.get(key) != after.get(key)
    }


def require_accountable(obj, *, reason_needed: bool):
    """Refuse a change nobody is accountable for, or one that lacks a needed reason.

    AuditedModel calls this before it writes, so a refused change never reaches the
    database; `record_change` checks again for callers that write first.
    """
    ctx = current_context()
    if ctx is not None and not (reason_needed and not ctx.reason.strip()):
        return ctx  # the common case, without building the label
    label = f"{obj._meta.verbose_name} {obj.audit_code}"
    ctx = _require_context(label)
    raise ReasonRequired(
        f"{label} is {getattr(obj, 'status', 'closed')}: a change needs a written reason."
    )


def _prepare_changes(common: _Common, changed, action: str) -> tuple[list, list]:
    """Prepared events of (record, before, after) triples; an update that changed
    nothing gets none. Returns (prepared events, their `changes`)."""
    prepared, all_changes = [], []
    for obj, before, after in changed:
        changes = diff(before, after)
        if action == "update" and not changes:
            continue
        prepared.append(
            _prepare(
                common,
                action,
                obj._meta.label_lower,
                str(obj.pk),
                str(obj.audit_code),
                canonical_json(changes),
            )
        )
        all_changes.append(changes)
    return prepared, all_changes


def append_change(obj, ctx, *, before: dict, after: dict, action: str, conn=None) -> None:
    """AuditedModel's hot path: `record_change` without building an AuditEvent.

    The caller has checked accountability (`require_accountable`, which gave `ctx`) and
    holds a transaction around the change.
    """
    changes = diff(before, after)
    if action == "update" and not changes:
        return
    conn = conn or _connection()
    common = _Common(
        conn,
        actor=ctx.actor,
        origin=current_origin(),
        reason=ctx.reason,
        occurred_at=timezone.now(),
    )
    prepared = _prepare(
        common,
        action,
        obj._meta.label_lower,
        str(obj.pk),
        str(obj.audit_code),
        canonical_json(changes),
    )
    _append(conn, [prepared])


def record_change(obj, *, before: dict, after: dict, action: str, reason_needed: bool):
    """Write the event for one saved or deleted audited record and return it (None when
    an update changed nothing)."""
    ctx = require_accountable(obj, reason_needed=reason_needed)
    return _record(ctx, [(obj, before, after)], action)[0] or None


def append_changes(changed, ctx, *, action: str) -> int:
    """One event per (record, before, after) in `changed`, appended in one batch (the
    bulk operations' partner); updates that changed nothing are skipped. The caller has
    checked accountability. Returns how many events were written."""
    conn = _connection()
    common = _Common(
        conn,
        actor=ctx.actor,
        origin=current_origin(),
        reason=ctx.reason,
        occurred_at=timezone.now(),
    )
    prepared, _ = _prepare_changes(common, changed, action)
    if prepared:
        with transaction.atomic(savepoint=False):
            _append(conn, prepared)
    return len(prepared)


def _record(ctx, changed, action: str) -> list[AuditEvent]:
    """`append_changes` returning the AuditEvent instances (with their ids)."""
    conn = _connection()
    occurred_at = timezone.now()
    common = _Common(
        conn, actor=ctx.actor, origin=current_origin(), reason=ctx.reason, occurred_at=occurred_at
    )
    prepared, all_changes = _prepare_changes(common, changed, action)
    if not prepared:
        return [None]
    with transaction.atomic(savepoint=False):
        chained, pk = _append(conn, prepared)
        if len(chained) == 1:
            ids = {chained[0][0]: pk}
        else:
            ids = dict(
                AuditEvent.objects.filter(
                    seq__gte=chained[0][0], seq__lte=chained[-1][0]
                ).values_list("seq", "id")
            )
    return [
        _event(common, one, link, ids.get(link[0]), changes=changes, occurred_at=occurred_at)
        for one, link, changes in zip(prepared, chained, all_changes, strict=True)
    ]


def _created(objs) -> tuple:
    model = type(objs[0])
    ctx = _require_context(f"{model._meta.verbose_name_plural} (bulk)")
    changed = []
    for obj in objs:
        if obj.pk is None:
            raise AuditContextMissing(
                f"{model._meta.verbose_name}: bulk_create without primary keys cannot be "
                "audited on this database."
            )
        snapshot = obj.audit_snapshot()
        obj._audit_loaded = snapshot
        changed.append((obj, {}, snapshot))
    return ctx, changed


def append_bulk_create(objs) -> int:
    """One create event per object, appended in one batch (AuditedQuerySet.bulk_create's
    partner): `record_bulk_create` without building AuditEvent instances."""
    objs = list(objs)
    if not objs:
        return 0
    ctx, changed = _created(objs)
    return append_changes(changed, ctx, action="create")


@transaction.atomic
def record_bulk_create(objs) -> list[AuditEvent]:
    """One create event per object, inserted in one batch; returns the events."""
    objs = list(objs)
    if not objs:
        return []
    ctx, changed = _created(objs)
    return _record(ctx, changed, "create")
