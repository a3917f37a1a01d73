"""No dose for a patient recorded as deceased: not ordered, allocated or thawed."""

import datetime

import pytest
from django.utils import timezone

from dosing import services
from dosing.exceptions import AllocationError, OrderRefused, PreparationError
from patients.services import record_outcome
from tests.dosing.flow import allocated, hours, infused_thawed
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_order_refused_for_a_patient_recorded_dead(
    protocol, patient, stock, pharmacist, clinician
):
    infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(72))
    record_outcome(
        patient,
        kind="death",
        occurred_on=timezone.localdate() - datetime.timedelta(days=1),
        actor=clinician,
    )
    with pytest.raises(OrderRefused, match="Not deceased"):
        services.order_dose(patient, actor=pharmacist)


def test_allocation_and_thaw_refused_for_a_patient_recorded_dead(
    protocol, stock, pharmacist, clinician
):
    ordered_patient, allocated_patient = PatientFactory(weight_kg=78), PatientFactory(weight_kg=70)
    ordered = services.order_dose(ordered_patient, actor=pharmacist)
    to_thaw = allocated(allocated_patient, pharmacist)
    for p in (ordered_patient, allocated_patient):
        record_outcome(p, kind="death", occurred_on=timezone.localdate(), actor=clinician)
    with pytest.raises(AllocationError, match="recorded as deceased"):
        services.allocate_dose(ordered, actor=pharmacist)
    with pytest.raises(PreparationError, match="recorded as deceased"):
        services.record_thaw(to_thaw, actor=pharmacist)
