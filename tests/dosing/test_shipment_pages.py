"""The pharmacy's shipment pages: the list of what is on its way, the receipt form, a
request to a facility; another hospital's shipment answers 404."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from batches import services
from batches.models import Bag, Shipment, ShipmentRequest
from sites.services import remove_membership
from tests.factories import (
    HospitalFactory,
    PatientFactory,
    member_of,
    released_batch_with_bags,
)


@pytest.fixture
def pharm(pharmacist, fjd):
    return member_of(pharmacist, hospital=fjd)


def dispatched(facility, hospital, production_user, n=2, *, at=None):
    prod = member_of(production_user, facility=facility)
    _, bags = released_batch_with_bags([60_000_000] * n, facility=facility, hospital=None)
    at = at or timezone.now() - datetime.timedelta(hours=2)
    shipment = services.create_shipment(
        facility=facility, hospital=hospital, bags=bags, actor=prod, at=at, logger_id="LOG-9"
    )
    return services.dispatch_shipment(shipment, actor=prod, at=at)


def receipt(**extra):
    moment = timezone.localtime(timezone.now() - datetime.timedelta(minutes=5))
    return {
        "logger_result": "in_range",
        "received_at": moment.strftime("%Y-%m-%dT%H:%M"),
        "tank": "PH-1",
        "rack": "1",
        "box": "A",
        "note": "",
        **extra,
    }


def test_the_pharmacy_receives_a_shipment_into_its_storage(
    client, pharm, facility, fjd, production_user
):
    shipment = dispatched(facility, fjd, production_user)
    client.force_login(pharm)

    page = client.get(reverse("dosing:shipment-list"))
    assert shipment.code in page.content.decode()
    response = client.post(reverse("dosing:shipment-receive", args=[shipment.code]), receipt())

    assert response.status_code == 302
    shipment.refresh_from_db()
    assert (shipment.status, shipment.received_by) == (Shipment.Status.RECEIVED, pharm)
    for item in shipment.items.select_related("bag__location"):
        assert item.bag.status == Bag.Status.AVAILABLE
        assert item.bag.location.hospital == fjd


def test_a_receipt_before_dispatch_is_shown_beside_the_time(
    client, pharm, facility, fjd, production_user
):
    shipment = dispatched(facility, fjd, production_user)
    client.force_login(pharm)
    early = timezone.localtime(shipment.dispatched_at - datetime.timedelta(hours=1))

    response = client.post(
        reverse("dosing:shipment-receive", args=[shipment.code]),
        receipt(received_at=early.strftime("%Y-%m-%dT%H:%M")),
    )

    assert response.status_code == 200
    assert (
        "before the shipment was dispatched" in response.context["form"].errors["received_at"][0]
    )
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.DISPATCHED


def test_a_receipt_typed_in_the_minute_of_the_dispatch_is_accepted(
    client, pharm, facility, fjd, production_user
):
    """The page proposes the current minute: a shipment received seconds after its
    dispatch (a hospital on the facility's campus) is not refused as received before it."""
    minute = timezone.now().replace(second=0, microsecond=0) - datetime.timedelta(minutes=1)
    shipment = dispatched(
        facility, fjd, production_user, at=minute + datetime.timedelta(seconds=30)
    )
    client.force_login(pharm)

    response = client.post(
        reverse("dosing:shipment-receive", args=[shipment.code]),
        receipt(received_at=timezone.localtime(minute).strftime("%Y-%m-%dT%H:%M")),
    )

    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.RECEIVED
    assert shipment.received_at == minute + datetime.timedelta(seconds=30)  # the dispatch


def test_another_hospitals_shipment_answers_404(client, pharmacist, facility, production_user):
    shipment = dispatched(facility, HospitalFactory(code="HGM"), production_user)
    member_of(pharmacist, hospital=HospitalFactory(code="FJD"))
    client.force_login(pharmacist)

    assert client.get(reverse("dosing:shipment-receive", args=[shipment.code])).status_code == 404
    assert shipment.code not in client.get(reverse("dosing:shipment-list")).content.decode()


def test_the_pharmacy_requests_a_shipment(client, pharm, facility, fjd):
    client.force_login(pharm)

    response = client.post(
        reverse("dosing:shipment-request"),
        {"hospital": fjd.pk, "facility": facility.pk, "bags_wanted": 2, "note": "FJD-P01 dose 1"},
    )

    assert response.status_code == 302
    request = ShipmentRequest.objects.get()
    assert (request.hospital, request.facility, request.requested_by) == (fjd, facility, pharm)


def _offered_hospitals(response) -> list[str]:
    return [hospital.code for hospital in response.context["form"].fields["hospital"].queryset]


def test_a_pharmacist_of_two_hospitals_chooses_which_one_requests(client, pharm, facility, fjd):
    """pharm works at HUS and FJD: both are offered, another hospital is not, and the
    request is for the one chosen (not always the first)."""
    hus = pharm.site_memberships.get(hospital__code="HUS").hospital
    hgm = HospitalFactory(code="HGM")
    client.force_login(pharm)
    url = reverse("dosing:shipment-request")

    assert _offered_hospitals(client.get(url)) == ["FJD", "HUS"]
    response = client.post(url, {"hospital": hus.pk, "facility": facility.pk, "bags_wanted": 1})

    assert response.status_code == 302
    assert ShipmentRequest.objects.get().hospital == hus
    refused = client.post(url, {"hospital": hgm.pk, "facility": facility.pk, "bags_wanted": 1})
    assert refused.status_code == 200
    assert "hospital" in refused.context["form"].errors
    assert ShipmentRequest.objects.count() == 1


def test_a_pharmacist_of_no_hospital_is_told_and_nothing_is_requested(
    client, facility, pharmacist
):
    for membership in pharmacist.site_memberships.all():
        remove_membership(membership, actor=None, reason="test set-up")
    client.force_login(pharmacist)

    response = client.post(
        reverse("dosing:shipment-request"), {"facility": facility.pk, "bags_wanted": 1}
    )

    assert response.status_code == 200
    assert "You belong to no hospital: ask an administrator." in response.content.decode()
    assert not ShipmentRequest.objects.exists()


@pytest.mark.parametrize("shipments", [1, 4])
def test_the_shipment_list_is_constant_in_queries(
    client, pharm, facility, fjd, production_user, shipments, django_assert_max_num_queries
):
    for _ in range(shipments):
        dispatched(facility, fjd, production_user)
    client.force_login(pharm)
    with django_assert_max_num_queries(14):
        assert client.get(reverse("dosing:shipment-list")).status_code == 200


def test_the_clinician_has_no_shipment_pages(client, clinician):
    client.force_login(clinician)
    assert client.get(reverse("dosing:shipment-list")).status_code == 403


def test_without_received_stock_the_order_page_links_a_request_to_the_facility(
    client, pharmacist, facility, protocol
):
    patient = PatientFactory(weight_kg=60)  # at HUS, the pharmacist's hospital
    released_batch_with_bags([60_000_000], facility=facility, hospital=None)
    client.force_login(pharmacist)

    page = client.get(reverse("dosing:dose-order", args=[patient.code])).content.decode()

    assert "No bags received in range at HUS" in page
    assert f"{reverse('dosing:shipment-request')}?facility={facility.pk}" in page
    form = client.get(reverse("dosing:shipment-request"), {"facility": facility.pk})
    assert form.context["form"]["facility"].value() == str(facility.pk)


def test_a_request_from_a_patients_calculation_defaults_to_the_patients_hospital(
    client, pharm, facility, protocol
):
    """pharm works at FJD and HUS (FJD first): the link from a HUS patient's order page
    proposes HUS, and the request is HUS's."""
    patient = PatientFactory(weight_kg=60)  # at HUS
    released_batch_with_bags([60_000_000], facility=facility, hospital=None)
    client.force_login(pharm)

    page = client.get(reverse("dosing:dose-order", args=[patient.code])).content.decode()
    link = f"{reverse('dosing:shipment-request')}?facility={facility.pk}&amp;hospital="
    assert f"{link}{patient.hospital_id}" in page
    form = client.get(
        reverse("dosing:shipment-request"),
        {"facility": facility.pk, "hospital": patient.hospital_id},
    )
    assert form.context["form"]["hospital"].value() == str(patient.hospital_id)
    assert f'<option value="{patient.hospital_id}" selected>' in form.content.decode()
