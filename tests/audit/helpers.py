"""The writer's operations returning AuditEvent instances, for tests that inspect them.

Production appends without building events (`audit.writer.append_change`,
`append_changes`, `append_bulk_create`); these helpers write the same events through the
same path and return them with their ids.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.context import current_origin
from audit.models import AuditEvent
from audit.writer import require_accountable
from audit.writer.append import append_events, default_connection
from audit.writer.events import Common, created_changes, event_instance, prepare_changes


def record_change(obj, *, before: dict, after: dict, action: str, reason_needed: bool):
    """Write the event for one saved or deleted audited record and return it (None when
    an update changed nothing)."""
    ctx = require_accountable(obj, reason_needed=reason_needed)
    return _record(ctx, [(obj, before, after)], action)[0] or None


@transaction.atomic
def record_bulk_create(objs) -> list[AuditEvent]:
    """One create event per object, inserted in one batch; returns the events."""
    objs = list(objs)
    if not objs:
        return []
    ctx, changed = created_changes(objs)
    return _record(ctx, changed, "create")


def _record(ctx, changed, action: str) -> list[AuditEvent]:
    """`append_changes` returning the AuditEvent instances (with their ids)."""
    conn = default_connection()
    occurred_at = timezone.now()
    common = Common(
        conn, actor=ctx.actor, origin=current_origin(), reason=ctx.reason, occurred_at=occurred_at
    )
    prepared, all_changes = prepare_changes(common, changed, action)
    if not prepared:
        return [None]
    with transaction.atomic(savepoint=False):
        chained, pk = append_events(conn, prepared)
        if len(chained) == 1:
            ids = {chained[0][0]: pk}
        else:
            ids = dict(
                AuditEvent.objects.filter(
                    seq__gte=chained[0][0], seq__lte=chained[-1][0]
                ).values_list("seq", "id")
            )
    return [
        event_instance(
            common, one, link, ids.get(link[0]), changes=changes, occurred_at=occurred_at
        )
        for one, link, changes in zip(prepared, chained, all_changes, strict=True)
    ]
