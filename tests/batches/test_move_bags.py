"""A set of bags moved to the next free positions of one box: one transaction, one audit
event and custody event per bag; refused as a whole for an occupied box, a bag not in
storage or another facility's box. The bag changelist's "Move to another box" action."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.models import AuditEvent
from batches import services
from batches.exceptions import BagTransitionError
from batches.models import Bag, BagEvent, Batch, StorageLocation
from tests.factories import BagFactory, BatchFactory, StorageLocationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:batches_bag_changelist")


def at(facility, box, position):
    return StorageLocationFactory(
        facility=facility, tank="LN2-1", rack="R1", box=box, position=str(position)
    )


@pytest.fixture
def bags(system_context):
    """Three bags in box B1 (positions 1–3), and box B2 with position 2 taken."""
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    mine = [BagFactory(batch=batch, location=at(batch.facility, "B1", n)) for n in (1, 2, 3)]
    BagFactory(batch=BatchFactory(), location=at(batch.facility, "B2", 2))
    return mine


def move(bags, facility_id, box="B2", start=1, actor=None, reason=""):
    return services.move_bags(
        bags,
        facility_id=facility_id,
        tank="LN2-1",
        rack="R1",
        box=box,
        start=start,
        actor=actor,
        reason=reason,
    )


def positions(bags):
    return [str(Bag.objects.select_related("location").get(pk=b.pk).location) for b in bags]


def test_bags_take_the_next_free_positions_skipping_an_occupied_one(bags, production_user):
    moved = move(bags, bags[0].batch.facility_id, actor=production_user, reason="defrost B1")
    assert [str(b.location) for b in moved] == ["LN2-1/R1/B2/1", "LN2-1/R1/B2/3", "LN2-1/R1/B2/4"]
    assert positions(bags) == ["LN2-1/R1/B2/1", "LN2-1/R1/B2/3", "LN2-1/R1/B2/4"]
    # One audit event and one custody event per bag, naming where from and the reason.
    events = AuditEvent.objects.filter(object_type="batches.bag", action="bag_moved")
    assert sorted(int(e.object_id) for e in events) == sorted(b.pk for b in bags)
    assert {(e.actor, e.reason) for e in events} == {(production_user, "defrost B1")}
    custody = BagEvent.objects.filter(bag__in=bags).order_by("bag__code")
    assert [c.location for c in custody] == ["LN2-1/R1/B1/1", "LN2-1/R1/B1/2", "LN2-1/R1/B1/3"]
    assert {c.from_status == c.to_status == Bag.Status.QUARANTINE for c in custody} == {True}


def test_moving_from_a_later_position_starts_there(bags):
    moved = move(bags, bags[0].batch.facility_id, start=20)
    assert [b.location.position for b in moved] == ["20", "21", "22"]


def test_a_box_without_room_from_the_start_refuses_and_nothing_moves(bags):
    with pytest.raises(BagTransitionError, match="has 2 free position"):
        move(bags, bags[0].batch.facility_id, start=24)
    assert positions(bags) == ["LN2-1/R1/B1/1", "LN2-1/R1/B1/2", "LN2-1/R1/B1/3"]
    assert not BagEvent.objects.filter(bag__in=bags).exists()
    assert not StorageLocation.objects.filter(box="B2", position__in=["24", "25"]).exists()


def test_a_bag_not_in_storage_refuses_the_whole_move(bags):
    thawed = BagFactory(batch=bags[0].batch, location=None, status=Bag.Status.THAWED)
    with pytest.raises(
        BagTransitionError, match=f"Bag {re.escape(thawed.code)} is thawed and not in"
    ):
        move([*bags, thawed], bags[0].batch.facility_id)
    assert positions(bags) == ["LN2-1/R1/B1/1", "LN2-1/R1/B1/2", "LN2-1/R1/B1/3"]


def test_another_facilitys_box_is_refused(bags, second_facility):
    at(second_facility, "B2", 1)
    with pytest.raises(BagTransitionError, match="moves to another site's box only in a ship"):
        move(bags, second_facility.pk)
    assert positions(bags) == ["LN2-1/R1/B1/1", "LN2-1/R1/B1/2", "LN2-1/R1/B1/3"]
    assert not Bag.objects.filter(location__facility=second_facility).exists()


def test_two_bags_are_never_put_in_one_position(bags):
    """The service never picks an occupied position, even one freed by a bag of the same
    set only later in the move: bags of B1 moved within B1 go after the taken ones."""
    moved = move(bags[:2], bags[0].batch.facility_id, box="B1")
    assert [b.location.position for b in moved] == ["4", "5"]
    occupied = Bag.objects.exclude(location=None).values_list("location_id", flat=True)
    assert len(occupied) == len(set(occupied))


# The admin action ---------------------------------------------------------------------


def action(client, bags, **fields):
    return client.post(
        CHANGELIST,
        {"action": "move_bags_action", "_selected_action": [b.pk for b in bags], **fields},
    )


def box_value(facility, box="B2"):
    return f"{facility.pk}|LN2-1|R1|{box}"


def test_the_action_asks_for_the_box_then_moves_and_names_the_positions(
    client, production_user, bags, second_facility
):
    at(second_facility, "B9", 1)  # another facility's box is not offered
    client.force_login(production_user)
    listing = client.get(CHANGELIST).content.decode()
    assert '<option value="move_bags_action">Move to another box</option>' in listing

    form = action(client, bags)
    assert form.status_code == 200
    page = form.content.decode()
    assert "E0001 LN2-1/R1/B2 (24 free)" in page
    assert "B9" not in page

    facility = bags[0].batch.facility
    done = action(client, bags, apply="1", box=box_value(facility), start="1")
    assert done.status_code == 302
    [message] = [str(m) for m in get_messages(done.wsgi_request)]
    assert message.startswith("3 bag(s) moved: ")
    assert f"{bags[1].code} → LN2-1/R1/B2/3" in message
    assert positions(bags) == ["LN2-1/R1/B2/1", "LN2-1/R1/B2/3", "LN2-1/R1/B2/4"]


def test_a_refused_move_shows_the_reason_on_the_form_and_moves_nothing(
    client, production_user, bags
):
    client.force_login(production_user)
    facility = bags[0].batch.facility
    page = action(client, bags, apply="1", box=box_value(facility), start="24")
    assert page.status_code == 200
    assert "has 2 free position(s) from position 24 for 3 bag(s)" in page.content.decode()
    assert positions(bags) == ["LN2-1/R1/B1/1", "LN2-1/R1/B1/2", "LN2-1/R1/B1/3"]


def test_a_viewer_is_not_offered_the_move(client, qp_user, bags):
    client.force_login(qp_user)
    listing = client.get(CHANGELIST).content.decode()
    assert "move_bags_action" not in listing
    assert '<option value="print_labels_action">' in listing
