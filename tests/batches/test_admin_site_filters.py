"""The admin's filters by site offer only the user's own sites: a changelist scoped to the
user's records never names another facility or hospital (DESIGN: every admin view shows
a user only their own sites' records)."""

import pytest
from django.urls import reverse

from tests.factories import BatchFactory, FacilityFactory, HospitalFactory
from tests.factories.network import hospital_location

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_sites(db):
    """A batch made at another facility, a position at another hospital."""
    elsewhere = FacilityFactory(fin="E9999", name="Other GMP unit")
    BatchFactory(facility=elsewhere)
    hospital_location(HospitalFactory(code="ZZZ", name="Other hospital"))
    return elsewhere


def filter_choices(response, title):
    """The choices of the list's filter `title` (none when Django leaves it out: a filter
    with a single choice is not shown)."""
    specs = [s for s in response.context_data["cl"].filter_specs if str(s.title) == title]
    return [str(label) for spec in specs for _, label in spec.lookup_choices]


@pytest.mark.parametrize(
    ("changelist", "title"),
    [
        ("admin:batches_batch_changelist", "facility"),
        ("admin:batches_bag_changelist", "facility"),
        ("admin:batches_storagelocation_changelist", "facility"),
    ],
)
def test_production_filters_by_its_own_facility_only(
    client, production_user, other_sites, changelist, title
):
    BatchFactory()  # the user's facility (the factories' default)
    client.force_login(production_user)
    response = client.get(reverse(changelist))
    assert response.status_code == 200
    assert all("E9999" not in c and "Other GMP" not in c for c in filter_choices(response, title))
    assert "Other GMP unit" not in response.content.decode()
    assert "Other hospital" not in response.content.decode()


def test_the_whole_network_sees_every_site_in_the_filter(client, admin_user, other_sites):
    BatchFactory()
    client.force_login(admin_user)
    response = client.get(reverse("admin:batches_batch_changelist"))
    assert any("E9999" in c or "Other GMP" in c for c in filter_choices(response, "facility"))
