"""Changes to a donor's record: the donor, serology, procurement.

Each change to what a QP decision rests on re-checks the donor's released batches and
puts on hold those that now fail. A recorded row stays with its donor: it is corrected
or deleted, never moved to another donor.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from batches.exceptions import BatchError
from batches.models import Donor, Procurement, SerologyResult
from batches.services.base import delete_audited, refuse_unknown, save_validated
from batches.services.release import Hold, review_released

# The donor's fields, as the admin, the service and the API name them (one definition).
DONOR_FIELDS = Donor.RECORD_FIELDS

MOVED_TO_ANOTHER_DONOR = "A record cannot be moved to another donor: record it again."


def _review_donor(donor: Donor, *, actor, cause: str, why: str) -> list[Hold]:
    # Every batch a QP decided on keeps its record's hash; the released ones are judged.
    decided = donor.batches.decided().order_by("pk")
    return review_released(list(decided), actor=actor, cause=cause, why=why)


def _require_donor_reason(donor: Donor, reason: str, what: str) -> None:
    if donor.has_decided_batch() and not reason.strip():
        raise BatchError(
            f"Donor {donor.code} has a batch a QP has decided on: {what} is a correction "
            "and needs a written reason."
        )


def _row_of(donor: Donor, model, correcting):
    """The donor's stored row being corrected (locked), or a new row of the donor.

    The rule behind the admin's fixed inline parent: a stored row never moves to another
    donor (`MOVED_TO_ANOTHER_DONOR`).
    """
    if correcting is None:
        return model(donor=donor)
    row = model.objects.select_for_update().filter(pk=correcting.pk).first()
    if row is None:
        raise BatchError(f"This {model._meta.verbose_name} is no longer on file.")
    if row.donor_id != donor.pk:
        raise BatchError(MOVED_TO_ANOTHER_DONOR)
    return row


@transaction.atomic
def create_donor(*, actor: AbstractBaseUser | None, reason: str = "", **fields) -> Donor:
    """Register a donor with `DONOR_FIELDS` (validated; the code is unique)."""
    refuse_unknown(fields, DONOR_FIELDS, "These donor fields cannot be recorded")
    return save_validated(Donor(**fields), actor=actor, reason=reason)


@transaction.atomic
def update_donor(donor: Donor, *, actor: AbstractBaseUser | None, reason: str = "", **changes):
    """Correct a donor's data (`DONOR_FIELDS`); re-check the donor's released batches.

    A donor with a batch a QP has decided on changes only with a written reason. If the
    donor is no longer eligible, each released batch from the donor is put on hold in
    the same transaction (see `hold`); the returned donor's `holds` lists them.
    """
    refuse_unknown(changes, DONOR_FIELDS, "These donor fields cannot be changed")
    donor = Donor.objects.select_for_update().get(pk=donor.pk)
    _require_donor_reason(donor, reason, "a change to the donor")
    for name, value in changes.items():
        setattr(donor, name, value)
    save_validated(donor, actor=actor, reason=reason)
    fields = ", ".join(sorted(changes)) or "nothing"
    donor.holds = _review_donor(donor, actor=actor, cause=f"donor change ({fields})", why=reason)
    return donor


@transaction.atomic
def record_serology(
    donor: Donor,
    *,
    actor: AbstractBaseUser | None,
    test: str,
    result: str,
    sampled_on: datetime.date,
    reason: str = "",
    correcting: SerologyResult | None = None,
) -> SerologyResult:
    """Record a donor screening result, or correct one of the donor's (`correcting`).

    Once a QP has decided on a batch from the donor, any new or corrected result needs
    a written reason (a look-back). If the donor is no longer eligible, each released
    batch from the donor is put on hold in the same transaction (see `hold`); the
    returned result's `holds` lists them.
    """
    donor = Donor.objects.select_for_update().get(pk=donor.pk)
    _require_donor_reason(donor, reason, "a serology result")
    serology = _row_of(donor, SerologyResult, correcting)
    serology.test, serology.result, serology.sampled_on = test, result, sampled_on
    save_validated(serology, actor=actor, reason=reason)
    serology.holds = _review_donor(
        donor, actor=actor, cause=f"serology {test} {result} recorded", why=reason
    )
    return serology


@transaction.atomic
def record_procurement(
    donor: Donor,
    *,
    actor: AbstractBaseUser | None,
    procured_on: datetime.date,
    site: str,
    lipoaspirate_volume_ml: Decimal,
    fat_weight_g: Decimal,
    performed_by: str,
    reason: str = "",
    correcting: Procurement | None = None,
) -> Procurement:
    """Record a tissue procurement, or correct one of the donor's (`correcting`).

    The procurement date anchors the donor's serology window, so a correction can make
    the donor ineligible for a batch: each released batch from the donor is re-checked
    and put on hold if it now fails (see `hold`); the result's `holds` lists them.
    """
    donor = Donor.objects.select_for_update().get(pk=donor.pk)
    _require_donor_reason(donor, reason, "a procurement record")
    procurement = _row_of(donor, Procurement, correcting)
    procurement.procured_on = procured_on
    procurement.site = site
    procurement.lipoaspirate_volume_ml = Decimal(str(lipoaspirate_volume_ml))
    procurement.fat_weight_g = Decimal(str(fat_weight_g))
    procurement.performed_by = performed_by
    save_validated(procurement, actor=actor, reason=reason)
    procurement.holds = _review_donor(
        donor, actor=actor, cause="procurement record changed", why=reason
    )
    return procurement


@transaction.atomic
def delete_serology(serology: SerologyResult, *, actor: AbstractBaseUser | None, reason: str):
    """Delete a result recorded by mistake; refused once a QP has decided on a batch
    from the donor (it is corrected then, never deleted)."""
    delete_audited(serology, actor=actor, reason=reason)


@transaction.atomic
def delete_procurement(procurement: Procurement, *, actor: AbstractBaseUser | None, reason: str):
    """Delete a procurement recorded by mistake: refused once a QP has decided on a batch
    from the donor, and while a batch names it."""
    delete_audited(procurement, actor=actor, reason=reason)


@transaction.atomic
def delete_donor(donor: Donor, *, actor: AbstractBaseUser | None, reason: str) -> None:
    """Delete a donor registered by mistake: refused while anything is recorded of them
    (serology, procurement, batches)."""
    delete_audited(donor, actor=actor, reason=reason)
