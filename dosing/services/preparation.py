"""Preparing a dose: thawed (infused in the freezing medium) or refreshed (re-seeded,
harvested, counted), then dispensed to the ward with its use-before time."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.context import audit_context
from batches.models import Bag
from core.exceptions import validation_messages
from dosing.exceptions import AllocationError, PreparationError
from dosing.models import Dose, Preparation
from dosing.rules import (
    dispense_failures,
    override_check,
    refresh_failures,
    refresh_limit,
    thaw_failures,
    use_before,
)
from dosing.services.common import lock_dose, move_live_bags, now_or, refuse

S = Dose.Status
THAWED_MEDIUM = "AB serum + 10 % DMSO (the freezing medium), unwashed"
REFRESHED_MEDIUM = "Ringer's lactate + 1 % albumin"


@transaction.atomic
def record_thaw(
    dose: Dose,
    *,
    actor: AbstractBaseUser,
    thawed_at: datetime.datetime | None = None,
    at: datetime.datetime | None = None,
) -> Preparation:
    """Record that the dose's bags were thawed, to be infused in the freezing medium.

    The premedication the protocol requires for a thawed product is written on the
    preparation for the ward. Refused (`dosing.rules.thaw_failures`): a dose not
    allocated; a thaw time in the future; a patient recorded dead; a batch no longer
    released, expired on the thaw day, or whose QP signature no longer matches the batch
    record; a thaw whose infusion (within the thaw limit) cannot fall inside the interval
    window after the previous dose's infusion. Bags → thawed (custody events); dose →
    prepared.
    """
    at = now_or(at)
    thawed_at = thawed_at or at
    dose = lock_dose(dose)
    refuse(PreparationError, thaw_failures(dose, thawed_at, at))
    protocol = dose.protocol
    prep = Preparation(
        dose=dose,
        method=Preparation.Method.THAWED,
        thawed_at=thawed_at,
        medium=THAWED_MEDIUM,
        premedication=protocol.premedication if protocol.premedication_required_for_thawed else "",
        prepared_by=actor,
        recorded_at=at,
    )
    with audit_context(actor=actor, reason=f"dose {dose.code} thawed"):
        prep.save(audit_action="thaw")
        move_live_bags(
            dose, Bag.Status.THAWED, actor=actor, note=f"thawed for dose {dose.code}", at=thawed_at
        )
        dose.status = S.PREPARED
        dose.delivered_cells = dose.planned_cells
        dose.use_before = use_before(prep, protocol)
        dose.save(audit_action="prepare")
    return prep


@transaction.atomic
def record_refresh(
    dose: Dose,
    *,
    actor: AbstractBaseUser,
    thawed_at: datetime.datetime,
    seeded_at: datetime.datetime,
    harvested_at: datetime.datetime,
    viable_cells: int,
    viability_pct: Decimal,
    volume_ml: Decimal,
    override_physician: str = "",
    override_reason: str = "",
    at: datetime.datetime | None = None,
) -> Preparation:
    """Record a refreshed preparation: thawed, re-seeded, harvested, counted, resuspended.

    Refused (`dosing.rules.refresh_failures`): culture of the protocol's limit or more
    (< 72 h); times out of order or in the future; a harvest already past the
    harvest-to-infusion limit; a patient recorded dead; the batch checks of `record_thaw`
    on the thaw day; a harvest whose infusion (within the harvest limit) cannot fall
    inside the interval window; a post-harvest viable count outside the range without an
    override for that count (an override given at allocation covers only the total it
    approved: a different count outside the range needs a fresh physician and reason,
    audit action `override_prepare`). The dose is recalculated from the viable count.
    Bags → in refresh culture; dose → prepared.
    """
    at = now_or(at)
    dose = lock_dose(dose)
    viable_cells = int(viable_cells)
    refuse(
        PreparationError,
        refresh_failures(
            dose,
            thawed_at=thawed_at,
            seeded_at=seeded_at,
            harvested_at=harvested_at,
            viable_cells=viable_cells,
            now=at,
            viability_pct=Decimal(str(viability_pct)) if viability_pct is not None else None,
        ),
    )
    override = override_check(
        dose,
        viable_cells,
        physician=override_physician,
        reason=override_reason,
        what="The post-harvest viable count",
    )
    # The range and its override are one rule, refused as at allocation.
    refuse(AllocationError, override.failures)
    prep = Preparation(
        dose=dose,
        method=Preparation.Method.REFRESHED,
        thawed_at=thawed_at,
        seeded_at=seeded_at,
        harvested_at=harvested_at,
        viable_cells=viable_cells,
        viability_pct=viability_pct,
        volume_ml=volume_ml,
        medium=REFRESHED_MEDIUM,
        prepared_by=actor,
        recorded_at=at,
    )
    try:
        prep.full_clean(exclude=["dose"])
    except ValidationError as exc:
        raise PreparationError(validation_messages(exc)) from None
    trail = override.reason if override.new else f"dose {dose.code} refreshed"
    with audit_context(actor=actor, reason=trail):
        prep.save(audit_action="refresh")
        move_live_bags(
            dose,
            Bag.Status.IN_REFRESH,
            actor=actor,
            note=f"refresh culture for {dose.code}",
            at=thawed_at,
        )
        dose.status = S.PREPARED
        dose.delivered_cells = viable_cells
        dose.override_physician = override.physician
        dose.override_reason = override.reason
        if override.new:
            dose.override_cells = viable_cells
        dose.use_before = refresh_limit(dose, harvested_at)
        dose.save(audit_action="override_prepare" if override.new else "prepare")
    return prep


@transaction.atomic
def dispense_dose(
    dose: Dose, *, actor: AbstractBaseUser, at: datetime.datetime | None = None
) -> Dose:
    """Hand a prepared dose to the ward with its use-before time.

    use_before = thaw + thaw-to-infusion limit (thawed) or harvest + 24 h (refreshed).
    Refused (`dosing.rules.dispense_failures`) past that limit (the product must be
    discarded), for a patient recorded dead, and when the batch is no longer released, is
    expired on the day of dispensing or its QP signature no longer matches the batch
    record. Bags → dispensed.
    """
    at = now_or(at)
    dose = lock_dose(dose)
    refuse(PreparationError, dispense_failures(dose, at))
    with audit_context(actor=actor, reason=f"dose {dose.code} dispensed to the ward"):
        move_live_bags(
            dose, Bag.Status.DISPENSED, actor=actor, note=f"dispensed for {dose.code}", at=at
        )
        dose.status = S.DISPENSED
        dose.dispensed_by = actor
        dose.dispensed_at = at
        dose.use_before = use_before(dose.preparation, dose.protocol)
        dose.save(audit_action="dispense")
    return dose
