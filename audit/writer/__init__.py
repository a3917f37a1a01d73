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
  one COPY (PostgreSQL). A small batch that follows the cached head is one guarded
  INSERT of a VALUES list (`append.ROWS_AFTER_HEAD`): all inserted, or none.
"""

from audit.writer.append import lock_chain_head
from audit.writer.events import (
    append_bulk_create,
    append_change,
    append_changes,
    diff,
    require_accountable,
    write_event,
)
from audit.writer.sql import CHAIN_LOCK_KEY

__all__ = [
    "CHAIN_LOCK_KEY",
    "append_bulk_create",
    "append_change",
    "append_changes",
    "diff",
    "lock_chain_head",
    "require_accountable",
    "write_event",
]
