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
from audit.signatures import signature_matches
from batches.models import Bag, Batch
from batches.querysets import bags_available_for_allocation
from batches.services import move_bag, record_custody_event
from dosing.calculator import (
    BagOption,
    Course,
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
from patients.models import ClinicalOutcome, Patient

S = Dose.Status
MAX_DOSE_NUMBER = 3  # Dose.number is 1..3 (validator and database constraint)
THAWED_MEDIUM = "AB serum + 10 % DMSO (the freezing medium), unwashed"
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


def previous_dose(dose: Dose) -> Dose | None:
    """The patient's live dose given just before `dose` (None for a first dose)."""
    return (
        live_doses(dose.patient)
        .filter(number__lt=dose.number)
        .exclude(pk=dose.pk)
        .select_related("infusion")
        .last()
    )


def window_text(previous: Dose, protocol: Protocol) -> str:
    earliest, latest = interval_window(previous, protocol)
    return (
        f"dose {previous.number + 1} may start {protocol.min_interval_hours}–"
        f"{protocol.max_interval_hours} h after dose {previous.number} (infused "
        f"{fmt_time(dose_reference_time(previous))}): between {fmt_time(earliest)} and "
        f"{fmt_time(latest)} ({protocol})"
    )


def _check_interval(
    dose: Dose,
    moment: datetime.datetime,
    *,
    latest: datetime.datetime | None = None,
    what: str = "The infusion",
    error: type[DosingError] = InfusionError,
    field: str | None = None,
) -> None:
    """Refuse a start of infusion outside the window after the previous dose's infusion.

    `moment` is the (earliest possible) start of infusion, `latest` the latest possible
    one when the product's time limit allows a range (thaw: thaw + thaw limit; refresh:
    harvest + harvest limit). Refused when the latest possible start is before the window
    opens or the earliest is after it closes. The window is measured from the previous
    live dose's real infusion start (`infusion.started_at`), never from a planned time.
    """
    previous = previous_dose(dose)
    if previous is None:
        return
    protocol = dose.protocol
    infusion = getattr(previous, "infusion", None) if previous.status == S.INFUSED else None
    if infusion is None:
        raise error(
            f"Dose {previous.code} has no infusion record: dose {dose.number} cannot be "
            "prepared or given before the previous dose's infusion is recorded.",
            field=field,
        )
    latest = latest or moment
    earliest_ok, latest_ok = interval_window(previous, protocol)
    if latest < earliest_ok or moment > latest_ok:
        after = (moment - infusion.started_at).total_seconds() / 3600
        if latest == moment:
            when = f"{what} {fmt_time(moment)}, {after:.0f} h after dose {previous.number}"
        else:
            last = (latest - infusion.started_at).total_seconds() / 3600
            when = (
                f"{what}: its infusion could start only between {fmt_time(moment)} and "
                f"{fmt_time(latest)}, {after:.0f}–{last:.0f} h after dose {previous.number}"
            )
        raise error(
            f"{when}, which is outside the interval window: {window_text(previous, protocol)}.",
            field=field,
        )


def batch_problem(batch: Batch, on_date: datetime.date) -> str | None:
    """Why nothing of `batch` may go on towards a patient on `on_date`, or None.

    Not released; expired (or no expiry date) on that day; no QP decision signature, or a
    signature that no longer matches the batch record (corrected after release).
    """
    if batch.status != Batch.Status.RELEASED:
        return (
            f"batch {batch.code} is {batch.get_status_display().lower()}, not released; "
            "nothing from it may reach a patient. Cancel the dose and order from released stock."
        )
    if batch.expires_on is None or batch.expires_on < on_date:
        return (
            f"batch {batch.code} expired on {batch.expires_on or 'an unrecorded date'} "
            f"(day of this step: {on_date}). Cancel the dose; its bags must not be used."
        )
    signature = batch.decision_signature()
    if signature is None or signature.meaning != "released":
        return (
            f"batch {batch.code} has no QP release signature on file. Ask the Qualified Person "
            "to review and sign the release before any of it is used."
        )
    if not signature_matches(signature, batch.signature_content()):
        return (
            f"batch {batch.code} was changed after the QP signed its release "
            f"({fmt_time(signature.signed_at)}, {signature.printed_name}): the signature no "
            "longer matches the batch record. Ask the Qualified Person to review the batch "
            "and sign again before any of it is used."
        )
    return None


def _check_batch(dose: Dose, on_date: datetime.date, error: type[DosingError]) -> None:
    if dose.batch is None:
        return
    problem = batch_problem(dose.batch, on_date)
    if problem:
        raise error(f"Dose {dose.code}: {problem}")


def _check_alive(patient: Patient, on_date: datetime.date, error: type[DosingError]) -> None:
    """Refuse a step towards a patient recorded dead on or before `on_date`."""
    death = patient.outcomes.filter(
        kind=ClinicalOutcome.Kind.DEATH, occurred_on__lte=on_date
    ).first()
    if death is not None:
        raise error(
            f"Patient {patient.code} is recorded as deceased on {death.occurred_on}: no dose "
            "may be allocated, prepared or dispensed. Cancel the dose (its bags are released "
            "or discarded)."
        )


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
    course = None
    if batch is None:
        course = course_need(protocol, first_dose_at or timezone.now())
    return propose_bags(
        weight_kg=weight_kg,
        dose_range=DoseRange.from_protocol(protocol),
        bags=[BagOption.from_bag(b) for b in usable_bags(bags)],
        batch_code=batch.code if batch else None,
        course=course,
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
) -> tuple[str, str, bool]:
    """Refuse a total outside the range unless the protocol allows a named override.

    Returns (physician, reason, new): the override that covers `cells` and whether it is
    given now. An override covers only the total it approved (`dose.override_cells`): a
    different total outside the range (a refreshed viable count) needs a fresh named
    physician and written reason.
    """
    protocol = dose.protocol
    low, high = cells_range(dose.weight_kg, DoseRange.from_protocol(protocol))
    if low <= cells <= high:
        return dose.override_physician, dose.override_reason, False
    per_kg = fmt_cells(cells_per_kg(cells, dose.weight_kg))
    problem = (
        f"{what} gives {fmt_cells(cells)} cells = {per_kg}/kg for {dose.weight_kg} kg, "
        f"outside the acceptable range {_range_text(protocol)}."
    )
    if dose.has_override and dose.override_cells == cells:
        return dose.override_physician, dose.override_reason, False
    if not protocol.overrides_allowed:
        raise AllocationError(f"{problem} This protocol allows no override.")
    physician, reason = physician.strip(), reason.strip()
    if not physician or not reason:
        earlier = ""
        if dose.has_override:
            earlier = (
                f" The override by {dose.override_physician} approved "
                f"{fmt_cells(dose.override_cells)} cells, not this total."
            )
        raise AllocationError(
            f"{problem}{earlier} To give it anyway, name the physician who orders the "
            "override and write the reason.",
            field="override_physician",
        )
    return physician, reason, True


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
    missing, including a recorded death, extubation or ICU discharge); no recorded weight;
    a dose still in progress; more doses than the protocol allows (or than the 1–3 dose
    numbers); a planned time outside the interval window after the previous dose's
    infusion (names the earliest and latest allowed times). The planned time is a plan:
    thaw, refresh and infusion check the window again against real times. Writes the dose
    with audit action `order`.
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
    if number > MAX_DOSE_NUMBER:
        raise OrderRefused(
            f"{protocol} allows {protocol.max_doses} doses, but a patient's doses are "
            f"numbered 1–{MAX_DOSE_NUMBER} (the case series' maximum); dose {number} cannot "
            "be recorded. Ask the pharmacy lead to correct the protocol's maximum doses."
        )
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
        try:
            dose.full_clean()
        except ValidationError as exc:
            raise OrderRefused(_messages(exc)) from None
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
        else:
            problem = batch_problem(batch, on_date)
            if problem:
                problems.append(f"Bag {bag.code}: {problem}")
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
    at = _now(at)
    today = timezone.localdate(at)
    dose = _lock_dose(dose)
    if dose.status != S.ORDERED:
        raise AllocationError(
            f"Dose {dose.code} is {dose.get_status_display().lower()}: only an ordered dose "
            "can be allocated."
        )
    _check_alive(dose.patient, today, AllocationError)
    fixed_batch = patient_batch(dose.patient, exclude=dose)

    candidates = bags_available_for_allocation(on_date=today)
    if fixed_batch is not None:
        candidates = candidates.filter(batch=fixed_batch)
    candidate_pks = list(candidates.values_list("pk", flat=True))
    if bags is None:
        locked = usable_bags(_lock_bags(candidate_pks, available_only=True))
    else:
        locked = usable_bags(candidates)
    course = None if fixed_batch else course_need(dose.protocol, dose.planned_for)
    plan = propose_bags(
        weight_kg=dose.weight_kg,
        dose_range=DoseRange.from_protocol(dose.protocol),
        bags=[BagOption.from_bag(b) for b in locked],
        batch_code=fixed_batch.code if fixed_batch else None,
        course=course,
    )
    if bags is None:
        if not plan.bags:
            raise AllocationError(_no_plan_message(dose, fixed_batch, locked))
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
    physician, reason, new_override = _check_override(
        dose,
        total_cells,
        physician=override_physician,
        reason=override_reason,
        what=f"Bags {', '.join(b.code for b in chosen)}",
    )
    choice_reason = choice_reason.strip()
    deviates = {b.code for b in chosen} != set(plan.bag_codes)
    if deviates and not choice_reason and not new_override:
        proposed = ", ".join(plan.bag_codes) or "nothing (no whole bags give a dose in range)"
        raise AllocationError(
            f"Bags {', '.join(b.code for b in chosen)} are not the calculator's proposal "
            f"({proposed}). Reserve the proposal, or write why these bags are chosen instead.",
            field="choice_reason",
        )
    trail = reason if new_override else ""
    if deviates and choice_reason:
        trail = "; ".join(
            filter(None, [f"bags chosen instead of the proposal: {choice_reason}", trail])
        )
    with audit_context(actor=actor, reason=trail or f"bags reserved for dose {dose.code}"):
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
        dose.override_cells = total_cells if new_override else None
        dose.status = S.ALLOCATED
        dose.allocated_by = actor
        dose.allocated_at = at
        dose.save(audit_action="override_allocate" if physician else "allocate")
    return dose


def _no_plan_message(dose: Dose, fixed_batch: Batch | None, locked: Sequence[Bag]) -> str:
    required = (
        f"{_range_text(dose.protocol)} (required {fmt_cells(dose.required_cells)} cells "
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
    preparation for the ward. Refused: a dose not allocated; a thaw time in the future; a
    patient recorded dead; a batch no longer released, expired on the thaw day, or whose
    QP signature no longer matches the batch record; a thaw whose infusion (within the
    thaw limit) cannot fall inside the interval window after the previous dose's
    infusion. Bags → thawed (custody events); dose → prepared.
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
    thaw_day = timezone.localdate(thawed_at)
    _check_alive(dose.patient, thaw_day, PreparationError)
    _check_batch(dose, thaw_day, PreparationError)
    _check_interval(
        dose,
        thawed_at,
        latest=thawed_at + datetime.timedelta(minutes=protocol.thaw_to_infusion_max_minutes),
        what=f"Thawed at {fmt_time(thawed_at)} (infusion within "
        f"{protocol.thaw_to_infusion_max_minutes} min of thaw)",
        error=PreparationError,
    )
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
    the future; a harvest already past the harvest-to-infusion limit; a patient recorded
    dead; the batch checks of `record_thaw` on the thaw day; a harvest whose infusion
    (within the harvest limit) cannot fall inside the interval window; a post-harvest
    viable count outside the range without an override for that count (an override given
    at allocation covers only the total it approved: a different count outside the range
    needs a fresh physician and reason, audit action `override_prepare`). The dose is
    recalculated from the viable count. Bags → in refresh culture; dose → prepared.
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
    thaw_day = timezone.localdate(thawed_at)
    _check_alive(dose.patient, thaw_day, PreparationError)
    _check_batch(dose, thaw_day, PreparationError)
    _check_interval(
        dose,
        harvested_at,
        latest=limit,
        what=f"Harvested at {fmt_time(harvested_at)} (infusion within "
        f"{protocol.harvest_to_infusion_max_hours} h of harvest)",
        error=PreparationError,
    )
    physician, reason, new_override = _check_override(
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
    trail = reason if new_override else f"dose {dose.code} refreshed"
    with audit_context(actor=actor, reason=trail):
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
        if new_override:
            dose.override_cells = int(viable_cells)
        dose.use_before = limit
        dose.save(audit_action="override_prepare" if new_override else "prepare")
    return prep


@transaction.atomic
def dispense_dose(
    dose: Dose, *, actor: AbstractBaseUser, at: datetime.datetime | None = None
) -> Dose:
    """Hand a prepared dose to the ward with its use-before time.

    use_before = thaw + thaw-to-infusion limit (thawed) or harvest + 24 h (refreshed).
    Refused past that limit (the product must be discarded), for a patient recorded dead,
    and when the batch is no longer released, is expired on the day of dispensing or its
    QP signature no longer matches the batch record. Bags → dispensed.
    """
    at = _now(at)
    dose = _lock_dose(dose)
    if dose.status != S.PREPARED:
        raise PreparationError(
            f"Dose {dose.code} is {dose.get_status_display().lower()}: only a prepared dose "
            "can be dispensed."
        )
    today = timezone.localdate(at)
    _check_alive(dose.patient, today, PreparationError)
    _check_batch(dose, today, PreparationError)
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
    filter not confirmed; a start or end in the future; a start past the product's limit
    (thawed: thaw limit; refreshed: 24 h from harvest) or before dispensing; a start
    outside the interval window after the previous dose's real infusion start (the gate:
    the order's planned time is only a plan); a missing premedication the protocol
    requires.
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
    if ended_at > at + datetime.timedelta(minutes=1):
        raise InfusionError(
            "The end time cannot be in the future: record the infusion once it has ended.",
            field="ended_at",
        )
    if ended_at < started_at:
        raise InfusionError("The infusion cannot end before it starts.", field="ended_at")
    if dose.dispensed_at and started_at < dose.dispensed_at.replace(second=0, microsecond=0):
        raise InfusionError(
            f"The infusion cannot start before the dose was dispensed "
            f"({fmt_time(dose.dispensed_at)}).",
            field="started_at",
        )
    _check_interval(dose, started_at, what="Started at", field="started_at")
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
