"""A batch's bags made in one step with their storage positions: the next free positions
of a chosen box, the boxes with room shown on the form, the positions named after."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from batches import services
from batches.models import Batch
from tests.factories import BagFactory, BatchFactory, StorageLocationFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:batches_batch_changelist")


def post(client, batch, **fields):
    return client.post(
        CHANGELIST,
        {
            "action": "create_bags_action",
            "_selected_action": [batch.pk],
            **fields,
        },
    )


def bag_fields(count, box="B1"):
    return {
        "apply": "1",
        "count": str(count),
        "nominal_cells_million": "60",
        "volume_ml": "20",
        "product_code": "S0412V00",
        "tank": "LN2-1",
        "rack": "R1",
        "box": box,
    }


@pytest.fixture
def started_box(system_context):
    """Box LN2-1/R1/B1 of E0001 with positions 1–3 taken by another batch's bags."""
    other = BatchFactory(status=Batch.Status.IN_PRODUCTION)
    for position in ("1", "2", "3"):
        location = StorageLocationFactory(
            facility=other.facility, tank="LN2-1", rack="R1", box="B1", position=position
        )
        BagFactory(batch=other, location=location)
    return other.facility


def test_bags_take_the_next_free_positions_and_the_message_names_them(
    client, production_user, started_box
):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION, facility=started_box)
    client.force_login(production_user)
    listing = client.get(CHANGELIST).content.decode()
    assert '<option value="create_bags_action">Create bags</option>' in listing

    form = post(client, batch)
    assert form.status_code == 200
    page = form.content.decode()
    assert "Boxes of this facility with free positions" in page
    assert "<td>B1</td><td>22</td>" in page.replace("\n", "")

    done = post(client, batch, **bag_fields(4))
    assert done.status_code == 302
    positions = sorted(int(p) for p in batch.bags.values_list("location__position", flat=True))
    assert positions == [4, 5, 6, 7]
    [message] = [str(m) for m in get_messages(done.wsgi_request)]
    assert "in box LN2-1/R1/B1 positions 4–7." in message


def test_a_box_without_room_for_every_bag_is_refused_and_nothing_is_made(
    client, production_user, started_box
):
    batch = BatchFactory(status=Batch.Status.IN_PRODUCTION, facility=started_box)
    client.force_login(production_user)
    page = post(client, batch, **bag_fields(23))
    assert page.status_code == 200
    assert "has only 22 free positions for 23 bags: choose another box." in page.content.decode()
    assert not batch.bags.exists()


def test_free_boxes_are_read_in_one_query_whatever_their_number(
    started_box, django_assert_num_queries
):
    for box in ("B2", "B3", "B4"):
        StorageLocationFactory(facility=started_box, tank="LN2-1", rack="R1", box=box)
    with django_assert_num_queries(1):
        boxes = services.boxes_with_free_positions(started_box.pk)
    assert [(str(b), b.free) for b in boxes] == [
        ("LN2-1/R1/B1", 22),
        ("LN2-1/R1/B2", 25),
        ("LN2-1/R1/B3", 25),
        ("LN2-1/R1/B4", 25),
    ]
