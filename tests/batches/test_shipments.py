"""Shipments facility → hospital: create, dispatch, receive (in range / excursion), with
who and when, custody events and the audit trail; each refusal changes nothing."""

import datetime

import pytest
from django.utils import timezone

from audit.models import AuditEvent, Signature
from batches import services
from batches.exceptions import ShipmentError
from batches.models import Bag, Shipment, ShipmentBag
from tests.conftest import role_user
from tests.factories import (
    FacilityFactory,
    HospitalFactory,
    member_of,
    released_batch_with_bags,
)

S = Bag.Status


@pytest.fixture
def stock(facility):
    """A released batch of three bags stored at the facility (not yet shipped)."""
    return released_batch_with_bags([60_000_000] * 3, facility=facility, hospital=None)


@pytest.fixture
def prod(production_user, facility):
    return member_of(production_user, facility=facility)


@pytest.fixture
def pharm(pharmacist, fjd):
    return member_of(pharmacist, hospital=fjd)


@pytest.fixture
def qp(qp_user, facility):
    return member_of(qp_user, facility=facility)


def ago(**kwargs):
    return timezone.now() - datetime.timedelta(**kwargs)


def shipped(stock, facility, hospital, prod, *, at=None):
    _, bags = stock
    at = at or ago(hours=3)
    shipment = services.create_shipment(
        facility=facility,
        hospital=hospital,
        bags=bags,
        actor=prod,
        shipper_id="DS-07",
        logger_id="LOG-4411",
        at=at,
    )
    return services.dispatch_shipment(shipment, actor=prod, at=at + datetime.timedelta(hours=1))


def received(shipment, pharm, result=Shipment.LoggerResult.IN_RANGE, *, at=None):
    return services.receive_shipment(
        shipment,
        actor=pharm,
        logger_result=result,
        tank="PH-1",
        rack="1",
        box="A",
        at=at or ago(minutes=30),
    )


def test_a_shipment_in_range_makes_its_bags_available_at_the_hospital(
    stock, facility, fjd, prod, pharm
):
    shipment = received(shipped(stock, facility, fjd, prod), pharm)

    assert shipment.status == Shipment.Status.RECEIVED
    assert (shipment.created_by, shipment.dispatched_by, shipment.received_by) == (
        prod,
        prod,
        pharm,
    )
    for bag in Bag.objects.filter(batch=stock[0]):
        assert bag.status == S.AVAILABLE
        assert bag.location.hospital == fjd
        steps = [(e.from_status, e.to_status, e.actor) for e in bag.events.order_by("id")]
        assert (S.AVAILABLE, S.IN_TRANSIT, prod) in steps
        assert (S.IN_TRANSIT, S.AVAILABLE, pharm) in steps
    positions = sorted(b.location.position for b in Bag.objects.filter(batch=stock[0]))
    assert positions == ["1", "2", "3"]
    actions = set(AuditEvent.objects.for_object(shipment).values_list("action", flat=True))
    assert {"create", "dispatch", "receive"} <= actions
    assert not ShipmentBag.objects.filter(shipment=shipment, open=True).exists()


def test_dispatch_takes_the_bags_out_of_their_facility_positions(stock, facility, fjd, prod):
    shipment = shipped(stock, facility, fjd, prod)

    assert shipment.status == Shipment.Status.DISPATCHED
    for bag in Bag.objects.filter(batch=stock[0]):
        assert (bag.status, bag.location) == (S.IN_TRANSIT, None)
        event = bag.events.get(to_status=S.IN_TRANSIT)
        assert event.location  # the facility position it left
        assert shipment.code in event.note


def test_only_released_available_bags_of_the_facility_are_shipped(facility, fjd, prod):
    _, quarantined = released_batch_with_bags(
        [60_000_000], facility=facility, status="quarantine", bag_status=S.QUARANTINE
    )
    other = FacilityFactory(fin="E0002")
    _, elsewhere = released_batch_with_bags([60_000_000], facility=other, hospital=None)

    with pytest.raises(ShipmentError) as refusal:
        services.create_shipment(
            facility=facility, hospital=fjd, bags=quarantined + elsewhere, actor=prod
        )

    text = " ".join(refusal.value.messages)
    assert "only available bags are shipped" in text
    assert "not released" in text
    assert "not stored at facility E0001" in text
    assert not Shipment.objects.exists()


def test_a_bag_is_in_one_open_shipment_at_a_time(stock, facility, fjd, prod):
    _, bags = stock
    services.create_shipment(facility=facility, hospital=fjd, bags=bags[:1], actor=prod)

    with pytest.raises(ShipmentError, match="already in another open shipment"):
        services.create_shipment(facility=facility, hospital=fjd, bags=bags, actor=prod)
    assert Shipment.objects.count() == 1


def test_production_of_another_facility_cannot_ship(stock, facility, fjd, second_facility):
    other = role_user("prod2", "production", second_facility)

    with pytest.raises(ShipmentError, match="Only the production staff of E0001"):
        services.create_shipment(facility=facility, hospital=fjd, bags=stock[1], actor=other)


def test_times_are_in_order_and_not_in_the_future(stock, facility, fjd, prod, pharm):
    _, bags = stock
    created = ago(hours=2)
    shipment = services.create_shipment(
        facility=facility, hospital=fjd, bags=bags, actor=prod, at=created
    )
    with pytest.raises(ShipmentError, match="before the shipment was created"):
        services.dispatch_shipment(shipment, actor=prod, at=created - datetime.timedelta(hours=1))
    with pytest.raises(ShipmentError, match="in the future"):
        services.dispatch_shipment(
            shipment, actor=prod, at=timezone.now() + datetime.timedelta(hours=1)
        )
    with pytest.raises(ShipmentError, match="only a dispatched shipment can be received"):
        received(shipment, pharm)
    dispatched_at = ago(hours=1)
    services.dispatch_shipment(shipment, actor=prod, at=dispatched_at)
    with pytest.raises(ShipmentError, match="before the shipment was dispatched"):
        received(shipment, pharm, at=dispatched_at - datetime.timedelta(minutes=5))
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.DISPATCHED
    assert set(Bag.objects.filter(batch=stock[0]).values_list("status", flat=True)) == {
        S.IN_TRANSIT
    }


def test_only_the_pharmacy_of_the_destination_receives(stock, facility, fjd, prod, pharmacist):
    shipment = shipped(stock, facility, fjd, prod)
    member_of(pharmacist, hospital=HospitalFactory(code="HUS"))

    with pytest.raises(ShipmentError, match="Only the pharmacy of FJD"):
        received(shipment, pharmacist)


def test_a_receipt_needs_the_logger_result(stock, facility, fjd, prod, pharm):
    shipment = shipped(stock, facility, fjd, prod)

    with pytest.raises(ShipmentError, match="Read the temperature logger") as refusal:
        received(shipment, pharm, result="")
    assert refusal.value.field == "logger_result"


def test_an_excursion_quarantines_the_bags_for_the_qp(stock, facility, fjd, prod, pharm):
    shipment = received(
        shipped(stock, facility, fjd, prod), pharm, Shipment.LoggerResult.EXCURSION
    )

    assert shipment.awaiting_decision
    assert list(Shipment.objects.awaiting_decision()) == [shipment]
    for bag in Bag.objects.filter(batch=stock[0]):
        assert bag.status == S.QUARANTINE
        assert bag.location.hospital == fjd
    assert AuditEvent.objects.for_object(shipment).filter(action="receive_excursion").exists()


def test_the_qp_releases_excursion_bags_with_a_signature(
    stock, facility, fjd, prod, pharm, qp, password
):
    shipment = received(
        shipped(stock, facility, fjd, prod), pharm, Shipment.LoggerResult.EXCURSION
    )

    services.decide_excursion(
        shipment, actor=qp, password=password, outcome="released", reason="logger at -140 °C"
    )

    shipment.refresh_from_db()
    assert (shipment.decision, shipment.decided_by) == ("released", qp)
    assert set(Bag.objects.filter(batch=stock[0]).values_list("status", flat=True)) == {
        S.AVAILABLE
    }
    signature = Signature.objects.get(object_type="batches.shipment", object_id=str(shipment.pk))
    assert signature.meaning == Signature.Meaning.RELEASED
    assert AuditEvent.objects.for_object(shipment).filter(action="excursion_released").exists()


def test_the_qp_discards_excursion_bags_with_a_reason(
    stock, facility, fjd, prod, pharm, qp, password
):
    shipment = received(
        shipped(stock, facility, fjd, prod), pharm, Shipment.LoggerResult.EXCURSION
    )

    with pytest.raises(ShipmentError, match="reason for discarding"):
        services.decide_excursion(shipment, actor=qp, password=password, outcome="discarded")
    services.decide_excursion(
        shipment, actor=qp, password=password, outcome="discarded", reason="above -60 °C for 4 h"
    )

    for bag in Bag.objects.filter(batch=stock[0]):
        assert bag.status == S.DISCARDED
        assert "above -60 °C" in bag.discard_reason
    with pytest.raises(ShipmentError, match="no temperature excursion awaiting"):
        services.decide_excursion(shipment, actor=qp, password=password, outcome="released")


def test_a_wrong_password_decides_nothing(stock, facility, fjd, prod, pharm, qp):
    shipment = received(
        shipped(stock, facility, fjd, prod), pharm, Shipment.LoggerResult.EXCURSION
    )

    with pytest.raises(Exception, match="password is not correct"):
        services.decide_excursion(shipment, actor=qp, password="wrong", outcome="released")
    shipment.refresh_from_db()
    assert shipment.awaiting_decision
    assert set(Bag.objects.filter(batch=stock[0]).values_list("status", flat=True)) == {
        S.QUARANTINE
    }


def test_a_qp_of_another_facility_cannot_decide(
    stock, facility, fjd, prod, pharm, second_facility, password
):
    shipment = received(
        shipped(stock, facility, fjd, prod), pharm, Shipment.LoggerResult.EXCURSION
    )
    other = role_user("qp2", "qp", second_facility)

    with pytest.raises(ShipmentError, match="Only the QP of E0001"):
        services.decide_excursion(shipment, actor=other, password=password, outcome="released")


def test_shipments_are_seen_at_both_ends_only(stock, facility, fjd, prod, pharm, clinician):
    shipment = shipped(stock, facility, fjd, prod)

    assert list(Shipment.objects.for_user(prod)) == [shipment]
    assert list(Shipment.objects.for_user(pharm)) == [shipment]
    member_of(clinician, hospital=fjd)
    assert not Shipment.objects.for_user(clinician).exists()  # no view permission
