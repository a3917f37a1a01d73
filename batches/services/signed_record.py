"""The hash of each decided batch's record, kept by the services that change it.

A QP's decision signature binds the SHA-256 of the batch record (`Batch.signature_content`:
its fields, checks, bags, donor, procurement, facility, specification). Whether it still
matches is asked of every batch in stock by the dose calculator and of every batch of a
list, so rebuilding each record there would cost several queries per batch. Instead the
batch keeps the hash of its record as it is now (`Batch.record_hash`): set when the QP
signs, and recomputed here by every service that changes what the record holds once a
decision was made on it — corrections of the batch, of its checks, of its donor, serology
or procurement (through `review_released`), bags created while it is on hold, a renamed
specification version. Comparing it with the signature's hash answers for any number of
batches in a constant number of queries (`batches.rules.batch_problem(kept_hash=True)`).

A change made around the services (SQL, a data fix) leaves the kept hash behind: every
step that hands a bag on still rebuilds its one batch's record in full, and so does the
calculator for the batch it proposes, so such a change still blocks the batch.
"""

from __future__ import annotations

from audit.context import audit_context
from audit.signatures import content_hash
from batches.models import Batch

KEPT_REASON = "the batch record's hash, kept after a change to the record"


def keep_record_hash(batch: Batch, *, actor, reason: str = "", content: dict | None = None) -> str:
    """Store the hash of `batch`'s record as it is now (`content`, if the caller has just
    built it) on a batch a QP has decided on; before a decision nothing is kept (there is
    no signature to compare with). Runs in the caller's transaction on a locked batch.

    The hash is derived from records that are each on the trail, so saving it writes no
    audit event of its own (`Batch.audit_exclude`). Returns the kept hash ("" if none)."""
    if not batch.record_hash and not batch.has_decision_signature():
        return ""
    digest = content_hash(content if content is not None else batch.signature_content())
    if digest != batch.record_hash:
        batch.record_hash = digest
        with audit_context(actor=actor, reason=reason.strip() or KEPT_REASON):
            batch.save(update_fields=["record_hash"])
    return digest


def keep_record_hashes(batches, *, actor, reason: str = "") -> None:
    """`keep_record_hash` for each of `batches` (locked by the caller)."""
    for batch in batches:
        keep_record_hash(batch, actor=actor, reason=reason)
