"""Planning and allocating a dose: the calculator's proposal, then whole bags reserved.

`plan_dose` is what the order page shows (no locks, nothing written); `allocate_dose`
reserves exactly the bags of a plan (or bags chosen by hand, with a reason), safe under
concurrency. Both ask `candidate_stock` for the stock, so the page and the reservation
see the same bags through the same rules.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from batches.models import Bag, Batch
from batches.querysets import bags_available_for_allocation
from batches.rules import batch_problem
from batches.services import record_custody_event
from core.formatting import fmt_cells
from dosing.calculator import BagOption, Course, DosePlan, DoseRange, propose_bags
from dosing.exceptions import AllocationError
from dosing.models import Dose, DoseBag, Protocol
from dosing.rules import (
    alive_failures,
    chosen_bag_failures,
    override_check,
    range_text,
    status_failures,
)
from dosing.services.common import lock_dose, now_or, patient_batch, refuse
from patients.models import Patient

S = Dose.Status


def course_need(protocol: Protocol, first_dose_at: datetime.datetime) -> Course:
    """What a first dose's batch should still supply: the protocol's doses, and an expiry
    on or after the day of the last possible dose (first + max interval × (doses − 1))."""
    last = first_dose_at + datetime.timedelta(
        hours=protocol.max_interval_hours * max(protocol.max_doses - 1, 0)
    )
    return Course(doses=protocol.max_doses, until=timezone.localdate(last))


def usable_bags(bags) -> list[Bag]:
    """Of available bags, those whose batch passes `batch_problem` (released, unexpired,
    QP signature still matching the batch record); one check per batch."""
    verdict: dict[int, bool] = {}
    usable = []
    for bag in bags:
        if bag.batch_id not in verdict:
            verdict[bag.batch_id] = batch_problem(bag.batch, datetime.date.min) is None
        if verdict[bag.batch_id]:
            usable.append(bag)
    return usable


def _propose(dose_range, weight_kg, bags, fixed_batch, course) -> DosePlan:
    return propose_bags(
        weight_kg=weight_kg,
        dose_range=dose_range,
        bags=[BagOption.from_bag(b) for b in bags],
        batch_code=fixed_batch.code if fixed_batch else None,
        course=course,
    )


def plan_dose(
    patient: Patient,
    *,
    weight_kg: Decimal,
    protocol: Protocol,
    on_date: datetime.date | None = None,
    exclude: Dose | None = None,
    first_dose_at: datetime.datetime | None = None,
) -> DosePlan:
    """The proposal for the patient's next dose from the stock as it is (no locks).

    For a first dose (no batch fixed yet), batches that can supply the whole course come
    first (see `dosing.calculator.propose_bags`); `first_dose_at` defaults to now.
    """
    batch = patient_batch(patient, exclude=exclude)
    bags = bags_available_for_allocation(on_date=on_date)
    if batch is not None:
        bags = bags.filter(batch=batch)
    course = None if batch is not None else course_need(protocol, first_dose_at or timezone.now())
    return _propose(DoseRange.from_protocol(protocol), weight_kg, usable_bags(bags), batch, course)


def lock_bags(ids: Sequence[int], *, available_only: bool) -> list[Bag]:
    """Lock the bags' rows (PostgreSQL: a second allocator waits here, then re-reads).

    The query has no join so that, on PostgreSQL, a row changed by a concurrent
    transaction is re-checked against `status = available` and dropped if taken.
    """
    qs = Bag.objects.select_for_update().filter(pk__in=list(ids))
    if available_only:
        qs = qs.filter(status=Bag.Status.AVAILABLE)
    bags = list(qs.order_by("pk"))
    batches = Batch.objects.in_bulk({b.batch_id for b in bags})
    for bag in bags:
        bag.batch = batches[bag.batch_id]
    return bags


def _take_bags(ids: Sequence[int]) -> int:
    """Reserve the bags still available: a conditional UPDATE, one audit event per bag."""
    return Bag.objects.filter(pk__in=list(ids), status=Bag.Status.AVAILABLE).update_audited(
        audit_action="bag_reserved", status=Bag.Status.RESERVED
    )


def _chosen_bags(dose, bags, plan, locked, fixed_batch, today) -> list[Bag]:
    """The calculator's bags (from the locked stock), or the bags chosen by hand."""
    if bags is None:
        if not plan.bags:
            raise AllocationError(_no_plan_message(dose, fixed_batch, locked))
        chosen_pks = {b.pk for b in plan.bags}
        return [b for b in locked if b.pk in chosen_pks]
    if not bags:
        raise AllocationError("Choose at least one bag.")
    chosen = lock_bags([b.pk for b in bags], available_only=False)
    refuse(
        AllocationError,
        chosen_bag_failures(chosen, fixed_batch=fixed_batch, patient=dose.patient, on_date=today),
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
    Each bag gets a custody event.
    """
    at = now_or(at)
    today = timezone.localdate(at)
    dose = lock_dose(dose)
    refuse(AllocationError, status_failures(dose, S.ORDERED, "allocated"))
    refuse(AllocationError, alive_failures(dose.patient, today))
    fixed_batch = patient_batch(dose.patient, exclude=dose)

    candidates = bags_available_for_allocation(on_date=today)
    if fixed_batch is not None:
        candidates = candidates.filter(batch=fixed_batch)
    candidate_pks = list(candidates.values_list("pk", flat=True))
    if bags is None:
        locked = usable_bags(lock_bags(candidate_pks, available_only=True))
    else:
        locked = usable_bags(candidates)
    course = None if fixed_batch else course_need(dose.protocol, dose.planned_for)
    plan = _propose(
        DoseRange.from_protocol(dose.protocol), dose.weight_kg, locked, fixed_batch, course
    )
    chosen = _chosen_bags(dose, bags, plan, locked, fixed_batch, today)

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
    with audit_context(actor=actor, reason=trail or f"bags reserved for dose {dose.code}"):
        _reserve(dose, chosen, actor=actor, at=at)
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
        dose.save(audit_action="override_allocate" if override.physician else "allocate")
    return dose


def _reserve(dose: Dose, chosen: Sequence[Bag], *, actor, at) -> None:
    """Take every chosen bag, or none: the reservations and their custody events."""
    taken = _take_bags([b.pk for b in chosen])
    if taken != len(chosen):
        # Rolls back the bags this call did take: all or nothing.
        raise AllocationError(
            f"Another allocation took {len(chosen) - taken} of these bags a moment ago; "
            "nothing was reserved. Reload the proposal."
        )
    for bag in chosen:
        DoseBag.objects.create(
            dose=dose,
            bag=bag,
            cells=bag.nominal_cells,
            volume_ml=bag.volume_ml,
            reserved_at=at,
        )
        record_custody_event(
            bag,
            Bag.Status.AVAILABLE,
            Bag.Status.RESERVED,
            actor=actor,
            location=str(bag.location) if bag.location_id else "",
            note=f"reserved for dose {dose.code}",
            at=at,
        )


def _no_plan_message(dose: Dose, fixed_batch: Batch | None, locked: Sequence[Bag]) -> str:
    required = (
        f"{range_text(dose.protocol)} (required {fmt_cells(dose.required_cells)} cells "
        f"for {dose.weight_kg} kg)"
    )
    if fixed_batch is None:
        return (
            f"No released batch in stock has whole bags that give {dose.code} a dose within "
            f"{required}. Ask production for stock; a dose outside the range needs bags "
            "chosen by hand with a physician's override."
        )
    stock = ", ".join(f"{b.code} ({fmt_cells(b.nominal_cells)})" for b in locked) or "none"
    return (
        f"All of {dose.patient.code}'s doses come from batch {fixed_batch.code} (fixed by "
        f"the first dose); its usable bags ({stock}) give no whole-bag dose within "
        f"{required}. Bags of another batch cannot be used. A total outside the range may "
        "be given only with a named physician's override; otherwise cancel this dose and "
        "ask production whether batch "
        f"{fixed_batch.code} has other bags."
    )
