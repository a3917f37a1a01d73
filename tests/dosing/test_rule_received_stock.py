"""Only bags received in range at the patient's hospital are proposed and allocated
there; without any, the plan names the facilities holding suitable released stock."""

from decimal import Decimal

import pytest
from django.utils import timezone

from batches.models import Bag
from dosing import services
from dosing.exceptions import AllocationError
from tests.factories import (
    FacilityFactory,
    HospitalFactory,
    PatientFactory,
    receive_at,
    released_batch_with_bags,
)


@pytest.fixture
def fjd_patient(db):
    return PatientFactory(weight_kg=60, hospital=HospitalFactory(code="FJD"))


def test_bags_still_at_the_facility_are_not_proposed(fjd_patient, protocol):
    facility = FacilityFactory(fin="ESNAV", name="Navarra GMP")
    released_batch_with_bags([60_000_000], facility=facility, hospital=None)

    plan = services.plan_dose(fjd_patient, weight_kg=Decimal("60"), protocol=protocol)

    assert plan.bags == ()
    assert "No bags received in range at FJD" in plan.warning
    assert "ESNAV (Navarra GMP)" in plan.warning
    assert "shipment request" in plan.warning
    assert plan.stock_elsewhere == ((facility.pk, "ESNAV"),)


def test_bags_received_at_another_hospital_are_not_proposed(fjd_patient, protocol):
    released_batch_with_bags([60_000_000])  # received at HUS

    plan = services.plan_dose(fjd_patient, weight_kg=Decimal("60"), protocol=protocol)

    assert plan.bags == ()
    assert "no facility holds suitable released stock" in plan.warning


def test_bags_received_at_the_patients_hospital_are_allocated(fjd_patient, protocol, pharmacist):
    _, bags = released_batch_with_bags([60_000_000], hospital=fjd_patient.hospital)

    dose = services.order_dose(fjd_patient, actor=pharmacist)
    dose = services.allocate_dose(dose, actor=pharmacist)

    assert [link.bag for link in dose.dose_bags.all()] == bags
    assert Bag.objects.get(pk=bags[0].pk).status == Bag.Status.RESERVED


def test_a_bag_chosen_by_hand_must_have_been_received_here(fjd_patient, protocol, pharmacist):
    released_batch_with_bags([60_000_000], hospital=fjd_patient.hospital)
    _, elsewhere = released_batch_with_bags([60_000_000])  # at HUS
    dose = services.order_dose(fjd_patient, actor=pharmacist)

    with pytest.raises(AllocationError, match="has not been received at FJD"):
        services.allocate_dose(dose, actor=pharmacist, bags=elsewhere, choice_reason="closer")
    assert Bag.objects.get(pk=elsewhere[0].pk).status == Bag.Status.AVAILABLE


def test_a_bag_received_later_becomes_usable(fjd_patient, protocol):
    _, bags = released_batch_with_bags([60_000_000], hospital=None)
    receive_at(bags, fjd_patient.hospital, at=timezone.now())

    plan = services.plan_dose(fjd_patient, weight_kg=Decimal("60"), protocol=protocol)

    assert list(plan.bag_codes) == [bags[0].code]
