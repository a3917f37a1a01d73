"""Patients, infusions (`Procedure`) and adverse events as R5 resources.

A patient is the pseudonymised code and nothing else: no name, birth date, sex or age.
An infusion references the bags it used and the dispenses that brought them; an adverse
event names its suspect entities (the bags of the dose) with the WHO-UMC causality.
"""

from __future__ import annotations

from fhir.resources.adverseevent import AdverseEvent
from fhir.resources.patient import Patient
from fhir.resources.procedure import Procedure

from vigilance.fhir import identity as ids
from vigilance.fhir.products import related_or_none
from vigilance.fhir.roles import performer

INFUSION_CODE = ids.coding(
    ids.PROCEDURE_SYSTEM, "at-msc-infusion", "Intravenous infusion of AT-MSC"
)
# The record is closed when the event is: resolved (with or without sequelae) or fatal.
_CLOSED_OUTCOMES = {"recovered", "sequelae", "fatal"}


def patient_resource(patient) -> Patient:
    return Patient(
        id=patient.code,
        identifier=[{"system": ids.PATIENT_SYSTEM, "value": patient.code}],
    )


def _bag_reference(bag) -> dict:
    return ids.reference("BiologicallyDerivedProduct", ids.bag_id(bag.code), bag.code)


def _dispense_reference(dose, bag) -> dict:
    return ids.reference(
        "BiologicallyDerivedProductDispense",
        ids.dispense_id(dose.pk, bag.product_code, bag.division),
    )


def given_links(dose) -> list:
    """The dose's bags that were given (live reservations), from prefetched
    `dose.given_bags` when the read selected it."""
    links = getattr(dose, "given_bags", None)
    if links is None:
        links = [link for link in dose.dose_bags.all() if link.live]
    return links


def procedure_resource(infusion) -> Procedure:
    """An infusion: `infusion` with its dose (patient, given bags) and who infused."""
    dose = infusion.dose
    links = given_links(dose)
    notes = ["Intravenous, through a standard 200-micron transfusion filter (confirmed)."]
    if infusion.premedication_given:
        notes.append(f"Premedication given: {infusion.premedication_given}")
    if infusion.immediate_reactions:
        notes.append(f"Immediate reactions: {infusion.immediate_reactions}")
    return Procedure(
        id=str(dose.pk),
        identifier=[{"system": ids.DOSE_SYSTEM, "value": dose.code}],
        status="completed",
        code={"coding": [INFUSION_CODE], "text": INFUSION_CODE["display"]},
        subject=ids.reference("Patient", dose.patient.code),
        occurrencePeriod={"start": infusion.started_at, "end": infusion.ended_at},
        recorded=infusion.recorded_at,
        performer=[performer(infusion.infused_by)],
        used=[{"reference": _bag_reference(link.bag)} for link in links] or None,
        supportingInfo=[_dispense_reference(dose, link.bag) for link in links] or None,
        note=[{"text": text} for text in notes],
    )


def adverse_event_identifier(event) -> str:
    return f"{event.patient.code}/AE{event.pk}"


def adverse_event_resource(event) -> AdverseEvent:
    """An adverse event: `event` with its patient and its dose (given bags, infusion)."""
    dose = event.dose
    causality = {
        "assessmentMethod": {"text": "WHO-UMC causality assessment"},
        "entityRelatedness": {
            "coding": [
                ids.coding(ids.CAUSALITY_SYSTEM, event.causality, event.get_causality_display())
            ],
            "text": event.get_causality_display(),
        },
    }
    suspects, supporting = [], []
    if dose is not None:
        suspects = [
            {"instanceReference": _bag_reference(link.bag), "causality": causality}
            for link in given_links(dose)
        ]
        if related_or_none(dose, "infusion") is not None:
            supporting = [{"itemReference": ids.reference("Procedure", str(dose.pk))}]
    serious = "serious" if event.serious else "non-serious"
    return AdverseEvent(
        id=str(event.pk),
        identifier=[
            {"system": ids.ADVERSE_EVENT_SYSTEM, "value": adverse_event_identifier(event)}
        ],
        status="completed" if event.outcome in _CLOSED_OUTCOMES else "in-progress",
        actuality="actual",
        code={"text": event.description},
        subject=ids.reference("Patient", event.patient.code),
        occurrenceDateTime=event.onset_at,
        recordedDate=event.reported_at,
        seriousness={
            "coding": [ids.coding(ids.SERIOUSNESS_SYSTEM, serious, serious.capitalize())]
        },
        outcome=[
            {
                "coding": [
                    ids.coding(ids.AE_OUTCOME_SYSTEM, event.outcome, event.get_outcome_display())
                ]
            }
        ],
        suspectEntity=suspects or None,
        supportingInfo=supporting or None,
        extension=[{"url": ids.CTCAE_GRADE_EXTENSION, "valueInteger": event.ctcae_grade}],
    )
