"""One rule for the next free positions of a box, whether bags are made into it
(`create_bags`) or moved into it (`move_bags`): occupied positions skipped, new ones
created with their audit events, a name the model refuses a clear refusal (not a
database error), each caller's own message for a box without room."""

from decimal import Decimal

import pytest

from audit.models import AuditEvent
from batches import services
from batches.exceptions import BagCreationError, BagTransitionError
from batches.models import Batch, StorageLocation
from tests.factories import BagFactory, BatchFactory, StorageLocationFactory

pytestmark = pytest.mark.django_db

TOO_LONG = "T" * 21  # StorageLocation.tank holds 20


@pytest.fixture
def batch(system_context):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    for position in ("1", "3"):
        location = StorageLocationFactory(
            facility=batch.facility, tank="T1", rack="R1", box="B1", position=position
        )
        BagFactory(batch=BatchFactory(), location=location)
    return batch


def create(batch, count, tank="T1", box="B1"):
    return services.create_bags(
        batch,
        actor=None,
        count=count,
        nominal_cells=60_000_000,
        volume_ml=Decimal(20),
        product_code="S1234V00",
        tank=tank,
        rack="R1",
        box=box,
    )


def test_made_and_moved_bags_take_the_same_free_positions(batch):
    made = create(batch, 3)
    assert [b.location.position for b in made] == ["2", "4", "5"]
    new = StorageLocation.objects.filter(box="B1", position__in=["2", "4", "5"])
    assert (
        AuditEvent.objects.filter(
            object_type="batches.storagelocation",
            action="create",
            object_id__in=[str(pk) for pk in new.values_list("pk", flat=True)],
        ).count()
        == 3
    )

    moved = services.move_bags(
        made[:2], facility_id=batch.facility_id, tank="T1", rack="R1", box="B2", actor=None
    )
    assert [b.location.position for b in moved] == ["1", "2"]


def test_a_position_name_too_long_is_refused_clearly_in_both(batch):
    with pytest.raises(BagCreationError, match="tank: Ensure this value has at most 20"):
        create(batch, 1, tank=TOO_LONG)
    made = create(batch, 1)
    with pytest.raises(BagTransitionError, match="tank: Ensure this value has at most 20"):
        services.move_bags(
            made, facility_id=batch.facility_id, tank=TOO_LONG, rack="R1", box="B1", actor=None
        )
    assert not StorageLocation.objects.filter(tank=TOO_LONG).exists()


def test_each_caller_keeps_its_message_for_a_box_without_room(batch):
    with pytest.raises(BagCreationError, match="has only 23 free positions for 24 bags"):
        create(batch, 24)
    made = create(batch, 2)
    with pytest.raises(BagTransitionError, match=r"has 1 free position\(s\) from position 25"):
        services.move_bags(
            made,
            facility_id=batch.facility_id,
            tank="T1",
            rack="R1",
            box="B1",
            start=25,
            actor=None,
        )
