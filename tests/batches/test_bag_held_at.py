"""Where a bag is held (`Bag.held_at_hospital`) is always its storage position's hospital.

The calculator and the allocation find a hospital's stock by this column alone, so a
wrong value would propose bags that are not in the pharmacy's tank, or hide bags that
are. Every custody step keeps it (created at the facility, received at a hospital, moved,
leaving the tank), bulk inserts derive it, and the database refuses a row, or a change
of a position's site, that would make it wrong — also for SQL that goes around the ORM.
"""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.context import audit_context
from audit.models import AuditEvent
from batches import services
from batches.models import Bag, Shipment, StorageLocation
from tests.factories import (
    BagFactory,
    HospitalFactory,
    StorageLocationFactory,
    member_of,
    released_batch_with_bags,
)
from tests.factories.network import hospital_location

pytestmark = pytest.mark.django_db

S = Bag.Status


def ago(**kwargs):
    return timezone.now() - datetime.timedelta(**kwargs)


def held(bag) -> int | None:
    """The column as stored."""
    return Bag._base_manager.filter(pk=bag.pk).values_list("held_at_hospital_id", flat=True)[0]


def position_hospital(bag) -> int | None:
    bag = Bag._base_manager.select_related("location").get(pk=bag.pk)
    return bag.location.hospital_id if bag.location_id else None


def test_bag_held_at_hospital_through_every_custody_step(
    facility, fjd, production_user, pharmacist
):
    """Created at the facility (held nowhere), shipped (out of storage), received (held at
    the hospital), moved in its tank (still there), thawed (out of the tank again)."""
    prod = member_of(production_user, facility=facility)
    pharm = member_of(pharmacist, hospital=fjd)
    _, bags = released_batch_with_bags([60_000_000] * 2, facility=facility, hospital=None)
    assert [held(b) for b in bags] == [None, None]

    shipment = services.create_shipment(
        facility=facility,
        hospital=fjd,
        bags=bags,
        actor=prod,
        shipper_id="DS-07",
        logger_id="LOG-4411",
        at=ago(hours=5),
    )
    services.dispatch_shipment(shipment, actor=prod, at=ago(hours=4))
    assert [held(b) for b in bags] == [None, None]

    services.receive_shipment(
        shipment,
        actor=pharm,
        logger_result=Shipment.LoggerResult.IN_RANGE,
        tank="PH-1",
        rack="1",
        box="1",
        at=ago(hours=3),
    )
    assert [held(b) for b in bags] == [fjd.pk, fjd.pk]
    assert list(Bag.objects.held_at(fjd.pk).order_by("code")) == sorted(bags, key=str)

    spare = hospital_location(fjd, tank="PH-2")
    services.relocate_bag(bags[0], spare, actor=pharm, reason="tank PH-1 defrosted")
    assert held(bags[0]) == fjd.pk

    services.move_bag(bags[1], S.RESERVED, actor=pharm, note="dose 1")
    services.move_bag(bags[1], S.THAWED, actor=pharm, note="thawed")
    assert held(bags[1]) is None
    assert [b.pk for b in Bag.objects.held_at(fjd.pk)] == [bags[0].pk]
    for bag in bags:
        assert held(bag) == position_hospital(bag)


def test_held_at_stays_off_the_trail(fjd):
    """Derived from the position, which the trail records: the trail keeps one fact once."""
    bag = BagFactory(location=hospital_location(fjd))
    event = AuditEvent.objects.filter(object_type="batches.bag", object_id=str(bag.pk)).get()
    assert "location_id" in event.changes
    assert not [name for name in event.changes if name.startswith("held_at")]


def test_bulk_insert_derives_held_at_from_positions_given_by_instance_or_by_id(fjd, facility):
    batch, _ = released_batch_with_bags([], facility=facility, hospital=None)
    at_fjd = [hospital_location(fjd, box="B", position=str(n)) for n in range(3)]
    at_facility = StorageLocationFactory(facility=facility)
    with audit_context(actor=None, reason="test set-up"):
        made = Bag.objects.bulk_create(
            [
                Bag(batch=batch, product_code="S1234V00", division="A0", code="x-A0",
                    nominal_cells=60_000_000, volume_ml=20, location=at_fjd[0]),
                Bag(batch=batch, product_code="S1234V00", division="B0", code="x-B0",
                    nominal_cells=60_000_000, volume_ml=20, location_id=at_fjd[1].pk),
                Bag(batch=batch, product_code="S1234V00", division="C0", code="x-C0",
                    nominal_cells=60_000_000, volume_ml=20, location=at_facility),
                Bag(batch=batch, product_code="S1234V00", division="D0", code="x-D0",
                    nominal_cells=60_000_000, volume_ml=20, location=None),
            ]
        )  # fmt: skip
    assert [held(b) for b in made] == [fjd.pk, fjd.pk, None, None]


def test_a_bag_saved_with_only_its_position_id_changed_follows_it(fjd, facility):
    bag = BagFactory(location=StorageLocationFactory(facility=facility))
    assert held(bag) is None
    bag = Bag.objects.get(pk=bag.pk)
    bag.location_id = hospital_location(fjd).pk
    with audit_context(actor=None, reason="test: position typed by id"):
        bag.save(update_fields=["location"])
    assert held(bag) == fjd.pk


def test_audited_update_of_the_position_is_refused(fjd):
    bag = BagFactory(location=hospital_location(fjd))
    with pytest.raises(TypeError, match="custody services"):
        Bag.objects.filter(pk=bag.pk).update_audited(location=None)
    assert held(bag) == fjd.pk


def _raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_database_refuses_a_bag_held_at_another_hospital_than_its_position(fjd):
    """Below the ORM too: a raw UPDATE, a console or a data migration."""
    bag = BagFactory(location=hospital_location(fjd))
    other = HospitalFactory(code="HUS")
    with pytest.raises(IntegrityError, match="held_at_hospital_id"):
        _raw("UPDATE batches_bag SET held_at_hospital_id = %s WHERE id = %s", [other.pk, bag.pk])
    with pytest.raises(IntegrityError, match="held_at_hospital_id"):
        _raw("UPDATE batches_bag SET held_at_hospital_id = NULL WHERE id = %s", [bag.pk])
    assert held(bag) == fjd.pk


def test_database_refuses_moving_a_bag_without_its_held_at(fjd, facility):
    bag = BagFactory(location=hospital_location(fjd))
    elsewhere = StorageLocationFactory(facility=facility)
    with pytest.raises(IntegrityError, match="held_at_hospital_id"):
        _raw("UPDATE batches_bag SET location_id = %s WHERE id = %s", [elsewhere.pk, bag.pk])
    with pytest.raises(IntegrityError, match="held_at_hospital_id"):
        _raw("UPDATE batches_bag SET location_id = NULL WHERE id = %s", [bag.pk])
    assert held(bag) == position_hospital(bag) == fjd.pk


def test_database_refuses_a_new_row_whose_held_at_is_not_its_position(fjd, facility):
    """An INSERT that names the column wrongly (here through Django's plain `bulk_create`,
    which `Bag.objects` would have corrected) is refused."""
    batch, _ = released_batch_with_bags([], facility=facility, hospital=None)
    wrong = [
        Bag(batch=batch, product_code="S1234V00", division="A0", code="x-A0",
            nominal_cells=60_000_000, volume_ml=20, location=hospital_location(fjd),
            held_at_hospital_id=None),
        Bag(batch=batch, product_code="S1234V00", division="B0", code="x-B0",
            nominal_cells=60_000_000, volume_ml=20,
            location=StorageLocationFactory(facility=facility), held_at_hospital_id=fjd.pk),
        Bag(batch=batch, product_code="S1234V00", division="C0", code="x-C0",
            nominal_cells=60_000_000, volume_ml=20, location=None, held_at_hospital_id=fjd.pk),
    ]  # fmt: skip
    for bag in wrong:
        with pytest.raises(IntegrityError, match="held_at_hospital_id"), transaction.atomic():
            Bag._base_manager.bulk_create([bag])
    assert not Bag._base_manager.filter(batch=batch).exists()


def test_database_refuses_moving_an_occupied_position_to_another_site(fjd):
    bag = BagFactory(location=hospital_location(fjd))
    other = HospitalFactory(code="HUS")
    with pytest.raises(IntegrityError, match="stays at its site"):
        _raw(
            "UPDATE batches_storagelocation SET hospital_id = %s WHERE id = %s",
            [other.pk, bag.location_id],
        )
    free = hospital_location(fjd, tank="SPARE")
    _raw("UPDATE batches_storagelocation SET hospital_id = %s WHERE id = %s", [other.pk, free.pk])
    assert StorageLocation.objects.get(pk=free.pk).hospital_id == other.pk


def test_a_bag_saved_in_place_does_not_read_its_position_again(fjd):
    """A custody step that leaves the bag where it is (loaded without its position) keeps
    the stored value: no query of the positions."""
    from django.test.utils import CaptureQueriesContext

    bag = Bag.objects.get(pk=BagFactory(location=hospital_location(fjd)).pk)
    bag.status = S.AVAILABLE
    with CaptureQueriesContext(connection) as queries, audit_context(actor=None, reason="t"):
        bag.save()
    assert not [q for q in queries.captured_queries if "batches_storagelocation" in q["sql"]]
    assert held(bag) == fjd.pk
