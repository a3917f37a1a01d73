"""Helpers for tests across sites: a hospital's storage, a bag stored there.

`store_at_hospital(bag, hospital)` receives the bag at the hospital (default: HUS) as an
in-range shipment would (`tests.factories.shipments.receive_at`, the one helper that puts
a bag into a hospital's storage): the scoping tests need a bag a hospital sees, and the
allocation rules a bag received there.
"""

from tests.factories.batches import StorageLocationFactory
from tests.factories.shipments import receive_at
from tests.factories.sites import HospitalFactory

__all__ = ["hospital_location", "store_at_hospital"]


def hospital_location(hospital=None, **fields):
    """A free position in the hospital's (default: HUS) pharmacy tank."""
    return StorageLocationFactory(facility=None, hospital=hospital or HospitalFactory(), **fields)


def store_at_hospital(bag, hospital=None):
    """Receive a bag at the hospital (in range, in its store); returns the bag, refreshed."""
    receive_at([bag], hospital or HospitalFactory())
    bag.refresh_from_db()
    return bag
