"""An infusion is recorded once it has ended: its end time cannot be in the future."""

import pytest
from django.utils import timezone

from dosing import services
from dosing.exceptions import InfusionError
from tests.dosing.flow import MINUTES, VITALS, dispensed_thawed, scan_at_bedside

pytestmark = pytest.mark.django_db


def test_infusion_refused_when_its_end_is_in_the_future(
    protocol, patient, stock, pharmacist, clinician
):
    dose = dispensed_thawed(patient, pharmacist)
    now = timezone.now()
    scan_at_bedside(dose, clinician, at=now - 5 * MINUTES)
    with pytest.raises(InfusionError, match="end time cannot be in the future") as refusal:
        services.record_infusion(
            dose,
            actor=clinician,
            started_at=now - 5 * MINUTES,
            ended_at=now + 30 * MINUTES,
            filter_confirmed=True,
            premedication_given="methylprednisolone",
            vitals=VITALS,
            at=now,
        )
    assert refusal.value.field == "ended_at"
