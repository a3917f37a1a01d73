"""A hospital system reads each treated patient's record from the FHIR server."""

import pytest
from fhir.resources.capabilitystatement import CapabilityStatement

from dosing import services
from tests.dosing.flow import dispensed_thawed
from tests.factories import PatientFactory, ProtocolFactory, released_batch_with_bags
from tests.vigilance.conftest import client_reader
from tests.vigilance.record import check_patient_record

pytestmark = pytest.mark.django_db


def test_each_patient_and_everything_pointing_to_it_reads_as_r5(treated, fhir_client):
    for patient in treated:
        found = check_patient_record(client_reader(fhir_client), patient)
        assert len(found["Procedure"]) == 2


def test_read_by_id_answers_the_resource_the_search_found(treated, fhir_client):
    reader = client_reader(fhir_client)
    for name in ("BiologicallyDerivedProduct", "BiologicallyDerivedProductDispense",
                 "Procedure", "AdverseEvent", "Patient"):  # fmt: skip
        for resource in reader.search(name):
            read, _ = reader.fetch(f"/api/fhir/{name}/{resource.id}")
            assert read.model_dump() == resource.model_dump()


def test_metadata_is_an_r5_capability_statement_naming_every_type(fhir_client):
    reader = client_reader(fhir_client)
    statement, _ = reader.fetch("/api/fhir/metadata")

    assert isinstance(statement, CapabilityStatement)
    assert statement.fhirVersion == "5.0.0"
    types = {r.type: r for r in statement.rest[0].resource}
    assert set(types) == {
        "Patient",
        "BiologicallyDerivedProduct",
        "BiologicallyDerivedProductDispense",
        "Procedure",
        "AdverseEvent",
    }
    assert {p.name for p in types["Procedure"].searchParam} >= {"identifier", "patient"}
    assert {i.code for i in types["Patient"].interaction} == {"read", "search-type"}


def test_dose_cancelled_after_dispensing_shows_its_bags_returned_and_no_infusion(
    db, pharmacist, fhir_client
):
    ProtocolFactory()
    released_batch_with_bags([75_000_000] * 3)
    patient = PatientFactory(weight_kg=78)
    dose = dispensed_thawed(patient, pharmacist)
    services.cancel_dose(dose, actor=pharmacist, reason="patient extubated before infusion")
    reader = client_reader(fhir_client)

    (dispense,) = reader.search("BiologicallyDerivedProductDispense", patient=patient.code)
    product, _ = reader.fetch(f"/api/fhir/{dispense.product.reference}")

    assert dispense.status == "returned"
    bags = reader.search("BiologicallyDerivedProduct", patient=patient.code)
    assert [b.id for b in bags] == [product.id]
    assert reader.search("Procedure", patient=patient.code) == []
    assert product.productStatus.code == "unavailable"
    assert {p.type.coding[0].code: p for p in product.property}[
        "celltrack-status"
    ].valueCodeableConcept.coding[0].code == "discarded"
