"""The pharmacy's shipment pages: the list of what is on its way, the receipt form, a
request to a facility; another hospital's shipment answers 404."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from batches import services
from batches.models import Bag, Shipment, ShipmentRequest
from tests.factories import (
    FacilityFactory,
    HospitalFactory,
    PatientFactory,
    member_of,
    released_batch_with_bags,
)


@pytest.fixture
def facility(db):
    return FacilityFactory(fin="E0001")


@pytest.fixture
def fjd(db):
    return HospitalFactory(code="FJD", name="Fundación Jiménez Díaz")


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
        {"facility": facility.pk, "bags_wanted": 2, "note": "FJD-P01 dose 1"},
    )

    assert response.status_code == 302
    request = ShipmentRequest.objects.get()
    assert (request.hospital, request.facility, request.requested_by) == (fjd, facility, pharm)


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
