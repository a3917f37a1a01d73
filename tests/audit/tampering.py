"""Playing a DBA with write access to the database: edits that bypass the application.

Each helper suspends the append-only triggers for its one statement, as someone with
DDL rights could, and puts them back.
"""

from django.db import connection

from audit.chain import GENESIS_HASH, row_hash
from audit.models import AuditEvent
from audit.triggers import triggers_suspended


def execute(sql, params=()):
    with triggers_suspended(connection), connection.cursor() as cursor:
        cursor.execute(sql, params)


def event_id(seq):
    return AuditEvent.objects.values_list("id", flat=True).get(seq=seq)


def alter_reason(seq, reason="edited by hand"):
    execute("UPDATE audit_auditevent SET reason = %s WHERE seq = %s", [reason, seq])


def delete_event(seq):
    execute("DELETE FROM audit_auditevent WHERE seq = %s", [seq])


def swap_positions(seq_a, seq_b):
    """Swap two events' positions (their seq numbers), keeping all else."""
    execute("UPDATE audit_auditevent SET seq = -1 WHERE seq = %s", [seq_a])
    execute("UPDATE audit_auditevent SET seq = %s WHERE seq = %s", [seq_a, seq_b])
    execute("UPDATE audit_auditevent SET seq = %s WHERE seq = -1", [seq_b])


def _recomputed(event, prev_hash):
    return row_hash(
        event.seq,
        event.occurred_at.isoformat(),
        event.actor_username,
        event.origin,
        event.action,
        event.object_type,
        event.object_id,
        event.object_repr,
        event.changes,
        event.reason,
        prev_hash,
    )


def rewrite_chain_from(seq, reason="rewritten"):
    """Change event `seq` and recompute every hash from there on: a self-consistent chain."""
    alter_reason(seq, reason)
    prev = AuditEvent.objects.filter(seq=seq - 1).values_list("hash", flat=True).first()
    prev = prev or GENESIS_HASH
    for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
        new_hash = _recomputed(event, prev)
        execute(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [prev, new_hash, event.id],
        )
        prev = new_hash


def rehash_one(seq, reason="quietly edited"):
    """Change one event and recompute only its own hash (the next link then breaks)."""
    alter_reason(seq, reason)
    event = AuditEvent.objects.get(seq=seq)
    execute(
        "UPDATE audit_auditevent SET hash = %s WHERE id = %s",
        [_recomputed(event, event.prev_hash), event.id],
    )
