"""A small clinical history made through the services: stock, a patient, an infused dose
and a serious adverse event (for the reconciliation and backup tests)."""

from django.utils import timezone

from dosing import services
from dosing.models import AdverseEvent
from tests.dosing.flow import hours, infused_thawed
from tests.factories import PatientFactory, ProtocolFactory, released_batch_with_bags


def clinical_history(pharmacist, clinician):
    ProtocolFactory()
    released_batch_with_bags([75_000_000, 75_000_000, 75_000_000, 60_000_000])
    patient = PatientFactory(weight_kg=78)
    dose = infused_thawed(patient, pharmacist, clinician)
    event = services.report_adverse_event(
        patient,
        actor=clinician,
        dose=dose,
        onset_at=timezone.now() - hours(0.1),
        description="Hypotension during the infusion",
        ctcae_grade=3,
        serious=True,
        outcome=AdverseEvent.Outcome.RECOVERING,
        causality=AdverseEvent.Causality.POSSIBLE,
    )
    return patient, dose, event
