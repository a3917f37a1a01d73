"""The chain of custody of a bag: allowed transitions, custody events, audit events."""

import datetime

import pytest

from audit.models import AuditEvent
from batches.exceptions import BagTransitionError
from batches.models import Bag, Batch
from batches.querysets import bags_available_for_allocation
from batches.services import BAG_TRANSITIONS, move_bag
from tests.factories import BagFactory, BatchFactory

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
