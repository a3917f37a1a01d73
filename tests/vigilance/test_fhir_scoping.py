"""What a reader may not see, the FHIR server does not show: 404 on read, an empty
Bundle on search — the same `for_user` path as every page and the /api/v1 collections.

Today a reader's view is narrowed by role; once site memberships land in the role
fixtures, the same tests hold for a reader of another hospital (see docs/fhir.md).
"""

import pytest
from fhir.resources.bundle import Bundle

from dosing.querysets import DoseQuerySet
from patients.querysets import PatientQuerySet
from tests.api.conftest import token_client
from tests.vigilance.conftest import client_reader

pytestmark = pytest.mark.django_db

TYPES = (
    "Patient",
    "BiologicallyDerivedProduct",
    "BiologicallyDerivedProductDispense",
    "Procedure",
    "AdverseEvent",
)


def _every_id(treated, auditor) -> dict[str, list[str]]:
    reader = client_reader(token_client(auditor))
    return {name: [r.id for r in reader.search(name)] for name in TYPES}


@pytest.mark.parametrize("reader", ["outsider", "production_user", "qp_user"])
def test_a_reader_who_may_not_see_the_records_gets_404_and_empty_bundles(
    treated, auditor, reader, request
):
    visible = _every_id(treated, auditor)
    client = token_client(request.getfixturevalue(reader))

    for name in TYPES:
        if name == "BiologicallyDerivedProduct" and reader != "outsider":
            continue  # production and the QP read their bags (below)
        bundle = Bundle.model_validate_json(client.get(f"/api/fhir/{name}").content)
        assert bundle.total == 0 and not bundle.entry, (reader, name)
        for resource_id in visible[name]:
            response = client.get(f"/api/fhir/{name}/{resource_id}")
            assert response.status_code == 404, (reader, name, resource_id)
            assert b'"OperationOutcome"' in response.content


def test_production_reads_its_bags_but_not_which_patient_had_them(
    treated, auditor, production_user
):
    client = token_client(production_user)
    patient = treated[0]

    all_bags = Bundle.model_validate_json(
        client.get("/api/fhir/BiologicallyDerivedProduct").content
    )
    of_patient = Bundle.model_validate_json(
        client.get("/api/fhir/BiologicallyDerivedProduct", {"patient": patient.code}).content
    )

    assert all_bags.total == len(_every_id(treated, auditor)["BiologicallyDerivedProduct"])
    # The patient is not theirs to see, so neither is what the patient received.
    assert of_patient.total == 0


def test_what_a_reader_may_see_is_read_through_for_user(treated, auditor, monkeypatch):
    """Narrowing the patients a reader sees (as site memberships will) hides the patient
    and everything of theirs: products by patient, dispenses, infusions, adverse events."""
    hidden = treated[0]
    original = PatientQuerySet.scoped_to
    monkeypatch.setattr(
        PatientQuerySet,
        "scoped_to",
        lambda self, user: original(self, user).exclude(code=hidden.code),
    )
    dose_original = DoseQuerySet.scoped_to
    monkeypatch.setattr(
        DoseQuerySet,
        "scoped_to",
        lambda self, user: dose_original(self, user).exclude(patient__code=hidden.code),
    )
    client = token_client(auditor)

    assert client.get(f"/api/fhir/Patient/{hidden.code}").status_code == 404
    for name in TYPES[1:]:
        bundle = Bundle.model_validate_json(
            client.get(f"/api/fhir/{name}", {"patient": hidden.code}).content
        )
        assert bundle.total == 0, name
    for name in ("BiologicallyDerivedProductDispense", "Procedure", "AdverseEvent"):
        bundle = Bundle.model_validate_json(client.get(f"/api/fhir/{name}").content)
        refs = {e.resource.model_dump_json() for e in bundle.entry}
        assert refs and not any(f'Patient/{hidden.code}"' in r for r in refs), name
    visible = treated[1]
    assert client.get(f"/api/fhir/Patient/{visible.code}").status_code == 200
