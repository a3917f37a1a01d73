"""Shipment requests: the hospital's pharmacy asks a facility; the request is on that
facility's production list until shipped (linked to the shipment) or declined."""

import pytest

from audit.models import AuditEvent
from batches import services
from batches.exceptions import ShipmentError
from batches.models import ShipmentRequest
from batches.querysets import open_shipment_requests
from tests.factories import FacilityFactory, HospitalFactory, member_of, released_batch_with_bags


@pytest.fixture
def prod(production_user, facility):
    return member_of(production_user, facility=facility)


@pytest.fixture
def pharm(pharmacist, fjd):
    return member_of(pharmacist, hospital=fjd)


def test_a_request_is_on_the_facility_list_until_shipped(facility, fjd, prod, pharm):
    request = services.request_shipment(
        hospital=fjd, facility=facility, actor=pharm, bags_wanted=2, note="FJD-P01 dose 1"
    )
    other = FacilityFactory(fin="E0002")
    assert list(open_shipment_requests(facility)) == [request]
    assert not open_shipment_requests(other).exists()

    _, bags = released_batch_with_bags([60_000_000] * 2, facility=facility, hospital=None)
    shipment = services.create_shipment(
        facility=facility, hospital=fjd, bags=bags, actor=prod, request=request
    )

    request.refresh_from_db()
    assert (request.status, request.shipment, request.answered_by) == ("shipped", shipment, prod)
    assert not open_shipment_requests(facility).exists()
    assert AuditEvent.objects.for_object(request).count() == 2


def test_a_declined_request_needs_a_reason(facility, fjd, prod, pharm):
    request = services.request_shipment(hospital=fjd, facility=facility, actor=pharm)

    with pytest.raises(ShipmentError, match="reason for declining"):
        services.answer_request(request, actor=prod)
    services.answer_request(request, actor=prod, reason="no released stock until May")

    request.refresh_from_db()
    assert request.status == ShipmentRequest.Status.DECLINED
    with pytest.raises(ShipmentError, match="already declined"):
        services.answer_request(request, actor=prod, reason="again")


def test_a_shipment_to_another_hospital_does_not_answer_the_request(facility, fjd, prod, pharm):
    request = services.request_shipment(hospital=fjd, facility=facility, actor=pharm)
    _, bags = released_batch_with_bags([60_000_000], facility=facility, hospital=None)
    hus = HospitalFactory(code="HUS")

    with pytest.raises(ShipmentError, match="does not go from the requested facility"):
        services.create_shipment(
            facility=facility, hospital=hus, bags=bags, actor=prod, request=request
        )
    request.refresh_from_db()
    assert request.status == ShipmentRequest.Status.REQUESTED


def test_only_the_hospital_pharmacy_requests(facility, fjd, pharmacist):
    member_of(pharmacist, hospital=HospitalFactory(code="HUS"))

    with pytest.raises(ShipmentError, match="Only the pharmacy of FJD"):
        services.request_shipment(hospital=fjd, facility=facility, actor=pharmacist)
