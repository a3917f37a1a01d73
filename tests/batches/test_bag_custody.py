"""The chain of custody of a bag: allowed transitions, custody events, audit events."""

import datetime
import re
import threading

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent
from batches.exceptions import BagTransitionError
from batches.models import Bag, BagEvent, Batch
from batches.querysets import bags_available_for_allocation
from batches.services import BAG_TRANSITIONS, move_bag, relocate_bag, reserve_bags
from tests.conftest import requires_postgres
from tests.factories import BagFactory, BatchFactory, StorageLocationFactory

pytestmark = pytest.mark.django_db

S = Bag.Status

# Sorted: a frozenset's order changes with the hash seed, and every xdist worker must
# collect the same tests.
ALLOWED = [(frm, to) for frm, targets in BAG_TRANSITIONS.items() for to in sorted(targets)]
REFUSED = [(frm, to) for frm in S for to in S if to not in BAG_TRANSITIONS[frm]]


def bag_in(status):
    extra = {"discard_reason": "set-up"} if status == S.DISCARDED else {}
    return BagFactory(status=status, **extra)


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_allowed_transition_moves_bag_and_records_custody_event(
    from_status, to_status, production_user
):
    bag = bag_in(from_status)
    moved = move_bag(bag, to_status, actor=production_user, note="step", reason="why")

    moved.refresh_from_db()
    assert moved.status == to_status
    event = moved.events.get()
    assert (event.from_status, event.to_status) == (from_status, to_status)
    assert event.actor == production_user
    assert event.note == "step"
    audit = AuditEvent.objects.filter(object_type="batches.bag", object_id=str(bag.pk)).last()
    assert audit.action == f"bag_{to_status}"
    assert audit.actor == production_user
    assert audit.changes["status"] == [from_status, to_status]


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_transition_outside_the_table_is_refused_and_changes_nothing(
    from_status, to_status, production_user
):
    bag = bag_in(from_status)
    events_before = AuditEvent.objects.count()
    with pytest.raises(BagTransitionError, match=bag.code):
        move_bag(bag, to_status, actor=production_user, reason="why")
    bag.refresh_from_db()
    assert bag.status == from_status
    assert not bag.events.exists()
    assert AuditEvent.objects.count() == events_before


def test_discard_without_reason_is_refused(production_user):
    bag = BagFactory(status=S.AVAILABLE)
    with pytest.raises(BagTransitionError, match="reason"):
        move_bag(bag, S.DISCARDED, actor=production_user, reason="  ")
    bag.refresh_from_db()
    assert bag.status == S.AVAILABLE


def test_discard_stores_reason_and_frees_storage_position(production_user):
    bag = BagFactory(status=S.AVAILABLE)
    position = str(bag.location)
    moved = move_bag(bag, S.DISCARDED, actor=production_user, reason="bag seal broken")
    moved.refresh_from_db()
    assert moved.discard_reason == "bag seal broken"
    assert moved.location is None
    event = moved.events.get()
    assert event.location == position
    audit = AuditEvent.objects.filter(object_type="batches.bag", object_id=str(bag.pk)).last()
    assert audit.reason == "bag seal broken"


@pytest.mark.parametrize("to_status", [S.THAWED, S.IN_REFRESH])
def test_thaw_or_refresh_takes_bag_out_of_tank(to_status, production_user):
    bag = BagFactory(status=S.RESERVED)
    moved = move_bag(bag, to_status, actor=production_user)
    moved.refresh_from_db()
    assert moved.location is None


def test_reserving_keeps_bag_in_its_position(production_user):
    bag = BagFactory(status=S.AVAILABLE)
    location = bag.location
    moved = move_bag(bag, S.RESERVED, actor=production_user)
    moved.refresh_from_db()
    assert moved.location == location


def test_dispensed_bag_can_be_marked_infused_without_extra_reason(production_user):
    bag = BagFactory(status=S.DISPENSED, location=None)
    moved = move_bag(bag, S.INFUSED, actor=production_user)
    assert moved.status == S.INFUSED


def test_unknown_status_is_refused(production_user):
    bag = BagFactory(status=S.AVAILABLE)
    with pytest.raises(BagTransitionError, match="not a bag status"):
        move_bag(bag, "lost", actor=production_user)


def test_only_available_bags_of_released_unexpired_batches_are_allocatable():
    today = datetime.date(2026, 6, 1)
    released = BatchFactory(status=Batch.Status.RELEASED, expires_on=datetime.date(2027, 1, 1))
    good = BagFactory(batch=released, status=S.AVAILABLE)
    BagFactory(batch=released, status=S.RESERVED)
    BagFactory(batch=BatchFactory(status=Batch.Status.QUARANTINE), status=S.AVAILABLE)
    expired = BatchFactory(status=Batch.Status.RELEASED, expires_on=datetime.date(2026, 5, 31))
    BagFactory(batch=expired, status=S.AVAILABLE)
    undated = BatchFactory(status=Batch.Status.RELEASED, expires_on=None)
    BagFactory(batch=undated, status=S.AVAILABLE)

    assert list(bags_available_for_allocation(on_date=today)) == [good]


def test_batch_expiring_today_is_still_allocatable_today():
    today = datetime.date(2026, 6, 1)
    batch = BatchFactory(status=Batch.Status.RELEASED, expires_on=today)
    bag = BagFactory(batch=batch, status=S.AVAILABLE)
    assert list(bags_available_for_allocation(on_date=today)) == [bag]


# Many bags reserved at once: the conditional UPDATE through the transition table ------


def test_reserve_bags_takes_every_available_bag_with_audit_and_custody_events(
    production_user,
):
    at = datetime.datetime(2026, 6, 1, 9, 30, tzinfo=datetime.UTC)
    bags = [BagFactory(status=S.AVAILABLE) for _ in range(3)]
    taken = reserve_bags(
        bags, actor=production_user, note="reserved for dose P-001-D1", reason="plan", at=at
    )
    assert taken == 3
    for bag in bags:
        bag.refresh_from_db()
        assert bag.status == S.RESERVED
        event = bag.events.get()
        assert (event.from_status, event.to_status, event.occurred_at) == (
            S.AVAILABLE,
            S.RESERVED,
            at,
        )
        assert (event.actor, event.note, event.location) == (
            production_user,
            "reserved for dose P-001-D1",
            str(bag.location),
        )
        audit = AuditEvent.objects.filter(object_type="batches.bag", object_id=str(bag.pk)).get(
            action="bag_reserved"
        )
        assert (audit.actor, audit.reason) == (production_user, "plan")
        assert audit.changes["status"] == [S.AVAILABLE, S.RESERVED]


def test_reserve_bags_counts_only_bags_still_available_and_writes_no_custody_then(
    production_user,
):
    free = BagFactory(status=S.AVAILABLE)
    gone = BagFactory(status=S.RESERVED)
    taken = reserve_bags([free, gone], actor=production_user, note="reserved for dose D")
    # The caller sees fewer than asked and refuses (its transaction rolls back).
    assert taken == 1
    assert not BagEvent.objects.exists()


def test_reserve_bags_audit_reason_defaults_to_the_note(production_user):
    bag = BagFactory(status=S.AVAILABLE)
    reserve_bags([bag], actor=production_user, note="reserved for dose D")
    audit = AuditEvent.objects.filter(object_type="batches.bag", action="bag_reserved").get()
    assert audit.reason == "reserved for dose D"


def locked_rows(bags):
    """The bags' rows locked and loaded, as an allocation does (given in reverse)."""
    return list(
        Bag.objects.select_for_update()
        .filter(pk__in=[b.pk for b in bags])
        .select_related("batch")
        .order_by("-pk")
    )


def test_reserve_bags_the_caller_locked_writes_the_same_trail_without_reading_them_again(
    production_user, django_assert_max_num_queries
):
    at = datetime.datetime(2026, 6, 1, 9, 30, tzinfo=datetime.UTC)
    batch = BatchFactory()
    bags = [BagFactory(batch=batch, status=S.AVAILABLE) for _ in range(3)]
    with transaction.atomic():
        locked = locked_rows(bags)
        # The bags' last steps and positions; the UPDATE; the custody events; and the
        # audit events of each in one statement.
        with django_assert_max_num_queries(5):
            taken = reserve_bags(locked, actor=production_user, note="for D", at=at, locked=True)
    assert taken == 3
    audit = AuditEvent.objects.filter(action="bag_reserved").order_by("seq")
    # In the bags' stored order (division), as when the rows are read back.
    in_order = sorted(bags, key=lambda b: b.division)
    assert [e.object_id for e in audit] == [str(b.pk) for b in in_order]
    assert all(e.changes == {"status": [S.AVAILABLE, S.RESERVED]} for e in audit)
    for bag in bags:
        bag.refresh_from_db()
        assert bag.status == S.RESERVED
        event = bag.events.get()
        assert (event.occurred_at, event.location, event.note) == (at, str(bag.location), "for D")


def test_reserve_bags_the_caller_locked_counts_only_bags_still_available(production_user):
    free = BagFactory(status=S.AVAILABLE)
    gone = BagFactory(status=S.RESERVED)
    with transaction.atomic():
        taken = reserve_bags(
            locked_rows([free, gone]), actor=production_user, note="for D", locked=True
        )
    assert taken == 1
    assert not BagEvent.objects.exists()
    reserved = AuditEvent.objects.filter(action="bag_reserved")
    assert [e.object_id for e in reserved] == [str(free.pk)]


@requires_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_reservations_at_once_never_take_the_same_bag(production_user):
    bags = [BagFactory(status=S.AVAILABLE) for _ in range(2)]
    barrier = threading.Barrier(2)
    counts = []

    def reserve():
        try:
            barrier.wait()
            with transaction.atomic():
                counts.append(reserve_bags(bags, actor=production_user, note="race"))
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(counts) == [0, 2]
    for bag in bags:
        assert BagEvent.objects.filter(bag=bag, to_status=S.RESERVED).count() == 1


# A move in storage --------------------------------------------------------------------


def test_relocate_bag_moves_it_with_a_custody_event(production_user):
    bag = BagFactory(status=S.QUARANTINE)
    old, old_pk, new = str(bag.location), bag.location_id, StorageLocationFactory(tank="T7")
    moved = relocate_bag(bag, new, actor=production_user, reason="tank T1 serviced")
    assert Bag.objects.get(pk=bag.pk).location == new
    event = moved.events.get()
    assert (event.from_status, event.to_status, event.location) == (
        S.QUARANTINE,
        S.QUARANTINE,
        old,
    )
    audit = AuditEvent.objects.filter(object_type="batches.bag", action="bag_moved").get()
    assert audit.reason == "tank T1 serviced"
    assert audit.changes["location_id"] == [old_pk, new.pk]


def test_relocate_bag_refuses_an_occupied_position(production_user):
    bag, other = BagFactory(status=S.AVAILABLE), BagFactory(status=S.AVAILABLE)
    with pytest.raises(BagTransitionError, match=f"already holds bag {re.escape(other.code)}"):
        relocate_bag(bag, other.location, actor=production_user)
    assert not BagEvent.objects.exists()


def test_relocate_bag_refuses_a_bag_out_of_storage(production_user):
    bag = BagFactory(status=S.THAWED, location=None)
    with pytest.raises(BagTransitionError, match="not in storage"):
        relocate_bag(bag, StorageLocationFactory(), actor=production_user)
