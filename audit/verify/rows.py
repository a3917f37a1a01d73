"""Reading stored events for verification: the content SQL, its cursor, and the
reference hash of a row computed in Python."""

from __future__ import annotations

import datetime
import json
from contextlib import contextmanager

from django.db import connection, transaction

from audit.chain import FIELD_COUNT, SEPARATOR, canonical_json, canonical_text, text_hash

_COLUMNS = (
    "id, seq, {occurred_at}, actor_username, origin, action, object_type, object_id, "
    "object_repr, {changes}, reason, prev_hash, hash"
)
FETCH_SIZE = 20_000
SEPARATOR_BYTE = SEPARATOR.encode()
HASH_LENGTH = 64  # hex SHA-256: the length of `prev_hash`, the content's last field
_ZERO = datetime.timedelta(0)


def isoformat_utc(value) -> str:
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


def hash_of(row, seq=None) -> str:
    """The hash of a stored row, recomputed (at position `seq` if given).

    The stored `changes` text is hashed as it is when it is in canonical form (always,
    for events this code wrote); otherwise it is parsed and put in canonical form first.
    """
    (_, stored_seq, occurred_at, actor, origin, action, otype, oid, orepr, changes, reason,
     prev_hash, stored_hash) = row  # fmt: skip
    fields = [
        stored_seq if seq is None else seq, isoformat_utc(occurred_at), actor, origin,
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


def one(sql: str, params) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


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


def content_sql(vendor: str, *, ranged: bool = False) -> tuple[str, list]:
    """SELECT seq, canonical content (UTF-8 bytes), hash, in `seq` order, and its
    parameters; with `ranged`, only `seq BETWEEN %s AND %s` (two more).

    Neither `id` nor `prev_hash` is a column of its own (fewer bytes for the server to
    send and the driver to decode): `prev_hash` is the content's last field, so the link
    is checked on the content's tail, and an id is looked up only to report a break.

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
    sql = f"SELECT seq, {content}, hash FROM audit_auditevent{where} ORDER BY seq"  # noqa: S608
    return sql, params


def full_row_at(seq: int):
    """The columns of the event at `seq`, for the Python reference computation and
    diagnosis (`seq` is unique)."""
    if connection.vendor == "sqlite":
        columns = _COLUMNS.format(occurred_at="occurred_at || ''", changes="changes")
    else:
        columns = _COLUMNS.format(occurred_at="occurred_at", changes="changes::text")
    return one(f"SELECT {columns} FROM audit_auditevent WHERE seq = %s", [seq])  # noqa: S608


def no_server_cursors() -> bool:
    """Django's flag for a pooler in transaction mode (PgBouncer): no server-side cursor."""
    return bool(connection.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"))


@contextmanager
def content_cursor():
    """A cursor over `_content_sql` on the connection the caller uses (so a caller inside
    a transaction also verifies its own, not yet committed events).

    On PostgreSQL: the driver's server-side cursor, in a transaction (when there is none,
    Django's would be a WITH HOLD cursor, which the server materialises in full before
    the first row), with binary results (bytea arrives as bytes, not as hex text).
    """
    sql, params = content_sql(connection.vendor)
    if connection.vendor != "postgresql" or no_server_cursors():
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
