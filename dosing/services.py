"""Every state change of a dose: the only writer of dosing records.

Each function runs in one transaction, locks what it changes, opens an `audit_context`
naming the actor and the step, and raises a `DosingError` subclass with a message the
user can act on; a refusal changes nothing. Each takes `at=` (default: now) so that the
demo and the tests can place the steps in time.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from batches.models import Bag, Batch
from batches.querysets import bags_available_for_allocation
from batches.services import move_bag, record_custody_event
from dosing.calculator import (
    BagOption,
    DosePlan,
    DoseRange,
    cells_per_kg,
    cells_range,
    propose_bags,
    required_cells,
)
from dosing.exceptions import (
    AdverseEventError,
    AllocationError,
    CancellationError,
    DosingError,
    InfusionError,
    OrderRefused,
    PreparationError,
)
from dosing.models import AdverseEvent, Dose, DoseBag, Infusion, Preparation, Protocol
from patients.eligibility import evaluate_eligibility
from patients.models import Patient

S = Dose.Status
THAWED_MEDIUM = "Freezing medium: AB serum + 10 % DMSO, unwashed"
REFRESHED_MEDIUM = "Ringer's lactate + 1 % albumin"


# --- helpers shown on pages too ---------------------------------------------------------


def fmt_cells(cells: int | None) -> str:
    """Cells as ×10⁶ with two decimals, the way the ward reads them."""
    if cells is None:
        return "—"
    return f"{Decimal(cells) / Decimal(1_000_000):.2f}×10⁶"


def fmt_time(moment: datetime.datetime | None) -> str:
    if moment is None:
        return "—"
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def active_protocol() -> Protocol:
    protocol = Protocol.objects.filter(active=True).order_by("-version", "-pk").first()
    if protocol is None:
        raise DosingError("No active treatment protocol: ask the pharmacy lead to activate one.")
    return protocol


def live_doses(patient: Patient):
    return Dose.objects.filter(patient=patient).exclude(status=S.CANCELLED).order_by("number")


def patient_batch(patient: Patient, *, exclude: Dose | None = None) -> Batch | None:
    """The batch of the patient's doses: fixed by the first dose that reserved bags."""
    doses = live_doses(patient).filter(batch__isnull=False)
    if exclude is not None:
        doses = doses.exclude(pk=exclude.pk)
    first = doses.select_related("batch").first()
    return first.batch if first else None


def dose_reference_time(dose: Dose) -> datetime.datetime:
    """When a dose was given (infusion start), else when it is planned."""
    infusion = getattr(dose, "infusion", None) if dose.status == S.INFUSED else None
    return infusion.started_at if infusion else dose.planned_for


def interval_window(
    previous: Dose, protocol: Protocol
) -> tuple[datetime.datetime, datetime.datetime]:
    ref = dose_reference_time(previous)
    return (
        ref + datetime.timedelta(hours=protocol.min_interval_hours),
        ref + datetime.timedelta(hours=protocol.max_interval_hours),
    )


def use_before(preparation: Preparation, protocol: Protocol) -> datetime.datetime:
    """The latest start of infusion: thaw + thaw limit, or harvest + harvest limit."""
    if preparation.method == Preparation.Method.REFRESHED:
        return preparation.harvested_at + datetime.timedelta(
            hours=protocol.harvest_to_infusion_max_hours
        )
    return preparation.thawed_at + datetime.timedelta(
        minutes=protocol.thaw_to_infusion_max_minutes
    )


def plan_dose(
    patient: Patient,
    *,
    weight_kg: Decimal,
    protocol: Protocol,
    on_date: datetime.date | None = None,
    exclude: Dose | None = None,
) -> DosePlan:
    """The proposal for the patient's next dose from the stock as it is (no locks)."""
    batch = patient_batch(patient, exclude=exclude)
    bags = bags_available_for_allocation(on_date=on_date)
    if batch is not None:
        bags = bags.filter(batch=batch)
    return propose_bags(
        weight_kg=weight_kg,
        dose_range=DoseRange.from_protocol(protocol),
        bags=[BagOption.from_bag(b) for b in bags],
        batch_code=batch.code if batch else None,
    )


def _now(at: datetime.datetime | None) -> datetime.datetime:
    return at or timezone.now()


def _lock_dose(dose: Dose) -> Dose:
    return (
        Dose.objects.select_for_update(of=("self",))
        .select_related("patient", "protocol", "batch")
        .get(pk=dose.pk)
    )


def _messages(error: ValidationError) -> list[str]:
    if hasattr(error, "error_dict"):
        return [f"{field}: {m}" for field, msgs in error.message_dict.items() for m in msgs]
    return list(error.messages)


def _range_text(protocol: Protocol) -> str:
    return (
        f"{fmt_cells(protocol.min_cells_per_kg)}–{fmt_cells(protocol.max_cells_per_kg)}/kg "
        f"({protocol})"
    )


def _check_override(
    dose: Dose, cells: int, *, physician: str, reason: str, what: str
) -> tuple[str, str]:
    """Refuse a total outside the range unless the protocol allows a named override."""
    protocol = dose.protocol
    low, high = cells_range(dose.weight_kg, DoseRange.from_protocol(protocol))
    if low <= cells <= high:
        return dose.override_physician, dose.override_reason
    per_kg = fmt_cells(cells_per_kg(cells, dose.weight_kg))
    problem = (
        f"{what} gives {fmt_cells(cells)} cells = {per_kg}/kg for {dose.weight_kg} kg, "
        f"outside the acceptable range {_range_text(protocol)}."
    )
    if dose.has_override:
        return dose.override_physician, dose.override_reason
    if not protocol.overrides_allowed:
        raise AllocationError(f"{problem} This protocol allows no override.")
    physician, reason = physician.strip(), reason.strip()
    if not physician or not reason:
        raise AllocationError(
            f"{problem} To give it anyway, name the physician who orders the override and "
            "write the reason."
        )
    return physician, reason


# --- order ------------------------------------------------------------------------------


@transaction.atomic
def order_dose(
    patient: Patient,
    *,
    actor: AbstractBaseUser,
    planned_for: datetime.datetime | None = None,
    at: datetime.datetime | None = None,
) -> Dose:
    """Order the patient's next dose at the current weight and the active protocol.

    Refused (nothing written): a patient not eligible (names the criteria not met or
    missing); no recorded weight; a dose still in progress; more doses than the protocol
    allows; a time outside the interval window after the previous dose's infusion (names
    the earliest and latest allowed times). Writes the dose with audit action `order`.
    """
    at = _now(at)
    planned_for = planned_for or at
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    protocol = active_protocol()

    eligibility = evaluate_eligibility(patient, on=timezone.localdate(at))
    if not eligibility.is_eligible:
        parts = [f"{c.label} (not met: {c.value})" for c in eligibility.not_met]
        parts += [f"{c.label} (missing)" for c in eligibility.missing]
        if not eligibility.criteria:
            parts = ["no eligibility values recorded"]
        raise OrderRefused(f"Patient {patient.code} is not eligible: " + "; ".join(parts) + ".")

    weight = patient.current_weight()
    if weight is None:
        raise OrderRefused(f"Patient {patient.code} has no recorded weight: record it first.")

    doses = list(live_doses(patient).select_related("infusion"))
    if len(doses) >= protocol.max_doses:
        raise OrderRefused(
            f"Patient {patient.code} has had {len(doses)} doses; {protocol} allows at most "
            f"{protocol.max_doses}."
        )
    if doses:
        previous = doses[-1]
        if previous.status != S.INFUSED:
            raise OrderRefused(
                f"Dose {previous.number} of {patient.code} is still "
                f"{previous.get_status_display().lower()}: record its infusion or cancel it "
                "before ordering the next dose."
            )
        earliest, latest = interval_window(previous, protocol)
        if not earliest <= planned_for <= latest:
            hours = (planned_for - dose_reference_time(previous)).total_seconds() / 3600
            raise OrderRefused(
                f"Dose {previous.number + 1} at {fmt_time(planned_for)} would be {hours:.0f} h "
                f"after dose {previous.number} (infused {fmt_time(dose_reference_time(previous))})"
                f"; {protocol} allows {protocol.min_interval_hours}–"
                f"{protocol.max_interval_hours} h: between {fmt_time(earliest)} and "
                f"{fmt_time(latest)}."
            )

    number = len(doses) + 1
    dose = Dose(
        patient=patient,
        protocol=protocol,
        number=number,
        planned_for=planned_for,
        weight_kg=weight.weight_kg,
        weight_measured_on=weight.measured_on,
        required_cells=required_cells(weight.weight_kg, protocol.target_cells_per_kg),
        ordered_by=actor,
        ordered_at=at,
    )
    with audit_context(actor=actor, reason=f"dose {number} ordered"):
        dose.full_clean()
        dose.save(audit_action="order")
    return dose


# --- allocation -------------------------------------------------------------------------


def _lock_bags(ids: Sequence[int], *, available_only: bool) -> list[Bag]:
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


def _bag_problems(
    bags: Sequence[Bag], *, fixed_batch: Batch | None, patient: Patient, on_date
) -> list[str]:
    problems = []
    for bag in bags:
        batch = bag.batch
        if batch.status != Batch.Status.RELEASED:
            problems.append(
                f"Bag {bag.code}: batch {batch.code} is {batch.get_status_display().lower()}, "
                "not released; nothing from it may be allocated."
            )
        elif batch.expires_on is None or batch.expires_on < on_date:
            problems.append(f"Bag {bag.code}: batch {batch.code} expired on {batch.expires_on}.")
        if bag.status == Bag.Status.EXPIRED:
            problems.append(f"Bag {bag.code} is expired.")
        elif bag.status == Bag.Status.DISCARDED:
            problems.append(f"Bag {bag.code} is discarded ({bag.discard_reason}).")
        elif bag.status == Bag.Status.RESERVED:
            link = DoseBag.objects.filter(bag=bag, live=True).select_related("dose__patient")
            holder = link.first()
            where = f" for dose {holder.dose.code}" if holder else ""
            problems.append(f"Bag {bag.code} is already reserved{where}.")
        elif bag.status != Bag.Status.AVAILABLE:
            problems.append(
                f"Bag {bag.code} is {bag.get_status_display().lower()}, not available."
            )
    batch_codes = sorted({b.batch.code for b in bags})
    if len(batch_codes) > 1:
        problems.append(
            "All bags of a dose come from one batch; these are from "
            + ", ".join(batch_codes)
            + "."
        )
    if fixed_batch is not None:
        for bag in bags:
            if bag.batch_id != fixed_batch.pk:
                problems.append(
                    f"Bag {bag.code} is from batch {bag.batch.code}, but all of {patient.code}'s "
                    f"doses come from batch {fixed_batch.code} (fixed by the first dose)."
                )
    return problems


@transaction.atomic
def allocate_dose(
    dose: Dose,
    *,
    actor: AbstractBaseUser,
    bags: Sequence[Bag] | None = None,
    override_physician: str = "",
    override_reason: str = "",
    at: datetime.datetime | None = None,
) -> Dose:
    """Reserve whole bags for an ordered dose: the calculator's proposal, or `bags`.

    Guarantees: every bag is `available`, of a released, unexpired batch, and all are of
    the patient's batch (the first dose fixes it); the total is within the protocol's
    range, or a named physician and a written reason override it (where the protocol
    allows) and are recorded on the dose. Two allocations at once never take the same
    bag: the bag rows are locked, the reservation is a conditional UPDATE that takes only
    bags still available (the count is checked), and a partial unique constraint makes a
    second live reservation of a bag impossible. Each bag gets a custody event.
    """
    at = _now(at)
    today = timezone.localdate(at)
    dose = _lock_dose(dose)
    if dose.status != S.ORDERED:
        raise AllocationError(
            f"Dose {dose.code} is {dose.get_status_display().lower()}: only an ordered dose "
            "can be allocated."
        )
    fixed_batch = patient_batch(dose.patient, exclude=dose)

    if bags is None:
        candidates = bags_available_for_allocation(on_date=today)
        if fixed_batch is not None:
            candidates = candidates.filter(batch=fixed_batch)
        locked = _lock_bags(list(candidates.values_list("pk", flat=True)), available_only=True)
        plan = propose_bags(
            weight_kg=dose.weight_kg,
            dose_range=DoseRange.from_protocol(dose.protocol),
            bags=[BagOption.from_bag(b) for b in locked],
            batch_code=fixed_batch.code if fixed_batch else None,
        )
        if not plan.bags:
            source = f"batch {fixed_batch.code}" if fixed_batch else "any released batch"
            raise AllocationError(
                f"No whole bags available from {source} give {dose.code} a dose within "
                f"{_range_text(dose.protocol)} (required {fmt_cells(dose.required_cells)} "
                "cells). Choose bags with a physician's override, or ask production for stock."
            )
        chosen_pks = {b.pk for b in plan.bags}
        chosen = [b for b in locked if b.pk in chosen_pks]
    else:
        if not bags:
            raise AllocationError("Choose at least one bag.")
        chosen = _lock_bags([b.pk for b in bags], available_only=False)
        problems = _bag_problems(
            chosen, fixed_batch=fixed_batch, patient=dose.patient, on_date=today
        )
        if problems:
            raise AllocationError(problems)

    total_cells = sum(b.nominal_cells for b in chosen)
    physician, reason = _check_override(
        dose,
        total_cells,
        physician=override_physician,
        reason=override_reason,
        what=f"Bags {', '.join(b.code for b in chosen)}",
    )
    with audit_context(actor=actor, reason=reason or f"bags reserved for dose {dose.code}"):
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
        dose.batch = chosen[0].batch
        dose.planned_cells = total_cells
        dose.planned_volume_ml = sum((b.volume_ml for b in chosen), Decimal("0"))
        dose.delivered_cells = total_cells
        dose.override_physician = physician
        dose.override_reason = reason
        dose.status = S.ALLOCATED
        dose.allocated_by = actor
        dose.allocated_at = at
        dose.save(audit_action="override_allocate" if physician else "allocate")
    return dose


def _live_bags(dose: Dose) -> list[Bag]:
    return [link.bag for link in dose.dose_bags.filter(live=True).select_related("bag")]


# --- preparation ------------------------------------------------------------------------


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
    preparation for the ward. Bags → thawed (custody events); dose → prepared.
    """
    at = _now(at)
    thawed_at = thawed_at or at
    dose = _lock_dose(dose)
    if dose.status != S.ALLOCATED:
        raise PreparationError(
            f"Dose {dose.code} is {dose.get_status_display().lower()}: only an allocated dose "
            "can be thawed."
        )
    if thawed_at > at:
        raise PreparationError("The thaw time cannot be in the future.")
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
        for bag in _live_bags(dose):
            move_bag(
                bag,
                Bag.Status.THAWED,
                actor=actor,
                note=f"thawed for dose {dose.code}",
                at=thawed_at,
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

    Refused: culture of the protocol's limit or more (< 72 h); times out of order or in
    the future; a harvest already past the harvest-to-infusion limit; a post-harvest
    viable count outside the range without an override. The dose is recalculated from the
    viable count. Bags → in refresh culture; dose → prepared.
    """
    at = _now(at)
    dose = _lock_dose(dose)
    protocol = dose.protocol
    if dose.status != S.ALLOCATED:
        raise PreparationError(
            f"Dose {dose.code} is {dose.get_status_display().lower()}: only an allocated dose "
            "can be refreshed."
        )
    if not thawed_at <= seeded_at <= harvested_at:
        raise PreparationError("The times must be in order: thawed, then seeded, then harvested.")
    if harvested_at > at:
        raise PreparationError("The harvest time cannot be in the future.")
    culture_h = (harvested_at - seeded_at).total_seconds() / 3600
    if culture_h >= protocol.refresh_max_culture_hours:
        raise PreparationError(
            f"The cells were cultured for {culture_h:.1f} h; {protocol} allows less than "
            f"{protocol.refresh_max_culture_hours} h of refresh culture. Do not use this product."
        )
    limit = harvested_at + datetime.timedelta(hours=protocol.harvest_to_infusion_max_hours)
    if at > limit:
        raise PreparationError(
            f"Harvested at {fmt_time(harvested_at)}: a refreshed product is infused within "
            f"{protocol.harvest_to_infusion_max_hours} h of harvest (by {fmt_time(limit)}). "
            "It is past that limit."
        )
    if viable_cells <= 0:
        raise PreparationError("Enter the post-harvest viable cell count (cells).")
    physician, reason = _check_override(
        dose,
        int(viable_cells),
        physician=override_physician,
        reason=override_reason,
        what="The post-harvest viable count",
    )
    prep = Preparation(
        dose=dose,
        method=Preparation.Method.REFRESHED,
        thawed_at=thawed_at,
        seeded_at=seeded_at,
        harvested_at=harvested_at,
        viable_cells=int(viable_cells),
        viability_pct=viability_pct,
        volume_ml=volume_ml,
        medium=REFRESHED_MEDIUM,
        prepared_by=actor,
        recorded_at=at,
    )
    try:
        prep.full_clean(exclude=["dose"])
    except ValidationError as exc:
        raise PreparationError(_messages(exc)) from None
    new_override = bool(physician) and not dose.has_override
    with audit_context(actor=actor, reason=reason or f"dose {dose.code} refreshed"):
        prep.save(audit_action="refresh")
        for bag in _live_bags(dose):
            move_bag(
                bag,
                Bag.Status.IN_REFRESH,
                actor=actor,
                note=f"refresh culture for {dose.code}",
                at=thawed_at,
            )
        dose.status = S.PREPARED
        dose.delivered_cells = int(viable_cells)
        dose.override_physician = physician
        dose.override_reason = reason
        dose.use_before = limit
        dose.save(audit_action="override_prepare" if new_override else "prepare")
    return prep


@transaction.atomic
def dispense_dose(
    dose: Dose, *, actor: AbstractBaseUser, at: datetime.datetime | None = None
) -> Dose:
    """Hand a prepared dose to the ward with its use-before time.

    use_before = thaw + thaw-to-infusion limit (thawed) or harvest + 24 h (refreshed).
    Refused past that limit (the product must be discarded). Bags → dispensed.
    """
    at = _now(at)
    dose = _lock_dose(dose)
    if dose.status != S.PREPARED:
        raise PreparationError(
            f"Dose {dose.code} is {dose.get_status_display().lower()}: only a prepared dose "
            "can be dispensed."
        )
    prep = dose.preparation
    limit = use_before(prep, dose.protocol)
    if at > limit:
        raise PreparationError(
            f"Dose {dose.code} was to be infused by {fmt_time(limit)} ({_limit_text(prep, dose)}"
            "); it is past its limit and cannot be dispensed. Cancel the dose to discard it."
        )
    with audit_context(actor=actor, reason=f"dose {dose.code} dispensed to the ward"):
        for bag in _live_bags(dose):
            move_bag(
                bag, Bag.Status.DISPENSED, actor=actor, note=f"dispensed for {dose.code}", at=at
            )
        dose.status = S.DISPENSED
        dose.dispensed_by = actor
        dose.dispensed_at = at
        dose.use_before = limit
        dose.save(audit_action="dispense")
    return dose


def _limit_text(prep: Preparation, dose: Dose) -> str:
    protocol = dose.protocol
    if prep.method == Preparation.Method.REFRESHED:
        return (
            f"refreshed: within {protocol.harvest_to_infusion_max_hours} h of harvest at "
            f"{fmt_time(prep.harvested_at)}"
        )
    return (
        f"thawed: within {protocol.thaw_to_infusion_max_minutes} min of thaw at "
        f"{fmt_time(prep.thawed_at)}"
    )


# --- infusion and adverse events ----------------------------------------------------------

VITAL_FIELDS = (
    "heart_rate_before",
    "systolic_bp_before",
    "diastolic_bp_before",
    "spo2_pct_before",
    "temperature_c_before",
    "heart_rate_after",
    "systolic_bp_after",
    "diastolic_bp_after",
    "spo2_pct_after",
    "temperature_c_after",
)


@transaction.atomic
def record_infusion(
    dose: Dose,
    *,
    actor: AbstractBaseUser,
    started_at: datetime.datetime,
    ended_at: datetime.datetime,
    filter_confirmed: bool,
    vitals: dict,
    premedication_given: str = "",
    immediate_reactions: str = "",
    at: datetime.datetime | None = None,
) -> Infusion:
    """Record the bedside infusion of a dispensed dose; one record per dose.

    Refused: a dose that already has an infusion record; a dose not dispensed; the 200 µm
    filter not confirmed; a start past the product's limit (thawed: thaw limit; refreshed:
    24 h from harvest) or before dispensing; a missing premedication the protocol requires.
    Bags → infused; dose → infused.
    """
    at = _now(at)
    dose = _lock_dose(dose)
    existing = Infusion.objects.filter(dose=dose).first()
    if existing is not None:
        raise InfusionError(
            f"Dose {dose.code} already has an infusion record (started "
            f"{fmt_time(existing.started_at)}); a dose is infused once. Correct that record "
            "instead."
        )
    if dose.status != S.DISPENSED:
        raise InfusionError(
            f"Dose {dose.code} is {dose.get_status_display().lower()}, not dispensed: the "
            "pharmacy must dispense it before an infusion can be recorded."
        )
    prep = dose.preparation
    protocol = dose.protocol
    if not filter_confirmed:
        raise InfusionError(
            f"Confirm that the standard {protocol.filter_microns} µm transfusion filter was used.",
            field="filter_200um_confirmed",
        )
    # Times are typed to the minute on the ward: compare at that precision.
    if started_at > at + datetime.timedelta(minutes=1):
        raise InfusionError("The start time cannot be in the future.", field="started_at")
    if ended_at < started_at:
        raise InfusionError("The infusion cannot end before it starts.", field="ended_at")
    if dose.dispensed_at and started_at < dose.dispensed_at.replace(second=0, microsecond=0):
        raise InfusionError(
            f"The infusion cannot start before the dose was dispensed "
            f"({fmt_time(dose.dispensed_at)}).",
            field="started_at",
        )
    limit = use_before(prep, protocol)
    if started_at > limit:
        if prep.method == Preparation.Method.REFRESHED:
            hours = (started_at - prep.harvested_at).total_seconds() / 3600
            message = (
                f"Started {hours:.1f} h after harvest: a refreshed product is infused within "
                f"{protocol.harvest_to_infusion_max_hours} h of harvest (by {fmt_time(limit)})."
            )
        else:
            minutes = (started_at - prep.thawed_at).total_seconds() / 60
            message = (
                f"Started {minutes:.0f} min after thaw: a thawed product is infused within "
                f"{protocol.thaw_to_infusion_max_minutes} min (by {fmt_time(limit)})."
            )
        raise InfusionError(message, field="started_at")
    if prep.premedication and not premedication_given.strip():
        raise InfusionError(
            f"{protocol} requires premedication before a thawed product ({prep.premedication}): "
            "record what was given.",
            field="premedication_given",
        )
    infusion = Infusion(
        dose=dose,
        started_at=started_at,
        ended_at=ended_at,
        filter_200um_confirmed=True,
        premedication_given=premedication_given.strip(),
        infused_by=actor,
        immediate_reactions=immediate_reactions.strip(),
        recorded_at=at,
        **{name: vitals.get(name) for name in VITAL_FIELDS},
    )
    try:
        infusion.full_clean(exclude=["dose"])
    except ValidationError as exc:
        raise InfusionError(_messages(exc)) from None
    with audit_context(actor=actor, reason=f"infusion of {dose.code} recorded"):
        infusion.save(audit_action="infuse")
        for bag in _live_bags(dose):
            move_bag(
                bag, Bag.Status.INFUSED, actor=actor, note=f"infused as {dose.code}", at=started_at
            )
        dose.status = S.INFUSED
        dose.save(audit_action="infused")
    return infusion


@transaction.atomic
def report_adverse_event(
    patient: Patient,
    *,
    actor: AbstractBaseUser,
    onset_at: datetime.datetime,
    description: str,
    ctcae_grade: int,
    serious: bool,
    outcome: str,
    causality: str,
    dose: Dose | None = None,
    at: datetime.datetime | None = None,
) -> AdverseEvent:
    """Report an adverse event with CTCAE grade and WHO-UMC causality.

    Refused: a dose of another patient; an onset in the future; grade 5 (death) without a
    fatal outcome, serious, or a fatal outcome not graded 5; an empty description.
    """
    at = _now(at)
    if dose is not None and dose.patient_id != patient.pk:
        raise AdverseEventError(f"Dose {dose.code} is not a dose of {patient.code}.", field="dose")
    if onset_at > at:
        raise AdverseEventError("The onset cannot be in the future.", field="onset_at")
    if not description.strip():
        raise AdverseEventError("Describe the event.", field="description")
    fatal = outcome == AdverseEvent.Outcome.FATAL
    if (ctcae_grade == 5) != fatal:
        raise AdverseEventError(
            "CTCAE grade 5 means death related to the event: grade 5 goes with a fatal "
            "outcome, and a fatal outcome with grade 5.",
            field="ctcae_grade",
        )
    if fatal and not serious:
        raise AdverseEventError("A fatal event is serious.", field="serious")
    event = AdverseEvent(
        patient=patient,
        dose=dose,
        onset_at=onset_at,
        description=description.strip(),
        ctcae_grade=ctcae_grade,
        serious=serious,
        outcome=outcome,
        causality=causality,
        reported_by=actor,
        reported_at=at,
    )
    try:
        event.full_clean(exclude=["patient", "dose"])
    except ValidationError as exc:
        raise AdverseEventError(_messages(exc)) from None
    with audit_context(actor=actor, reason=f"adverse event reported for {patient.code}"):
        event.save(audit_action="report_adverse_event")
    return event


# --- cancellation -------------------------------------------------------------------------


@transaction.atomic
def cancel_dose(
    dose: Dose, *, actor: AbstractBaseUser, reason: str, at: datetime.datetime | None = None
) -> Dose:
    """Cancel a dose not yet infused, with a written reason.

    Reserved bags go back to `available`; bags already thawed, in refresh or dispensed
    are discarded (a thawed bag is never refrozen). The reservations end (not live).
    """
    at = _now(at)
    if not reason.strip():
        raise CancellationError("Write why the dose is cancelled.", field="reason")
    dose = _lock_dose(dose)
    if dose.status in (S.INFUSED, S.CANCELLED):
        raise CancellationError(
            f"Dose {dose.code} is {dose.get_status_display().lower()}: it cannot be cancelled."
        )
    reason = reason.strip()
    with audit_context(actor=actor, reason=f"dose {dose.code} cancelled: {reason}"):
        for link in dose.dose_bags.filter(live=True).select_related("bag"):
            if link.bag.status == Bag.Status.RESERVED:
                move_bag(
                    link.bag,
                    Bag.Status.AVAILABLE,
                    actor=actor,
                    note=f"released: {reason}",
                    at=at,
                )
            else:
                move_bag(
                    link.bag,
                    Bag.Status.DISCARDED,
                    actor=actor,
                    reason=f"dose {dose.code} cancelled after thaw (never refrozen): {reason}",
                    at=at,
                )
            link.live = False
            link.released_at = at
            link.save(audit_action="release")
        dose.status = S.CANCELLED
        dose.cancelled_at = at
        dose.cancel_reason = reason
        dose.save(audit_action="cancel")
    return dose
