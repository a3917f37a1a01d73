"""Shipments in test set-up: `receive_at(bags, hospital)` puts bags into a hospital's
storage as a received, in-range shipment would (the records `receive_shipment` writes:
the shipment, its items, a hospital position per bag, a custody event per bag), without
the people and steps of a real one. Tests of shipments themselves use the services."""

import datetime
import itertools

from django.utils import timezone

from audit.context import Origin, audit_context
from batches.models import Bag, BagEvent, Shipment, ShipmentBag, StorageLocation
from batches.services.bags import BOX_POSITIONS

__all__ = ["member_of", "receive_at"]

_boxes = itertools.count(1)


def receive_at(bags, hospital, *, at=None):
    """Receive `bags` (of one facility) at `hospital` in range, in a new box of its store;
    returns the shipment. Each bag keeps its status, and is put in a hospital position."""
    bags = list(bags)
    # Received well before the steps tests date in the past (custody runs forward).
    at = at or timezone.now() - datetime.timedelta(days=30)
    facility = bags[0].batch.facility
    with audit_context(actor=None, reason="test set-up: received", origin=Origin.TEST):
        shipment = Shipment.objects.create(
            code=f"SHP-TEST-{next(_boxes):05d}",
            facility=facility,
            hospital=hospital,
            status=Shipment.Status.RECEIVED,
            created_at=at,
            dispatched_at=at,
            received_at=at,
            logger_result=Shipment.LoggerResult.IN_RANGE,
        )
        box = f"T{shipment.pk}"
        for number, bag in enumerate(bags):
            position = StorageLocation.objects.create(
                hospital=hospital,
                tank="PH",
                rack=str(number // BOX_POSITIONS + 1),
                box=box,
                position=str(number % BOX_POSITIONS + 1),
            )
            ShipmentBag.objects.create(
                shipment=shipment,
                bag=bag,
                open=False,
                from_location=str(bag.location) if bag.location_id else "",
                received_location=position,
            )
            bag.location = position
            bag.save(audit_action="bag_received")
            BagEvent.objects.create(
                bag=bag,
                from_status=Bag.Status.IN_TRANSIT,
                to_status=bag.status,
                occurred_at=at,
                location="",
                note=f"received at {hospital.code} in shipment {shipment.code} (test set-up)",
            )
    return shipment


def member_of(user, *, facility=None, hospital=None):
    """Make `user` a member of one site (idempotent; the role fixtures may already be)."""
    from sites.services import add_membership

    add_membership(user, facility=facility, hospital=hospital, actor=None, reason="test set-up")
    return user
