"""Writing audit events: the only code that inserts into the audit trail.

Events are chained: each takes the next `seq` and the previous event's hash while
holding a lock on the chain's head, so concurrent writers cannot fork it. On PostgreSQL
the lock is a transaction-scoped advisory lock; SQLite serialises writers itself
(transactions begin IMMEDIATE, see settings).
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from audit.chain import GENESIS_HASH, clean_text, event_hash
from audit.context import current_context, current_origin
from audit.exceptions import AuditContextMissing, ReasonRequired
from audit.models import AuditEvent

# Arbitrary constant naming the advisory lock that guards the chain's head.
CHAIN_LOCK_KEY = 727_271_001


_HEAD_SQL = "SELECT seq, hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1"


def _lock_chain_head() -> tuple[int, str]:
    """Take the chain's lock for this transaction and return the head (seq, hash).

    Raw SQL: this runs once per audited write, and the ORM's query building would be
    most of its cost. On PostgreSQL the lock and the read are separate statements, so
    the read sees every event committed before the lock was granted.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
        cursor.execute(_HEAD_SQL)
        last = cursor.fetchone()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)


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


def _insert(event: AuditEvent) -> AuditEvent:
    """INSERT one event with a prepared statement, skipping Model.save()'s machinery."""
    fields = [AuditEvent._meta.get_field(name) for name in _INSERT_FIELDS]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO audit_auditevent ({columns}) VALUES ({placeholders})"  # noqa: S608
    returning = connection.features.can_return_columns_from_insert
    if returning:
        sql += " RETURNING id"
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        event.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    event._state.adding = False
    event._state.db = connection.alias
    return event


def _build_event(
    *,
    seq: int,
    prev_hash: str,
    actor,
    action: str,
    object_type: str,
    object_id: str,
    object_repr: str,
    changes: dict,
    reason: str,
    origin: str,
    occurred_at,
) -> AuditEvent:
    actor_username = clean_text(actor.get_username()) if actor is not None else ""
    object_type, object_id = clean_text(object_type), clean_text(object_id)
    object_repr, reason = clean_text(object_repr[:200]), clean_text(reason)
    action, origin = clean_text(action), clean_text(origin)
    content = {
        "seq": seq,
        "occurred_at": occurred_at.isoformat(),
        "actor_username": actor_username,
        "origin": origin,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "object_repr": object_repr,
        "changes": changes,
        "reason": reason,
        "prev_hash": prev_hash,
    }
    return AuditEvent(
        seq=seq,
        occurred_at=occurred_at,
        actor=actor if actor is not None else None,
        actor_username=actor_username,
        origin=origin,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr,
        changes=changes,
        reason=reason,
        prev_hash=prev_hash,
        hash=event_hash(**content),
    )


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
    seq, prev_hash = _lock_chain_head()
    event = _build_event(
        seq=seq + 1,
        prev_hash=prev_hash,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        object_repr=object_repr or str(object_id),
        changes=changes or {},
        reason=reason,
        origin=current_origin(),
        occurred_at=timezone.now(),
    )
    return _insert(event)


def diff(before: dict, after: dict) -> dict:
    """{field: [before, after]} for every field whose value changed."""
    keys = list(after) if after else list(before)
    return {
        key: [before.get(key), after.get(key)] for key in keys if before.get(key) != after.get(key)
    }


def require_accountable(obj, *, reason_needed: bool):
    """Refuse a change nobody is accountable for, or one that lacks a needed reason.

    AuditedModel calls this before it writes, so a refused change never reaches the
    database; `record_change` checks again for callers that write first.
    """
    label = f"{obj._meta.verbose_name} {obj.audit_code}"
    ctx = _require_context(label)
    if reason_needed and not ctx.reason.strip():
        raise ReasonRequired(
            f"{label} is {getattr(obj, 'status', 'closed')}: a change needs a written reason."
        )
    return ctx


def record_change(obj, *, before: dict, after: dict, action: str, reason_needed: bool):
    """Write the event for one saved or deleted audited record (called by AuditedModel)."""
    ctx = require_accountable(obj, reason_needed=reason_needed)
    changes = diff(before, after)
    if action == "update" and not changes:
        return None
    return write_event(
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj.audit_code),
        changes=changes,
        reason=ctx.reason,
        actor=ctx.actor,
    )


@transaction.atomic
def record_bulk_create(objs) -> list[AuditEvent]:
    """One create event per object, inserted in one statement (bulk_create's partner)."""
    objs = list(objs)
    if not objs:
        return []
    model = type(objs[0])
    ctx = _require_context(f"{model._meta.verbose_name_plural} (bulk)")
    seq, prev_hash = _lock_chain_head()
    now = timezone.now()
    origin = current_origin()
    events = []
    for obj in objs:
        if obj.pk is None:
            raise AuditContextMissing(
                f"{model._meta.verbose_name}: bulk_create without primary keys cannot be "
                "audited on this database."
            )
        seq += 1
        snapshot = obj.audit_snapshot()
        event = _build_event(
            seq=seq,
            prev_hash=prev_hash,
            actor=ctx.actor,
            action="create",
            object_type=model._meta.label_lower,
            object_id=str(obj.pk),
            object_repr=str(obj.audit_code),
            changes=diff({}, snapshot),
            reason=ctx.reason,
            origin=origin,
            occurred_at=now,
        )
        prev_hash = event.hash
        obj._audit_loaded = snapshot
        events.append(event)
    AuditEvent.objects.bulk_create(events)
    return events
