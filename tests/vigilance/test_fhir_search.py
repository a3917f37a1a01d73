"""Searching the FHIR server: identifiers, patients, paging, and 400s for what it cannot do."""

import json

import pytest
from fhir.resources.bundle import Bundle
from fhir.resources.operationoutcome import OperationOutcome

from batches.isbt import iso7064_mod37_2
from tests.factories import BagFactory, BatchFactory
from tests.vigilance.conftest import client_reader

pytestmark = pytest.mark.django_db


def _bundle(response) -> Bundle:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    return Bundle.model_validate_json(response.content)


def _outcome(response, status) -> OperationOutcome:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/fhir+json")
    return OperationOutcome.model_validate_json(response.content)


def _ids(bundle) -> list[str]:
    return [entry.resource.id for entry in bundle.entry or []]


def test_bag_found_by_its_full_code_and_the_batch_by_its_din(treated, fhir_client):
    patient = treated[0]
    link = patient.doses.get(number=1).dose_bags.get()
    bag = link.bag

    by_code = _bundle(
        fhir_client.get(
            "/api/fhir/BiologicallyDerivedProduct", {"identifier": f"urn:celltrack:bag|{bag.code}"}
        )
    )
    by_din = _bundle(
        fhir_client.get("/api/fhir/BiologicallyDerivedProduct", {"identifier": bag.batch.code})
    )

    assert _ids(by_code) == [bag.code] and by_code.total == 1
    assert sorted(_ids(by_din)) == sorted(b.code for b in bag.batch.bags.all())
    assert by_din.total == 3  # the batch's third bag was never given, and is still a product


def test_identifier_of_another_system_matches_nothing(treated, fhir_client):
    bag_code = treated[0].doses.get(number=1).dose_bags.get().bag.code

    bundle = _bundle(
        fhir_client.get(
            "/api/fhir/BiologicallyDerivedProduct",
            {"identifier": f"urn:celltrack:dose|{bag_code}"},
        )
    )

    assert bundle.total == 0 and not bundle.entry


def test_dose_code_finds_its_dispense_and_its_infusion(treated, fhir_client):
    dose = treated[1].doses.get(number=2)

    dispenses = _bundle(
        fhir_client.get("/api/fhir/BiologicallyDerivedProductDispense", {"identifier": dose.code})
    )
    infusions = _bundle(fhir_client.get("/api/fhir/Procedure", {"identifier": dose.code}))
    both = _bundle(
        fhir_client.get(
            "/api/fhir/Procedure",
            {"identifier": f"{dose.code},urn:celltrack:dose|{treated[0].code}/D1"},
        )
    )

    assert [e.resource.identifier[0].value for e in dispenses.entry] == [dose.code]
    assert _ids(infusions) == [str(dose.pk)]
    assert both.total == 2


def test_patient_search_takes_a_reference_or_the_bare_id(treated, fhir_client):
    patient = treated[0]
    url = "http://testserver/api/fhir/Patient/" + patient.code
    for value in (patient.code, f"Patient/{patient.code}", url):
        bundle = _bundle(fhir_client.get("/api/fhir/AdverseEvent", {"patient": value}))
        assert [e.resource.subject.reference for e in bundle.entry] == [f"Patient/{patient.code}"]


def test_patient_found_by_identifier_and_id_but_never_by_name(treated, fhir_client):
    code = treated[0].code

    assert _ids(_bundle(fhir_client.get("/api/fhir/Patient", {"identifier": code}))) == [code]
    assert _ids(_bundle(fhir_client.get("/api/fhir/Patient", {"_id": code}))) == [code]
    _outcome(fhir_client.get("/api/fhir/Patient", {"name": "Smith"}), 400)


def test_pages_link_self_and_next_and_together_hold_every_match_once(treated, fhir_client):
    first = _bundle(fhir_client.get("/api/fhir/Procedure", {"_count": 3}))
    links = {link.relation: link.url for link in first.link}
    second = _bundle(fhir_client.get(links["next"]))

    assert first.total == second.total == 4
    assert len(first.entry) == 3 and len(second.entry) == 1
    assert "_count=3" in links["self"]
    assert not any(link.relation == "next" for link in second.link)
    assert sorted(_ids(first) + _ids(second)) == sorted(
        r.id for r in client_reader(fhir_client).search("Procedure")
    )


def test_count_zero_answers_the_total_only(treated, fhir_client):
    bundle = _bundle(fhir_client.get("/api/fhir/BiologicallyDerivedProductDispense?_count=0"))

    assert bundle.total == 4 and not bundle.entry


@pytest.mark.parametrize(
    "query",
    [
        "name=x",  # not a search parameter here
        "patient=Patient/has%20space",
        "_count=many",
        "_count=501",
        "_count=²",
        "_cursor=-1",
        "identifier=a&identifier=b",  # several values: commas, not repeats
        "identifier=",
        "_format=xml",
    ],
)
def test_bad_search_parameters_answer_400_outcome(fhir_client, query):
    outcome = _outcome(fhir_client.get(f"/api/fhir/Procedure?{query}"), 400)

    assert outcome.issue[0].severity == "error"
    assert outcome.issue[0].diagnostics


def test_patient_is_not_a_search_parameter_of_patient(fhir_client):
    _outcome(fhir_client.get("/api/fhir/Patient?patient=TST-P000"), 400)


def test_anonymous_request_answers_401_outcome_with_the_challenge(client):
    response = client.get("/api/fhir/Patient")

    _outcome(response, 401)
    assert response["WWW-Authenticate"] == "Token"


def test_unknown_id_type_and_path_answer_404_outcome(fhir_client):
    for path in (
        "/api/fhir/Patient/NOPE-P1",
        "/api/fhir/Procedure/999999",
        "/api/fhir/Procedure/not-a-key",
        "/api/fhir/BiologicallyDerivedProductDispense/1-x",
        "/api/fhir/Observation",
        "/api/fhir/",
    ):
        assert _outcome(fhir_client.get(path), 404).issue[0].code == "not-found", path


def test_writes_answer_405_outcome(fhir_client):
    for method in ("post", "put", "patch", "delete", "options"):
        response = getattr(fhir_client, method)("/api/fhir/Patient")
        assert _outcome(response, 405).issue[0].code == "not-supported"


def test_answers_fhir_json_whatever_accept_says_and_takes_a_trailing_slash(fhir_client):
    plain = fhir_client.get("/api/fhir/metadata", HTTP_ACCEPT="application/json")
    slash = fhir_client.get("/api/fhir/metadata/", HTTP_ACCEPT="text/html")

    assert plain.status_code == slash.status_code == 200
    assert plain["Content-Type"] == slash["Content-Type"] == "application/fhir+json; charset=utf-8"
    assert json.loads(plain.content)["resourceType"] == "CapabilityStatement"


def test_session_login_reads_too(auditor, client):
    client.force_login(auditor)

    assert client.get("/api/fhir/metadata").status_code == 200


def test_bag_whose_check_character_is_a_star_reads_by_a_dotted_id(fhir_client):
    din = next(
        f"E000126{n:06d}"
        for n in range(900_000, 999_999)
        if iso7064_mod37_2(f"E000126{n:06d}") == "*"
    )
    bag = BagFactory(batch=BatchFactory(din=din))
    assert "*" in bag.code

    response = fhir_client.get(
        f"/api/fhir/BiologicallyDerivedProduct/{bag.code.replace('*', '.')}"
    )
    product, _ = client_reader(fhir_client).fetch(
        "/api/fhir/BiologicallyDerivedProduct?identifier=" + bag.code.replace("*", "%2A")
    )

    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["id"] == bag.code.replace("*", ".")
    assert body["identifier"][0]["value"] == bag.code
    assert product.total == 1


@pytest.mark.parametrize(
    ("resource_type", "value"),
    [("Procedure", "TST-P000/D²"), ("AdverseEvent", "TST-P000/AE¹"), ("Procedure", "TST-P000/D")],
)
def test_identifier_that_is_no_code_of_the_type_matches_nothing(fhir_client, resource_type, value):
    bundle = _bundle(fhir_client.get(f"/api/fhir/{resource_type}", {"identifier": value}))

    assert bundle.total == 0
