"""The bag changelist's "Print labels": one PDF of the selected bags' labels, one page
per bag, drawn by the labels app and scoped to the user's sites."""

import pytest
from django.urls import reverse

from labels.isbt import parse_bag_message
from tests.factories import BagFactory, BatchFactory
from tests.labels.reading import DATAMATRIX, barcodes, of_format, page_count

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:batches_bag_changelist")


def print_action(client, bags):
    return client.post(
        CHANGELIST,
        {"action": "print_labels_action", "_selected_action": [b.pk for b in bags]},
    )


def test_the_action_gives_one_pdf_with_one_label_per_selected_bag(client, production_user):
    first, second = BatchFactory(), BatchFactory()
    bags = [BagFactory(batch=first), BagFactory(batch=second), BagFactory(batch=first)]
    BagFactory(batch=first)  # not selected: not printed
    client.force_login(production_user)
    redirect = print_action(client, bags)
    assert redirect.status_code == 302
    response = client.get(redirect["Location"])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert page_count(response.content) == 3
    printed = [
        parse_bag_message(of_format(page, DATAMATRIX)[0]).bag_code
        for page in barcodes(response.content)
    ]
    assert printed == sorted(b.code for b in bags)  # in code order


def test_a_bag_of_another_facility_is_never_printed(client, production_user, second_facility):
    mine = BagFactory()
    theirs = BagFactory(batch=BatchFactory(facility=second_facility))
    client.force_login(production_user)
    # The changelist cannot select it (scoped), and the PDF's address refuses it.
    refused = print_action(client, [theirs])
    assert refused.status_code == 302 and "labels" not in refused["Location"]
    url = reverse("labels:bags", kwargs={"ids": f"{mine.pk},{theirs.pk}"})
    assert client.get(url).status_code == 404
    own = client.get(reverse("labels:bags", kwargs={"ids": str(mine.pk)}))
    assert own.status_code == 200 and page_count(own.content) == 1


@pytest.mark.parametrize("ids", ["abc", "1,,2", "1;2"])
def test_a_malformed_list_is_404(client, production_user, ids):
    client.force_login(production_user)
    assert client.get(reverse("labels:bags", kwargs={"ids": ids})).status_code == 404


def test_a_user_without_the_view_permission_is_refused(client, outsider):
    bag = BagFactory()
    client.force_login(outsider)
    assert client.get(reverse("labels:bags", kwargs={"ids": str(bag.pk)})).status_code == 403
