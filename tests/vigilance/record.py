"""The issue's "done when", as one check a test runs over the test client or over HTTP:
a patient's `Patient` and everything pointing at it, parsed with the R5 models, holding
the elements a hospital system relies on (compared with the database), and every
reference answered 200 by the same server."""

from tests.vigilance.conftest import FHIR_BASE

PATIENT_SYSTEM = "urn:celltrack:patient"
BAG_SYSTEM = "urn:celltrack:bag"
DIN_SYSTEM = "urn:celltrack:din"
DOSE_SYSTEM = "urn:celltrack:dose"
POINTING_TO_PATIENT = (
    "BiologicallyDerivedProduct",
    "BiologicallyDerivedProductDispense",
    "Procedure",
    "AdverseEvent",
)


def _identifiers(resource) -> dict:
    return {i.system: i.value for i in resource.identifier or []}


def _properties(product) -> set[str]:
    return {p.type.coding[0].code for p in product.property}


def check_product(product, bag):
    batch = bag.batch
    assert _identifiers(product) == {BAG_SYSTEM: bag.code, DIN_SYSTEM: batch.code}
    assert product.productCode.coding[0].code == bag.product_code
    assert product.productCategory.code == "cells"
    assert product.division == bag.division
    assert product.collection.source.identifier.value == batch.donor.code
    assert str(product.collection.collectedDateTime) == batch.procurement.procured_on.isoformat()
    assert product.processingFacility[0].identifier.value == batch.facility.fin
    assert product.storageTempRequirements.high.value == -150
    assert str(product.expirationDate) == batch.expires_on.isoformat()
    assert product.productStatus.code == (
        "available" if bag.status == "available" else "unavailable"
    )
    recorded = {"nominal-cells", "volume", "celltrack-status", "impd-reference"}
    for code, value in (
        ("passages", batch.passages),
        ("population-doublings", batch.population_doublings),
        ("viability-before-cryopreservation", batch.viability_pct),
        ("cryopreserved", batch.cryopreserved_on),
    ):
        if value is not None:
            recorded.add(code)
    assert _properties(product) == recorded


def check_patient_record(reader, patient):
    """Reads the patient's record through `reader`; returns what it found by type."""
    fhir_patient, raw = reader.fetch(f"{FHIR_BASE}Patient/{patient.code}")
    assert _identifiers(fhir_patient) == {PATIENT_SYSTEM: patient.code}
    assert set(raw) == {"resourceType", "id", "identifier"}  # no name, birth date, sex, age

    found = {
        name: reader.search(name, patient=f"Patient/{patient.code}")
        for name in POINTING_TO_PATIENT
    }
    doses = {d.code: d for d in patient.doses.select_related("infusion")}
    given = [
        link
        for d in doses.values()
        for link in d.dose_bags.all()
        if link.live or d.dispensed_at is not None
    ]
    bags = {link.bag.code: link.bag for link in given}

    products = found["BiologicallyDerivedProduct"]
    assert sorted(_identifiers(p)[BAG_SYSTEM] for p in products) == sorted(bags)
    for product in products:
        check_product(product, bags[_identifiers(product)[BAG_SYSTEM]])

    dispenses = found["BiologicallyDerivedProductDispense"]
    dispensed = [link for link in given if link.dose.dispensed_at is not None]
    assert sorted(_identifiers(d)[DOSE_SYSTEM] for d in dispenses) == sorted(
        link.dose.code for link in dispensed
    )
    for dispense in dispenses:
        dose = doses[_identifiers(dispense)[DOSE_SYSTEM]]
        assert dispense.patient.reference == f"Patient/{patient.code}"
        assert dispense.product.display in {link.bag.code for link in dose.dose_bags.all()}
        assert dispense.status == "issued"
        assert dispense.whenHandedOver == dose.dispensed_at
        assert dispense.quantity.value > 0

    procedures = found["Procedure"]
    infused = {code: d for code, d in doses.items() if hasattr(d, "infusion")}
    assert sorted(_identifiers(p)[DOSE_SYSTEM] for p in procedures) == sorted(infused)
    for procedure in procedures:
        dose = infused[_identifiers(procedure)[DOSE_SYSTEM]]
        assert procedure.status == "completed"
        assert procedure.subject.reference == f"Patient/{patient.code}"
        assert procedure.occurrencePeriod.start == dose.infusion.started_at
        assert procedure.occurrencePeriod.end == dose.infusion.ended_at
        assert procedure.performer[0].function.coding[0].code == "clinician"
        assert sorted(u.reference.display for u in procedure.used) == sorted(
            link.bag.code for link in dose.dose_bags.filter(live=True)
        )

    events = found["AdverseEvent"]
    stored = {e.pk: e for e in patient.adverse_events.all()}
    assert sorted(int(e.id) for e in events) == sorted(stored)
    for event in events:
        row = stored[int(event.id)]
        assert event.subject.reference == f"Patient/{patient.code}"
        assert event.occurrenceDateTime == row.onset_at
        assert event.seriousness.coding[0].code == ("serious" if row.serious else "non-serious")
        assert event.extension[0].valueInteger == row.ctcae_grade
        if row.dose_id:
            assert event.suspectEntity, "the dose's products are the suspects"
        for suspect in event.suspectEntity or []:
            assert suspect.instanceReference.reference.startswith("BiologicallyDerivedProduct/")
            assert suspect.causality.entityRelatedness.coding[0].code == row.causality

    for resources in found.values():
        for resource in resources:
            reader.follow_references(resource.model_dump(mode="json"))
    assert f"Patient/{patient.code}" in reader.read
    return found
