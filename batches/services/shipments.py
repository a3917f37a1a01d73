"""Shipments of released bags from a facility to a hospital: made, dispatched, received.

Each step is one transaction, on the audit trail, with a custody event per bag:

- `create_shipment` (production of the facility): the bags — available, at a position of
  that facility, of a released unexpired batch, in no other open shipment;
- `dispatch_shipment` (production): each bag available → in transit, leaving its position;
- `receive_shipment` (pharmacy of the hospital): the logger's result and a position at the
  hospital for each bag; in range → available there (quarantine while its batch is on
  hold), excursion → quarantine for the QP of the facility.

The QP's decision on an excursion and the pharmacy's requests are in `shipment_decisions`.
Times are in order (created ≤ dispatched ≤ received ≤ decided) and never in the future.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from batches.exceptions import ShipmentError
from batches.models import Bag, Shipment, ShipmentBag, ShipmentRequest, StorageLocation
from batches.services.base import save_validated
from batches.services.custody import _refuse_transition, move_bag, record_custody_event
from batches.services.shipment_decisions import (
    _lock_shipment,
    _refuse,
    _require,
    answer_request,
)
from batches.services.storage import BOX_POSITIONS
from batches.shipment_rules import bag_failures, receipt_failures, state_failures, time_failures

St = Shipment.Status


def _lock_bags(pks) -> list[Bag]:
    return list(
        Bag.objects.select_for_update(of=("self",))
        .select_related("batch", "location")
        .filter(pk__in=list(pks))
        .order_by("code")
    )


def _next_code(facility, hospital) -> str:
    n = Shipment.objects.filter(facility=facility, hospital=hospital).count() + 1
    while True:
        code = f"SHP-{facility.fin}-{hospital.code}-{n:04d}"
        if not Shipment.objects.filter(code=code).exists():
            return code
        n += 1


@transaction.atomic
def create_shipment(
    *,
    facility,
    hospital,
    bags: Sequence[Bag],
    actor: AbstractBaseUser | None,
    shipper_id: str = "",
    logger_id: str = "",
    code: str = "",
    request: ShipmentRequest | None = None,
    at: datetime.datetime | None = None,
) -> Shipment:
    """A new shipment of `bags` from `facility` to `hospital` (see the module); a
    `request` it answers becomes shipped, linked to it."""
    now = timezone.now()
    at = at or now
    _require(actor, "batches.add_shipment", facility=facility, what="production staff")
    type(facility).objects.select_for_update().get(pk=facility.pk)  # one code at a time
    locked = _lock_bags(b.pk for b in bags)
    open_codes = set(
        ShipmentBag.objects.filter(bag__in=locked, open=True).values_list("bag__code", flat=True)
    )
    failures = bag_failures(
        locked, facility=facility, open_codes=open_codes, on_date=timezone.localdate(at)
    )
    failures += time_failures(at, after=None, after_what="", now=now)
    _refuse(failures)
    shipment = Shipment(
        code=code.strip() or _next_code(facility, hospital),
        facility=facility,
        hospital=hospital,
        shipper_id=shipper_id.strip(),
        logger_id=logger_id.strip(),
        created_at=at,
        created_by=actor,
    )
    reason = f"shipment of {len(locked)} bags from {facility.fin} to {hospital.code}"
    save_validated(shipment, actor=actor, reason=reason, error=ShipmentError)
    with audit_context(actor=actor, reason=reason):
        for bag in locked:
            ShipmentBag.objects.create(shipment=shipment, bag=bag, from_location=str(bag.location))
    if request is not None:
        answer_request(request, actor=actor, shipment=shipment, at=at)
    return shipment


@transaction.atomic
def dispatch_shipment(
    shipment: Shipment, *, actor: AbstractBaseUser | None, at: datetime.datetime | None = None
) -> Shipment:
    """The shipper leaves the facility: each bag available → in transit, out of its
    position, with its custody event (who, when, from where)."""
    now = timezone.now()
    at = at or now
    shipment = _lock_shipment(shipment)
    _require(actor, "batches.change_shipment", facility=shipment.facility, what="production staff")
    failures = state_failures(shipment, St.CREATED, "dispatched")
    failures += time_failures(at, after=shipment.created_at, after_what="created", now=now)
    items = list(shipment.items.select_related("bag"))
    locked = _lock_bags(item.bag_id for item in items)
    failures += bag_failures(
        locked, facility=shipment.facility, open_codes=set(), on_date=timezone.localdate(at)
    )
    _refuse(failures)
    note = f"dispatched in shipment {shipment.code} to {shipment.hospital.code}"
    for bag in locked:
        move_bag(bag, Bag.Status.IN_TRANSIT, actor=actor, note=note, at=at)
    shipment.status = St.DISPATCHED
    shipment.dispatched_at = at
    shipment.dispatched_by = actor
    save_validated(
        shipment, actor=actor, reason=note, error=ShipmentError, audit_action="dispatch"
    )
    return shipment


def _free_positions(hospital, tank: str, rack: str, box: str, count: int) -> list:
    """`count` free positions of one box of the hospital's store, numbered
    1..BOX_POSITIONS, created as needed (with their audit events)."""
    if not (tank and rack and box):
        raise ShipmentError("Give the tank, rack and box the bags are put in.", field="box")
    existing = {
        loc.position: loc
        for loc in StorageLocation.objects.select_for_update().filter(
            hospital=hospital, tank=tank, rack=rack, box=box
        )
    }
    occupied = set(
        Bag.objects.filter(location__in=list(existing.values())).values_list(
            "location__position", flat=True
        )
    )
    chosen = []
    for number in range(1, BOX_POSITIONS + 1):
        position = str(number)
        if position in occupied:
            continue
        location = existing.get(position)
        if location is None:
            location = StorageLocation.objects.create(
                hospital=hospital, tank=tank, rack=rack, box=box, position=position
            )
        chosen.append(location)
        if len(chosen) == count:
            return chosen
    raise ShipmentError(
        f"Box {tank}/{rack}/{box} has only {len(chosen)} free positions for {count} bags: "
        "choose another box.",
        field="box",
    )


@transaction.atomic
def receive_shipment(
    shipment: Shipment,
    *,
    actor: AbstractBaseUser | None,
    logger_result: str,
    tank: str,
    rack: str,
    box: str,
    note: str = "",
    at: datetime.datetime | None = None,
) -> Shipment:
    """The hospital's pharmacy receives a dispatched shipment: who, when, the logger's
    result, and each bag put in the first free positions of one box of the hospital.

    In range: each bag becomes available at the hospital (quarantine if its batch was put
    on hold meanwhile). Excursion: every bag goes to quarantine, awaiting the decision of
    the QP of the facility (`decide_excursion`). One custody event per bag."""
    now = timezone.now()
    at = at or now
    shipment = _lock_shipment(shipment)
    _require(actor, "batches.receive_shipment", hospital=shipment.hospital, what="pharmacy")
    dispatched = shipment.dispatched_at
    if dispatched and dispatched.replace(second=0, microsecond=0) <= at < dispatched:
        # Typed to the minute (the page proposes the current one): a receipt in the
        # minute of the dispatch, seconds after it on the same campus, is recorded at it.
        at = dispatched
    failures = state_failures(shipment, St.DISPATCHED, "received")
    failures += time_failures(at, after=shipment.dispatched_at, after_what="dispatched", now=now)
    failures += receipt_failures(shipment, logger_result=logger_result)
    _refuse(failures)
    items = list(shipment.items.order_by("bag__code"))
    bags = {bag.pk: bag for bag in _lock_bags(item.bag_id for item in items)}
    excursion = logger_result == Shipment.LoggerResult.EXCURSION
    reason = (
        f"shipment {shipment.code} received at {shipment.hospital.code}, logger "
        f"{Shipment.LoggerResult(logger_result).label.lower()}"
    )
    with audit_context(actor=actor, reason=reason):
        positions = _free_positions(
            shipment.hospital, tank.strip(), rack.strip(), box.strip(), len(items)
        )
        for item, position in zip(items, positions, strict=True):
            bag = bags[item.bag_id]
            released = bag.batch.status == bag.batch.Status.RELEASED
            to_status = (
                Bag.Status.AVAILABLE if released and not excursion else Bag.Status.QUARANTINE
            )
            _refuse_transition(bag.code, bag.status, to_status)
            bag.status = to_status
            bag.location = position
            bag.save(audit_action="bag_received")
            record_custody_event(
                bag,
                Bag.Status.IN_TRANSIT,
                to_status,
                actor=actor,
                note=f"{reason}; put in {shipment.hospital.code} {position}",
                at=at,
            )
            item.open = False
            item.received_location = position
            item.save(audit_action="receive")
        shipment.status = St.RECEIVED
        shipment.received_at = at
        shipment.received_by = actor
        shipment.logger_result = logger_result
        shipment.receipt_note = note.strip()
        shipment.full_clean()
        shipment.save(audit_action="receive_excursion" if excursion else "receive")
    return shipment
