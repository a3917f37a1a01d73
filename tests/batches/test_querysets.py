"""Read paths: the managers' querysets (released, decided, available for allocation) and
one scoping path, `for_user`, shared by the admin's changelists and the API."""

import datetime

import pytest
from django.urls import reverse

from batches.models import Bag, Batch, Donor
from batches.querysets import BagQuerySet, BatchQuerySet, released_batches
from sites.querysets import FacilityQuerySet
from tests.factories import BagFactory, BatchFactory, DonorFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 1)


def test_released_batches_are_released_and_unexpired_on_the_day():
    good = BatchFactory(status=Batch.Status.RELEASED, expires_on=TODAY)
    BatchFactory(status=Batch.Status.RELEASED, expires_on=TODAY - datetime.timedelta(days=1))
    BatchFactory(status=Batch.Status.RELEASED, expires_on=None)
    BatchFactory(status=Batch.Status.QUARANTINE, expires_on=TODAY)
    assert list(Batch.objects.released(TODAY)) == [good]
    assert list(released_batches(on_date=TODAY)) == [good]


def test_bags_available_for_allocation_is_the_managers_read_path():
    batch = BatchFactory(status=Batch.Status.RELEASED, expires_on=TODAY)
    bag = BagFactory(batch=batch, status=Bag.Status.AVAILABLE)
    assert list(Bag.objects.available_for_allocation(TODAY)) == [bag]
    # Related managers are the same queryset: a donor's decided batches, say.
    assert list(batch.donor.batches.decided()) == [batch]


def test_for_user_shows_nothing_to_a_user_without_the_view_permission(
    outsider, production_user, auditor
):
    BatchFactory()
    assert not Batch.objects.for_user(outsider).exists()
    assert not Batch.objects.for_user(None).exists()
    assert Batch.objects.for_user(production_user).count() == 1
    assert Batch.objects.for_user(auditor).count() == 1


@pytest.fixture
def nothing_in_scope(monkeypatch):
    """The network's scoping, simulated: the user's sites hold nothing."""
    for queryset in (BatchQuerySet, BagQuerySet, FacilityQuerySet):
        monkeypatch.setattr(queryset, "scoped_to", lambda self, user: self.none())


def test_the_batch_and_bag_changelists_go_through_for_user(
    client, production_user, nothing_in_scope
):
    batch = BatchFactory()
    BagFactory(batch=batch)
    client.force_login(production_user)
    for name in (
        "admin:batches_batch_changelist",
        "admin:batches_bag_changelist",
        "admin:sites_facility_changelist",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert response.context_data["cl"].result_count == 0, name
    # The change page of a batch outside the user's scope is not found either.
    page = client.get(reverse("admin:batches_batch_change", args=[batch.pk]))
    assert page.status_code == 404  # not Django's "doesn't exist" redirect: nothing told


def test_the_batch_api_goes_through_for_user(client, auditor, nothing_in_scope):
    BatchFactory()
    client.force_login(auditor)
    response = client.get("/api/v1/batches/")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_donor_changelist_shows_what_for_user_allows(client, production_user, monkeypatch):
    DonorFactory()
    client.force_login(production_user)
    monkeypatch.setattr(type(Donor.objects.all()), "scoped_to", lambda self, user: self.none())
    response = client.get(reverse("admin:batches_donor_changelist"))
    assert response.context_data["cl"].result_count == 0
