"""Storage positions in the liquid-nitrogen tanks (tank / rack / box / position).

A bag's move between positions is a custody step (`custody.relocate_bag`); here are the
positions themselves. `create_bags` adds the positions of a box as it fills them.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from batches.models import StorageLocation
from batches.services.base import correct_record, delete_audited, refuse_unknown, save_validated

LOCATION_FIELDS = ("tank", "rack", "box", "position")
# The site is chosen when the position is made and never changes (its bags' custody
# would otherwise move between sites without a shipment).
LOCATION_SITE_FIELDS = ("facility", "hospital")


@transaction.atomic
def create_storage_location(
    *, actor: AbstractBaseUser | None, reason: str = "", **fields
) -> StorageLocation:
    """A new position at one site (`LOCATION_SITE_FIELDS`: a facility or a hospital) named
    by `LOCATION_FIELDS`, unique at that site."""
    refuse_unknown(
        fields, LOCATION_SITE_FIELDS + LOCATION_FIELDS, "These fields cannot be recorded"
    )
    return save_validated(StorageLocation(**fields), actor=actor, reason=reason)


@transaction.atomic
def correct_storage_location(
    location: StorageLocation, *, actor: AbstractBaseUser | None, reason: str = "", **changes
) -> StorageLocation:
    """Correct how a position is named (a bag in it stays in it: moving a bag is
    `relocate_bag`)."""
    return correct_record(location, changes, allowed=LOCATION_FIELDS, actor=actor, reason=reason)


@transaction.atomic
def delete_storage_location(
    location: StorageLocation, *, actor: AbstractBaseUser | None, reason: str
) -> None:
    """Delete a position made by mistake: refused while a bag is in it."""
    delete_audited(location, actor=actor, reason=reason)
