"""The stock a patient's next dose may come from, and the calculator's proposal from it.

`plan_dose` is what the order page shows (no locks, nothing written); the allocation
(`dosing.services.allocation`) reserves exactly the bags of a plan. Both ask
`candidate_stock` for the stock and `usable_stock` for it as the calculator takes it, so
the page and the reservation see the same bags through the same rules.

A constant number of queries, whatever the stock: the candidate bags in one query (plain
rows with their batches' few columns: a hospital holds thousands of bags, found through
the hospital each bag is held at), already narrowed to released batches unexpired on the
dose's day. The calculator proposes from them; the batch it proposes is then judged in
full (`verified_plan`: its QP decision signature and its record rebuilt, as every later
step judges it; the allocation judges it under its lock), and a batch refused there is
left out and the dose proposed again. Leaving out the proposed batch gives the proposal
the calculator would have made without it from the start (it chooses among the earliest
batches that qualify, and a batch it did not choose never changes that choice), so
judging only the proposed batch proposes what judging every batch first would. After a
first refusal the whole stock is judged at once — every batch's decision signature in one
query, compared with the hash each batch keeps of its record
(`batches.rules.batch_problem(kept_hash=True)`) — so many refused batches cost one query,
not four each.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from batches.models import Bag, Batch
from batches.querysets import attach_decision_signatures, bags_available_for_allocation
from batches.rules import batch_problem
from dosing.calculator import BagOption, Course, DosePlan, DoseRange, propose_bags
from dosing.models import Dose, Protocol
from dosing.models.protocol import MAX_DOSE_NUMBER
from dosing.rules import dose_reference_time
from dosing.services.common import now_or, patient_batch
from patients.models import Patient

logger = logging.getLogger("celltrack.dosing")

_UNREAD = object()

# Loaded with the proposed batch, so that its record is rebuilt in two more queries.
RECORD_RELATED = ("donor", "procurement", "facility", "specification")


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
    # The batch of the patient's doses (`patient_batch`), even where `fixed_batch` is
    # None because a recall lets the course continue from another batch.
    course_batch: Batch | None = None


def candidate_stock(
    patient: Patient,
    protocol: Protocol,
    *,
    planned_for: datetime.datetime,
    exclude: Dose | None = None,
    at: datetime.datetime | None = None,
    replace_recalled: bool = False,
    course_batch=_UNREAD,
) -> Stock:
    """The available bags a dose planned for `planned_for` may come from, in a constant
    number of queries: bags received in range at the patient's hospital (stored at one
    of its positions: `Bag.held_at_hospital`), of the patient's batch once the first dose
    fixed it, of released batches unexpired on the day the dose will be given (never
    earlier than `at`), with the course that batch must still supply. Expiry is judged
    once, against that day: the stock query selects on it and `usable_bags` re-checks each
    batch on the same day.
    `replace_recalled`: the patient's batch was recalled and a physician's override lets
    the course continue from any released batch. `course_batch`: the patient's batch
    (`patient_batch`), when the caller has already read it."""
    on_date = max(timezone.localdate(now_or(at)), timezone.localdate(planned_for))
    given = list(
        Dose.objects.of_patient(patient)
        .exclude(pk=getattr(exclude, "pk", None))
        .select_related("batch")
    )
    if course_batch is _UNREAD:
        course_batch = patient_batch(patient, doses=given)
    fixed_batch = course_batch
    if (
        replace_recalled
        and fixed_batch is not None
        and fixed_batch.status == Batch.Status.RECALLED
    ):
        fixed_batch = None
    bags = bags_available_for_allocation(on_date=on_date).held_at(patient.hospital_id)
    if fixed_batch is not None:
        bags = bags.filter(batch=fixed_batch)
    if given:
        latest_start = dose_reference_time(given[-1]) + datetime.timedelta(
            hours=protocol.max_interval_hours
        )
    else:
        latest_start = planned_for
    course = course_need(protocol, doses_given=len(given), latest_start=latest_start)
    return Stock(fixed_batch, bags, on_date, course, course_batch)


def usable_bags(bags, *, on_date: datetime.date) -> list[Bag]:
    """Of available bags, those whose batch passes `batch_problem` on `on_date` (released,
    unexpired that day, QP signature still matching the batch record), judged once per
    batch on the hash it keeps of its record: one query for the bags (if not yet read)
    and one for their batches' signatures, whatever their number. The bags of a batch
    share one batch object, carrying its decision signature."""
    bags = list(bags)
    batches: dict[int, Batch] = {}
    for bag in bags:
        bag.batch = batches.setdefault(bag.batch_id, bag.batch)
    attach_decision_signatures(list(batches.values()))
    usable = {
        pk
        for pk, batch in batches.items()
        if batch_problem(batch, on_date, kept_hash=True) is None
    }
    return [bag for bag in bags if bag.batch_id in usable]


# What `batch_problem(kept_hash=True)` reads of a batch in stock (the rest stays deferred).
_JUDGED_BATCH_FIELDS = ("id", "din", "din_check", "status", "expires_on", "record_hash")


@dataclass(frozen=True)
class UsableStock:
    """The stock as the calculator takes it (`BagOption`, in the stock's order: bags of
    released batches unexpired on the dose's day) and their batches' ids by code. Whether
    each batch's QP signature still matches is judged for the proposed batch
    (`verified_plan`, the allocation's lock), and for every batch at once by `judged`
    only once one was refused; `signatures` keeps what `judged` read."""

    options: list[BagOption]
    batch_ids: dict[str, int]
    signatures: dict[str, object] = dataclasses.field(default_factory=dict)

    def judged(self, options: Sequence[BagOption], *, on_date: datetime.date) -> list[BagOption]:
        """Of `options`, those whose batch passes `batch_problem` on `on_date`, judged on
        the hash it keeps of its record: the batches and every one's decision signature
        in two queries, whatever their number (the signatures kept in `signatures`)."""
        batches = list(
            Batch.objects.filter(pk__in=list(self.batch_ids.values())).only(*_JUDGED_BATCH_FIELDS)
        )
        attach_decision_signatures(batches, judged_only=True)
        self.signatures.update({batch.code: batch.decision_signature() for batch in batches})
        usable = {
            batch.code
            for batch in batches
            if batch_problem(batch, on_date, kept_hash=True) is None
        }
        return [option for option in options if option.batch_code in usable]


def usable_stock(bags: QuerySet, *, on_date: datetime.date) -> UsableStock:
    """The stock for the calculator in one query whatever its size: the bags with the
    few columns of their batches the calculator reads, as plain rows (no model instance
    per bag or batch: a hospital's stock is thousands of bags of hundreds of batches).
    `bags` is a stock query (`candidate_stock`), which keeps only bags of released
    batches unexpired on `on_date`; the rest of `batch_problem` is judged on the proposal
    (`verified_plan`)."""
    batch_ids: dict[str, int] = {}
    codes: dict[int, str] = {}
    options = []
    rows = bags.values_list(
        "pk",
        "code",
        "nominal_cells",
        "volume_ml",
        "batch_id",
        "batch__din",
        "batch__din_check",
        "batch__expires_on",
    )
    for pk, code, cells, volume_ml, batch_id, din, din_check, expires_on in rows:
        batch_code = codes.get(batch_id)
        if batch_code is None:
            batch_code = codes[batch_id] = f"{din}{din_check}"
            batch_ids[batch_code] = batch_id
        options.append(BagOption(code, batch_code, expires_on, int(cells), Decimal(volume_ml), pk))
    return UsableStock(options, batch_ids)


def verified_plan(
    propose: Callable[[Sequence[BagOption]], DosePlan],
    stock: UsableStock,
    *,
    on_date: datetime.date,
) -> DosePlan:
    """`propose(options)`, its batch judged in full (`batch_problem`: its decision
    signature read and its record rebuilt): a batch refused is left out and the dose
    proposed again without it, after the rest of the stock is judged at once
    (`UsableStock.judged`). Four queries for the proposed batch; more only after a
    refusal. (The allocation makes the same check under its locks:
    `allocation._locked_plan`.)"""
    options = list(stock.options)
    judged = False
    while True:
        plan = propose(options)
        if not plan.bags:
            return plan
        problem = full_record_problem(stock, plan, on_date=on_date)
        if problem is None:
            return plan
        logger.info("Batch %s left out of the proposal: %s", plan.batch_code, problem)
        options = [o for o in options if o.batch_code != plan.batch_code]
        if not judged:
            options, judged = stock.judged(options, on_date=on_date), True


def full_record_problem(stock: UsableStock, plan: DosePlan, *, on_date: datetime.date):
    """`batch_problem` of the plan's batch, its record read and rebuilt in full, with its
    decision signature (read here unless `UsableStock.judged` already read it)."""
    full = Batch.objects.select_related(*RECORD_RELATED).get(pk=stock.batch_ids[plan.batch_code])
    if plan.batch_code in stock.signatures:
        full._decision_signature = stock.signatures[plan.batch_code]
    return batch_problem(full, on_date)


def propose(dose_range: DoseRange, weight_kg, bags, stock: Stock) -> DosePlan:
    """The calculator's proposal (`dosing.calculator.propose_bags`) from `bags` (bags or
    the calculator's `BagOption`s)."""
    return propose_bags(
        weight_kg=weight_kg,
        dose_range=dose_range,
        bags=[b if isinstance(b, BagOption) else BagOption.from_bag(b) for b in bags],
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
    usable = usable_stock(stock.bags, on_date=stock.on_date)
    dose_range = DoseRange.from_protocol(protocol)
    plan = verified_plan(
        lambda some: propose(dose_range, weight_kg, some, stock), usable, on_date=stock.on_date
    )
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
    Three queries, whatever the number of facilities and batches."""
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
        if propose(dose_range, weight_kg, held, stock).bags
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
