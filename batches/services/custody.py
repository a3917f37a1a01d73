"""A bag's chain of custody: which status may follow which, and each step: one bag's
move (`move_bag`), many bags reserved at once (`reserve_bags`), a move in storage
(`relocate_bag`)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from audit.context import audit_context
from batches.exceptions import BagTransitionError
from batches.models import Bag, BagEvent, StorageLocation
from core.exceptions import validation_messages
from core.formatting import fmt_time

S = Bag.Status

# The chain of custody of a bag: which status may follow which.
BAG_TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUARANTINE: frozenset({S.AVAILABLE, S.DISCARDED}),
    # available → quarantine: the batch was put on hold after its release (see `hold`).
    S.AVAILABLE: frozenset({S.RESERVED, S.DISCARDED, S.EXPIRED, S.QUARANTINE, S.IN_TRANSIT}),
    # in transit: dispatched in a shipment (`batches.services.shipments`); received in
    # range → available at the hospital, with a temperature excursion → quarantine.
    S.IN_TRANSIT: frozenset({S.AVAILABLE, S.QUARANTINE}),
    S.RESERVED: frozenset({S.AVAILABLE, S.THAWED, S.IN_REFRESH, S.DISCARDED}),
    S.THAWED: frozenset({S.DISPENSED, S.DISCARDED}),
    S.IN_REFRESH: frozenset({S.DISPENSED, S.DISCARDED}),
    S.DISPENSED: frozenset({S.INFUSED, S.DISCARDED}),
    S.INFUSED: frozenset(),
    S.DISCARDED: frozenset(),
    S.EXPIRED: frozenset(),
}

# Leaving the liquid-nitrogen tank frees the storage position.
LEAVES_STORAGE = frozenset({S.THAWED, S.IN_REFRESH, S.DISCARDED, S.IN_TRANSIT})


def status_label(status: str) -> str:
    return str(S(status).label).lower()


def _refuse_transition(code: str, from_status: str, to_status: str) -> None:
    """Refuse a step `BAG_TRANSITIONS` does not allow, naming the allowed ones."""
    if to_status not in BAG_TRANSITIONS[from_status]:
        allowed = (
            ", ".join(sorted(status_label(s) for s in BAG_TRANSITIONS[from_status])) or "none"
        )
        raise BagTransitionError(
            f"Bag {code} is {status_label(from_status)}: it cannot become "
            f"{status_label(to_status)} (allowed next: {allowed})."
        )


def refuse_out_of_order(
    bags: Sequence[Bag], to_status: str, at: datetime.datetime
) -> dict[int, Bag]:
    """A custody event dated before the bag's previous one (one query for all the bags):
    a bag cannot be reserved before it became available (its batch's release), nor leave
    a step before it entered it. Returns the bags as stored, by pk, with their storage
    positions (read by the same query), for the caller's custody events."""
    latest = BagEvent.objects.filter(bag=OuterRef("pk")).order_by("-occurred_at", "-pk")
    stored = {
        bag.pk: bag
        for bag in Bag.objects.filter(pk__in=[b.pk for b in bags])
        .select_related("location")
        .annotate(
            latest_at=Subquery(latest.values("occurred_at")[:1]),
            latest_status=Subquery(latest.values("to_status")[:1]),
        )
        .order_by("pk")
    }
    # Times typed on the ward are to the minute: an event in the same minute is in order.
    late = [
        bag
        for bag in stored.values()
        if bag.latest_at is not None and bag.latest_at - at >= datetime.timedelta(minutes=1)
    ]
    if not late:
        return stored
    messages = [
        f"Bag {bag.code} became {status_label(bag.latest_status)} at "
        f"{fmt_time(bag.latest_at)}: it cannot be {status_label(to_status)} earlier "
        f"({fmt_time(at)})."
        for bag in late
    ]
    raise BagTransitionError(messages)


def _position(bag: Bag, stored: Bag | None) -> str:
    """The bag's storage position as text ("" once it left the tank), from the stored
    row read with it where that is the same position."""
    if not bag.location_id:
        return ""
    if stored is not None and stored.location_id == bag.location_id:
        return str(stored.location)
    return str(bag.location)


def in_stored_order(bags: Sequence[Bag]) -> list[Bag]:
    """The bags in `Bag.Meta.ordering` (their batch's order, newest first, then division),
    the order in which rows read back from the database come."""
    by_division = sorted(bags, key=lambda bag: bag.division)
    return sorted(by_division, key=lambda bag: bag.batch.created_at, reverse=True)


def _lock(bag: Bag) -> Bag:
    return Bag.objects.select_for_update(of=("self",)).select_related("location").get(pk=bag.pk)


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
    locked = _lock(bag)
    from_status = S(locked.status)
    _refuse_transition(locked.code, from_status, to_status)
    at = at or timezone.now()
    refuse_out_of_order([locked], to_status, at)
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


def record_custody_events(
    bags: Sequence[Bag],
    from_status: str,
    to_status: str,
    *,
    actor: AbstractBaseUser | None,
    locations: dict[int, str],
    note: str = "",
    at: datetime.datetime | None = None,
) -> list[BagEvent]:
    """`record_custody_event` for many bags at once (one INSERT, their audit events
    appended together, in the bags' order). `locations`: each bag's position, by pk."""
    occurred_at = at or timezone.now()
    return BagEvent.objects.bulk_create(
        [
            BagEvent(
                bag=bag,
                from_status=from_status,
                to_status=to_status,
                occurred_at=occurred_at,
                actor=actor,
                location=locations[bag.pk],
                note=note,
            )
            for bag in bags
        ]
    )


@transaction.atomic(savepoint=False)
def reserve_bags(
    bags: Sequence[Bag],
    *,
    actor: AbstractBaseUser | None,
    note: str,
    reason: str = "",
    at: datetime.datetime | None = None,
    locked: bool = False,
) -> int:
    """Reserve the bags still `available` of `bags`, all at once; return how many.

    The step available → reserved of `BAG_TRANSITIONS`, made safe under concurrency: one
    conditional UPDATE takes only the rows still available (locked first; one audit
    event `bag_reserved` per bag taken), so two allocations can never take the same bag.
    When every bag was taken, each gets its custody event (from, to, `at`, actor, its
    storage position, `note`). When fewer were taken, nothing more is written and the
    count says so: the caller refuses, and its transaction rolls the reservations back
    (no savepoint of its own: an error dooms the caller's transaction).

    `locked`: the caller has already locked the bags' rows (`select_for_update`) and
    loaded `bags` from them in this transaction (as `dosing`'s `allocate_dose` does), so
    they are neither locked nor read again.

    The audit reason is `reason`, else `note`. The instances given are not refreshed
    (their `status` still reads `available`).
    """
    bags = list(bags)
    _refuse_transition(", ".join(b.code for b in bags), S.AVAILABLE, S.RESERVED)
    at = at or timezone.now()
    stored = refuse_out_of_order(bags, S.RESERVED, at)
    with audit_context(actor=actor, reason=reason.strip() or note.strip()):
        taken = Bag.objects.filter(pk__in=[b.pk for b in bags], status=S.AVAILABLE).update_audited(
            audit_action=f"bag_{S.RESERVED}",
            locked=in_stored_order(bags) if locked else None,
            status=S.RESERVED,
        )
        if taken == len(bags):
            record_custody_events(
                bags,
                S.AVAILABLE,
                S.RESERVED,
                actor=actor,
                locations={bag.pk: _position(bag, stored.get(bag.pk)) for bag in bags},
                note=note,
                at=at,
            )
    return taken


@transaction.atomic
def relocate_bag(
    bag: Bag,
    location: StorageLocation | None,
    *,
    actor: AbstractBaseUser | None,
    reason: str = "",
    note: str = "",
    at: datetime.datetime | None = None,
) -> Bag:
    """Move a stored bag to another storage position, with its custody event.

    Only a bag in the tank moves (one that has left it has no position); the new
    position must be free (one bag per position). The bag is saved with the audit action
    `bag_moved`, and a `BagEvent` (status unchanged) records who moved it, when, from
    where (`location`) and to where (`note`). The same position again changes nothing.
    """
    locked = _lock(bag)
    if locked.location_id is None:
        raise BagTransitionError(
            f"Bag {locked.code} is {status_label(locked.status)} and not in storage: it "
            "has no position to move from."
        )
    if location is None:
        raise BagTransitionError(
            f"Bag {locked.code}: choose the position to move it to. A bag leaves the tank "
            "only by a custody step (thawed, in refresh culture, discarded)."
        )
    if location.pk == locked.location_id:
        return locked
    occupant = Bag.objects.filter(location=location).exclude(pk=locked.pk).first()
    if occupant is not None:
        raise BagTransitionError(
            f"Position {location} already holds bag {occupant.code}: choose a free position."
        )
    where = str(locked.location)
    locked.location = location
    note = note.strip() or f"moved in storage from {where} to {location}"
    with audit_context(actor=actor, reason=reason.strip() or note):
        try:
            locked.full_clean()
        except ValidationError as error:
            raise BagTransitionError(validation_messages(error)) from None
        locked.save(audit_action="bag_moved")
        record_custody_event(
            locked, locked.status, locked.status, actor=actor, location=where, note=note, at=at
        )
    return locked
