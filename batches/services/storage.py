"""Storage positions in the liquid-nitrogen tanks (tank / rack / box / position).

A bag's move between positions is a custody step (`custody.relocate_bag`); here are the
positions themselves, and a set of bags moved into the next free positions of one box
(`move_bags`). `create_bags` adds the positions of a box as it fills them, through
`free_positions_from` too.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from audit.context import audit_context
from batches.exceptions import BagTransitionError, NotEnoughPositionsError
from batches.models import Bag, StorageLocation
from batches.services.base import correct_record, delete_audited, refuse_unknown, save_validated
from batches.services.custody import relocate_bag, status_label
from core.exceptions import validation_messages

BOX_POSITIONS = 25

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


def _site_of(location: StorageLocation) -> str:
    site = location.facility or location.hospital
    return str(site)


def _refuse_unmovable(bags: Sequence[Bag], facility_id: int) -> None:
    """Every bag must be in the tank, at the facility whose box it moves to (a bag goes to
    another site only in a shipment): all refusals at once."""
    refusals = []
    for bag in bags:
        if bag.location_id is None:
            refusals.append(
                f"Bag {bag.code} is {status_label(bag.status)} and not in storage: it has no "
                "position to move from."
            )
        elif bag.location.facility_id != facility_id:
            refusals.append(
                f"Bag {bag.code} is stored at {_site_of(bag.location)}: it moves to another "
                "site's box only in a shipment."
            )
    if refusals:
        raise BagTransitionError(refusals)


def free_positions_from(
    facility_id: int,
    tank: str,
    rack: str,
    box: str,
    count: int,
    *,
    start: int = 1,
    actor: AbstractBaseUser | None,
) -> list[StorageLocation]:
    """`count` free positions of one box of the facility's store, from position `start`
    on (1..`BOX_POSITIONS`), skipping occupied ones; positions are created as needed (one
    statement, an audit event each). The box's positions are locked, so two moves cannot
    take the same one. Too few: `NotEnoughPositionsError` (with the number free)."""
    if not 1 <= start <= BOX_POSITIONS:
        raise BagTransitionError(f"The first position is between 1 and {BOX_POSITIONS}.")
    existing = {
        loc.position: loc
        for loc in StorageLocation.objects.filter(
            facility_id=facility_id, tank=tank, rack=rack, box=box
        ).select_for_update()
    }
    occupied = set(
        Bag.objects.filter(location__in=list(existing.values())).values_list(
            "location__position", flat=True
        )
    )
    chosen, to_create = [], []
    for number in range(start, BOX_POSITIONS + 1):
        position = str(number)
        if position in occupied:
            continue
        location = existing.get(position)
        if location is None:
            location = StorageLocation(
                facility_id=facility_id, tank=tank, rack=rack, box=box, position=position
            )
            to_create.append(location)
        chosen.append(location)
        if len(chosen) == count:
            break
    if len(chosen) < count:
        raise NotEnoughPositionsError(
            f"Box {tank}/{rack}/{box} has {len(chosen)} free position(s) from position "
            f"{start} for {count} bag(s): choose another box or an earlier position.",
            free=len(chosen),
        )
    _create_positions(to_create, actor=actor, reason=f"position of box {tank}/{rack}/{box}")
    return chosen


def _create_positions(locations: list[StorageLocation], *, actor, reason: str) -> None:
    """New positions of one box, their names validated (no query each: the box is locked,
    the positions free, the site the caller's), inserted in one statement with their
    audit events."""
    for location in locations:
        try:
            location.full_clean(
                exclude=["facility", "hospital"], validate_unique=False, validate_constraints=False
            )
        except ValidationError as error:
            raise BagTransitionError(validation_messages(error)) from None
    with audit_context(actor=actor, reason=reason):
        StorageLocation.objects.bulk_create(locations)


@transaction.atomic
def move_bags(
    bags: Sequence[Bag],
    *,
    facility_id: int,
    tank: str,
    rack: str,
    box: str,
    start: int = 1,
    actor: AbstractBaseUser | None,
    reason: str = "",
) -> list[Bag]:
    """Move a set of stored bags into the next free positions of one box of the facility's
    store, from position `start` on (in the order given), in one transaction.

    Refused as a whole (nothing moves): a bag not in storage, a bag stored at another
    site (`facility_id` is the box's facility), a box without enough free positions. An
    occupied position is never used. Each bag's move is `relocate_bag`: audited per bag
    (`bag_moved`) with its custody event from where to where.
    """
    bags = list(
        Bag.objects.select_for_update(of=("self",))
        .select_related("location__facility", "location__hospital")
        .filter(pk__in=[b.pk for b in bags])
        .order_by("code")
    )
    if not bags:
        raise BagTransitionError("Choose the bags to move.")
    _refuse_unmovable(bags, facility_id)
    tank, rack, box = tank.strip(), rack.strip(), box.strip()
    positions = free_positions_from(
        facility_id, tank, rack, box, len(bags), start=start, actor=actor
    )
    return [
        relocate_bag(bag, location, actor=actor, reason=reason)
        for bag, location in zip(bags, positions, strict=True)
    ]
