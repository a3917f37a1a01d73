"""The writer's operations: one event, one change, a batch of changes, a bulk create."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone

from audit.chain import canonical_json, clean_text
from audit.context import current_context, current_origin
from audit.exceptions import AuditContextMissing, ReasonRequired
from audit.models import AuditEvent
from audit.writer.append import append_events, default_connection


class Common:
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


def _prepare(common: Common, action, object_type, object_id, object_repr, changes_json):
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


def event_instance(common: Common, prepared, chained, pk, *, changes, occurred_at) -> AuditEvent:
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
    conn = default_connection()
    common = Common(
        conn, actor=actor, origin=current_origin(), reason=reason, occurred_at=occurred_at
    )
    object_id = str(object_id)
    prepared = _prepare(
        common, action, object_type, object_id, object_repr or object_id, canonical_json(changes)
    )
    chained, pk = append_events(conn, [prepared])
    return event_instance(
        common, prepared, chained[0], pk, changes=changes, occurred_at=occurred_at
    )


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
    database.
    """
    ctx = current_context()
    if ctx is not None and not (reason_needed and not ctx.reason.strip()):
        return ctx  # the common case, without building the label
    label = f"{obj._meta.verbose_name} {obj.audit_code}"
    ctx = _require_context(label)
    raise ReasonRequired(
        f"{label} is {getattr(obj, 'status', 'closed')}: a change needs a written reason."
    )


def prepare_changes(common: Common, changed, action: str) -> tuple[list, list]:
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
    """AuditedModel's hot path: one change's event, appended without building an AuditEvent.

    The caller has checked accountability (`require_accountable`, which gave `ctx`) and
    holds a transaction around the change.
    """
    changes = diff(before, after)
    if action == "update" and not changes:
        return
    conn = conn or default_connection()
    common = Common(
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
    append_events(conn, [prepared])


def append_changes(changed, ctx, *, action: str) -> int:
    """One event per (record, before, after) in `changed`, appended in one batch (the
    bulk operations' partner); updates that changed nothing are skipped. The caller has
    checked accountability. Returns how many events were written."""
    conn = default_connection()
    common = Common(
        conn,
        actor=ctx.actor,
        origin=current_origin(),
        reason=ctx.reason,
        occurred_at=timezone.now(),
    )
    prepared, _ = prepare_changes(common, changed, action)
    if prepared:
        with transaction.atomic(savepoint=False):
            append_events(conn, prepared)
    return len(prepared)


def created_changes(objs) -> tuple:
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
    partner), without building AuditEvent instances."""
    objs = list(objs)
    if not objs:
        return 0
    ctx, changed = created_changes(objs)
    return append_changes(changed, ctx, action="create")
