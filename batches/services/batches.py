"""A batch's record: created in production, corrected (with a reason once a QP has decided
on it), deleted only if entered by mistake. The QP's decisions are in `release`."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from batches.exceptions import BatchError
from batches.models import Batch
from batches.rules import identity_refusal
from batches.services.base import delete_audited, lock_batch, refuse_unknown, save_validated
from batches.services.release import review_released


@transaction.atomic
def create_batch(*, actor: AbstractBaseUser | None, reason: str = "", **fields) -> Batch:
    """Record a new batch in production from `Batch.RECORD_FIELDS` (DIN, donor,
    procurement, facility, IMPD reference, specification, manufacturing data).

    Validated as one record: a DIN of the facility's FIN, a procurement of the donor,
    a unique DIN. The status is always `in_production`: the QP's way starts from there.
    """
    refuse_unknown(fields, Batch.RECORD_FIELDS, "These fields cannot be recorded on a batch")
    batch = Batch(**fields, status=Batch.Status.IN_PRODUCTION)
    return save_validated(batch, actor=actor, reason=reason)


@transaction.atomic
def correct_batch(batch: Batch, *, actor: AbstractBaseUser, reason: str = "", **changes) -> Batch:
    """Correct the data of a batch; a batch a QP has decided on needs a reason.

    `Batch.CORRECTABLE_FIELDS` may change at any time; `Batch.IDENTITY_FIELDS` only while
    the batch is in production (`identity_refusal`); the status never (it changes only
    through the QP's way). The audit event carries the reason, and the QP signature of a
    released batch stops matching once its content differs. If a released batch no
    longer meets its release rules after the correction, it is put on hold in the same
    transaction (see `hold`); the returned batch's `holds` says so.
    """
    batch = lock_batch(batch)
    allowed = (*Batch.CORRECTABLE_FIELDS, *Batch.IDENTITY_FIELDS)
    refuse_unknown(changes, allowed, "These fields cannot be corrected")
    refusal = identity_refusal(batch, changes)
    if refusal:
        raise BatchError(refusal)
    if batch.reason_required({"status": batch.status}) and not reason.strip():
        raise BatchError(
            f"Batch {batch.code} has a QP decision (now {batch.get_status_display().lower()}"
            "): a correction needs a written reason."
        )
    for field, value in changes.items():
        setattr(batch, field, value)
    audit_action = "correct" if batch.is_locked else "update"
    save_validated(batch, actor=actor, reason=reason, audit_action=audit_action)
    fields = ", ".join(sorted(changes)) or "nothing"
    batch.holds = review_released(
        [batch], actor=actor, cause=f"correction of {fields}", why=reason
    )
    return batch


@transaction.atomic
def delete_batch(batch: Batch, *, actor: AbstractBaseUser | None, reason: str) -> None:
    """Delete a batch entered by mistake: refused once a QP has decided on it, and while
    it has checks or bags."""
    delete_audited(batch, actor=actor, reason=reason)
