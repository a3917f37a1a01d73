"""Planning and allocating a dose: the calculator's proposal, then whole bags reserved.

`plan_dose` is what the order page shows (no locks, nothing written); `allocate_dose`
reserves exactly the bags of a plan (or bags chosen by hand, with a reason), safe under
concurrency. Both ask `candidate_stock` for the stock, so the page and the reservation
see the same bags through the same rules.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.context import audit_context
from batches.models import Bag, Batch, StorageLocation
from batches.querysets import bags_available_for_allocation
from batches.rules import batch_problem
from batches.services import reserve_bags
from core.formatting import fmt_cells
from dosing.calculator import BagOption, Course, DosePlan, DoseRange, propose_bags
from dosing.exceptions import AllocationError
from dosing.models import Dose, DoseBag, Protocol
from dosing.models.protocol import MAX_DOSE_NUMBER
from dosing.rules import (
    alive_failures,
    batch_override_failures,
    chosen_bag_failures,
    dose_reference_time,
    override_check,
    range_text,
    status_failures,
)
from dosing.rules.received import received_failures
from dosing.services.common import lock_dose, now_or, patient_batch, refuse
from patients.models import Patient

S = Dose.Status


def course_need(
    protocol: Protocol, *, doses_given: int, latest_start: datetime.datetime
) -> Course:
    """What the patient's batch must still supply from this dose on: the doses the course
    still allows (this one included; the protocol's maximum, never past the dose numbers),
    each before the batch expires — the last of them at the latest `latest_start` (this
    dose's latest start) plus the maximum interval per later dose."""
    doses = max(min(protocol.max_doses, MAX_DOSE_NUMBER) - doses_given, 1)
    last = latest_start + datetime.timedelta(hours=protocol.max_interval_hours * (doses - 1))
    return Course(doses=doses, until=timezone.localdate(last))


@dataclass(frozen=True)
class Stock:
    """The candidate stock for a patient's next dose, as the order page and the
    allocation both see it."""

    fixed_batch: Batch | None
    bags: QuerySet
    on_date: datetime.date
    course: Course


def candidate_stock(
    patient: Patient,
    protocol: Protocol,
    *,
    planned_for: datetime.datetime,
    exclude: Dose | None = None,
    at: datetime.datetime | None = None,
    replace_recalled: bool = False,
) -> Stock:
    """The available bags a dose planned for `planned_for` may come from, in a constant
    number of queries: bags received in range at the patient's hospital (stored at one
    of its positions), of the patient's batch once the first dose fixed it, of released
    batches unexpired on the day the dose will be given (never earlier than `at`), with
    the course that batch must still supply. Expiry is judged once, against that day: the
    stock query selects on it and `usable_bags` re-checks each batch on the same day.
    `replace_recalled`: the patient's batch was recalled and a physician's override lets
    the course continue from any released batch."""
    on_date = max(timezone.localdate(now_or(at)), timezone.localdate(planned_for))
    fixed_batch = patient_batch(patient, exclude=exclude)
    if (
        replace_recalled
        and fixed_batch is not None
        and fixed_batch.status == Batch.Status.RECALLED
    ):
        fixed_batch = None
    bags = bags_available_for_allocation(on_date=on_date).filter(
        location__hospital_id=patient.hospital_id
    )
    if fixed_batch is not None:
        bags = bags.filter(batch=fixed_batch)
    given = list(Dose.objects.of_patient(patient).exclude(pk=getattr(exclude, "pk", None)))
    if given:
        latest_start = dose_reference_time(given[-1]) + datetime.timedelta(
            hours=protocol.max_interval_hours
        )
    else:
        latest_start = planned_for
    course = course_need(protocol, doses_given=len(given), latest_start=latest_start)
    return Stock(fixed_batch, bags, on_date, course)


def usable_bags(bags, *, on_date: datetime.date) -> list[Bag]:
    """Of available bags, those whose batch passes `batch_problem` on `on_date` (released,
    unexpired that day, QP signature still matching the batch record); one check per
    batch."""
    verdict: dict[int, bool] = {}
    usable = []
    for bag in bags:
        if bag.batch_id not in verdict:
            verdict[bag.batch_id] = batch_problem(bag.batch, on_date) is None
        if verdict[bag.batch_id]:
            usable.append(bag)
    return usable


def _propose(dose_range, weight_kg, bags, stock: Stock) -> DosePlan:
    return propose_bags(
        weight_kg=weight_kg,
        dose_range=dose_range,
        bags=[BagOption.from_bag(b) for b in bags],
        batch_code=stock.fixed_batch.code if stock.fixed_batch else None,
        course=stock.course,
    )


def plan_dose(
    patient: Patient,
    *,
    weight_kg: Decimal,
    protocol: Protocol,
    exclude: Dose | None = None,
    planned_for: datetime.datetime | None = None,
    replace_recalled: bool = False,
) -> DosePlan:
    """The proposal for the patient's next dose from the stock as it is (no locks).

    The batch chosen can supply the rest of the course where any can, and the first
    choice never spoils it (see `dosing.calculator.propose_bags`); `planned_for` (when
    the dose will be given) defaults to now. `replace_recalled`: the patient's batch was
    recalled, so propose from any released batch (allocation needs the override).
    """
    stock = candidate_stock(
        patient,
        protocol,
        planned_for=planned_for or timezone.now(),
        exclude=exclude,
        replace_recalled=replace_recalled,
    )
    bags = usable_bags(stock.bags, on_date=stock.on_date)
    dose_range = DoseRange.from_protocol(protocol)
    plan = _propose(dose_range, weight_kg, bags, stock)
    if not plan.bags:
        elsewhere = facilities_with_stock(patient, stock, dose_range, weight_kg)
        plan = dataclasses.replace(
            plan,
            warning=" ".join(
                filter(None, [plan.warning, stock_elsewhere_text(patient, elsewhere)])
            ),
            stock_elsewhere=tuple((facility.pk, facility.fin) for facility in elsewhere),
        )
    return plan


def facilities_with_stock(patient: Patient, stock: Stock, dose_range: DoseRange, weight_kg):
    """The facilities whose stored, released stock (of the patient's batch once fixed, in
    no open shipment) could give this dose: where the pharmacy may ask for a shipment.
    Two queries, whatever the number of facilities."""
    bags = (
        bags_available_for_allocation(on_date=stock.on_date)
        .filter(location__facility__isnull=False)
        .exclude(shipment_items__open=True)
        .select_related("location__facility")
    )
    if stock.fixed_batch is not None:
        bags = bags.filter(batch=stock.fixed_batch)
    by_facility: dict = {}
    for bag in usable_bags(bags, on_date=stock.on_date):
        by_facility.setdefault(bag.location.facility, []).append(bag)
    return [
        facility
        for facility, held in sorted(by_facility.items(), key=lambda item: item[0].fin)
        if _propose(dose_range, weight_kg, held, stock).bags
    ]


def stock_elsewhere_text(patient: Patient, facilities) -> str:
    """What the plan says when the hospital has no received stock for the dose."""
    hospital = patient.hospital.code
    if not facilities:
        return (
            f"No bags received in range at {hospital} give this dose, and no facility "
            "holds suitable released stock."
        )
    names = ", ".join(f"{f.fin} ({f.name})" for f in facilities)
    return (
        f"No bags received in range at {hospital} give this dose. Suitable released stock "
        f"is held at: {names}. Send that facility a shipment request."
    )


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
    dose = lock_dose(dose)
    refuse(AllocationError, status_failures(dose, S.ORDERED, "allocated"))
    refuse(AllocationError, alive_failures(dose.patient, today))
    course_batch = patient_batch(dose.patient, exclude=dose)
    refuse(
        AllocationError,
        batch_override_failures(
            course_batch, physician=batch_override_physician, reason=batch_override_reason
        ),
    )
    switching = bool(batch_override_physician.strip())
    stock = candidate_stock(
        dose.patient,
        dose.protocol,
        planned_for=dose.planned_for,
        exclude=dose,
        at=at,
        replace_recalled=switching,
    )
    fixed_batch = stock.fixed_batch
    if bags is None:
        candidate_pks = list(stock.bags.values_list("pk", flat=True))
        locked = usable_bags(lock_bags(candidate_pks, available_only=True), on_date=stock.on_date)
    else:
        locked = usable_bags(stock.bags, on_date=stock.on_date)
    plan = _propose(DoseRange.from_protocol(dose.protocol), dose.weight_kg, locked, stock)
    chosen = _chosen_bags(dose, bags, plan, locked, fixed_batch, stock.on_date)

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
    record of each bag."""
    taken = reserve_bags(
        chosen, actor=actor, note=f"reserved for dose {dose.code}", reason=reason, at=at
    )
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


def _no_plan_message(dose: Dose, fixed_batch: Batch | None, locked: Sequence[Bag]) -> str:
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
    stock = ", ".join(f"{b.code} ({fmt_cells(b.nominal_cells)})" for b in locked) or "none"
    return (
        f"All of {dose.patient.code}'s doses come from batch {fixed_batch.code} (fixed by "
        f"the first dose); its usable bags ({stock}) give no whole-bag dose within "
        f"{required}. Bags of another batch cannot be used. A total outside the range may "
        "be given only with a named physician's override; otherwise cancel this dose and "
        "ask production whether batch "
        f"{fixed_batch.code} has other bags."
    )
