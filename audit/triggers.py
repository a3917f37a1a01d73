"""Database triggers that make the audit tables append-only below the ORM.

`AuditEvent.save()`/`delete()` already refuse to change an event, but anything that talks
SQL (a raw cursor, a DBA's console, a careless data migration) would not pass through
them. These triggers make the database itself refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL) on the trail, the signatures and the checkpoints, on SQLite and PostgreSQL
alike. They do not stop a database superuser, who can drop them: the hash chain and the
HMAC checkpoints are what catch that (see docs/decisions/001-audit-trail.md).

The migration `0003_append_only_triggers` installs them. A later change to the SQL here
needs a new migration that calls `install()` again.
"""

from __future__ import annotations

from contextlib import contextmanager

APPEND_ONLY_TABLES = ("audit_auditevent", "audit_signature", "audit_auditcheckpoint")

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION celltrack_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'Audit records are never changed or removed; append a new event.';
END;
$$
"""


def _sqlite_install(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


def _sqlite_uninstall(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_no_{op}" for op in ("update", "delete")]


def _pg_install(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION celltrack_audit_append_only()",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION celltrack_audit_append_only()",
    ]


def _pg_uninstall(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
    ]


def install_sql(vendor: str, tables=APPEND_ONLY_TABLES) -> list[str]:
    if vendor == "sqlite":
        return [sql for table in tables for sql in _sqlite_install(table)]
    if vendor == "postgresql":
        return [_PG_FUNCTION] + [sql for table in tables for sql in _pg_install(table)]
    return []


def uninstall_sql(vendor: str, tables=APPEND_ONLY_TABLES) -> list[str]:
    if vendor == "sqlite":
        return [sql for table in tables for sql in _sqlite_uninstall(table)]
    if vendor == "postgresql":
        return [sql for table in tables for sql in _pg_uninstall(table)]
    return []


def install(connection, tables=APPEND_ONLY_TABLES) -> None:
    with connection.cursor() as cursor:
        for sql in install_sql(connection.vendor, tables):
            cursor.execute(sql)


def uninstall(connection, tables=APPEND_ONLY_TABLES) -> None:
    with connection.cursor() as cursor:
        for sql in uninstall_sql(connection.vendor, tables):
            cursor.execute(sql)


@contextmanager
def triggers_suspended(connection, tables=APPEND_ONLY_TABLES):
    """Drop the triggers for the block and put them back after, whatever happens.

    For the test database's `flush` and for tests that play a DBA tampering with the
    trail; never used by the application's own write paths.
    """
    uninstall(connection, tables)
    try:
        yield
    finally:
        install(connection, tables)


def app_role_grants(role: str) -> list[str]:
    """The grants of PostgreSQL's application role, which does not own the tables
    (docs/operations.md, "Two database roles"): it reads and writes the records, only
    reads and appends to the trail, and, not being the owner, cannot disable or drop the
    triggers. Run by the owner after every `migrate` (new tables need their grants)."""
    audit_tables = ", ".join(APPEND_ONLY_TABLES)
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {audit_tables} FROM {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]
