"""Changes to a donor's record: the donor, serology, procurement.

Each re-checks the donor's released batches and puts on hold those that now fail.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.context import audit_context
from batches.exceptions import BatchError
from batches.models import Batch, Donor, Procurement, SerologyResult
from batches.services.base import validation_messages
from batches.services.release import Hold, review_released

DONOR_FIELDS = (
    "code",
    "age_at_donation",
    "sex",
    "has_comorbidities",
    "has_concomitant_treatments",
    "consent_for_clinical_use",
    "consent_signed_on",
)


def _review_donor(donor: Donor, *, actor, cause: str, why: str) -> list[Hold]:
    released = donor.batches.filter(status=Batch.Status.RELEASED).order_by("pk")
    return review_released(list(released), actor=actor, cause=cause, why=why)


def _require_donor_reason(donor: Donor, reason: str, what: str) -> None:
    if donor.has_decided_batch() and not reason.strip():
        raise BatchError(
            f"Donor {donor.code} has a batch a QP has decided on: {what} is a correction "
            "and needs a written reason."
        )


def _save_validated(obj, *, actor, reason: str, exclude=None) -> None:
    try:
        obj.full_clean(exclude=exclude, validate_unique=True)
    except ValidationError as error:
        raise BatchError(validation_messages(error)) from None
    with audit_context(actor=actor, reason=reason.strip()):
        obj.save()


@transaction.atomic
def update_donor(donor: Donor, *, actor: AbstractBaseUser | None, reason: str = "", **changes):
    """Change a donor's data (`DONOR_FIELDS`); re-check the donor's released batches.

    A donor with a batch a QP has decided on changes only with a written reason. If the
    donor is no longer eligible, each released batch from the donor is put on hold in
    the same transaction (see `hold`); the returned donor's `holds` lists them.
    """
    unknown = set(changes) - set(DONOR_FIELDS)
    if unknown:
        raise BatchError(f"These donor fields cannot be changed: {', '.join(sorted(unknown))}.")
    donor = Donor.objects.select_for_update().get(pk=donor.pk)
    _require_donor_reason(donor, reason, "a change to the donor")
    for name, value in changes.items():
        setattr(donor, name, value)
    _save_validated(donor, actor=actor, reason=reason)
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
    """Record a donor screening result, or correct one (`correcting`).

    Once a QP has decided on a batch from the donor, any new or corrected result needs
    a written reason (a look-back). If the donor is no longer eligible, each released
    batch from the donor is put on hold in the same transaction (see `hold`); the
    returned result's `holds` lists them.
    """
    donor = Donor.objects.select_for_update().get(pk=donor.pk)
    _require_donor_reason(donor, reason, "a serology result")
    if correcting is not None:
        serology = SerologyResult.objects.select_for_update().filter(pk=correcting.pk).first()
        if serology is None or serology.donor_id != donor.pk:
            raise BatchError(f"This serology result is not one of donor {donor.code}'s.")
    else:
        serology = SerologyResult(donor=donor)
    serology.test, serology.result, serology.sampled_on = test, result, sampled_on
    _save_validated(serology, actor=actor, reason=reason)
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
    """Record a tissue procurement, or correct one (`correcting`).

    The procurement date anchors the donor's serology window, so a correction can make
    the donor ineligible for a batch: each released batch from the donor is re-checked
    and put on hold if it now fails (see `hold`); the result's `holds` lists them.
    """
    donor = Donor.objects.select_for_update().get(pk=donor.pk)
    _require_donor_reason(donor, reason, "a procurement record")
    if correcting is not None:
        procurement = Procurement.objects.select_for_update().filter(pk=correcting.pk).first()
        if procurement is None or procurement.donor_id != donor.pk:
            raise BatchError(f"This procurement is not one of donor {donor.code}'s.")
    else:
        procurement = Procurement(donor=donor)
    procurement.procured_on = procured_on
    procurement.site = site
    procurement.lipoaspirate_volume_ml = Decimal(str(lipoaspirate_volume_ml))
    procurement.fat_weight_g = Decimal(str(fat_weight_g))
    procurement.performed_by = performed_by
    _save_validated(procurement, actor=actor, reason=reason)
    procurement.holds = _review_donor(
        donor, actor=actor, cause="procurement record changed", why=reason
    )
    return procurement
