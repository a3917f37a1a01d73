"""Recording a release check's result (pass/fail is computed by the check itself)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.context import audit_context
from batches.exceptions import BatchError
from batches.models import Batch, ReleaseCheck, SpecificationItem
from batches.services.base import lock_batch, validation_messages
from batches.services.release import review_released


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
) -> ReleaseCheck:
    """Record (or re-record) the result of one specification item for a batch.

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
    check = ReleaseCheck.objects.filter(batch=batch, item=item).select_for_update().first()
    if check is None:
        check = ReleaseCheck(batch=batch, item=item)
    check.result_value = Decimal(str(value)) if value not in (None, "") else None
    check.result_text = text or ""
    check.tested_on = tested_on
    try:
        check.full_clean(exclude=["passed"], validate_unique=False)
    except ValidationError as error:
        raise BatchError(validation_messages(error)) from None
    with audit_context(actor=actor, reason=reason.strip()):
        check.save()
    check.holds = review_released(
        [batch], actor=actor, cause=f"{item.parameter} re-recorded", why=reason
    )
    return check
