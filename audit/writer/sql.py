"""The write path's SQL and cursors, per database vendor (see `audit.writer`)."""

from __future__ import annotations

from audit.models import AuditEvent

# Arbitrary constant naming the advisory lock that guards the chain's head.
CHAIN_LOCK_KEY = 727_271_001

HEAD_SQL = "SELECT seq, hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1"
PG_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s::bigint), txid_current()"
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


class Statements:
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
            f"WHERE {guard}{head} = ({HEAD_SQL}){suffix}"
        )
        self._rows_parts = (columns, selected, f"WHERE {guard}{head} = ({HEAD_SQL}){suffix}")
        self._rows_after_head: dict[int, str] = {}
        self.copy = f"COPY audit_auditevent ({columns}) FROM STDIN"
        # The same statements in the driver's placeholder style, for its own cursor.
        qmark = self._qmark = conn.vendor == "sqlite"
        self.raw = {
            sql: sql.replace("%s", "?") if qmark else sql
            for sql in (
                self.insert,
                self.insert_one,
                self.insert_after_head,
                HEAD_SQL,
                PG_LOCK_SQL,
            )
        }

    def insert_rows_after_head(self, count: int) -> str:
        """`insert_after_head` for `count` events in one statement (a VALUES list): all of
        them are inserted when the cached head is still the last event, else none."""
        sql = self._rows_after_head.get(count)
        if sql is None:
            columns, selected, condition = self._rows_parts
            rows = ", ".join([f"({selected})"] * count)
            sql = (
                f"INSERT INTO audit_auditevent ({columns}) "  # noqa: S608
                f"SELECT * FROM (VALUES {rows}) AS batch {condition}"
            )
            self.raw[sql] = sql.replace("%s", "?") if self._qmark else sql
            self._rows_after_head[count] = sql
        return sql


def _pg_type(field, conn) -> str:
    if field.get_internal_type() in ("CharField", "TextField", "JSONField"):
        return "text"
    if field.is_relation:
        return field.target_field.rel_db_type(conn)
    return field.db_type(conn)


_STATEMENTS: dict[str, Statements] = {}


def statements_for(conn) -> Statements:
    statements = _STATEMENTS.get(conn.vendor)
    if statements is None:
        statements = _STATEMENTS[conn.vendor] = Statements(conn)
    return statements


class DriverCursor:
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


class DjangoCursor:
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


def open_cursor(conn, statements):
    if conn.queries_logged or conn.execute_wrappers:
        return DjangoCursor(conn)
    conn.validate_no_broken_transaction()
    cursor = getattr(conn, "_audit_cursor", None)
    if cursor is not None and cursor.driver_connection is conn.connection is not None:
        return cursor
    conn.ensure_connection()
    conn.validate_thread_sharing()
    with conn.wrap_database_errors:
        cursor = conn._audit_cursor = DriverCursor(conn, statements)
    return cursor
