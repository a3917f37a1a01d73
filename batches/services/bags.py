"""Making a batch's bags, each in a free position of one storage box."""

from __future__ import annotations

import datetime
import string
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from audit.context import audit_context
from batches.exceptions import BagCreationError, BagTransitionError, NotEnoughPositionsError
from batches.models import Bag, BagEvent, Batch, StorageLocation
from batches.services.base import lock_batch
from batches.services.signed_record import keep_record_hash
from batches.services.storage import BOX_POSITIONS, free_positions_from
from core.exceptions import validation_messages

# The demo ISBT 128 product code: S + an invented 4-digit description code + V
# (volunteer allogeneic) + 00 (no division in the product code itself).
DEFAULT_PRODUCT_CODE = "S0412V00"

# ISBT 128 division codes: first level A–Z, second level 0 then a–z.
DIVISIONS = [
    first + second for second in "0" + string.ascii_lowercase for first in string.ascii_uppercase
]


@dataclass(frozen=True)
class FreeBox:
    """A box of a facility's store and how many of its positions are free."""

    tank: str
    rack: str
    box: str
    free: int

    def __str__(self):
        return f"{self.tank}/{self.rack}/{self.box}"


def boxes_with_free_positions(facility_id: int) -> list[FreeBox]:
    """The facility's boxes that have a free position, most free last (one query): where
    a batch's bags can go in one step, filling a started box before opening another."""
    rows = (
        StorageLocation.objects.filter(facility_id=facility_id)
        .values("tank", "rack", "box")
        .annotate(occupied=Count("bags__location", distinct=True))
        .order_by("tank", "rack", "box")
    )
    boxes = [
        FreeBox(row["tank"], row["rack"], row["box"], BOX_POSITIONS - row["occupied"])
        for row in rows
    ]
    return sorted((b for b in boxes if b.free > 0), key=lambda b: b.free)


def _free_positions(
    facility_id: int, tank: str, rack: str, box: str, count: int, *, actor
) -> list[StorageLocation]:
    """`count` free positions of one box of the facility's store (`free_positions_from`
    from position 1), refused as a bag creation's error."""
    try:
        return free_positions_from(facility_id, tank, rack, box, count, actor=actor)
    except NotEnoughPositionsError as short:
        raise BagCreationError(
            f"Box {tank}/{rack}/{box} has only {short.free} free positions for {count} "
            "bags: choose another box."
        ) from None
    except BagTransitionError as refusal:  # a position's name the model refuses
        raise BagCreationError(refusal.messages) from None


@transaction.atomic
def create_bags(
    batch: Batch,
    *,
    actor: AbstractBaseUser | None,
    count: int,
    nominal_cells: int,
    volume_ml: Decimal,
    product_code: str,
    tank: str,
    rack: str,
    box: str,
    at: datetime.datetime | None = None,
) -> list[Bag]:
    """Create `count` quarantined bags of a batch in free positions of one storage box.

    `at` (default now) is when they were filled: their first custody event's time.

    Divisions continue after the batch's existing bags of that product code (A0, B0, …).
    Each bag is validated (50–75 ×10⁶ cells, volume), inserted in one statement with one
    audit event per bag, and gets its first custody event ("created in quarantine").
    """
    batch = lock_batch(batch)
    if batch.status not in (Batch.Status.IN_PRODUCTION, Batch.Status.QUARANTINE):
        raise BagCreationError(
            f"Batch {batch.code} is {batch.get_status_display().lower()}: bags are created "
            "only while the batch is in production or quarantine."
        )
    if not 1 <= count <= BOX_POSITIONS:
        raise BagCreationError(f"Create between 1 and {BOX_POSITIONS} bags at a time.")
    product_code = product_code.strip().upper()
    used = set(
        Bag.objects.filter(batch=batch, product_code=product_code).values_list(
            "division", flat=True
        )
    )
    divisions = [d for d in DIVISIONS if d not in used][:count]
    if len(divisions) < count:
        raise BagCreationError(f"Batch {batch.code} has no division codes left.")
    with audit_context(actor=actor, reason=f"{count} bags created for batch {batch.code}"):
        positions = _free_positions(
            batch.facility_id, tank.strip(), rack.strip(), box.strip(), count, actor=actor
        )
        bags = []
        for division, location in zip(divisions, positions, strict=True):
            bag = Bag(
                batch=batch,
                product_code=product_code,
                division=division,
                nominal_cells=nominal_cells,
                volume_ml=Decimal(str(volume_ml)),
                location=location,
                status=Bag.Status.QUARANTINE,
            )
            bag.code = f"{batch.code}-{product_code}-{division}"
            try:
                bag.full_clean(
                    exclude=["location"], validate_unique=False, validate_constraints=False
                )
            except ValidationError as error:
                raise BagCreationError(validation_messages(error)) from None
            bags.append(bag)
        bags = Bag.objects.bulk_create(bags)
        now = at or timezone.now()
        BagEvent.objects.bulk_create(
            [
                BagEvent(
                    bag=bag,
                    from_status="",
                    to_status=Bag.Status.QUARANTINE,
                    occurred_at=now,
                    actor=actor,
                    location=str(bag.location),
                    note="created in quarantine",
                )
                for bag in bags
            ]
        )
        # A batch on hold after its release is still decided on: its record now has more bags.
        keep_record_hash(batch, actor=actor)
    return bags
