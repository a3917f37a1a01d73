"""Helpers for tests across sites: a hospital's storage, a bag stored there.

`store_at_hospital(bag, hospital)` only moves the bag into the hospital's tank (the
scoping tests need a bag a hospital sees); receiving it by a shipment, with its receipt,
is the shipments' factory helper.
"""

from audit.context import Origin, audit_context
from batches.services import relocate_bag
from tests.factories.batches import StorageLocationFactory
from tests.factories.sites import HospitalFactory

__all__ = ["hospital_location", "store_at_hospital"]


def hospital_location(hospital=None, **fields):
    """A free position in the hospital's (default: HUS) pharmacy tank."""
    return StorageLocationFactory(facility=None, hospital=hospital or HospitalFactory(), **fields)


def store_at_hospital(bag, hospital=None):
    """Move a stored bag to a position at the hospital; returns the bag, refreshed."""
    with audit_context(actor=None, reason="test set-up", origin=Origin.TEST):
        relocate_bag(bag, hospital_location(hospital), actor=None, reason="test set-up")
    bag.refresh_from_db()
    return bag
