"""A dose keeps the eligibility as it was evaluated when it was ordered: the verdict,
every criterion and the assessment it came from, on the dose and on the order's audit
event — so a later assessment does not rewrite why the dose was given."""

import pytest
from django.utils import timezone

from dosing import services
from patients.services import record_assessment
from tests.dosing.flow import last_event
from tests.factories import ELIGIBLE_VALUES

pytestmark = pytest.mark.django_db


def test_an_order_keeps_each_criterion_and_the_assessment_it_was_read_from(
    protocol, patient, pharmacist
):
    assessment = patient.latest_assessment()

    dose = services.order_dose(patient, actor=pharmacist)

    kept = dose.eligibility_at_order
    assert kept["is_eligible"] is True and kept["reconstructed"] is False
    assert kept["evaluated_on"] == timezone.localdate().isoformat()
    assert kept["assessment"]["id"] == assessment.pk
    assert kept["assessment"]["sofa_score"] == ELIGIBLE_VALUES["sofa_score"]
    assert kept["assessment"]["invasive_ventilation_in_icu"] is True
    assert kept["assessment"]["spo2_pct"] == "90.0"
    by_code = {c["code"]: c for c in kept["criteria"]}
    assert all(c["status"] == "met" for c in kept["criteria"])
    assert by_code["sofa"]["assessment_id"] == assessment.pk
    assert by_code["age"]["assessment_id"] is None  # read from the patient's record
    # Audited as part of the order.
    event = last_event(dose)
    assert event.action == "order"
    assert event.changes["eligibility_at_order"][1] == kept


def test_a_later_assessment_leaves_the_kept_eligibility_as_it_was(protocol, patient, pharmacist):
    dose = services.order_dose(patient, actor=pharmacist)
    first = dose.eligibility_at_order
    record_assessment(
        patient,
        values={**ELIGIBLE_VALUES, "sofa_score": 2},
        actor=pharmacist,
        reason="re-assessed",
    )

    dose.refresh_from_db()

    assert dose.eligibility_at_order == first
    assert {c["code"]: c["status"] for c in first["criteria"]}["sofa"] == "met"
