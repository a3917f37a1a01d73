"""Recording a release check's result (pass/fail is computed by the check itself), and
deleting one recorded by mistake while the batch is in production."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from batches.exceptions import BatchError
from batches.models import Batch, ReleaseCheck, SpecificationItem
from batches.services.base import delete_audited, lock_batch, save_validated
from batches.services.release import review_released

MOVED_TO_ANOTHER_ITEM = (
    "A recorded result cannot be moved to another item or batch: correct its value, and "
    "record the other item as a new result."
)


def _check_of(batch: Batch, item: SpecificationItem, correcting: ReleaseCheck | None):
    """The stored result being corrected (locked), else the batch's result of `item`
    (re-recorded), else a new one. A stored result stays with its batch and item."""
    if correcting is not None:
        check = ReleaseCheck.objects.select_for_update().filter(pk=correcting.pk).first()
        if check is None:
            raise BatchError("This release check is no longer on file.")
        if (check.batch_id, check.item_id) != (batch.pk, item.pk):
            raise BatchError(MOVED_TO_ANOTHER_ITEM)
        return check
    check = ReleaseCheck.objects.filter(batch=batch, item=item).select_for_update().first()
    return check or ReleaseCheck(batch=batch, item=item)


@transaction.atomic
def record_check(
    batch: Batch,
    item: SpecificationItem,
    *,
    actor: AbstractBaseUser | None,
    tested_on: datetime.date,
    value: Decimal | int | str | None = None,
    text: str = "",
    reason: str = "",
    correcting: ReleaseCheck | None = None,
) -> ReleaseCheck:
    """Record (or re-record) the result of one specification item for a batch; or
    correct a stored result (`correcting`), which never moves to another item or batch.

    Pass/fail is computed by the check itself from the specification. A batch that the
    QP has released or rejected (or put back on hold) takes a result only as a
    correction with a written reason, which the audit event carries. If the batch is
    released and the result makes it fail a release rule, it is put on hold in the same
    transaction (see `hold`); the returned check's `holds` lists what was held.
    """
    batch = lock_batch(batch)
    if batch.reason_required({"status": batch.status}) and not reason.strip():
        raise BatchError(
            f"Batch {batch.code} has a QP decision (now {batch.get_status_display().lower()}"
            "): a result is a correction and needs a written reason."
        )
    check = _check_of(batch, item, correcting)
    check.result_value = Decimal(str(value)) if value not in (None, "") else None
    check.result_text = text or ""
    check.tested_on = tested_on
    save_validated(check, actor=actor, reason=reason, exclude=["passed"])
    check.holds = review_released(
        [batch], actor=actor, cause=f"{item.parameter} re-recorded", why=reason
    )
    return check


@transaction.atomic
def delete_check(check: ReleaseCheck, *, actor: AbstractBaseUser | None, reason: str) -> None:
    """Delete a result recorded by mistake: only while its batch is in production
    (`ReleaseCheck.deletion_refusal`); after that a result is corrected."""
    delete_audited(check, actor=actor, reason=reason)
