"""Allocating a dose: whole bags reserved, the calculator's proposal or bags chosen by hand.

`allocate_dose` reserves exactly the bags of a plan (or bags chosen by hand, with a
reason), safe under concurrency. It asks `dosing.services.stock` for the stock and the
proposal, as the order page does (`plan_dose`), so the page and the reservation see the
same bags through the same rules, in a number of queries that does not grow with stock.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from batches.models import Bag, Batch, StorageLocation
from batches.rules import batch_problem
from batches.services import reserve_bags
from core.formatting import fmt_cells
from dosing.calculator import BagOption, DosePlan, DoseRange
from dosing.exceptions import AllocationError
from dosing.models import Dose, DoseBag
from dosing.rules import (
    alive_failures,
    batch_override_failures,
    chosen_bag_failures,
    override_check,
    range_text,
    status_failures,
)
from dosing.rules.received import received_failures
from dosing.services.common import now_or, refuse
from dosing.services.stock import (
    RECORD_RELATED,
    UsableStock,
    candidate_stock,
    propose,
    usable_stock,
    verified_plan,
)

logger = logging.getLogger("celltrack.dosing")

S = Dose.Status


def lock_dose_and_stock(dose: Dose) -> Dose:
    """The dose's row and its patient's hospital's, until commit: one allocation at a time
    from a hospital's stock. Only the hospital's own patients' doses are allocated from
    it, so a second allocation there waits here and then reads the stock the first left:
    the calculator's proposal is never raced for the same bags, and only its own bags
    need locking (`lock_bags` still locks and re-checks them against every other
    writer). PostgreSQL: FOR NO KEY UPDATE (foreign-key checks pass; any other writer of
    the dose, which locks it FOR UPDATE, still waits); SQLite serialises writers anyway."""
    return (
        Dose.objects.select_for_update(of=("self", "patient__hospital"), no_key=True)
        .select_related("patient__hospital", "protocol", "batch")
        .get(pk=dose.pk)
    )


def lock_bags(
    ids: Sequence[int], *, available_only: bool, batch_ids: Iterable[int] = ()
) -> list[Bag]:
    """Lock the bags' rows and their batches' (PostgreSQL: a second writer waits here,
    then re-reads).

    `batch_ids` (the batches the bags are known to come from) are locked first, as a
    recall or a hold locks its batch before it changes the batch's bags, so that neither
    waits for the other in a cycle; any other batch of the bags after them. The bags'
    query has no join so that, on PostgreSQL, a row changed by a concurrent transaction
    is re-checked against `status = available` and dropped if taken.
    """
    # The batches are locked FOR NO KEY UPDATE (foreign-key checks pass): a recall or a
    # hold, which locks its batch, waits for this allocation, or this allocation for it
    # and then reads the batch as it left it. With their records' relations, so that the
    # record can be rebuilt without reading the batch again.
    lock_batches = Batch.objects.select_for_update(of=("self",), no_key=True).select_related(
        *RECORD_RELATED
    )
    batch_ids = sorted(set(batch_ids))
    batches = lock_batches.in_bulk(batch_ids) if batch_ids else {}
    qs = Bag.objects.select_for_update().filter(pk__in=list(ids))
    if available_only:
        qs = qs.filter(status=Bag.Status.AVAILABLE)
    bags = list(qs.order_by("pk"))
    missing = {b.batch_id for b in bags} - set(batches)
    if missing:
        batches |= lock_batches.in_bulk(missing)
    for bag in bags:
        bag.batch = batches[bag.batch_id]
    return bags


def _locked_plan(plan_from, usable: UsableStock, *, on_date) -> tuple[DosePlan, list[Bag]]:
    """The calculator's plan from the stock as read, then its batch and bags locked and
    the batch judged in full under its lock (`batch_problem`: its decision signature read
    and its record rebuilt). A bag taken or changed since the stock was read (by another
    writer than an allocation here: those wait in `lock_dose_and_stock`) is left out and
    the dose proposed again; so is a batch that cannot be used, after the rest of the
    stock is judged at once (`UsableStock.judged`, as `verified_plan` does). Only the
    proposal's rows are locked, whatever the stock."""
    options = list(usable.options)
    judged = False
    while True:
        plan = plan_from(options)
        if not plan.bags:
            return plan, []
        wanted = {b.pk for b in plan.bags}
        locked = lock_bags(
            wanted, available_only=True, batch_ids=[usable.batch_ids[plan.batch_code]]
        )
        if len(locked) < len(wanted):
            gone = wanted - {b.pk for b in locked}
            options = [o for o in options if o.pk not in gone]
            continue
        batch = locked[0].batch
        if plan.batch_code in usable.signatures:
            # Read with the whole stock's: one signed later than that read (only after a
            # correction, which changes the record) can only make this check refuse.
            batch._decision_signature = usable.signatures[plan.batch_code]
        problem = batch_problem(batch, on_date)
        if problem is None:
            return plan, locked
        logger.info(
            "Batch %s left out of the allocation under its lock: %s", plan.batch_code, problem
        )
        options = [o for o in options if o.batch_code != plan.batch_code]
        if not judged:
            options, judged = usable.judged(options, on_date=on_date), True


def _chosen_bags(dose, bags, plan, locked, stock_options, fixed_batch, today) -> list[Bag]:
    """The calculator's bags (`locked` with the plan), or the bags chosen by hand."""
    if bags is None:
        if not plan.bags:
            raise AllocationError(_no_plan_message(dose, fixed_batch, stock_options))
        return locked
    if not bags:
        raise AllocationError("Choose at least one bag.")
    chosen = lock_bags(
        [b.pk for b in bags], available_only=False, batch_ids=[b.batch_id for b in bags]
    )
    refuse(
        AllocationError,
        chosen_bag_failures(chosen, fixed_batch=fixed_batch, patient=dose.patient, on_date=today),
    )
    location_hospitals = dict(
        StorageLocation.objects.filter(pk__in=[b.location_id for b in chosen]).values_list(
            "pk", "hospital_id"
        )
    )
    refuse(
        AllocationError,
        received_failures(
            chosen, hospital=dose.patient.hospital, location_hospitals=location_hospitals
        ),
    )
    return chosen


def _trail_reason(chosen, plan, choice_reason: str, override) -> str:
    """Why these bags: the override's reason, and a written reason where they are not the
    calculator's proposal (refused without one)."""
    choice_reason = choice_reason.strip()
    deviates = {b.code for b in chosen} != set(plan.bag_codes)
    if deviates and not choice_reason and not override.new:
        proposed = ", ".join(plan.bag_codes) or "nothing (no whole bags give a dose in range)"
        raise AllocationError(
            f"Bags {', '.join(b.code for b in chosen)} are not the calculator's proposal "
            f"({proposed}). Reserve the proposal, or write why these bags are chosen instead.",
            field="choice_reason",
        )
    trail = override.reason if override.new else ""
    if deviates and choice_reason:
        trail = "; ".join(
            filter(None, [f"bags chosen instead of the proposal: {choice_reason}", trail])
        )
    return trail


@transaction.atomic
def allocate_dose(
    dose: Dose,
    *,
    actor: AbstractBaseUser,
    bags: Sequence[Bag] | None = None,
    override_physician: str = "",
    override_reason: str = "",
    choice_reason: str = "",
    batch_override_physician: str = "",
    batch_override_reason: str = "",
    at: datetime.datetime | None = None,
) -> Dose:
    """Reserve whole bags for an ordered dose: the calculator's proposal, or `bags`.

    Guarantees: every bag is `available`, of a released, unexpired batch whose QP release
    signature still matches the batch record, and all are of the patient's batch (the
    first dose fixes it); the patient is not recorded dead; the total is within the
    protocol's range, or a named physician and a written reason override it (where the
    protocol allows) and are recorded on the dose with the total they approved. Bags
    chosen by hand that differ from the calculator's proposal need a written
    `choice_reason` (or the override's reason), which goes on the audit trail. Two
    allocations at once never take the same bag: the bag rows are locked, the reservation
    is a conditional UPDATE that takes only bags still available (the count is checked),
    and a partial unique constraint makes a second live reservation of a bag impossible.
    Each bag gets a custody event. When the patient's batch was recalled, the course
    continues from another batch only with `batch_override_physician` and
    `batch_override_reason` (`dosing.rules.batch_override_failures`), recorded on the
    dose and on the trail (audit action `override_batch_allocate`).
    """
    at = now_or(at)
    today = timezone.localdate(at)
    dose = lock_dose_and_stock(dose)
    refuse(AllocationError, status_failures(dose, S.ORDERED, "allocated"))
    refuse(AllocationError, alive_failures(dose.patient, today))
    switching = bool(batch_override_physician.strip())
    # The patient's other doses are read once, for the course's batch and the stock.
    stock = candidate_stock(
        dose.patient,
        dose.protocol,
        planned_for=dose.planned_for,
        exclude=dose,
        at=at,
        replace_recalled=switching,
    )
    course_batch = stock.course_batch
    refuse(
        AllocationError,
        batch_override_failures(
            course_batch, physician=batch_override_physician, reason=batch_override_reason
        ),
    )
    fixed_batch = stock.fixed_batch
    usable = usable_stock(stock.bags, on_date=stock.on_date)
    dose_range = DoseRange.from_protocol(dose.protocol)

    def plan_from(options):
        return propose(dose_range, dose.weight_kg, options, stock)

    if bags is None:
        plan, locked = _locked_plan(plan_from, usable, on_date=stock.on_date)
    else:  # the proposal only to compare the bags chosen by hand with
        plan, locked = verified_plan(plan_from, usable, on_date=stock.on_date), []
    # Named in the refusal when nothing gives a dose: the bags that may be used.
    options = usable.options
    if bags is None and not plan.bags:
        options = usable.judged(options, on_date=stock.on_date)
    chosen = _chosen_bags(dose, bags, plan, locked, options, fixed_batch, stock.on_date)

    total_cells = sum(b.nominal_cells for b in chosen)
    override = override_check(
        dose,
        total_cells,
        physician=override_physician,
        reason=override_reason,
        what=f"Bags {', '.join(b.code for b in chosen)}",
    )
    refuse(AllocationError, override.failures)
    trail = _trail_reason(chosen, plan, choice_reason, override)
    if switching:
        trail = "; ".join(
            filter(
                None,
                [
                    f"batch {course_batch.code} recalled: course continues from another "
                    f"batch on the order of {batch_override_physician.strip()} "
                    f"({batch_override_reason.strip()})",
                    trail,
                ],
            )
        )
    reason = trail or f"bags reserved for dose {dose.code}"
    with audit_context(actor=actor, reason=reason):
        _reserve(dose, chosen, actor=actor, at=at, reason=reason)
        dose.batch = chosen[0].batch
        dose.planned_cells = total_cells
        dose.planned_volume_ml = sum((b.volume_ml for b in chosen), Decimal("0"))
        dose.delivered_cells = total_cells
        dose.override_physician = override.physician
        dose.override_reason = override.reason
        dose.override_cells = total_cells if override.new else None
        dose.status = S.ALLOCATED
        dose.allocated_by = actor
        dose.allocated_at = at
        if switching:
            dose.batch_override_physician = batch_override_physician.strip()
            dose.batch_override_reason = batch_override_reason.strip()
            action = "override_batch_allocate"
        else:
            action = "override_allocate" if override.physician else "allocate"
        dose.save(audit_action=action)
    return dose


def _reserve(dose: Dose, chosen: Sequence[Bag], *, actor, at, reason: str) -> None:
    """Take every chosen bag, or none, through batches' one writer of reservations
    (`reserve_bags`: the conditional update and the custody events), then the dose's
    record of each bag (one INSERT, the events appended together)."""
    taken = reserve_bags(
        chosen,
        actor=actor,
        note=f"reserved for dose {dose.code}",
        reason=reason,
        at=at,
        locked=True,  # `lock_bags` locked and loaded them
    )
    if taken != len(chosen):
        # Rolls back the bags this call did take: all or nothing.
        raise AllocationError(
            f"Another allocation took {len(chosen) - taken} of these bags a moment ago; "
            "nothing was reserved. Reload the proposal."
        )
    DoseBag.objects.bulk_create(
        [
            DoseBag(
                dose=dose,
                bag=bag,
                cells=bag.nominal_cells,
                volume_ml=bag.volume_ml,
                reserved_at=at,
            )
            for bag in chosen
        ]
    )


def _no_plan_message(dose: Dose, fixed_batch: Batch | None, options: Sequence[BagOption]) -> str:
    required = (
        f"{range_text(dose.protocol)} (required {fmt_cells(dose.required_cells)} cells "
        f"for {dose.weight_kg} kg)"
    )
    if fixed_batch is None:
        return (
            f"No released batch in stock received at {dose.patient.hospital.code} has whole "
            f"bags that give {dose.code} a dose within {required}. Ask production for a "
            "shipment; a dose outside the range needs bags chosen by hand with a "
            "physician's override."
        )
    stock = ", ".join(f"{b.code} ({fmt_cells(b.cells)})" for b in options) or "none"
    return (
        f"All of {dose.patient.code}'s doses come from batch {fixed_batch.code} (fixed by "
        f"the first dose); its usable bags ({stock}) give no whole-bag dose within "
        f"{required}. Bags of another batch cannot be used. A total outside the range may "
        "be given only with a named physician's override; otherwise cancel this dose and "
        "ask production whether batch "
        f"{fixed_batch.code} has other bags."
    )
