"""Concurrent allocations on PostgreSQL: no bag reserved twice, none lost.

SQLite has no row locks (and serialises writers anyway), so there this test would pass
even for broken code: it runs on PostgreSQL only.

How we know the test can fail: `test_race_detects_allocation_without_lock_and_conditional_update`
below swaps the three guards out for naive versions (no lock of the hospital's stock, a
plain read of the bags, then a save of each) and runs the same race; it is marked
xfail(strict=True), so if the race ever stopped
detecting the broken code, that test would XPASS and the suite would fail. We also checked it
by hand: with `lock_bags` reading without `select_for_update()` and `reserve_bags` saving each
bag unconditionally, the real test fails (the losers crash with IntegrityError from the
partial unique constraint instead of a clear refusal, and bags stay available while patients
were refused); with the constraint dropped as well, one bag gets two live reservations.
"""

import threading
import time

import pytest
from django.db import DatabaseError, connection, transaction

from audit.context import audit_context
from batches.models import Bag, BagEvent, Batch
from dosing import services
from dosing.exceptions import AllocationError
from dosing.models import Dose, DoseBag
from dosing.services import allocation
from tests.conftest import requires_postgres
from tests.factories import PatientFactory, ProtocolFactory, released_batch_with_bags

pytestmark = [requires_postgres, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PHARMACISTS = 6
BAGS = 3
# Widens the race window: whoever has read (and, when correct, locked) the bags waits here
# before reserving, so every other allocator reads the stock during that time.
HOLD_SECONDS = 0.3


def _race(pharmacist):
    ProtocolFactory()
    batch, bags = released_batch_with_bags([75_000_000] * BAGS)
    doses = [
        services.order_dose(PatientFactory(weight_kg=78), actor=pharmacist)
        for _ in range(PHARMACISTS)
    ]
    barrier = threading.Barrier(PHARMACISTS)
    outcomes: dict[int, str] = {}

    def allocate(dose):
        try:
            barrier.wait()
            services.allocate_dose(dose, actor=pharmacist)
            outcomes[dose.pk] = "allocated"
        except AllocationError:
            outcomes[dose.pk] = "refused"
        except Exception as exc:  # noqa: BLE001 - any other failure is what we look for
            outcomes[dose.pk] = f"crashed: {type(exc).__name__}: {exc}"
        finally:
            connection.close()

    _together(*(lambda dose=dose: allocate(dose) for dose in doses))
    return batch, bags, outcomes


def _together(*targets) -> None:
    """Run each target in its own thread (own connection), and wait for all."""
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def _allocate_into(outcome: dict, dose, actor, *, after, **kwargs):
    """A thread's allocation of `dose` once `after` is set: `outcome["allocation"]` is
    "allocated", "refused" (a clear refusal) or what crashed it."""

    def allocate():
        try:
            after.wait(timeout=30)
            services.allocate_dose(dose, actor=actor, **kwargs)
            outcome["allocation"] = "allocated"
        except AllocationError:
            outcome["allocation"] = "refused"
        except Exception as exc:  # noqa: BLE001 - a crash or a deadlock is the failure
            outcome["allocation"] = f"crashed: {type(exc).__name__}"
        finally:
            connection.close()

    return allocate


def _assert_no_bag_reserved_twice_and_none_lost(bags, outcomes):
    crashed = [o for o in outcomes.values() if o.startswith("crashed")]
    assert not crashed, "every allocator gets a reservation or a clear refusal"
    allocated = [pk for pk, o in outcomes.items() if o == "allocated"]
    assert len(allocated) == BAGS, "as many patients served as there were bags"

    links = list(DoseBag.objects.filter(live=True))
    reserved_bags = [link.bag_id for link in links]
    assert len(reserved_bags) == len(set(reserved_bags)), "no bag reserved twice"
    assert set(reserved_bags) == {b.pk for b in bags}, "no bag lost: each went to a dose"
    assert sorted(link.dose_id for link in links) == sorted(allocated)
    assert set(
        Bag.objects.filter(pk__in=[b.pk for b in bags]).values_list("status", flat=True)
    ) == {Bag.Status.RESERVED}
    for bag in bags:
        assert BagEvent.objects.filter(bag=bag, to_status=Bag.Status.RESERVED).count() == 1
    assert Dose.objects.filter(status=Dose.Status.ALLOCATED).count() == BAGS


def _slow(function):
    def wrapper(*args, **kwargs):
        result = function(*args, **kwargs)
        time.sleep(HOLD_SECONDS)
        return result

    return wrapper


def test_concurrent_allocations_never_share_or_lose_a_bag(pharmacist, monkeypatch):
    monkeypatch.setattr(allocation, "lock_bags", _slow(allocation.lock_bags))
    _, bags, outcomes = _race(pharmacist)
    _assert_no_bag_reserved_twice_and_none_lost(bags, outcomes)


def _dose_only(dose):
    """`lock_dose_and_stock` without the hospital's lock: allocations at one hospital
    then read the same stock at once and race for the same proposal."""
    return Dose.objects.select_for_update(of=("self",)).get(pk=dose.pk)


def test_without_the_hospitals_lock_the_bag_locks_alone_never_share_a_bag(pharmacist, monkeypatch):
    """Every allocator proposes the same bag; the winner's lock makes the others find it
    taken once they hold it, and each proposes again from what is left (the proposal's
    rows are locked and re-checked, whatever else serialises the hospital)."""
    monkeypatch.setattr(allocation, "lock_dose_and_stock", _dose_only)
    monkeypatch.setattr(allocation, "lock_bags", _slow(allocation.lock_bags))
    _, bags, outcomes = _race(pharmacist)
    _assert_no_bag_reserved_twice_and_none_lost(bags, outcomes)


def _naive_lock_bags(ids, *, available_only, batch_ids=()):
    qs = Bag.objects.filter(pk__in=list(ids))  # no select_for_update()
    if available_only:
        qs = qs.filter(status=Bag.Status.AVAILABLE)
    found = list(qs.order_by("pk"))
    batches = Batch.objects.in_bulk({b.batch_id for b in found})
    for bag in found:
        bag.batch = batches[bag.batch_id]
    return found


def _naive_reserve_bags(bags, **kwargs):
    """`reserve_bags` without its guard: each bag saved as reserved, whatever its status."""
    for bag in Bag.objects.filter(pk__in=[b.pk for b in bags]):  # not conditional
        bag.status = Bag.Status.RESERVED
        bag.save(audit_action="bag_reserved")
    return len(bags)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="proves the race detects a missing lock + conditional",
)
def test_race_detects_allocation_without_lock_and_conditional_update(pharmacist, monkeypatch):
    # The names the allocation calls (an attribute that did not exist would make this
    # xfail on an AttributeError and prove nothing: the race must run).
    assert callable(allocation.reserve_bags) and callable(allocation.lock_bags)
    assert callable(allocation.lock_dose_and_stock)
    monkeypatch.setattr(allocation, "lock_dose_and_stock", _dose_only)
    monkeypatch.setattr(allocation, "lock_bags", _slow(_naive_lock_bags))
    monkeypatch.setattr(allocation, "reserve_bags", _naive_reserve_bags)
    _, bags, outcomes = _race(pharmacist)
    _assert_no_bag_reserved_twice_and_none_lost(bags, outcomes)


def test_an_allocation_waits_for_a_recall_of_its_batch_and_then_refuses(pharmacist):
    """The allocation locks the batches of the bags it locked: a recall holding the
    batch's lock is waited for, and the batch then read as the recall left it."""
    ProtocolFactory()
    batch, bags = released_batch_with_bags([75_000_000])
    dose = services.order_dose(PatientFactory(weight_kg=78), actor=pharmacist)
    locked = threading.Event()
    outcome = {}

    def recall():
        try:
            with transaction.atomic(), audit_context(actor=pharmacist, reason="recall (test)"):
                Batch.objects.select_for_update().get(pk=batch.pk)  # as `lock_batch`
                locked.set()
                time.sleep(HOLD_SECONDS)
                Batch.objects.filter(pk=batch.pk).update_audited(
                    audit_action="recall", status=Batch.Status.RECALLED
                )
        finally:
            connection.close()

    _together(recall, _allocate_into(outcome, dose, pharmacist, after=locked))
    assert outcome == {"allocation": "refused"}
    assert Bag.objects.get(pk=bags[0].pk).status == Bag.Status.AVAILABLE


def test_an_allocation_holds_only_the_bags_it_proposes(pharmacist, monkeypatch):
    """While one allocation is open, the rest of the hospital's stock stays free for every
    other writer (a hold, a transfer, a discard): only the proposal's rows are locked."""
    ProtocolFactory()
    _, bags = released_batch_with_bags([75_000_000] * 3)
    dose = services.order_dose(PatientFactory(weight_kg=78), actor=pharmacist)
    held, done = threading.Event(), threading.Event()
    reserved = []
    reserve = allocation._reserve

    def reserve_and_hold(dose, chosen, **kwargs):
        reserve(dose, chosen, **kwargs)
        reserved.extend(bag.pk for bag in chosen)
        held.set()
        done.wait(timeout=30)

    monkeypatch.setattr(allocation, "_reserve", reserve_and_hold)

    def allocate():
        try:
            services.allocate_dose(dose, actor=pharmacist)
        finally:
            held.set()
            connection.close()

    thread = threading.Thread(target=allocate)
    thread.start()
    try:
        assert held.wait(timeout=30) and reserved, "the allocation reached its reservation"
        others = [b.pk for b in bags if b.pk not in reserved]
        bag_rows = Bag.objects.select_for_update(nowait=True, of=("self",)).order_by()
        with transaction.atomic():
            free = bag_rows.filter(pk__in=others).values_list("pk", flat=True)
            assert sorted(free) == sorted(others)
            # The proposal's own bag is held.
            with pytest.raises(DatabaseError), transaction.atomic():
                list(bag_rows.filter(pk__in=reserved))
    finally:
        done.set()
        thread.join(timeout=60)
    assert Dose.objects.get(pk=dose.pk).status == Dose.Status.ALLOCATED


def test_bags_chosen_by_hand_wait_for_a_recall_that_holds_their_batch_without_a_deadlock(
    pharmacist,
):
    """A recall locks its batch, then changes the batch's bags. An allocation of bags
    chosen by hand locks their batch before the bags, so it waits for the recall and then
    refuses; locking the bags first, each would hold what the other waits for (PostgreSQL
    breaks the cycle by aborting one of them with an error)."""
    ProtocolFactory()
    batch, bags = released_batch_with_bags([75_000_000])
    dose = services.order_dose(PatientFactory(weight_kg=78), actor=pharmacist)
    locked = threading.Event()
    outcome = {}

    def recall():
        try:
            with transaction.atomic(), audit_context(actor=pharmacist, reason="recall (test)"):
                Batch.objects.select_for_update().get(pk=batch.pk)  # as `lock_batch`
                locked.set()
                time.sleep(HOLD_SECONDS)  # the allocation is waiting on its first lock
                Batch.objects.filter(pk=batch.pk).update_audited(
                    audit_action="recall", status=Batch.Status.RECALLED
                )
                Bag.objects.filter(pk=bags[0].pk).update_audited(
                    audit_action="recall", status=Bag.Status.QUARANTINE
                )
            outcome["recall"] = "recalled"
        except Exception as exc:  # noqa: BLE001 - a deadlock is what we look for
            outcome["recall"] = f"crashed: {type(exc).__name__}"
        finally:
            connection.close()

    _together(recall, _allocate_into(outcome, dose, pharmacist, after=locked, bags=[bags[0]]))
    assert outcome == {"recall": "recalled", "allocation": "refused"}
    assert Bag.objects.get(pk=bags[0].pk).status == Bag.Status.QUARANTINE
