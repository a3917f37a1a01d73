"""A next dose only while the patient is on invasive mechanical ventilation in ICU: a
recorded extubation or ICU discharge stops it."""

import pytest
from django.utils import timezone

from dosing import services
from dosing.exceptions import OrderRefused
from patients.services import record_outcome
from tests.dosing.flow import hours, infused_thawed

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("kind", ["extubation", "icu_discharge"])
def test_order_refused_after_extubation_or_icu_discharge(
    protocol, patient, stock, pharmacist, clinician, kind
):
    infused_thawed(patient, pharmacist, clinician, at=timezone.now() - hours(72))
    record_outcome(patient, kind=kind, occurred_on=timezone.localdate(), actor=clinician)
    with pytest.raises(OrderRefused, match="Invasive mechanical ventilation in ICU"):
        services.order_dose(patient, actor=pharmacist)
