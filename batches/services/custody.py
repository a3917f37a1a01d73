"""A bag's chain of custody: which status may follow which, and the step itself."""

from __future__ import annotations

import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.context import audit_context
from batches.exceptions import BagTransitionError
from batches.models import Bag, BagEvent

S = Bag.Status

# The chain of custody of a bag: which status may follow which.
BAG_TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUARANTINE: frozenset({S.AVAILABLE, S.DISCARDED}),
    # available → quarantine: the batch was put on hold after its release (see `hold`).
    S.AVAILABLE: frozenset({S.RESERVED, S.DISCARDED, S.EXPIRED, S.QUARANTINE}),
    S.RESERVED: frozenset({S.AVAILABLE, S.THAWED, S.IN_REFRESH, S.DISCARDED}),
    S.THAWED: frozenset({S.DISPENSED, S.DISCARDED}),
    S.IN_REFRESH: frozenset({S.DISPENSED, S.DISCARDED}),
    S.DISPENSED: frozenset({S.INFUSED, S.DISCARDED}),
    S.INFUSED: frozenset(),
    S.DISCARDED: frozenset(),
    S.EXPIRED: frozenset(),
}

# Leaving the liquid-nitrogen tank frees the storage position.
LEAVES_STORAGE = frozenset({S.THAWED, S.IN_REFRESH, S.DISCARDED})


def status_label(status: str) -> str:
    return str(S(status).label).lower()


@transaction.atomic
def move_bag(
    bag: Bag,
    to_status: str,
    *,
    actor: AbstractBaseUser | None,
    note: str = "",
    reason: str = "",
    at: datetime.datetime | None = None,
) -> Bag:
    """Move one bag along its chain of custody and record the custody event.

    Guarantees: the bag row is locked; the transition is one of `BAG_TRANSITIONS`;
    a discard carries a written reason (stored in `discard_reason`); a bag leaving the
    tank (thawed, in refresh culture, discarded) frees its storage position; the bag is
    saved with the audit action `bag_<status>` and a `BagEvent` records from, to, when,
    who, where (the position before the move) and the note. Returns the updated bag.

    The audit reason is `reason`, else `note`, else the transition itself: a custody step
    made through this service is the documented path, so a bag already dispensed may be
    marked infused without a separate correction reason.
    """
    try:
        to_status = S(to_status)
    except ValueError:
        raise BagTransitionError(f"'{to_status}' is not a bag status.") from None
    locked = Bag.objects.select_for_update(of=("self",)).select_related("location").get(pk=bag.pk)
    from_status = S(locked.status)
    if to_status not in BAG_TRANSITIONS[from_status]:
        allowed = (
            ", ".join(sorted(status_label(s) for s in BAG_TRANSITIONS[from_status])) or "none"
        )
        raise BagTransitionError(
            f"Bag {locked.code} is {status_label(from_status)}: it cannot become "
            f"{status_label(to_status)} (allowed next: {allowed})."
        )
    if to_status == S.DISCARDED:
        if not reason.strip():
            raise BagTransitionError(f"Bag {locked.code}: give the reason for discarding it.")
        locked.discard_reason = reason.strip()
    where = str(locked.location) if locked.location_id else ""
    locked.status = to_status
    if to_status in LEAVES_STORAGE:
        locked.location = None
    audit_reason = reason.strip() or note.strip() or f"bag {from_status} → {to_status}"
    with audit_context(actor=actor, reason=audit_reason):
        locked.full_clean()
        locked.save(audit_action=f"bag_{to_status}")
        record_custody_event(
            locked, from_status, to_status, actor=actor, location=where, note=note, at=at
        )
    return locked


def record_custody_event(
    bag: Bag,
    from_status: str,
    to_status: str,
    *,
    actor: AbstractBaseUser | None,
    location: str = "",
    note: str = "",
    at: datetime.datetime | None = None,
) -> BagEvent:
    """Write the custody event of a transition the caller has already made on `bag`.

    `move_bag` calls it; so does allocation, which changes many bags' status in one
    conditional UPDATE (so that two pharmacists can never take the same bag) and then
    records each bag's step here. Runs inside the caller's transaction and audit context.
    """
    return BagEvent.objects.create(
        bag=bag,
        from_status=from_status,
        to_status=to_status,
        occurred_at=at or timezone.now(),
        actor=actor,
        location=location,
        note=note,
    )
